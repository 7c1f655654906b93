#include <errno.h>

#include "check_int.h"

static void tcp_start(struct shoal_check_probe *p)
{
	(void)p;
}

/* A connect that completed makes the socket writable; one that failed raises EPOLLERR, with
 * the reason in SO_ERROR. */
static enum check_step tcp_on_event(struct shoal_check_probe *p, uint32_t events)
{
	int err = shoal_upstream_conn_error(p->conn);

	if (err) {
		p->detail = -err;
		return CHECK_FAILED;
	}
	if (events & (EPOLLERR | EPOLLHUP)) {
		p->detail = -ECONNRESET;
		return CHECK_FAILED;
	}
	if (!(events & EPOLLOUT))
		return CHECK_PENDING;
	p->detail = 0;
	return CHECK_PASSED;
}

const struct shoal_check_kind shoal_check_tcp = {
	.init = NULL,
	.dispose = NULL,
	.start = tcp_start,
	.on_event = tcp_on_event,
};
