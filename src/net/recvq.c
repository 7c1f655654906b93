#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shoal/net/event.h"
#include "shoal/net/recvq.h"
#include "shoal/net/ring.h"

/* recv_slot values other than slot + 2 (shoal/net/event.h). */
#define NOT_TAKING_PART 0
#define NOTHING_HELD 1

/* What was read ahead for a source, until its reads have taken it all. */
struct slot {
	struct shoal_event_source *src;
	int32_t res;  /* bytes read, or 0 for the end, or -errno */
	uint32_t off; /* of the bytes, taken so far */
	char buf[SHOAL_RECVQ_BYTES];
};

struct shoal_recvq {
	struct shoal_ring ring;
	struct slot *slots;
};

struct shoal_recvq *shoal_recvq_new(unsigned slots, struct shoal_err *err)
{
	struct shoal_recvq *q = calloc(1, sizeof(*q));

	if (!q || !(q->slots = calloc(slots, sizeof(struct slot)))) {
		shoal_recvq_free(q);
		shoal_err_set(err, "read queue: out of memory");
		return NULL;
	}
	if (shoal_ring_init(&q->ring, slots, slots, "read queue", err) < 0) {
		shoal_recvq_free(q);
		return NULL;
	}
	return q;
}

void shoal_recvq_free(struct shoal_recvq *q)
{
	if (!q)
		return;
	shoal_ring_close(&q->ring);
	free(q->slots);
	free(q);
}

void shoal_recvq_take_part(struct shoal_event_source *src, bool on)
{
	if (on && src->recv_slot == NOT_TAKING_PART)
		src->recv_slot = NOTHING_HELD;
	else if (!on && src->recv_slot == NOTHING_HELD)
		src->recv_slot = NOT_TAKING_PART;
}

bool shoal_recvq_holds(const struct shoal_event_source *src)
{
	return src->recv_slot > NOTHING_HELD;
}

static void release(struct shoal_recvq *q, struct shoal_event_source *src)
{
	uint32_t idx = src->recv_slot - 2u;

	q->slots[idx].src = NULL;
	shoal_ring_give(&q->ring, idx);
	src->recv_slot = NOTHING_HELD;
}

void shoal_recvq_cancel(struct shoal_recvq *q, struct shoal_event_source *src)
{
	if (shoal_recvq_holds(src))
		release(q, src);
	src->recv_slot = NOT_TAKING_PART;
}

unsigned long shoal_recvq_saved(const struct shoal_recvq *q)
{
	return q->ring.saved;
}

/* A read ahead for src into a free slot, in the submission ring. */
static void prepare(struct shoal_recvq *q, struct shoal_event_source *src)
{
	uint32_t idx = shoal_ring_take(&q->ring);
	struct slot *s = &q->slots[idx];
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring.uring);

	s->src = src;
	s->res = -EAGAIN;
	s->off = 0;
	io_uring_prep_recv(sqe, src->fd, s->buf, sizeof(s->buf), MSG_DONTWAIT);
	io_uring_sqe_set_data64(sqe, idx);
	src->recv_slot = (uint16_t)(idx + 2);
}

/* io_uring_enter failed, so none of the reads was done: the sources read for themselves. */
static void undo(struct shoal_recvq *q, const struct epoll_event *ready, int n)
{
	for (int i = 0; i < n; i++) {
		struct shoal_event_source *src = ready[i].data.ptr;

		if (shoal_recvq_holds(src) && q->slots[src->recv_slot - 2u].res == -EAGAIN &&
		    q->slots[src->recv_slot - 2u].off == 0)
			release(q, src);
	}
}

void shoal_recvq_read_ahead(struct shoal_recvq *q, const struct epoll_event *ready, int n)
{
	struct io_uring_cqe *cqe;
	unsigned count = 0;
	int rc;

	for (int i = 0; i < n && q->ring.nfree > 0 && !q->ring.broken; i++) {
		struct shoal_event_source *src = ready[i].data.ptr;

		if ((ready[i].events & EPOLLIN) && src->recv_slot == NOTHING_HELD) {
			prepare(q, src);
			count++;
		}
	}
	if (count == 0)
		return;
	/* MSG_DONTWAIT: every read ends inside the call, none waits for bytes. */
	do
		rc = io_uring_submit_and_wait(&q->ring.uring, count);
	while (rc == -EINTR);
	if (rc < 0) {
		q->ring.broken = true;
		undo(q, ready, n);
		return;
	}
	q->ring.saved += count - 1;
	while (io_uring_peek_cqe(&q->ring.uring, &cqe) == 0) {
		q->slots[io_uring_cqe_get_data64(cqe)].res = cqe->res;
		io_uring_cqe_seen(&q->ring.uring, cqe);
	}
}

ssize_t shoal_recvq_read(struct shoal_recvq *q, struct shoal_event_source *src, void *buf,
			 size_t len)
{
	struct slot *s;
	size_t n, held;
	bool filled;
	ssize_t more;

	if (!shoal_recvq_holds(src))
		return -2;
	s = &q->slots[src->recv_slot - 2u];
	if (s->res <= 0) {
		int res = s->res;

		release(q, src);
		if (res == 0)
			return 0;
		errno = -res;
		return -1;
	}
	held = (size_t)s->res - s->off;
	n = len < held ? len : held;
	memcpy(buf, s->buf + s->off, n);
	s->off += (uint32_t)n;
	if (n < held)
		return (ssize_t)n;
	filled = s->res == (int32_t)sizeof(s->buf);
	release(q, src);
	if (!filled || n == len)
		return (ssize_t)n;
	/* The socket may have more than the slot took: read on, so that a short read still
	 * means an empty socket. Its end or error comes with the next read. */
	more = recv(src->fd, (char *)buf + n, len - n, 0);
	return more > 0 ? (ssize_t)n + more : (ssize_t)n;
}
