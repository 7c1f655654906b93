/* The PROXY protocol on a listen address that requires it ("*:80 proxy_protocol"): which
 * peers may open a connection there (proxy_protocol_from), the header that a connection then
 * opens with, and what a worker says of the peers it refuses: a line at most once a second,
 * with how many there were since the last one, so that a flood from outside cannot flood the
 * log as well. Every outcome is counted in the worker's statistics.
 *
 * This module reads and fills a connection's fields; the connection (conn.c) decides what
 * comes next, and this module calls nothing of it. */
#ifndef SHOAL_WORKER_PROXY_HEADER_H
#define SHOAL_WORKER_PROXY_HEADER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "shoal/base/log.h"
#include "shoal/config/config.h"
#include "shoal/net/acl.h"

struct shoal_conn;
struct shoal_conn_env;

/* What a proxy_protocol address asks of its connections. */
struct shoal_proxy_header_listen {
	struct shoal_acl_entry *from; /* the peers that may send the header */
	size_t nfrom;
};

/* A worker's refusals not told yet. */
struct shoal_proxy_header_refusals {
	uint64_t count;   /* since the last line */
	uint64_t next_ms; /* the earliest time of the next line */
	char last[INET6_ADDRSTRLEN]; /* the last peer refused */
};

/* Fills l for the listen address addr of cfg: 1 if its servers gave it the proxy_protocol
 * flag (l holds their proxy_protocol_from, the same in each), 0 if not (l empty), -1 if
 * memory runs out or an entry does not parse (a configuration that was not validated). */
int shoal_proxy_header_listen_init(struct shoal_proxy_header_listen *l,
				   const struct shoal_config *cfg, const struct shoal_addr *addr);
void shoal_proxy_header_listen_free(struct shoal_proxy_header_listen *l);

/* fd was accepted from peer on an address that requires a header from l's peers: if peer
 * is not one of them, closes fd (unread: the kernel resets the connection), counts it and
 * tells the log if a second has passed since its last line; returns whether it did. */
bool shoal_proxy_header_refuse(struct shoal_conn_env *env,
			       const struct shoal_proxy_header_listen *l, int fd,
			       const struct sockaddr_storage *peer);

/* Tells the log of the refusals not told yet, if a second has passed since its last line;
 * called on every loop turn, so that the last of a burst is told too. */
void shoal_proxy_header_tell(struct shoal_proxy_header_refusals *r, const struct shoal_log *log,
			     uint64_t now_ms);

enum shoal_proxy_header_result {
	SHOAL_PROXY_HEADER_MORE,  /* a beginning of a header: read on */
	SHOAL_PROXY_HEADER_TAKEN, /* the header is taken: the bytes after it are a request */
	SHOAL_PROXY_HEADER_CLOSE, /* close the connection unanswered */
};

/* Parses what c, a connection of env waiting for its header, has buffered (c->io). TAKEN:
 * *used is the header's length, and the client it names is c's (address, port, and both
 * ends in env's pool, c->relayed), unless it names none (a LOCAL or UNKNOWN header: the
 * balancer's own check), which leaves c's peer. CLOSE: the bytes are no header, or the
 * buffer is full and the header not whole yet (both counted as malformed), or memory ran
 * out. MORE otherwise. Counts a header taken. */
enum shoal_proxy_header_result shoal_proxy_header_take(struct shoal_conn_env *env,
						       struct shoal_conn *c, size_t *used);

#endif
