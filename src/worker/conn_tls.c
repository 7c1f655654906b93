#include <errno.h>
#include <sys/socket.h>

#include "shoal/stats/stats.h"
#include "shoal/tls/conn.h"
#include "shoal/worker/conn.h"
#include "shoal/worker/conn_tls.h"

static struct shoal_tls_conn *tls_of(const struct shoal_conn_env *env, const struct shoal_conn *c)
{
	return shoal_pool_tls(&env->pool, c->tls);
}

bool shoal_conn_tls_accept(struct shoal_conn_env *env, struct shoal_conn *c,
			   const struct shoal_tls_context_set *set)
{
	struct shoal_err err;
	uint32_t index = shoal_pool_tls_get(&env->pool);

	if (!index)
		return false;
	/* Kept also when this fails: the state then has no SSL, and closing it closes the
	 * socket alone; the entry goes back with the connection. */
	c->tls = index;
	return shoal_tls_conn_accept(shoal_pool_tls(&env->pool, index), set, c->ev.fd, &err) == 0;
}

struct shoal_transport *shoal_conn_tls_transport(const struct shoal_conn_env *env,
						 const struct shoal_conn *c)
{
	return &tls_of(env, c)->transport;
}

static enum shoal_stats_tls_fail tls_reason(enum shoal_tls_fail fail)
{
	switch (fail) {
	case SHOAL_TLS_FAIL_PROTOCOL:
		return SHOAL_STATS_TLS_FAIL_PROTOCOL;
	case SHOAL_TLS_FAIL_CERTIFICATE:
		return SHOAL_STATS_TLS_FAIL_CERTIFICATE;
	case SHOAL_TLS_FAIL_GARBAGE:
		return SHOAL_STATS_TLS_FAIL_GARBAGE;
	case SHOAL_TLS_FAIL_CLOSED:
		return SHOAL_STATS_TLS_FAIL_CLOSED;
	case SHOAL_TLS_FAIL_TIMEOUT:
		return SHOAL_STATS_TLS_FAIL_TIMEOUT;
	case SHOAL_TLS_FAIL_NONE:
	case SHOAL_TLS_FAIL_OTHER:
		break;
	}
	return SHOAL_STATS_TLS_FAIL_OTHER;
}

enum shoal_conn_tls_step shoal_conn_tls_handshake(struct shoal_conn_env *env,
						  struct shoal_conn *c)
{
	struct shoal_tls_conn *t = tls_of(env, c);

	switch (shoal_tls_conn_handshake(t)) {
	case SHOAL_TLS_DONE:
		shoal_tls_conn_read_follows(t); /* conn.c reads the first request at once */
		shoal_stats_tls_handshake(env->handler->stats, t->resumed,
					  t->version == SHOAL_TLS_1_2 ? SHOAL_STATS_TLS_V1_2
								      : SHOAL_STATS_TLS_V1_3);
		return SHOAL_CONN_TLS_DONE;
	case SHOAL_TLS_NEED_READ:
	case SHOAL_TLS_NEED_WRITE:
		return SHOAL_CONN_TLS_WAIT;
	case SHOAL_TLS_ERROR:
		break;
	}
	shoal_stats_tls_failed(env->handler->stats, tls_reason(t->fail));
	return SHOAL_CONN_TLS_CLOSE;
}

void shoal_conn_tls_close_notify(const struct shoal_conn_env *env, const struct shoal_conn *c)
{
	(void)shoal_tls_conn_close_notify(tls_of(env, c));
}

void shoal_conn_tls_timed_out(struct shoal_conn_env *env)
{
	shoal_stats_tls_failed(env->handler->stats, SHOAL_STATS_TLS_FAIL_TIMEOUT);
}

ssize_t shoal_conn_tls_peek(const struct shoal_conn *c, void *buf, size_t len)
{
	ssize_t n = recv(c->ev.fd, buf, len, MSG_PEEK);

	if (n < 0 && errno == EWOULDBLOCK)
		errno = EAGAIN;
	return n;
}

bool shoal_conn_tls_skip(const struct shoal_conn *c, size_t used)
{
	char sink[256];

	/* The header's bytes are in the socket already (they were peeked at): reads return
	 * them at once. */
	while (used > 0) {
		ssize_t n = recv(c->ev.fd, sink, used < sizeof(sink) ? used : sizeof(sink), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		used -= (size_t)n;
	}
	return true;
}
