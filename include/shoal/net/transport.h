/* The seam between a connection and its socket: every byte a connection reads or sends, and
 * the ends of its stream, go through one small table of operations. Plain TCP (here) and TLS
 * (shoal/tls/conn.h) implement it. Each TCP operation is one system call, the cheapest for the
 * job, so the seam costs an indirect call and no system call.
 *
 * A transport with state of its own (TLS) embeds struct shoal_transport in its own struct and
 * its operations find that with container_of. Plain TCP has nothing but the descriptor, so a
 * connection builds its transport on the stack around the descriptor it keeps anyway, and
 * stays as small as it was. Four contracts exist for TLS and cost TCP nothing:
 * - Waiting for the other direction. EAGAIN means that the transport cannot go on until its
 *   socket is ready; for TCP that is always the direction of the call. A TLS transport may
 *   have to read before a write can go on, or write before a read can: waits_for says which
 *   readiness an EAGAIN waits for.
 * - Bytes held inside. A TCP read that returns less than was asked means the socket is empty
 *   for now: no epoll event is lost by not reading again. A TLS read keeps that promise, and
 *   fills the whole buffer while it has bytes; decrypted bytes it still holds after a full
 *   buffer raise no event of the socket, and pending says they are there. So does the end
 *   of the stream a TLS read found behind the bytes it returned (close_notify in the same
 *   read(2), the TCP connection still open: no event will tell of it): a caller whose read
 *   came back short reads again while pending says so.
 * - Committed bytes. A TLS write encrypts a record before the socket takes it; after EAGAIN
 *   that record is still to go, so the caller offers the same bytes again (it would anyway:
 *   none were taken) rather than others.
 * - Sending from a file. sendfile may fail with EOPNOTSUPP (TLS without kernel offload); the
 *   caller then reads the file itself and sends it with writev, as shoal_out_flush does. */
#ifndef SHOAL_NET_TRANSPORT_H
#define SHOAL_NET_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct shoal_event_source;
struct shoal_recvq;
struct shoal_sendq;
struct shoal_transport;

/* A direction of the socket, and so the readiness an operation may wait for. */
enum shoal_transport_dir {
	SHOAL_TRANSPORT_READ,  /* readable: EPOLLIN */
	SHOAL_TRANSPORT_WRITE, /* writable: EPOLLOUT */
};

/* An operation that fails returns -1 with errno set. EINTR and EAGAIN: nothing happened;
 * call again at once after EINTR, once the socket is ready after EAGAIN. Any other errno:
 * the stream is broken. The process ignores SIGPIPE (workers do): a peer that is gone is
 * the error EPIPE, not a signal. */
struct shoal_transport_ops {
	/* Reads up to len bytes into buf. Returns how many (> 0); 0 once the peer has finished
	 * sending; -1 with EAGAIN when nothing is there yet, another errno (ECONNRESET, ...)
	 * when the stream is broken. */
	ssize_t (*read)(struct shoal_transport *t, void *buf, size_t len);
	/* Sends the iovcnt pieces (1 to IOV_MAX) in order. more: the caller sends more right
	 * after (a file body behind its head), so a short last segment may wait for it. Returns
	 * the bytes taken, from the front, possibly fewer than offered (offer the rest again);
	 * -1 with EAGAIN when none can be taken now, another errno when the stream is broken.
	 * After EAGAIN the next writev offers the same bytes again from the front, as many or
	 * more (a TLS record made of them may be half sent), unless the caller closes. */
	ssize_t (*writev)(struct shoal_transport *t, const struct iovec *iov, int iovcnt,
			  bool more);
	/* Sends up to len bytes of file_fd from *off, advancing *off by what was taken; file_fd's
	 * own offset is not used. Returns the bytes taken (0: the file ends at *off); -1 with
	 * EAGAIN as writev (offer the same range again), or EOPNOTSUPP when this transport
	 * cannot send from a file: nothing was sent, send the bytes with writev instead. */
	ssize_t (*sendfile)(struct shoal_transport *t, int file_fd, off_t *off, size_t len);
	/* A hint that a run of sends is coming (on) or over (off): while on, partial segments
	 * may be held back. Failure is harmless and not reported; transports without the
	 * notion do nothing. */
	void (*cork)(struct shoal_transport *t, bool on);
	/* Ends our direction: the peer reads the end of the stream once it has everything sent
	 * before, and may still send; reads go on. Returns 0 or -1 with errno; EAGAIN (TLS: the
	 * close_notify record waits for room) means call again once waits_for's readiness comes. */
	int (*shutdown_write)(struct shoal_transport *t);
	/* After an operation of direction dir (READ: read; WRITE: writev, sendfile,
	 * shutdown_write) failed with EAGAIN: the readiness it waits for. With an edge-triggered
	 * loop that readiness comes as a new event: the call that failed left nothing unread or
	 * room unused in that direction. */
	enum shoal_transport_dir (*waits_for)(struct shoal_transport *t,
					      enum shoal_transport_dir dir);
	/* Whether read would return bytes the transport holds already (decrypted, or received
	 * and not yet decrypted), or the end of the stream it has read, for which no event of
	 * the socket will come. A caller that stopped reading with a full buffer reads again
	 * before it waits, with TCP too: the socket may have more. Plain TCP holds only what its
	 * loop read ahead (shoal/net/recvq.h). */
	bool (*pending)(struct shoal_transport *t);
	/* Releases the transport and closes its descriptor, which also takes it out of epoll as
	 * long as no other process holds it (workers share none). t must not be used again. */
	void (*close)(struct shoal_transport *t);
};

struct shoal_transport {
	const struct shoal_transport_ops *ops;
	int fd; /* the socket, registered with epoll by its owner */
	/* Plain TCP: the socket's event source and its loop's queues. The send queue batches
	 * small sends (shoal/net/sendq.h: a writev then fails with EAGAIN until the loop has
	 * sent them, and close drops one not yet sent); the read queue reads ahead
	 * (shoal/net/recvq.h: read takes what it holds first, pending says it holds some, close
	 * drops it). NULL: system calls. */
	struct shoal_event_source *src;
	struct shoal_sendq *q;
	struct shoal_recvq *rq;
};

extern const struct shoal_transport_ops shoal_transport_tcp_ops;

/* TCP_CORK on t's socket: the cork of every transport over TCP (plain, and TLS, whose
 * records are TCP segments all the same). */
void shoal_transport_tcp_cork(struct shoal_transport *t, bool on);

/* Plain TCP over the connected socket sock (any stream socket will do): a pointer to a
 * transport built on the caller's stack, valid to the end of the enclosing block. A macro,
 * because only a compound literal in the caller's own scope can be that. */
#define SHOAL_TRANSPORT_TCP(sock) \
	(&(struct shoal_transport){ .ops = &shoal_transport_tcp_ops, .fd = (sock) })

/* The same over the socket of the event source ev, with its loop's send and read queues
 * (either may be NULL). */
#define SHOAL_TRANSPORT_TCP_EV(ev, sendq, recvq)                                              \
	(&(struct shoal_transport){ .ops = &shoal_transport_tcp_ops, .fd = (ev)->fd,          \
				    .src = (ev), .q = (sendq), .rq = (recvq) })

static inline ssize_t shoal_transport_read(struct shoal_transport *t, void *buf, size_t len)
{
	return t->ops->read(t, buf, len);
}

static inline ssize_t shoal_transport_writev(struct shoal_transport *t,
					     const struct iovec *iov, int iovcnt, bool more)
{
	return t->ops->writev(t, iov, iovcnt, more);
}

static inline ssize_t shoal_transport_sendfile(struct shoal_transport *t, int file_fd,
					       off_t *off, size_t len)
{
	return t->ops->sendfile(t, file_fd, off, len);
}

static inline void shoal_transport_cork(struct shoal_transport *t, bool on)
{
	t->ops->cork(t, on);
}

static inline int shoal_transport_shutdown_write(struct shoal_transport *t)
{
	return t->ops->shutdown_write(t);
}

static inline enum shoal_transport_dir shoal_transport_waits_for(struct shoal_transport *t,
								enum shoal_transport_dir dir)
{
	return t->ops->waits_for(t, dir);
}

/* What an event of t's socket lets go on: in (readable, or the peer's end or an error) and
 * out (writable, or an error) as epoll said. Sets *readable when a read may go on, *writable
 * when a write may (never clears them): an operation of one direction that waits for the
 * other's readiness (TLS answering a key update) is woken by that one. */
void shoal_transport_readiness(struct shoal_transport *t, bool in, bool out, bool *readable,
			       bool *writable);

static inline bool shoal_transport_pending(struct shoal_transport *t)
{
	return t->ops->pending(t);
}

static inline void shoal_transport_close(struct shoal_transport *t)
{
	t->ops->close(t);
}

#endif
