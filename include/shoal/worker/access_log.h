/* The access log: one line per request in the combined format, buffered per worker and
 * written by size, once a second and at exit, so that logging costs no system call per request. */
#ifndef SHOAL_WORKER_ACCESS_LOG_H
#define SHOAL_WORKER_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shoal/base/error.h"
#include "shoal/http/parser.h"

#define SHOAL_ACCESS_LOG_BUFFER 65536

struct shoal_access_log {
	int fd; /* -1: logging is off */
	char path[4096];
	char *buf;
	size_t len;
	time_t time_sec; /* the second time_text shows */
	char time_text[32];
};

struct shoal_access_entry {
	const char *client; /* textual address */
	const struct shoal_http_request *req; /* NULL when the request could not be parsed */
	int status;
	uint64_t body_bytes;
	/* A proxied request: the upstream server's address (NULL: not proxied), its status (0:
	 * none) and the time from the handover to the response's end. Appended to the combined
	 * format as ` upstream=ADDR upstream_status=N upstream_time=SECONDS`. */
	const char *upstream;
	int upstream_status;
	uint64_t upstream_us;
};

/* path NULL or "off": logging stays off. The file is opened for appending, created 0640. */
int shoal_access_log_open(struct shoal_access_log *l, const char *path, struct shoal_err *err);
int shoal_access_log_reopen(struct shoal_access_log *l, struct shoal_err *err);
void shoal_access_log_close(struct shoal_access_log *l);

static inline bool shoal_access_log_enabled(const struct shoal_access_log *l)
{
	return l->fd >= 0;
}

void shoal_access_log_write(struct shoal_access_log *l, time_t now,
			    const struct shoal_access_entry *e);
void shoal_access_log_flush(struct shoal_access_log *l);

/* Copies client-supplied bytes for a log line: printable ASCII stays, '"' and '\' and every
 * other byte become \xHH, so no client can forge a line or a field. Returns the length
 * written (stops early rather than overflow out). */
size_t shoal_access_log_escape(char *out, size_t cap, const char *in, size_t len);

#endif
