#include "shoal/http/chunked.h"
#include "shoal/worker/conn.h"
#include "shoal/worker/conn_body.h"

void shoal_conn_body_expect(struct shoal_conn_io *io, const struct shoal_http_request *req)
{
	if (req->body == SHOAL_HTTP_BODY_LENGTH) {
		io->body_left = req->content_length;
	} else if (req->body == SHOAL_HTTP_BODY_CHUNKED) {
		io->body_chunked = true;
		io->body_seen = 0;
		shoal_http_chunked_init(&io->chunked);
	}
}

int shoal_conn_body_skip(struct shoal_conn_io *io, uint64_t max_body)
{
	size_t avail = io->in_len - io->in_pos;
	size_t used;
	int rc;

	if (!io->body_chunked) {
		used = io->body_left < avail ? (size_t)io->body_left : avail;
		io->in_pos += (uint32_t)used;
		io->body_left -= used;
		return io->body_left == 0;
	}
	rc = shoal_http_chunked_skip(&io->chunked, io->in + io->in_pos, avail, &used, &io->body_seen);
	io->in_pos += (uint32_t)used;
	if (rc < 0)
		rc = -400;
	else if (io->body_seen > max_body)
		rc = -413;
	if (rc != 0)
		io->body_chunked = false;
	return rc;
}
