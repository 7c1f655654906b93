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
	struct shoal_ring_queue ops;
	struct slot *slots;
};

struct shoal_recvq *shoal_recvq_new(struct shoal_ring *ring, unsigned slots,
				     struct shoal_err *err)
{
	struct shoal_recvq *q = calloc(1, sizeof(*q));

	if (!q || !(q->slots = calloc(slots, sizeof(struct slot)))) {
		shoal_recvq_free(q);
		shoal_err_set(err, "read queue: out of memory");
		return NULL;
	}
	if (shoal_ring_queue_init(&q->ops, ring, slots, "read queue", err) < 0) {
		shoal_recvq_free(q);
		return NULL;
	}
	return q;
}

void shoal_recvq_free(struct shoal_recvq *q)
{
	if (!q)
		return;
	shoal_ring_queue_close(&q->ops);
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
	shoal_ring_give(&q->ops, idx);
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
	return q->ops.saved;
}

/* A read ahead for src into a free slot, in the ring's round. */
static void prepare(struct shoal_recvq *q, struct shoal_event_source *src)
{
	uint32_t idx = shoal_ring_take(&q->ops);
	struct slot *s = &q->slots[idx];
	struct io_uring_sqe *sqe = shoal_ring_prepare(&q->ops, idx);

	s->src = src;
	s->off = 0;
	io_uring_prep_recv(sqe, src->fd, s->buf, sizeof(s->buf), MSG_DONTWAIT);
	io_uring_sqe_set_data64(sqe, idx);
	src->recv_slot = (uint16_t)(idx + 2);
}

/* Without io_uring: the read ahead of slot idx as a system call, now. */
static void read_now(struct shoal_recvq *q, uint32_t idx)
{
	struct slot *s = &q->slots[idx];
	ssize_t n = recv(s->src->fd, s->buf, sizeof(s->buf), MSG_DONTWAIT);

	s->res = n < 0 ? -errno : (int32_t)n;
}

void shoal_recvq_read_ahead(struct shoal_recvq *q, const struct epoll_event *ready, int n)
{
	struct io_uring_cqe *cqe;

	for (int i = 0; i < n && q->ops.nfree > 0 && !q->ops.ring->broken; i++) {
		struct shoal_event_source *src = ready[i].data.ptr;

		if ((ready[i].events & EPOLLIN) && src->recv_slot == NOTHING_HELD)
			prepare(q, src);
	}
	/* A failed io_uring_enter took none of the reads: they are done as system calls,
	 * which the next turns' sources do for themselves. */
	if (shoal_ring_submit(&q->ops) < 0)
		for (unsigned i = 0; i < q->ops.nround; i++)
			read_now(q, q->ops.round[i]);
	q->ops.nround = 0;
	while (io_uring_peek_cqe(&q->ops.ring->uring, &cqe) == 0) {
		q->slots[io_uring_cqe_get_data64(cqe)].res = cqe->res;
		io_uring_cqe_seen(&q->ops.ring->uring, cqe);
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
