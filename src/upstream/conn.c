#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/base/util.h"
#include "shoal/net/recvq.h"
#include "shoal/upstream/conn.h"

/* How far establishing a connection has come (its stage). */
enum {
	STAGE_CONNECTING, /* the non-blocking connect is under way */
	STAGE_PREFACE,    /* connected; the preface is being sent */
	STAGE_HANDSHAKE,  /* a tls group's: the handshake is under way */
	STAGE_READY,      /* the holder's bytes may go */
};

static void conn_on_event(struct shoal_event_source *src, uint32_t events)
{
	struct shoal_upstream_conn *uc = container_of(src, struct shoal_upstream_conn, ev);

	if (uc->ev.fd >= 0)
		uc->on_event(uc, events);
}

static struct shoal_upstream_conn *conn_alloc(struct shoal_upstream_set *set)
{
	struct shoal_upstream_conn *uc = set->free;

	if (!uc)
		return calloc(1, sizeof(*uc));
	set->free = uc->next;
	set->nfree--;
	return uc;
}

static int conn_socket(const struct shoal_upstream_address *a)
{
	int one = 1;
	int fd = socket(a->sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* Requests and responses are written whole, each in one call: Nagle would only hold a
	 * request's last segment back until the previous one is acknowledged. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, a->sa, a->len) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int shoal_upstream_conn_open(struct shoal_upstream_server *s, shoal_upstream_conn_fn on_event,
			     void *holder, struct shoal_upstream_conn **out)
{
	struct shoal_upstream_address a;

	shoal_upstream_address_next(s, &a);
	return shoal_upstream_conn_open_to(s, &a, on_event, holder, out);
}

int shoal_upstream_conn_open_to(struct shoal_upstream_server *s,
				const struct shoal_upstream_address *a,
				shoal_upstream_conn_fn on_event, void *holder,
				struct shoal_upstream_conn **out)
{
	struct shoal_upstream_set *set = s->group->set;
	struct shoal_upstream_conn *uc;
	int fd = conn_socket(a);

	if (fd < 0)
		return -1;
	uc = conn_alloc(set);
	if (!uc) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	*uc = (struct shoal_upstream_conn){
		.ev = { .on_event = conn_on_event, .fd = fd },
		.server = s, .on_event = on_event, .holder = holder, .addr_seq = a->seq,
	};
	if (shoal_event_add(set->loop, &uc->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
		int e = errno;
		shoal_upstream_conn_close(uc);
		errno = e;
		return -1;
	}
	*out = uc;
	return 0;
}

int shoal_upstream_conn_error(const struct shoal_upstream_conn *uc)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(uc->ev.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

void shoal_upstream_conn_preface(struct shoal_upstream_conn *uc, const char *p, size_t len)
{
	uc->preface = p;
	uc->preface_len = (uint16_t)len;
}

/* A preface is a few hundred bytes at most, into an empty socket: it leaves at once. */
static int conn_send_preface(struct shoal_upstream_conn *uc)
{
	while (uc->preface_len) {
		ssize_t n = send(uc->ev.fd, uc->preface, uc->preface_len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		uc->preface += n;
		uc->preface_len -= (uint16_t)n;
	}
	return 0;
}

/* The TLS of a connection lives in an allocation of its own, which the struct keeps while it
 * is open: OpenSSL holds a pointer to it. */
static int conn_start_tls(struct shoal_upstream_conn *uc)
{
	struct shoal_upstream_server *s = uc->server;
	struct shoal_err err;

	uc->tls = malloc(sizeof(*uc->tls));
	if (!uc->tls)
		return ENOMEM;
	if (shoal_tls_conn_connect(uc->tls, s->group->tls, s->tls_name, &s->tls_session, uc->ev.fd,
				   &err) < 0) {
		free(uc->tls);
		uc->tls = NULL;
		return ENOMEM;
	}
	return 0;
}

/* A step of the handshake, when events bring what it waits for (or an end, which it must
 * hear of); the first step goes at once. */
static int conn_handshake(struct shoal_upstream_conn *uc, uint32_t events, bool first)
{
	enum shoal_transport_dir dir = shoal_transport_waits_for(&uc->tls->transport,
								 SHOAL_TRANSPORT_READ);
	uint32_t wanted = dir == SHOAL_TRANSPORT_READ ? EPOLLIN | EPOLLRDHUP : EPOLLOUT;

	if (!first && !(events & (wanted | EPOLLHUP | EPOLLERR)))
		return EAGAIN;
	switch (shoal_tls_conn_handshake(uc->tls)) {
	case SHOAL_TLS_DONE:
		uc->stage = STAGE_READY;
		return 0;
	case SHOAL_TLS_NEED_READ:
	case SHOAL_TLS_NEED_WRITE:
		return EAGAIN;
	case SHOAL_TLS_ERROR:
		break;
	}
	return EPROTO;
}

/* Connected: the preface, then a tls group's handshake. */
static int conn_after_connect(struct shoal_upstream_conn *uc, uint32_t events)
{
	bool first = uc->stage == STAGE_PREFACE;
	int err;

	if (uc->stage == STAGE_PREFACE) {
		if ((err = conn_send_preface(uc)))
			return err;
		if (!uc->server->group->tls) {
			uc->stage = STAGE_READY;
			shoal_recvq_take_part(&uc->ev, true);
			return 0;
		}
		if ((err = conn_start_tls(uc)))
			return err;
		uc->stage = STAGE_HANDSHAKE;
	}
	return conn_handshake(uc, events, first);
}

int shoal_upstream_conn_establish(struct shoal_upstream_conn *uc, uint32_t events)
{
	int err;

	if (uc->stage == STAGE_READY)
		return 0;
	if (uc->stage == STAGE_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
			return EAGAIN;
		if ((err = shoal_upstream_conn_error(uc)))
			return err;
		if (!(events & EPOLLOUT))
			return ECONNRESET;
		uc->stage = STAGE_PREFACE;
	}
	return conn_after_connect(uc, events);
}

const char *shoal_upstream_conn_tls_failure(const struct shoal_upstream_conn *uc, char *buf,
					    size_t size)
{
	const struct shoal_tls_conn *c = uc->tls;

	if (!c || c->fail == SHOAL_TLS_FAIL_NONE)
		return NULL;
	snprintf(buf, size, "%s%s%s", shoal_tls_conn_fail_name(c->fail), c->reason ? ": " : "",
		 c->reason ? c->reason : "");
	return buf;
}

void shoal_upstream_conn_readiness(struct shoal_upstream_conn *uc, uint32_t events,
				   bool *readable, bool *writable)
{
	struct shoal_transport tcp;

	shoal_transport_readiness(shoal_upstream_conn_transport(uc, &tcp),
				  events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR),
				  events & (EPOLLOUT | EPOLLHUP | EPOLLERR), readable, writable);
}

bool shoal_upstream_conn_drained(struct shoal_upstream_conn *uc)
{
	struct shoal_transport tcp;
	char byte;

	if (shoal_transport_pending(shoal_upstream_conn_transport(uc, &tcp)))
		return false;
	return recv(uc->ev.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

void shoal_upstream_conn_close(struct shoal_upstream_conn *uc)
{
	struct shoal_upstream_set *set = uc->server->group->set;
	struct shoal_transport tcp;

	if (uc->ev.fd < 0)
		return;
	shoal_transport_close(shoal_upstream_conn_transport(uc, &tcp));
	free(uc->tls);
	uc->tls = NULL;
	uc->ev.fd = -1;
	uc->holder = NULL;
	uc->next = set->closed;
	set->closed = uc;
}
