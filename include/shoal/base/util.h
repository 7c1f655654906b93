/* Small helpers every layer uses. */
#ifndef SHOAL_BASE_UTIL_H
#define SHOAL_BASE_UTIL_H

#include <stddef.h>

/* The struct of type that holds member at ptr: how an event source, a timer or a ref finds
 * the object it is embedded in. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
