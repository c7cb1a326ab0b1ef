#ifndef SSMD_CLIBPQ_SHIM_H
#define SSMD_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
