/* send_proxy_protocol: the PROXY protocol header that opens each new connection to a server
 * of the group, naming the request's client; the connection keeps what it announced, and is
 * taken from the pool again only for a request that announces the same. */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy_int.h"

static void set_end(uint8_t *family, uint8_t *addr, uint16_t *port, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;

		memcpy(addr, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;

		memcpy(addr, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
	}
	*family = (uint8_t)sa->sa_family;
}

void shoal_proxy_announce_init(struct shoal_proxy_exchange *x, const struct shoal_handler_req *req)
{
	struct shoal_proxy_proto_addrs *e = &x->announce.ends;
	const struct shoal_proxy_proto_addrs *r = req->relayed;

	memset(&x->announce, 0, sizeof(x->announce));
	e->src_family = req->peer_family;
	memcpy(e->src, req->peer_addr, req->peer_family == AF_INET ? 4 : 16);
	e->src_port = req->peer_port;
	/* A header without addresses (a balancer's LOCAL) named no destination: the socket's
	 * own end is it. */
	x->announce_dst = r && r->dst_family != AF_UNSPEC;
	x->announce.client_fd = x->announce_dst ? -1 : req->client->fd;
	if (x->announce_dst) {
		e->dst_family = r->dst_family;
		memcpy(e->dst, r->dst, sizeof(e->dst));
		e->dst_port = r->dst_port;
	}
}

/* The client's socket's own end, looked up once per exchange, and only for a new
 * connection: a pooled one of the client's connection announced it already. Unknown if the
 * lookup fails (the header then names no client). */
static void announce_local_end(struct shoal_proxy_exchange *x)
{
	struct shoal_proxy_proto_addrs *e = &x->announce.ends;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	x->announce_dst = true;
	if (getsockname(x->announce.client_fd, (struct sockaddr *)&ss, &len) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return;
	set_end(&e->dst_family, e->dst, &e->dst_port, (const struct sockaddr *)&ss);
}

void shoal_proxy_announce_conn(struct shoal_proxy_exchange *x, bool opened)
{
	x->pp_len = 0;
	if (!opened)
		return;
	if (!x->announce_dst)
		announce_local_end(x);
	x->pp_len = (uint8_t)shoal_proxy_proto_write(x->pp, x->group->conf->send_proxy_protocol,
						     &x->announce.ends);
	x->uc->announce = x->announce;
	/* Over TLS the header goes in clear ahead of the handshake, as the protocol has it, and
	 * not with the head. */
	if (x->group->tls) {
		shoal_upstream_conn_preface(x->uc, x->pp, x->pp_len);
		x->pp_len = 0;
	}
}
