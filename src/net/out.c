#include <errno.h>
#include <unistd.h>

#include "shoal/base/ref.h"
#include "shoal/net/out.h"
#include "shoal/net/transport.h"

/* One sendfile call moves at most this much: measured on loopback, 1 GiB calls gave a
 * third less throughput for 10 MB files than 2 MiB ones, which let the receiver keep up. */
#define SENDFILE_MAX (1 << 21)

void shoal_out_init(struct shoal_out *o, char *scratch, size_t cap)
{
	o->niov = o->iov_pos = o->nrefs = 0;
	o->scratch = scratch;
	o->scratch_len = 0;
	o->scratch_cap = cap;
	o->file_fd = -1;
	o->file_ref = NULL;
	o->file_off = o->file_end = 0;
	o->corked = false;
	o->ends_stream = false;
	o->bytes = 0;
}

bool shoal_out_room(const struct shoal_out *o, unsigned iovs, size_t scratch)
{
	return o->file_fd < 0 && o->niov + iovs <= SHOAL_OUT_IOV &&
	       o->nrefs + iovs <= SHOAL_OUT_IOV && o->scratch_len + scratch <= o->scratch_cap;
}

bool shoal_out_empty(const struct shoal_out *o)
{
	return o->niov == 0 && o->file_fd < 0;
}

char *shoal_out_scratch(struct shoal_out *o, size_t *avail)
{
	*avail = o->scratch_cap - o->scratch_len;
	return o->scratch + o->scratch_len;
}

void shoal_out_add(struct shoal_out *o, const void *p, size_t len, struct shoal_ref *ref)
{
	struct iovec *last = o->niov ? &o->iov[o->niov - 1] : NULL;

	if (ref) {
		shoal_ref_hold(ref);
		o->refs[o->nrefs++] = ref;
	}
	o->bytes += len;
	/* Pieces that are adjacent in memory (a generated head then its page) go out as one. */
	if (last && (const char *)last->iov_base + last->iov_len == p) {
		last->iov_len += len;
		return;
	}
	o->iov[o->niov].iov_base = (void *)p;
	o->iov[o->niov].iov_len = len;
	o->niov++;
}

void shoal_out_commit(struct shoal_out *o, size_t len)
{
	shoal_out_add(o, o->scratch + o->scratch_len, len, NULL);
	o->scratch_len += len;
}

void shoal_out_file(struct shoal_out *o, int fd, off_t off, off_t len,
		    struct shoal_ref *ref)
{
	if (ref)
		shoal_ref_hold(ref);
	o->file_ref = ref;
	o->file_fd = fd;
	o->file_off = off;
	o->file_end = off + len;
	o->bytes += (size_t)len;
}

void shoal_out_reset(struct shoal_out *o)
{
	for (unsigned i = 0; i < o->nrefs; i++)
		shoal_ref_drop(o->refs[i]);
	if (o->file_ref)
		shoal_ref_drop(o->file_ref);
	else if (o->file_fd >= 0)
		close(o->file_fd);
	shoal_out_init(o, o->scratch, o->scratch_cap);
}

void shoal_out_mark(const struct shoal_out *o, struct shoal_out_mark *m)
{
	m->niov = o->niov;
	m->nrefs = o->nrefs;
	m->last_len = o->niov ? o->iov[o->niov - 1].iov_len : 0;
	m->scratch_len = o->scratch_len;
	m->bytes = o->bytes;
	m->had_file = o->file_fd >= 0;
	m->last_status = o->last_status;
	m->last_body = o->last_body;
}

void shoal_out_rollback(struct shoal_out *o, const struct shoal_out_mark *m)
{
	while (o->nrefs > m->nrefs)
		shoal_ref_drop(o->refs[--o->nrefs]);
	if (o->file_fd >= 0 && !m->had_file) {
		if (o->file_ref)
			shoal_ref_drop(o->file_ref);
		else
			close(o->file_fd);
		o->file_fd = -1;
		o->file_ref = NULL;
		o->file_off = o->file_end = 0;
	}
	o->niov = m->niov;
	if (m->niov)
		o->iov[m->niov - 1].iov_len = m->last_len;
	o->scratch_len = m->scratch_len;
	o->bytes = m->bytes;
	o->last_status = m->last_status;
	o->last_body = m->last_body;
}

static void advance(struct shoal_out *o, size_t n)
{
	while (n > 0) {
		struct iovec *v = &o->iov[o->iov_pos];
		if (n < v->iov_len) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= n;
			return;
		}
		n -= v->iov_len;
		o->iov_pos++;
	}
}

static enum shoal_out_result flush_iov(struct shoal_out *o, struct shoal_transport *t)
{
	/* With a file body behind them, or the close's FIN, the pieces tell the transport that
	 * more follows. */
	bool more = o->file_fd >= 0 || o->ends_stream;

	while (o->iov_pos < o->niov) {
		ssize_t n = shoal_transport_writev(t, &o->iov[o->iov_pos],
						   (int)(o->niov - o->iov_pos), more);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? SHOAL_OUT_AGAIN : SHOAL_OUT_ERROR;
		advance(o, (size_t)n);
	}
	return SHOAL_OUT_DONE;
}

/* Sends len bytes of the body, read into the scratch space at its start, with writev. */
static enum shoal_out_result copy_chunk(struct shoal_out *o, struct shoal_transport *t,
					size_t len)
{
	struct iovec v = { .iov_base = o->scratch, .iov_len = len };
	bool more = o->file_off + (off_t)len < o->file_end || o->ends_stream;

	while (v.iov_len > 0) {
		ssize_t n = shoal_transport_writev(t, &v, 1, more);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? SHOAL_OUT_AGAIN : SHOAL_OUT_ERROR;
		v.iov_base = (char *)v.iov_base + n;
		v.iov_len -= (size_t)n;
		o->file_off += n;
	}
	return SHOAL_OUT_DONE;
}

/* For a transport that cannot send from a file: the body goes through the scratch space,
 * which is free once the pieces before the body are out, in turns of SENDFILE_MAX bytes as
 * with sendfile. Bytes read but not taken are read again on the next call. */
static enum shoal_out_result copy_file(struct shoal_out *o, struct shoal_transport *t)
{
	off_t turn_end = o->file_off + SENDFILE_MAX;

	while (o->file_off < o->file_end && o->file_off < turn_end) {
		off_t left = o->file_end - o->file_off;
		size_t len = left < (off_t)o->scratch_cap ? (size_t)left : o->scratch_cap;
		ssize_t got = pread(o->file_fd, o->scratch, len, o->file_off);
		enum shoal_out_result r;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) /* unreadable, or the file shrank under us */
			return SHOAL_OUT_ERROR;
		r = copy_chunk(o, t, (size_t)got);
		if (r != SHOAL_OUT_DONE)
			return r;
	}
	return o->file_off < o->file_end ? SHOAL_OUT_YIELD : SHOAL_OUT_DONE;
}

/* One chunk per turn: a large download shares the worker with every other connection
 * instead of holding it until its socket is full. */
static enum shoal_out_result flush_file(struct shoal_out *o, struct shoal_transport *t)
{
	off_t left = o->file_end - o->file_off;
	ssize_t n;

	if (left == 0)
		return SHOAL_OUT_DONE;
	do
		n = shoal_transport_sendfile(t, o->file_fd, &o->file_off,
					     left < SENDFILE_MAX ? (size_t)left : SENDFILE_MAX);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EOPNOTSUPP)
		return copy_file(o, t);
	if (n < 0)
		return errno == EAGAIN ? SHOAL_OUT_AGAIN : SHOAL_OUT_ERROR;
	if (n == 0) /* the file shrank under us: the promised length cannot be kept */
		return SHOAL_OUT_ERROR;
	return o->file_off < o->file_end ? SHOAL_OUT_YIELD : SHOAL_OUT_DONE;
}

enum shoal_out_result shoal_out_flush(struct shoal_out *o, struct shoal_transport *t)
{
	enum shoal_out_result r;

	/* A body that one sendfile call can take leaves whole behind the head sent with
	 * MSG_MORE; corking is for bodies that take several calls, and costs two calls itself. */
	if (o->file_fd >= 0 && !o->corked && o->file_end - o->file_off > SENDFILE_MAX) {
		shoal_transport_cork(t, true);
		o->corked = true;
	}
	r = flush_iov(o, t);
	if (r == SHOAL_OUT_DONE && o->file_fd >= 0)
		r = flush_file(o, t);
	if (r == SHOAL_OUT_DONE) {
		if (o->corked)
			shoal_transport_cork(t, false);
		shoal_out_reset(o);
	}
	return r;
}
