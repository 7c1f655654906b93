#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "shoal/net/event.h"

int shoal_event_init(struct shoal_event_loop *loop, struct shoal_err *err)
{
	loop->sendq = NULL;
	loop->recvq = NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return shoal_err_set(err, "epoll_create1: %s", strerror(errno));
	return 0;
}

void shoal_event_close(struct shoal_event_loop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}

static int event_ctl(struct shoal_event_loop *loop, int op, struct shoal_event_source *src,
		     uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(loop->epfd, op, src->fd, &ev);
}

int shoal_event_add(struct shoal_event_loop *loop, struct shoal_event_source *src, uint32_t events)
{
	return event_ctl(loop, EPOLL_CTL_ADD, src, events);
}

int shoal_event_mod(struct shoal_event_loop *loop, struct shoal_event_source *src, uint32_t events)
{
	return event_ctl(loop, EPOLL_CTL_MOD, src, events);
}

int shoal_event_del(struct shoal_event_loop *loop, struct shoal_event_source *src)
{
	return event_ctl(loop, EPOLL_CTL_DEL, src, 0);
}

int shoal_event_wait(struct shoal_event_loop *loop, int timeout_ms)
{
	int n = epoll_wait(loop->epfd, loop->ready, SHOAL_EVENT_BATCH, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -1;
	return n;
}

void shoal_event_dispatch(struct shoal_event_loop *loop, int n)
{
	for (int i = 0; i < n; i++) {
		struct shoal_event_source *src = loop->ready[i].data.ptr;
		src->on_event(src, loop->ready[i].events);
	}
}
