/* The router: the one place that picks the handler for a request. Per listen address it
 * knows the sites there (virtual hosts, chosen by Host) and who may read the status
 * endpoint; it refuses bodies over max_body_size before any handler runs. */
#ifndef SHOAL_ROUTE_ROUTE_H
#define SHOAL_ROUTE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "shoal/handler/handler.h"
#include "shoal/http/real_ip.h"
#include "shoal/net/acl.h"

/* Whom a site believes about the client (real_ip_from, real_ip_header), parsed once. */
struct shoal_route_real_ip {
	struct shoal_acl_entry *from; /* NULL: nobody */
	size_t nfrom;
	enum shoal_http_real_ip_header header;
};

struct shoal_route {
	struct shoal_site **sites; /* the sites on this address */
	const struct shoal_server_conf **confs; /* their configurations, for the Host match */
	struct shoal_route_real_ip *real_ip; /* theirs, in the same order */
	size_t nsites;
	size_t default_index;
	const struct shoal_acl_entry *status_acl; /* who may read status_path */
	size_t nstatus_acl;
	bool tls; /* the address speaks TLS; else a site's https_redirect sends its requests there */
};

/* Parses status_allow into *list (malloc'ed, *n entries); without one, only the machine
 * itself may read the status endpoint: 127.0.0.0/8 and ::1. -1 with err set on a bad entry
 * or no memory, and *list NULL. */
int shoal_route_status_acl(const struct shoal_config *cfg, struct shoal_acl_entry **list,
			   size_t *n, struct shoal_err *err);

/* Collects the sites of sites[0..n) that listen on addr, the default_server among them as
 * the default (else the first), and parses their real_ip_from. -1 if memory runs out or an
 * entry does not parse (which the configuration's checks rule out). */
int shoal_route_init(struct shoal_route *rt, struct shoal_site *sites, size_t n,
		     const struct shoal_addr *addr, const struct shoal_acl_entry *status_acl,
		     size_t nstatus_acl);
void shoal_route_free(struct shoal_route *rt);

/* The site that answers a request whose Host is not known (it could not be read). */
struct shoal_site *shoal_route_default_site(const struct shoal_route *rt);

/* Sets req->site by req->http's Host. When the peer is in the site's real_ip_from and its
 * real_ip_header names a client (shoal/http/real_ip.h), that client becomes the request's
 * peer (req->real_ip holds it, peer_port is 0) before anything else looks at the peer.
 * Then answers: 413 for a body over max_body_size, then health_path, status_path (403
 * unless the peer is in status_allow), else the site's 308 to https:// for a site with
 * https_redirect on an address without TLS, else the site's location whose path is the
 * longest prefix of the request's (proxied to its upstream group), else the site's static
 * files. Returns what the handler returns (see handler.h); a proxied request may be
 * answered later (req->async). */
bool shoal_route_answer(const struct shoal_route *rt, struct shoal_handler_req *req);

#endif
