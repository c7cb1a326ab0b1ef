#ifndef SSMD_CNATS_SHIM_H
#define SSMD_CNATS_SHIM_H
#include <nats/nats.h>
#endif
