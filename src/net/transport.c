#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/net/event.h"
#include "shoal/net/recvq.h"
#include "shoal/net/sendq.h"
#include "shoal/net/transport.h"

/* recv and send rather than read and write: they go to the socket layer without the VFS's
 * (fdget_pos, vfs_read/vfs_write: ~3 % of a proxied request's samples), and a write plus a
 * read of 612 bytes over loopback cost 5.6-5.8 us against 5.9-6.2 us as send plus recv
 * (scripts/bench-lib/sockcall.c, 7 rounds of 200,000 on one core). */
static ssize_t tcp_read(struct shoal_transport *t, void *buf, size_t len)
{
	if (t->rq) {
		ssize_t n = shoal_recvq_read(t->rq, t->src, buf, len);
		if (n != -2)
			return n;
	}
	return recv(t->fd, buf, len, 0);
}

/* The cheapest call for what is offered: send for one piece (the common cache hit), writev
 * for several, sendmsg with MSG_MORE only when more follows, so that a head and the first
 * bytes of its body leave in one segment. MSG_NOSIGNAL is spelled out though the process
 * ignores SIGPIPE (workers do), so that the transport keeps its contract in any process. */
static ssize_t tcp_writev(struct shoal_transport *t, const struct iovec *iov, int iovcnt,
			  bool more)
{
	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };

	if (t->q) {
		ssize_t n = shoal_sendq_writev(t->q, t->src, iov, iovcnt,
					       MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if (n != -2)
			return n;
	}
	if (more)
		return sendmsg(t->fd, &msg, MSG_NOSIGNAL | MSG_MORE);
	if (iovcnt == 1)
		return send(t->fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL);
	return writev(t->fd, iov, iovcnt);
}

static ssize_t tcp_sendfile(struct shoal_transport *t, int file_fd, off_t *off, size_t len)
{
	return sendfile(t->fd, file_fd, off, len);
}

void shoal_transport_tcp_cork(struct shoal_transport *t, bool on)
{
	int value = on;

	setsockopt(t->fd, IPPROTO_TCP, TCP_CORK, &value, sizeof(value));
}

static int tcp_shutdown_write(struct shoal_transport *t)
{
	return shutdown(t->fd, SHUT_WR);
}

static enum shoal_transport_dir tcp_waits_for(struct shoal_transport *t,
					      enum shoal_transport_dir dir)
{
	(void)t;
	return dir;
}

/* Only what the read queue holds: bytes in the socket raise their own events. */
static bool tcp_pending(struct shoal_transport *t)
{
	return t->src && shoal_recvq_holds(t->src);
}

static void tcp_close(struct shoal_transport *t)
{
	if (t->q)
		shoal_sendq_cancel(t->q, t->src);
	if (t->rq)
		shoal_recvq_cancel(t->rq, t->src);
	close(t->fd);
}

void shoal_transport_readiness(struct shoal_transport *t, bool in, bool out, bool *readable,
			       bool *writable)
{
	/* Plain TCP waits for its own direction: no call to ask it. */
	bool tcp = t->ops == &shoal_transport_tcp_ops;

	if (in || (out && !tcp &&
		   shoal_transport_waits_for(t, SHOAL_TRANSPORT_READ) == SHOAL_TRANSPORT_WRITE))
		*readable = true;
	if (out || (in && !tcp &&
		    shoal_transport_waits_for(t, SHOAL_TRANSPORT_WRITE) == SHOAL_TRANSPORT_READ))
		*writable = true;
}

const struct shoal_transport_ops shoal_transport_tcp_ops = {
	.read = tcp_read,
	.writev = tcp_writev,
	.sendfile = tcp_sendfile,
	.cork = shoal_transport_tcp_cork,
	.shutdown_write = tcp_shutdown_write,
	.waits_for = tcp_waits_for,
	.pending = tcp_pending,
	.close = tcp_close,
};
