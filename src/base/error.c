#include <stdarg.h>
#include <stdio.h>

#include "shoal/base/error.h"

int shoal_err_set(struct shoal_err *err, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -1;
}
