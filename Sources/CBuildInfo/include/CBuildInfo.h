#ifndef SSMD_CBUILDINFO_H
#define SSMD_CBUILDINFO_H

/// The commit id the build was told (SSMD_BUILD_COMMIT at build time), or "" when it was not.
const char *ssmd_build_commit(void);

#endif
