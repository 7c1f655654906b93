#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/worker/access_log.h"

/* A line longer than this is cut: fields are escaped, so at most 4 bytes per byte sent. */
#define LINE_MAX_BYTES 8192
/* Room kept at the end of a line for the upstream fields of a proxied request. */
#define UPSTREAM_FIELDS_MAX 128

static int open_file(const char *path, struct shoal_err *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return shoal_err_set(err, "cannot open access log %s: %s", path, strerror(errno));
	return fd;
}

int shoal_access_log_open(struct shoal_access_log *l, const char *path, struct shoal_err *err)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (!path || strcmp(path, "off") == 0)
		return 0;
	l->buf = malloc(SHOAL_ACCESS_LOG_BUFFER);
	if (!l->buf)
		return shoal_err_set(err, "out of memory");
	l->fd = open_file(path, err);
	if (l->fd < 0) {
		free(l->buf);
		l->buf = NULL;
		return -1;
	}
	snprintf(l->path, sizeof(l->path), "%s", path);
	return 0;
}

int shoal_access_log_reopen(struct shoal_access_log *l, struct shoal_err *err)
{
	int fd;

	if (l->fd < 0)
		return 0;
	shoal_access_log_flush(l);
	fd = open_file(l->path, err);
	if (fd < 0)
		return -1;
	close(l->fd);
	l->fd = fd;
	return 0;
}

void shoal_access_log_flush(struct shoal_access_log *l)
{
	size_t done = 0;

	while (l->fd >= 0 && done < l->len) {
		ssize_t n = write(l->fd, l->buf + done, l->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* a full disk must not stop serving: the lines are dropped */
		done += (size_t)n;
	}
	l->len = 0;
}

void shoal_access_log_close(struct shoal_access_log *l)
{
	shoal_access_log_flush(l);
	if (l->fd >= 0)
		close(l->fd);
	free(l->buf);
	l->fd = -1;
	l->buf = NULL;
}

size_t shoal_access_log_escape(char *out, size_t cap, const char *in, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
			if (n + 1 > cap)
				break;
			out[n++] = (char)c;
			continue;
		}
		if (n + 4 > cap)
			break;
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = hex[c >> 4];
		out[n++] = hex[c & 15];
	}
	return n;
}

static void update_time(struct shoal_access_log *l, time_t now)
{
	struct tm tm;

	if (l->time_sec == now)
		return;
	l->time_sec = now;
	localtime_r(&now, &tm);
	strftime(l->time_text, sizeof(l->time_text), "%d/%b/%Y:%H:%M:%S %z", &tm);
}

static struct shoal_http_str header_value(const struct shoal_http_request *req, const char *name)
{
	struct shoal_http_str none = { "", 0 };

	for (size_t i = 0; i < req->nheaders; i++)
		if (shoal_http_str_eq(req->headers[i].name, name))
			return req->headers[i].value;
	return none;
}

/* Appends a quoted, escaped field; "-" stands for an absent one. */
static size_t put_quoted(char *out, size_t cap, struct shoal_http_str s)
{
	size_t n;

	if (cap < 3)
		return 0;
	if (!s.len) {
		memcpy(out, "\"-\"", 3);
		return 3;
	}
	out[0] = '"';
	n = 1 + shoal_access_log_escape(out + 1, cap - 2, s.p, s.len);
	out[n++] = '"';
	return n;
}

static size_t format_request(char *out, size_t cap, const struct shoal_http_request *req)
{
	size_t n = 0;

	if (!req) {
		memcpy(out, "\"-\"", 3);
		return 3;
	}
	out[n++] = '"';
	n += shoal_access_log_escape(out + n, cap - n - 1, req->method_str.p, req->method_str.len);
	if (n < cap - 1)
		out[n++] = ' ';
	n += shoal_access_log_escape(out + n, cap - n - 1, req->target.p, req->target.len);
	n += (size_t)snprintf(out + n, cap - n, " HTTP/1.%d\"", req->version == SHOAL_HTTP_10 ? 0 : 1);
	return n < cap ? n : cap - 1;
}

void shoal_access_log_write(struct shoal_access_log *l, time_t now,
			    const struct shoal_access_entry *e)
{
	char line[LINE_MAX_BYTES];
	struct shoal_http_str none = { "", 0 };
	size_t n;

	if (l->fd < 0)
		return;
	update_time(l, now);
	n = (size_t)snprintf(line, sizeof(line), "%s - - [%s] ", e->client, l->time_text);
	n += format_request(line + n, sizeof(line) - n - 64, e->req);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " %d %llu ", e->status,
			      (unsigned long long)e->body_bytes);
	n += put_quoted(line + n, (sizeof(line) - n) / 2, e->req ? header_value(e->req, "referer") : none);
	line[n++] = ' ';
	n += put_quoted(line + n, sizeof(line) - n - 1 - UPSTREAM_FIELDS_MAX,
			e->req ? header_value(e->req, "user-agent") : none);
	if (e->upstream)
		n += (size_t)snprintf(line + n, sizeof(line) - n - 1,
				      " upstream=%s upstream_status=%d upstream_time=%llu.%06llu",
				      e->upstream, e->upstream_status,
				      (unsigned long long)(e->upstream_us / 1000000),
				      (unsigned long long)(e->upstream_us % 1000000));
	line[n++] = '\n';
	if (l->len + n > SHOAL_ACCESS_LOG_BUFFER)
		shoal_access_log_flush(l);
	memcpy(l->buf + l->len, line, n);
	l->len += n;
}
