#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/base/util.h"
#include "shoal/upstream/conn.h"

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

bool shoal_upstream_conn_drained(const struct shoal_upstream_conn *uc)
{
	char byte;

	return recv(uc->ev.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

void shoal_upstream_conn_close(struct shoal_upstream_conn *uc)
{
	struct shoal_upstream_set *set = uc->server->group->set;

	if (uc->ev.fd < 0)
		return;
	close(uc->ev.fd);
	uc->ev.fd = -1;
	uc->holder = NULL;
	uc->next = set->closed;
	set->closed = uc;
}
