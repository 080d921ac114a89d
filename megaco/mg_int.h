/* megaco/mg_int.h - what the files of megaco/ share, not public */
#ifndef GW_MG_INT_H
#define GW_MG_INT_H

#include <stddef.h>

#include "mg.h"

/* A NUL-terminated copy of s[0..len) in msg's arena; NULL on ENOMEM. */
const char *mg_msg_strndup(struct mg_msg *msg, const char *s, size_t len);

#endif
