/* The worker's small sends, batched: one io_uring_enter for the sends of a whole turn of the
 * event loop instead of one send(2) each. On the machines shoal is measured on a system call
 * costs about 1 us of entry and exit alone; a proxied request makes two sends (the request to
 * the upstream, the answer to the client) and a static one one, so batching takes away a
 * tenth of what a request costs. Reads stay system calls: epoll says which sockets have bytes.
 *
 * How a send goes (the plain TCP transport does this for a source of a loop that has a
 * queue; see shoal/net/transport.h):
 * - writev offers bytes: up to SHOAL_SENDQ_BYTES are copied into one of the queue's slots
 *   and the call fails with EAGAIN, as if the socket were full. The caller keeps its bytes,
 *   as after any EAGAIN, and waits for the socket to be writable. Bigger sends, and any
 *   when every slot is taken, go out at once with a system call as before.
 * - shoal_sendq_run, after the turn's events: every queued send is submitted with one
 *   io_uring_enter, non-blocking (MSG_DONTWAIT: a full socket answers EAGAIN at once, it is
 *   not waited for), and each result is kept in the slot, whose source then gets EPOLLOUT
 *   through its callback as from epoll.
 * - The caller writes again (the same bytes from the front, as the transport contract has it
 *   after EAGAIN) and takes the result: the bytes sent, or the send's error. A real EAGAIN
 *   is then waited for as always: the kernel saw the socket full, so epoll's edge comes.
 * Closing a source's descriptor while its send is queued cancels it (shoal_sendq_cancel):
 * the slot owns the copy, so no caller memory is referenced after writev returns.
 * Where io_uring is missing or refused (an old kernel, io_uring_disabled, a seccomp filter),
 * the loop has no ring and no queue, and sends with system calls, as it did before. */
#ifndef SHOAL_NET_SENDQ_H
#define SHOAL_NET_SENDQ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "shoal/base/error.h"

struct shoal_event_source;
struct shoal_sendq;

/* The largest send that is queued: a head and a small body (a 612-byte page, a proxied
 * request). Larger ones cost few system calls per byte anyway. */
#define SHOAL_SENDQ_BYTES 4096

struct shoal_ring;

/* A queue of `slots` sends at most (below 65535) over ring (set up; shoal/net/ring.h), which
 * it may share with a read queue. NULL with err set when memory is refused. */
struct shoal_sendq *shoal_sendq_new(struct shoal_ring *ring, unsigned slots,
				    struct shoal_err *err);
void shoal_sendq_free(struct shoal_sendq *q);

/* writev through the queue for src (registered with the loop that owns q); flags as for
 * send(2). Returns what writev returns (shoal/net/transport.h), or -2 when the send is not
 * for the queue (too large, every slot taken, q broken): send it with a system call. */
ssize_t shoal_sendq_writev(struct shoal_sendq *q, struct shoal_event_source *src,
			   const struct iovec *iov, int iovcnt, int flags);

/* src's descriptor is closing: its queued send, if any, is dropped, or its kept result. */
void shoal_sendq_cancel(struct shoal_sendq *q, struct shoal_event_source *src);

/* Whether sends wait to be submitted: the loop must not sleep before shoal_sendq_run. */
bool shoal_sendq_waiting(const struct shoal_sendq *q);

/* Submits what is queued and hands each result to its source (EPOLLOUT through its
 * callback), again for what those callbacks queue, a few rounds at most. */
void shoal_sendq_run(struct shoal_sendq *q);

/* System calls saved so far: sends that went out in a batch, less the io_uring_enter calls
 * that carried them. For the tests and the counts of system calls per request. */
unsigned long shoal_sendq_saved(const struct shoal_sendq *q);

#endif
