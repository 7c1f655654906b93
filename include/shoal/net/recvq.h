/* The worker's reads, batched: when epoll says which sockets have bytes, one io_uring_enter
 * reads them all (each into a slot of the queue) before their callbacks run, instead of one
 * recv(2) each inside them. A system call costs about 1 us of entry and exit alone on the
 * machines shoal is measured on; reading 612 bytes took 3.2-3.7 us as recv(2) against
 * 1.5-1.7 us as one of 64 reads in one io_uring_enter (a one-core micro benchmark). A
 * proxied request makes two reads (the request, the upstream's answer), a static one one.
 *
 * Which sockets: those whose owner says they take part (shoal_recvq_take_part), because
 * every read of theirs goes through the plain TCP transport, which takes what is held
 * first (shoal/net/transport.h). A socket read by anything else (OpenSSL, splice(2), a peek)
 * must not take part while that reader may run.
 * What a read finds: what was read ahead, then, when the read ahead filled its slot, what
 * the socket has beyond it, so that a read that returns less than was asked still means
 * the socket is empty, as the transport contract says. What does not fit in the caller's
 * buffer stays held (the transport's pending says so). An end or an error read ahead is
 * returned once, as recv would. Closing the socket through its transport drops what is
 * held. Where io_uring is missing or refused, the loop has no ring and no queue, and reads
 * are system calls, as before. */
#ifndef SHOAL_NET_RECVQ_H
#define SHOAL_NET_RECVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "shoal/base/error.h"

struct shoal_event_source;
struct shoal_recvq;

/* A read ahead's size: a request head, a small answer. A larger one is read on by the
 * transport's read with a system call. */
#define SHOAL_RECVQ_BYTES 4096

struct shoal_ring;

/* A queue of `slots` reads at most (below 65534) over ring (set up; shoal/net/ring.h), which
 * it may share with a send queue. NULL with err set when memory is refused. */
struct shoal_recvq *shoal_recvq_new(struct shoal_ring *ring, unsigned slots,
				    struct shoal_err *err);
void shoal_recvq_free(struct shoal_recvq *q);

/* Whether src's reads may be done ahead (on: from now on; off: not any more, and nothing
 * may be held then). */
void shoal_recvq_take_part(struct shoal_event_source *src, bool on);

/* Reads ahead for the n ready events (epoll's, data.ptr their sources) that bring bytes to
 * a source taking part and holding nothing: one io_uring_enter, done when it returns. */
void shoal_recvq_read_ahead(struct shoal_recvq *q, const struct epoll_event *ready, int n);

/* A read of up to len bytes for src: as recv(2) with no flags, or -2 when nothing is held
 * for src (read the socket yourself). */
ssize_t shoal_recvq_read(struct shoal_recvq *q, struct shoal_event_source *src, void *buf,
			 size_t len);

/* Whether bytes, an end or an error read ahead are held for src. */
bool shoal_recvq_holds(const struct shoal_event_source *src);

/* src's descriptor is closing: what is held for it is dropped. */
void shoal_recvq_cancel(struct shoal_recvq *q, struct shoal_event_source *src);

/* System calls saved so far: reads done ahead, less the io_uring_enter calls that did them. */
unsigned long shoal_recvq_saved(const struct shoal_recvq *q);

#endif
