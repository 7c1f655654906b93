/* A thin epoll loop. Each registered fd has an event source embedded in its owner's struct;
 * the loop calls the source's callback with the ready events. */
#ifndef SHOAL_NET_EVENT_H
#define SHOAL_NET_EVENT_H

#include <stdint.h>
#include <sys/epoll.h>

#include "shoal/base/error.h"

#define SHOAL_EVENT_BATCH 256

struct shoal_event_source;
struct shoal_recvq;
struct shoal_sendq;
typedef void (*shoal_event_fn)(struct shoal_event_source *src, uint32_t events);

struct shoal_event_source {
	shoal_event_fn on_event;
	int fd;
	/* Its send in the loop's send queue (shoal/net/sendq.h): the slot + 1, 0 for none;
	 * and its part in the loop's reads ahead (shoal/net/recvq.h): 0 none, 1 taking part
	 * with nothing held, slot + 2 holding what was read. Zero when the owner makes the
	 * source; registering it later (a connection is watched only once it has to wait)
	 * keeps both. In what was padding: an idle connection stays at its size. */
	uint16_t send_slot;
	uint16_t recv_slot;
};

struct shoal_event_loop {
	int epfd;
	struct shoal_sendq *sendq; /* NULL unless the owner set one (workers) */
	struct shoal_recvq *recvq; /* the same */
	struct epoll_event ready[SHOAL_EVENT_BATCH];
};

int shoal_event_init(struct shoal_event_loop *loop, struct shoal_err *err);
void shoal_event_close(struct shoal_event_loop *loop);

int shoal_event_add(struct shoal_event_loop *loop, struct shoal_event_source *src, uint32_t events);
int shoal_event_mod(struct shoal_event_loop *loop, struct shoal_event_source *src, uint32_t events);
int shoal_event_del(struct shoal_event_loop *loop, struct shoal_event_source *src);

/* Waits up to timeout_ms (-1: forever). Returns the number of ready events (0 on timeout or
 * EINTR) or -1 on error. Waiting and dispatching are separate so that the caller can read
 * the clock once between them. */
int shoal_event_wait(struct shoal_event_loop *loop, int timeout_ms);

/* Calls the callbacks of the n ready events. A callback may close any source, but must not
 * free one that may still be in the same batch: owners defer releasing memory until this
 * returns. */
void shoal_event_dispatch(struct shoal_event_loop *loop, int n);

#endif
