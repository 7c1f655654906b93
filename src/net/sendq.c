#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "shoal/net/event.h"
#include "shoal/net/ring.h"
#include "shoal/net/sendq.h"

/* Rounds of submitting in one shoal_sendq_run: an answer sent lets its connection go on to
 * the next pipelined request, whose answer is queued in turn; after this many the loop
 * comes back later (shoal_sendq_waiting keeps it from sleeping meanwhile). */
#define RUN_ROUNDS 8

/* A send from its offer until its source takes the result (or closes). */
struct slot {
	struct shoal_event_source *src; /* NULL once cancelled: then never sent */
	int flags;
	uint32_t len;
	int32_t res; /* once done: bytes sent, or -errno */
	bool done;
	char buf[SHOAL_SENDQ_BYTES];
};

struct shoal_sendq {
	struct shoal_ring_queue ops;
	unsigned nqueued;
	uint32_t *queued; /* slot indexes, in the order their sends were offered */
	struct slot *slots;
};

struct shoal_sendq *shoal_sendq_new(struct shoal_ring *ring, unsigned slots,
				     struct shoal_err *err)
{
	struct shoal_sendq *q = calloc(1, sizeof(*q));

	if (!q) {
		shoal_err_set(err, "send queue: out of memory");
		return NULL;
	}
	if (!(q->queued = calloc(slots, sizeof(uint32_t))) ||
	    !(q->slots = calloc(slots, sizeof(struct slot)))) {
		shoal_sendq_free(q);
		shoal_err_set(err, "send queue: out of memory");
		return NULL;
	}
	if (shoal_ring_queue_init(&q->ops, ring, slots, "send queue", err) < 0) {
		shoal_sendq_free(q);
		return NULL;
	}
	return q;
}

void shoal_sendq_free(struct shoal_sendq *q)
{
	if (!q)
		return;
	shoal_ring_queue_close(&q->ops);
	free(q->slots);
	free(q->queued);
	free(q);
}

static void slot_free(struct shoal_sendq *q, uint32_t idx)
{
	q->slots[idx].done = false;
	q->slots[idx].src = NULL;
	shoal_ring_give(&q->ops, idx);
}

/* The result of src's send, taken once. */
static ssize_t take_result(struct shoal_sendq *q, struct shoal_event_source *src)
{
	uint32_t idx = src->send_slot - 1;
	int32_t res = q->slots[idx].res;

	slot_free(q, idx);
	src->send_slot = 0;
	if (res < 0) {
		errno = -res;
		return -1;
	}
	return res;
}

ssize_t shoal_sendq_writev(struct shoal_sendq *q, struct shoal_event_source *src,
			   const struct iovec *iov, int iovcnt, int flags)
{
	size_t total = 0, at = 0;
	struct slot *s;
	uint32_t idx;

	if (src->send_slot) {
		if (q->slots[src->send_slot - 1].done)
			return take_result(q, src);
		errno = EAGAIN;
		return -1;
	}
	if (q->ops.ring->broken || q->ops.nfree == 0)
		return -2;
	for (int i = 0; i < iovcnt; i++) {
		total += iov[i].iov_len;
		if (total > SHOAL_SENDQ_BYTES)
			return -2;
	}
	if (total == 0)
		return -2;
	idx = shoal_ring_take(&q->ops);
	s = &q->slots[idx];
	for (int i = 0; i < iovcnt; at += iov[i].iov_len, i++)
		memcpy(s->buf + at, iov[i].iov_base, iov[i].iov_len);
	s->src = src;
	s->flags = flags | MSG_DONTWAIT;
	s->len = (uint32_t)total;
	q->queued[q->nqueued++] = idx;
	src->send_slot = (uint16_t)(idx + 1);
	errno = EAGAIN;
	return -1;
}

void shoal_sendq_cancel(struct shoal_sendq *q, struct shoal_event_source *src)
{
	struct slot *s;

	if (!src->send_slot)
		return;
	s = &q->slots[src->send_slot - 1];
	src->send_slot = 0;
	/* A queued send frees its slot when its turn comes. */
	if (s->done)
		slot_free(q, (uint32_t)(s - q->slots));
	else
		s->src = NULL;
}

bool shoal_sendq_waiting(const struct shoal_sendq *q)
{
	return q->nqueued > 0;
}

unsigned long shoal_sendq_saved(const struct shoal_sendq *q)
{
	return q->ops.saved;
}

/* The send of slot idx ended with res: its source, unless it was closed meanwhile, is told
 * that it may write, and its write takes the result. */
static void complete(struct shoal_sendq *q, uint32_t idx, int res)
{
	struct slot *s = &q->slots[idx];

	if (!s->src) {
		slot_free(q, idx);
		return;
	}
	s->done = true;
	s->res = res;
	s->src->on_event(s->src, EPOLLOUT);
}

static void reap(struct shoal_sendq *q)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&q->ops.ring->uring, &cqe) == 0) {
		uint32_t idx = (uint32_t)io_uring_cqe_get_data64(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&q->ops.ring->uring, cqe);
		complete(q, idx, res);
	}
}

/* Without io_uring: the send of slot idx as a system call, now. */
static void send_now(struct shoal_sendq *q, uint32_t idx)
{
	struct slot *s = &q->slots[idx];
	ssize_t n = s->src ? send(s->src->fd, s->buf, s->len, s->flags) : 0;

	complete(q, idx, n < 0 ? -errno : (int)n);
}

/* Moves the queued sends into the ring's round. */
static void prepare(struct shoal_sendq *q)
{
	unsigned queued = q->nqueued;

	q->nqueued = 0;
	for (unsigned i = 0; i < queued; i++) {
		uint32_t idx = q->queued[i];
		struct slot *s = &q->slots[idx];
		struct io_uring_sqe *sqe;

		if (!s->src) { /* cancelled before its turn */
			slot_free(q, idx);
			continue;
		}
		sqe = shoal_ring_prepare(&q->ops, idx);
		io_uring_prep_send(sqe, s->src->fd, s->buf, s->len, s->flags);
		io_uring_sqe_set_data64(sqe, idx);
	}
}

/* One round: submit, then hand out the results. A failed io_uring_enter took none of the
 * sends, so they go as system calls, and every later one too. Callbacks queue their next
 * sends for the next round; the round's list is emptied before they run. */
static void run_round(struct shoal_sendq *q)
{
	unsigned n;
	bool sent;

	prepare(q);
	sent = shoal_ring_submit(&q->ops) == 0;
	n = q->ops.nround;
	q->ops.nround = 0;
	if (sent)
		reap(q);
	else
		for (unsigned i = 0; i < n; i++)
			send_now(q, q->ops.round[i]);
}

/* After io_uring failed: what was queued since goes as system calls. */
static void send_queued_now(struct shoal_sendq *q)
{
	while (q->nqueued > 0) {
		unsigned queued = q->nqueued;

		memcpy(q->ops.round, q->queued, queued * sizeof(uint32_t));
		q->nqueued = 0;
		for (unsigned i = 0; i < queued; i++)
			send_now(q, q->ops.round[i]);
	}
}

void shoal_sendq_run(struct shoal_sendq *q)
{
	for (int round = 0; round < RUN_ROUNDS && q->nqueued > 0 && !q->ops.ring->broken;
	     round++)
		run_round(q);
	if (q->ops.ring->broken)
		send_queued_now(q);
}
