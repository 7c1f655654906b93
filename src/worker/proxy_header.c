#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/net/proxy_proto.h"
#include "shoal/stats/stats.h"
#include "shoal/worker/conn.h"
#include "shoal/worker/proxy_header.h"

/* At most one line about refusals per this long. */
#define TELL_INTERVAL_MS 1000

/* The first server on addr: servers that share an address agree on its flags and list. */
static const struct shoal_server_conf *server_on(const struct shoal_config *cfg,
						 const struct shoal_addr *addr, unsigned *flags)
{
	for (size_t i = 0; i < cfg->nservers; i++)
		for (size_t j = 0; j < cfg->servers[i].nlisten; j++)
			if (shoal_addr_equal(&cfg->servers[i].listen[j], addr)) {
				*flags = cfg->servers[i].listen_flags[j];
				return &cfg->servers[i];
			}
	return NULL;
}

int shoal_proxy_header_listen_init(struct shoal_proxy_header_listen *l,
				   const struct shoal_config *cfg, const struct shoal_addr *addr)
{
	unsigned flags = 0;
	const struct shoal_server_conf *s = server_on(cfg, addr, &flags);
	size_t bad;

	memset(l, 0, sizeof(*l));
	if (!s || !(flags & SHOAL_LISTEN_PROXY_PROTOCOL))
		return 0;
	if (shoal_acl_parse_list(s->proxy_protocol_from, s->nproxy_protocol_from, &l->from,
				 &bad) < 0)
		return -1;
	l->nfrom = s->nproxy_protocol_from;
	return 1;
}

void shoal_proxy_header_listen_free(struct shoal_proxy_header_listen *l)
{
	free(l->from);
	l->from = NULL;
	l->nfrom = 0;
}

/* The address bytes of peer, an AF_INET or AF_INET6 socket address. */
static const uint8_t *peer_bytes(const struct sockaddr_storage *peer)
{
	if (peer->ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)peer)->sin6_addr.s6_addr;
	return (const uint8_t *)&((const struct sockaddr_in *)peer)->sin_addr;
}

bool shoal_proxy_header_refuse(struct shoal_conn_env *env,
			       const struct shoal_proxy_header_listen *l, int fd,
			       const struct sockaddr_storage *peer)
{
	struct shoal_proxy_header_refusals *r = &env->proxy_refusals;

	if (shoal_acl_allows(l->from, l->nfrom, peer->ss_family, peer_bytes(peer)))
		return false;
	close(fd);
	shoal_stats_proxy_header(env->handler->stats, SHOAL_STATS_PROXY_HEADER_REFUSED);
	r->count++;
	if (!inet_ntop(peer->ss_family, peer_bytes(peer), r->last, sizeof(r->last)))
		strcpy(r->last, "?");
	shoal_proxy_header_tell(r, env->handler->log, env->handler->now_ms);
	return true;
}

void shoal_proxy_header_tell(struct shoal_proxy_header_refusals *r, const struct shoal_log *log,
			     uint64_t now_ms)
{
	if (!r->count || now_ms < r->next_ms)
		return;
	log_warn(log, "proxy_protocol: refused %" PRIu64 " connection%s from peers not in "
		 "proxy_protocol_from since the last such line (the last from %s)", r->count,
		 r->count == 1 ? "" : "s", r->last);
	r->count = 0;
	r->next_ms = now_ms + TELL_INTERVAL_MS;
}

/* The client the header h names becomes c's, port and all, and its ends are kept in the
 * pool for c's requests. False if memory runs out. */
static bool take_client(struct shoal_conn_env *env, struct shoal_conn *c,
			const struct shoal_proxy_proto *h)
{
	const struct shoal_proxy_proto_addrs *a = &h->addrs;

	if (h->local)
		return true;
	c->relayed = shoal_pool_relayed_get(&env->pool);
	if (!c->relayed)
		return false;
	*shoal_pool_relayed(&env->pool, c->relayed) = *a;
	c->peer_family = a->src_family;
	memcpy(c->peer_addr, a->src, a->src_family == AF_INET6 ? 16 : 4);
	c->peer_port = a->src_port;
	return true;
}

enum shoal_proxy_header_result shoal_proxy_header_take(struct shoal_conn_env *env,
						       struct shoal_conn *c, size_t *used)
{
	const struct shoal_conn_io *io = c->io;
	struct shoal_proxy_proto h;
	int rc = io->in_len ? shoal_proxy_proto_parse(io->in, io->in_len, &h) : -2;

	if (rc > 0) {
		if (!take_client(env, c, &h))
			return SHOAL_PROXY_HEADER_CLOSE;
		shoal_stats_proxy_header(env->handler->stats, SHOAL_STATS_PROXY_HEADER_ACCEPTED);
		*used = (size_t)rc;
		return SHOAL_PROXY_HEADER_TAKEN;
	}
	/* A version 2 header may announce up to 64 KiB: one that outgrows the buffer is refused
	 * like a malformed one. */
	if (rc == -1 || io->in_len == env->pool.in_size) {
		shoal_stats_proxy_header(env->handler->stats, SHOAL_STATS_PROXY_HEADER_MALFORMED);
		return SHOAL_PROXY_HEADER_CLOSE;
	}
	return SHOAL_PROXY_HEADER_MORE;
}
