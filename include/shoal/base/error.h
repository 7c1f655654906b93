/* Errors travel up as a return code plus a message buffer; the edge reports them once. */
#ifndef SHOAL_BASE_ERROR_H
#define SHOAL_BASE_ERROR_H

#define SHOAL_ERR_MAX 512

struct shoal_err {
	char msg[SHOAL_ERR_MAX];
};

/* Formats the message into err (if err is not NULL) and returns -1, so callers can write
 * `return shoal_err_set(err, ...);`. */
int shoal_err_set(struct shoal_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
