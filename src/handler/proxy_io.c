#include <errno.h>

#include "proxy_int.h"
#include "shoal/net/transport.h"

enum px_stop shoal_proxy_io_flush(struct shoal_out *out, struct shoal_transport *t,
				  bool *writable, enum px_stop broken)
{
	if (shoal_out_empty(out))
		return PX_DONE;
	if (!*writable)
		return PX_WAIT;
	switch (shoal_out_flush(out, t)) {
	case SHOAL_OUT_DONE:
		return PX_DONE;
	case SHOAL_OUT_AGAIN:
	case SHOAL_OUT_YIELD:
		*writable = false;
		return PX_WAIT;
	case SHOAL_OUT_ERROR:
		break;
	}
	return broken;
}

ssize_t shoal_proxy_io_read(struct shoal_transport *t, void *buf, size_t want, bool *readable,
			    bool short_drains)
{
	ssize_t n;

	if (!*readable) {
		errno = EAGAIN;
		return -1;
	}
	do
		n = shoal_transport_read(t, buf, want);
	while (n < 0 && errno == EINTR);
	if ((n < 0 && errno == EAGAIN) ||
	    (n > 0 && (size_t)n < want && short_drains && !shoal_transport_pending(t)))
		*readable = false;
	return n;
}

size_t shoal_proxy_io_chunk(struct shoal_out *out, const char *p, size_t n)
{
	size_t avail;
	size_t line = shoal_http_chunked_size_line(shoal_out_scratch(out, &avail), n);

	shoal_out_commit(out, line);
	shoal_out_add(out, p, n, NULL);
	shoal_out_add(out, "\r\n", 2, NULL);
	return line + n + 2;
}

size_t shoal_proxy_io_last_chunk(struct shoal_out *out)
{
	shoal_out_add(out, "0\r\n\r\n", 5, NULL);
	return 5;
}
