#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check_int.h"
#include "shoal/net/proxy_proto.h"

/* A group with send_proxy_protocol has servers that expect the header on every
 * connection: a probe's names no client (version 1's UNKNOWN, version 2's LOCAL, which the
 * spec meant for health checks). Put ahead of the request's n bytes. */
static int http_announce(struct shoal_check_probe *p, size_t n)
{
	static const struct shoal_proxy_proto_addrs none = { .src_family = AF_UNSPEC };
	char pp[SHOAL_PROXY_PROTO_WRITE_MAX];
	size_t pp_len = shoal_proxy_proto_write(pp, p->server->group->conf->send_proxy_protocol,
						&none);
	char *request = realloc(p->http.request, pp_len + n);

	if (!request)
		return -1;
	memmove(request + pp_len, request, n);
	memcpy(request, pp, pp_len);
	p->http.request = request;
	p->http.request_len = pp_len + n;
	p->http.pp_len = pp_len;
	return 0;
}

/* The request is the same for every probe of a server: made once. Host is the configured
 * one, or the server's address, which is valid Host syntax for IPv4 and IPv6 alike (its
 * name and port as written, for a name). */
static int http_init(struct shoal_check_probe *p)
{
	const struct shoal_health_check_conf *conf = p->group->conf;
	const char *label = shoal_config_server_label(p->server->conf);
	const char *host = conf->host ? conf->host : label;
	int n = asprintf(&p->http.request,
			 "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
			 "User-Agent: shoal-health-check\r\n\r\n",
			 conf->path ? conf->path : "/", host);

	if (n < 0) {
		p->http.request = NULL;
		return -1;
	}
	p->http.request_len = (size_t)n;
	if (p->server->group->conf->send_proxy_protocol)
		return http_announce(p, (size_t)n);
	return 0;
}

static void http_dispose(struct shoal_check_probe *p)
{
	free(p->http.request);
	p->http.request = NULL;
}

/* Over TLS the PROXY protocol header goes in clear ahead of the handshake. */
static void http_start(struct shoal_check_probe *p)
{
	struct check_http *h = &p->http;

	h->sent = 0;
	if (p->server->group->tls && h->pp_len) {
		shoal_upstream_conn_preface(p->conn, h->request, h->pp_len);
		h->sent = h->pp_len;
	}
	p->tls_why[0] = '\0';
	h->line_len = 0;
	h->skip_match = 0;
	h->skipping = false;
	h->connected = false;
}

static enum check_step http_fail(struct shoal_check_probe *p, int detail)
{
	p->detail = detail;
	return CHECK_FAILED;
}

static bool http_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The status of a status line's first CHECK_HTTP_LINE bytes ("HTTP/1.1 200 " or "...200\r"
 * when the reason is empty), or -1 if they are none. */
static int http_status(const char *l)
{
	if (memcmp(l, "HTTP/", 5) != 0 || !http_digit(l[5]) || l[6] != '.' || !http_digit(l[7]) ||
	    l[8] != ' ' || !http_digit(l[9]) || !http_digit(l[10]) || !http_digit(l[11]) ||
	    (l[12] != ' ' && l[12] != '\r') || l[9] == '0')
		return -1;
	return (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
}

/* How much of "\r\n\r\n", the end of a head, is matched after c. */
static unsigned http_head_end(unsigned matched, char c)
{
	static const char end[] = "\r\n\r\n";

	if (c == end[matched])
		return matched + 1;
	return c == '\r' ? 1 : 0;
}

/* An interim response (100 Continue, 103 Early Hints) comes before the final one: its head
 * is skipped. Only the final status decides. */
static enum check_step http_byte(struct shoal_check_probe *p, char c)
{
	const struct shoal_health_check_conf *conf = p->group->conf;
	struct check_http *h = &p->http;
	int status;

	if (h->skipping) {
		h->skip_match = http_head_end(h->skip_match, c);
		if (h->skip_match == 4) {
			h->skipping = false;
			h->line_len = 0;
		}
		return CHECK_PENDING;
	}
	h->line[h->line_len++] = c;
	if (h->line_len < CHECK_HTTP_LINE)
		return CHECK_PENDING;
	status = http_status(h->line);
	if (status < 0)
		return http_fail(p, -EPROTO);
	if (status < 200 && status != 101) {
		h->skipping = true;
		h->skip_match = http_head_end(0, c);
		return CHECK_PENDING;
	}
	p->detail = status;
	return status >= conf->status_min && status <= conf->status_max ? CHECK_PASSED
									  : CHECK_FAILED;
}

static enum check_step http_send(struct shoal_check_probe *p)
{
	struct check_http *h = &p->http;
	struct shoal_transport tcp;
	struct shoal_transport *t = shoal_upstream_conn_transport(p->conn, &tcp);

	while (h->sent < h->request_len) {
		struct iovec v = { h->request + h->sent, h->request_len - h->sent };
		ssize_t n = shoal_transport_writev(t, &v, 1, false);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? CHECK_PENDING : http_fail(p, -errno);
		h->sent += (size_t)n;
	}
	return CHECK_PENDING;
}

/* Reads until the socket is drained (its events are edge-triggered) or the status is known.
 * A connection closed before a whole status line fails: -ENODATA if nothing came, -EPROTO
 * if a status line was cut. */
static enum check_step http_read(struct shoal_check_probe *p)
{
	struct shoal_transport tcp;
	struct shoal_transport *t = shoal_upstream_conn_transport(p->conn, &tcp);
	char buf[512];

	for (;;) {
		ssize_t n = shoal_transport_read(t, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? CHECK_PENDING : http_fail(p, -errno);
		if (n == 0)
			return http_fail(p, p->http.line_len ? -EPROTO : -ENODATA);
		for (ssize_t i = 0; i < n; i++) {
			enum check_step step = http_byte(p, buf[i]);
			if (step != CHECK_PENDING)
				return step;
		}
	}
}

static enum check_step http_on_event(struct shoal_check_probe *p, uint32_t events)
{
	struct check_http *h = &p->http;
	enum check_step step;

	if (!h->connected) {
		int err = shoal_upstream_conn_establish(p->conn, events);
		if (err == EAGAIN)
			return CHECK_PENDING;
		if (err) {
			shoal_upstream_conn_tls_failure(p->conn, p->tls_why, sizeof(p->tls_why));
			return http_fail(p, -err);
		}
		h->connected = true;
	}
	step = http_send(p);
	if (step != CHECK_PENDING || h->sent < h->request_len)
		return step;
	return http_read(p);
}

const struct shoal_check_kind shoal_check_http = {
	.init = http_init,
	.dispose = http_dispose,
	.start = http_start,
	.on_event = http_on_event,
};
