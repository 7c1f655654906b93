#include <stdlib.h>
#include <string.h>

#include "shoal/base/util.h"
#include "shoal/handler/health.h"
#include "shoal/handler/limit.h"
#include "shoal/handler/proxy.h"
#include "shoal/http/path.h"
#include "shoal/handler/redirect.h"
#include "shoal/handler/reply.h"
#include "shoal/handler/static.h"
#include "shoal/handler/status.h"
#include "shoal/route/route.h"
#include "shoal/route/vhost.h"
#include "shoal/stats/stats.h"

static bool listens_on(const struct shoal_server_conf *s, const struct shoal_addr *addr)
{
	for (size_t i = 0; i < s->nlisten; i++)
		if (shoal_addr_equal(&s->listen[i], addr))
			return true;
	return false;
}

int shoal_route_status_acl(const struct shoal_config *cfg, struct shoal_acl_entry **list,
			   size_t *n, struct shoal_err *err)
{
	static char *const loopback[] = { "127.0.0.0/8", "::1" };
	char *const *texts = cfg->nstatus_allow ? cfg->status_allow : loopback;
	size_t count = cfg->nstatus_allow ? cfg->nstatus_allow : ARRAY_LEN(loopback), bad;

	*n = 0;
	if (shoal_acl_parse_list(texts, count, list, &bad) < 0) {
		if (bad == count)
			return shoal_err_set(err, "out of memory");
		return shoal_err_set(err, "status_allow: bad entry '%s'", texts[bad]);
	}
	*n = count;
	return 0;
}

/* A site's real_ip_from and real_ip_header, as the walk needs them. */
static int route_real_ip_init(struct shoal_route_real_ip *t, const struct shoal_server_conf *conf)
{
	size_t bad;

	t->header = SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR;
	if (conf->real_ip_header &&
	    !shoal_http_real_ip_header_parse(conf->real_ip_header, &t->header))
		return -1;
	if (shoal_acl_parse_list(conf->real_ip_from, conf->nreal_ip_from, &t->from, &bad) < 0)
		return -1;
	t->nfrom = conf->nreal_ip_from;
	return 0;
}

int shoal_route_init(struct shoal_route *rt, struct shoal_site *sites, size_t n,
		     const struct shoal_addr *addr, const struct shoal_acl_entry *status_acl,
		     size_t nstatus_acl)
{
	memset(rt, 0, sizeof(*rt));
	rt->status_acl = status_acl;
	rt->nstatus_acl = nstatus_acl;
	rt->sites = calloc(n, sizeof(*rt->sites));
	rt->confs = calloc(n, sizeof(*rt->confs));
	rt->real_ip = calloc(n, sizeof(*rt->real_ip));
	if (!rt->sites || !rt->confs || !rt->real_ip)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct shoal_server_conf *conf = sites[i].conf;
		if (!listens_on(conf, addr))
			continue;
		if (conf->default_server)
			rt->default_index = rt->nsites;
		rt->confs[rt->nsites] = conf;
		rt->sites[rt->nsites++] = &sites[i];
		if (route_real_ip_init(&rt->real_ip[rt->nsites - 1], conf) < 0)
			return -1;
	}
	return 0;
}

void shoal_route_free(struct shoal_route *rt)
{
	for (size_t i = 0; rt->real_ip && i < rt->nsites; i++)
		free(rt->real_ip[i].from);
	free(rt->real_ip);
	free(rt->sites);
	free(rt->confs);
}

struct shoal_site *shoal_route_default_site(const struct shoal_route *rt)
{
	return rt->sites[rt->default_index];
}

/* The index of the site that answers req. */
static size_t route_site(const struct shoal_route *rt, const struct shoal_http_request *req)
{
	if (rt->nsites == 1)
		return 0;
	return shoal_vhost_select(rt->confs, rt->nsites, rt->default_index,
				  shoal_vhost_host(req->host));
}

static bool route_trusted(void *arg, int family, const uint8_t *addr)
{
	const struct shoal_route_real_ip *t = arg;

	return shoal_acl_allows(t->from, t->nfrom, family, addr);
}

/* A peer the site believes about the client hands the request over to the client its
 * header names, before the ACLs, the limit zones and the proxy look at the peer. */
static void route_real_ip(const struct shoal_route_real_ip *t, struct shoal_handler_req *req)
{
	if (!t->nfrom || !shoal_acl_allows(t->from, t->nfrom, req->peer_family, req->peer_addr) ||
	    !shoal_http_real_ip_find(req->http, t->header, route_trusted, (void *)t,
				     &req->real_ip))
		return;
	req->peer_family = req->real_ip.family;
	req->peer_addr = req->real_ip.addr;
	req->peer_port = 0;
}

/* Whether req is a GET or HEAD of exactly path (a configured endpoint; NULL: none). */
static bool route_is_endpoint(const char *path, const struct shoal_http_request *req)
{
	return path && (req->method == SHOAL_HTTP_GET || req->method == SHOAL_HTTP_HEAD) &&
	       req->path.len == strlen(path) && memcmp(req->path.p, path, req->path.len) == 0;
}

/* Answers an error status about req; returns whether the connection may stay open. */
static bool route_refuse(struct shoal_handler_req *req, int status, bool keep_alive)
{
	const struct shoal_http_request *http = req->http;

	shoal_reply_error(req->ctx, req->site, req->out, status, http->version, keep_alive,
			  http->method == SHOAL_HTTP_HEAD);
	return keep_alive;
}

/* The location whose path is the longest prefix of the request's normalised path (the
 * spelling a file would be opened by, so that "/static/../api/" is "/api/"), or NULL. */
static const struct shoal_site_location *route_location(struct shoal_handler_req *req)
{
	const struct shoal_site *site = req->site;
	const struct shoal_http_str *path = &req->http->path;
	size_t len;

	if (!site->nlocations || path->len == 0 || path->p[0] != '/' ||
	    shoal_http_path_normalize(path->p, path->len, req->ctx->path, sizeof(req->ctx->path),
				      &len) < 0)
		return NULL;
	for (size_t i = 0; i < site->nlocations; i++) {
		const struct shoal_site_location *l = &site->locations[i];
		if (l->path_len <= len && memcmp(l->conf->path, req->ctx->path, l->path_len) == 0)
			return l;
	}
	return NULL;
}

/* A site's own answer: by its location, else its static files; its location's limit
 * zones first. Concurrency holds last as long as the answer: a proxied one takes them. */
static bool route_site_answer(struct shoal_handler_req *req)
{
	const struct shoal_site_location *loc = route_location(req);
	struct shoal_limit_holds holds = { .n = 0 };
	bool keep;

	if (loc && !shoal_limit_apply(req, loc->conf, &holds))
		return req->keep_alive;
	req->holds = &holds;
	if (loc && loc->upstream) {
		keep = shoal_proxy_handle(req, loc->upstream, loc->conf);
	} else {
		if (loc && loc->site)
			req->site = loc->site;
		keep = shoal_static_handle(req);
	}
	shoal_limit_release(&holds);
	req->holds = NULL;
	return keep;
}

bool shoal_route_answer(const struct shoal_route *rt, struct shoal_handler_req *req)
{
	const struct shoal_config *cfg = req->ctx->cfg;
	const struct shoal_http_request *http = req->http;
	size_t site = route_site(rt, http);

	req->site = rt->sites[site];
	route_real_ip(&rt->real_ip[site], req);
	if (http->body == SHOAL_HTTP_BODY_LENGTH &&
	    http->content_length > (uint64_t)cfg->max_body_size) {
		req->body_refused = true;
		shoal_stats_error(req->ctx->stats, SHOAL_STATS_ERROR_LIMIT);
		return route_refuse(req, 413, false);
	}
	if (route_is_endpoint(cfg->health_path, http))
		return shoal_health_handle(req);
	if (!route_is_endpoint(cfg->status_path, http))
		return rt->tls || !req->site->conf->https_redirect ? route_site_answer(req)
								   : shoal_redirect_https(req);
	/* The status endpoint tells every counter: the machine's own by default. */
	if (!shoal_acl_allows(rt->status_acl, rt->nstatus_acl, req->peer_family, req->peer_addr)) {
		req->site = NULL;
		return route_refuse(req, 403, req->keep_alive);
	}
	return shoal_status_handle(req);
}
