/* The heads a reverse proxy sends (RFC 9110 7.6, RFC 9112, RFC 7239): the request head to an
 * upstream server, built from the client's parsed request, and the response head to the
 * client, built from the upstream's parsed response. Pure: no I/O, no allocation; the fields
 * are copied from the parse into the caller's buffer.
 *
 * Hop-by-hop fields (RFC 9110 7.6.1) go no further in either direction: Connection and every
 * field it names, Keep-Alive, TE, Trailer, Transfer-Encoding, Proxy-Connection, and Upgrade
 * unless the exchange switches protocols. The body framing is written from the parse, never
 * copied from the message: the proxy re-frames every body itself.
 *
 * A Connection field may name at most SHOAL_HTTP_FORWARD_NAMED_MAX distinct fields besides
 * the ones always removed. A message naming more is refused (0) rather than relayed with a
 * field its sender meant for this hop only: no client or server sends that many. */
#ifndef SHOAL_HTTP_FORWARD_H
#define SHOAL_HTTP_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

#include "shoal/http/parser.h"
#include "shoal/http/real_ip.h"
#include "shoal/http/response.h"

#define SHOAL_HTTP_FORWARD_NAMED_MAX 16

struct shoal_http_forward_opts {
	/* The client's address as text, without port ("192.0.2.1", "2001:db8::1"), as
	 * inet_ntop writes it; "unknown" when there is none. Not NULL when x_forwarded or
	 * forwarded is set. */
	const char *client_addr;
	bool https; /* the client connection is TLS: X-Forwarded-Proto and proto= say so */
	struct shoal_http_str host; /* the Host sent upstream; len 0: keep the client's */
	/* The Host sent when neither host nor the request names one (an HTTP/1.0 request
	 * without Host): the upstream server's address. Len 0 there too: an empty Host, as
	 * RFC 9112 3.2 says for a target without authority, which many servers (shoal and nginx
	 * among them) refuse with a 400. */
	struct shoal_http_str default_host;
	bool x_forwarded; /* X-Forwarded-For appended to, X-Forwarded-Proto/-Host replaced */
	bool forwarded;   /* a Forwarded element appended (RFC 7239) */
	bool upgrade;     /* tunnelling: keep Upgrade and send "Connection: upgrade" */
	/* Where the client's own element is when real_ip_from found client_addr in this
	 * request's X-Forwarded-For (shoal_http_real_ip_find over req); NULL otherwise, and
	 * ignored unless cut->header is X-Forwarded-For. See x_forwarded below. */
	const struct shoal_http_real_ip *xff_cut;
};

/* Writes into out[0..cap) the HTTP/1.1 request head for the upstream: request line, fields,
 * empty line. Returns its length, or 0 when it does not fit in cap or the request's
 * Connection names too many fields; the proxy answers that request 431 (a head that fits the
 * parser's limits only outgrows cap by what is bounded below, so it is the client's fields
 * that are too large for the proxy's window, or its Connection field).
 *   - Request line: the method, the target (absolute-form becomes origin-form, path and
 *     query, RFC 9112 3.2.1; authority-form and "*" are kept), "HTTP/1.1".
 *   - Host first (RFC 9112 3.2): o->host, else the request's (the target's authority in
 *     absolute-form, RFC 9112 3.2.2), else o->default_host.
 *   - Removed: the hop-by-hop fields above, Proxy-Authorization and every other Proxy-* field
 *     (they are for this proxy, and no standard Proxy-* request field is end to end), Proxy
 *     itself (CGI would make it HTTP_PROXY: "httpoxy"), Content-Length and Transfer-Encoding
 *     (re-added from the parse), the client's Host (re-added above), names containing '_'
 *     (CGI-style servers read them as the same variable as their '-' twin), and Expect in an
 *     HTTP/1.0 request (RFC 9110 10.1.1: it is ignored there, so no 100 may come back).
 *   - Framing: "Content-Length: N" for SHOAL_HTTP_BODY_LENGTH, "Transfer-Encoding: chunked"
 *     for SHOAL_HTTP_BODY_CHUNKED, nothing for none.
 *   - "Connection: upgrade" with o->upgrade; otherwise no Connection (persistence is the
 *     HTTP/1.1 default towards the upstream).
 *   - x_forwarded: one X-Forwarded-For holding the client's values of every such field, in
 *     order, then ", " and o->client_addr; X-Forwarded-Proto (http or https) and
 *     X-Forwarded-Host (the request's host, omitted when it has none) replace the client's.
 *     With o->xff_cut, the values stop where the client's element starts: the trusted
 *     proxies after it are dropped, and o->client_addr takes the element's place, so the
 *     client is the list's last entry, spelt as inet_ntop spells it (without the port or
 *     brackets the element may have had).
 *   - forwarded: one Forwarded field, the client's elements then
 *     for=<addr>;proto=<http|https>;host="<the request's host>" (IPv6 as for="[::1]"; host=
 *     omitted when the request has none).
 * A field the client's Connection names is removed even if it is one of the X-Forwarded
 * ones or Forwarded (ours are still added); Host, Upgrade under o->upgrade, and Expect are
 * kept: the upstream must see the 100-continue the client waits for, whatever it named.
 * The head written never exceeds the parsed head's length + its number of fields +
 * 3 * req->host.len + o->host.len + o->default_host.len + 2 * strlen(o->client_addr) + 256. */
size_t shoal_http_forward_request(const struct shoal_http_request *req,
				  const struct shoal_http_forward_opts *o, char *out, size_t cap);

/* Whether req asks to switch protocols: an HTTP/1.1 request whose Connection lists "upgrade"
 * and that has a non-empty Upgrade field (RFC 9110 7.8); the proxy then forwards it with
 * o->upgrade and tunnels after a 101. */
bool shoal_http_forward_wants_upgrade(const struct shoal_http_request *req);

struct shoal_http_forward_resp_opts {
	int client_version; /* SHOAL_HTTP_10 or SHOAL_HTTP_11 */
	bool keep_alive;    /* the client connection stays open after this response */
	bool chunked;       /* the proxy re-chunks the body: HTTP/1.1 clients only */
	const char *date;   /* an HTTP-date, added when the upstream sent no Date (RFC 9110 */
	size_t date_len;    /* 6.6.1 asks a proxy with a clock to); 0: none added */
};

/* Writes into out[0..cap) the response head for the client. Returns its length, or 0 when it
 * does not fit in cap or the upstream's Connection names too many fields: the proxy answers
 * 502 then, as for any head it cannot relay. The head written never exceeds the parsed head's
 * length + its number of fields + o->date_len + 64.
 *   - Status line: "HTTP/1.1", the status, the upstream's reason, kept even when empty.
 *   - Removed: the hop-by-hop fields above, Proxy-Authenticate and
 *     Proxy-Authentication-Info (the upstream's challenge to this hop, which does no proxy
 *     authentication; Proxy-Status, end to end by RFC 9209, is kept), and Content-Length
 *     unless it is kept below.
 *   - Content-Length is kept, even when named by Connection, when it frames the body
 *     (SHOAL_HTTP_BODY_LENGTH), and on a response without body of status 200 to 599 but 204
 *     (the answer to a HEAD, a 304), where it describes the representation (RFC 9110 8.6);
 *     never beside "Transfer-Encoding: chunked", which o->chunked adds.
 *   - A 101 keeps Upgrade and gets "Connection: upgrade"; otherwise "Connection: close"
 *     when !o->keep_alive, "Connection: keep-alive" to an HTTP/1.0 client that keeps it.
 *   - Date (o->date) when the upstream sent none.
 * An interim 1xx is written the same way, with keep_alive set; 1xx never go to HTTP/1.0
 * clients (RFC 9110 15.2), so that is the caller's test. */
size_t shoal_http_forward_response(const struct shoal_http_response *resp,
				   const struct shoal_http_forward_resp_opts *o, char *out,
				   size_t cap);

#endif
