#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "shoal/handler/redirect.h"
#include "shoal/handler/reply.h"

/* The port of the site's first tls address, 443 without one. */
static unsigned redirect_port(const struct shoal_server_conf *s)
{
	for (size_t k = 0; k < s->nlisten; k++) {
		const struct sockaddr_storage *ss = &s->listen[k].ss;
		if (!(s->listen_flags[k] & SHOAL_LISTEN_TLS))
			continue;
		if (ss->ss_family == AF_INET6)
			return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
		return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
	}
	return 443;
}

/* The host to name: the request's without its port, else the site's first plain name. */
static struct shoal_http_str redirect_host(const struct shoal_handler_req *req)
{
	const struct shoal_http_str *h = &req->http->host;
	const struct shoal_server_conf *s = req->site->conf;
	size_t len = 0;

	if (h->len && h->p[0] == '[') {
		while (len < h->len && h->p[len] != ']')
			len++;
		return (struct shoal_http_str){ h->p, len < h->len ? len + 1 : 0 };
	}
	if (h->len) {
		while (len < h->len && h->p[len] != ':')
			len++;
		return (struct shoal_http_str){ h->p, len };
	}
	for (size_t i = 0; i < s->nserver_names; i++)
		if (s->server_names[i][0] != '*')
			return (struct shoal_http_str){ s->server_names[i], strlen(s->server_names[i]) };
	return (struct shoal_http_str){ NULL, 0 };
}

bool shoal_redirect_https(struct shoal_handler_req *req)
{
	const struct shoal_http_request *http = req->http;
	struct shoal_http_str host = redirect_host(req);
	unsigned port = redirect_port(req->site->conf);
	char location[sizeof(req->ctx->path) + 512], port_text[8] = "";
	struct shoal_http_head h;
	int n;

	if (!host.len) {
		shoal_reply_error(req->ctx, req->site, req->out, 400, http->version, false,
				  http->method == SHOAL_HTTP_HEAD);
		return false;
	}
	if (port != 443)
		snprintf(port_text, sizeof(port_text), ":%u", port);
	n = snprintf(location, sizeof(location), "https://%.*s%s%.*s%s%.*s", (int)host.len, host.p,
		     port_text, (int)http->path.len, http->path.p, http->query.len ? "?" : "",
		     (int)http->query.len, http->query.p);
	if (n < 0 || (size_t)n >= sizeof(location)) {
		shoal_reply_error(req->ctx, req->site, req->out, 414, http->version, false,
				  http->method == SHOAL_HTTP_HEAD);
		return false;
	}
	shoal_reply_head(req->ctx, &h, 308, http->version, req->keep_alive);
	h.location = location;
	h.location_len = (size_t)n;
	shoal_reply_generated(req->ctx, req->out, &h, NULL, 0);
	return req->keep_alive;
}
