#include "CBuildInfo.h"

// Package.swift defines SSMD_BUILD_COMMIT as a string literal: the validated value of the
// SSMD_BUILD_COMMIT environment variable at build time, or "".
#ifndef SSMD_BUILD_COMMIT
#define SSMD_BUILD_COMMIT ""
#endif

const char *ssmd_build_commit(void) { return SSMD_BUILD_COMMIT; }
