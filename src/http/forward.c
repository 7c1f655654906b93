/* The heads a reverse proxy sends. Each call works in two steps over the parsed fields:
 * a plan (what happens to each field, decided by its name through a table of actions that
 * the call's options fill, and the names the Connection fields list), then the writing,
 * which copies the kept fields in order and adds the ones the proxy generates. */
#include <stdint.h>
#include <string.h>

#include "shoal/http/forward.h"

#include "lex.h"

/* The field names the proxy treats apart from the others. */
enum field {
	F_OTHER,
	F_CONNECTION,
	F_KEEP_ALIVE,
	F_TE,
	F_TRAILER,
	F_TRANSFER_ENCODING,
	F_PROXY_CONNECTION,
	F_PROXY_AUTH, /* Proxy-Authenticate, Proxy-Authentication-Info */
	F_PROXY_OTHER, /* Proxy-Authorization, any other Proxy-*, and Proxy */
	F_UPGRADE,
	F_CONTENT_LENGTH,
	F_HOST,
	F_DATE,
	F_EXPECT,
	F_XFF,
	F_XFP,
	F_XFH,
	F_FORWARDED,
	F_UNDERSCORE, /* any other name with a '_' */
	F_COUNT,
};

/* What becomes of a field. */
enum action {
	A_DROP,
	A_KEEP,      /* copied, unless Connection names it */
	A_PIN,       /* copied, even if Connection names it */
	A_DATE,      /* as A_KEEP, and the message then has a Date */
	A_XFF,       /* its value goes into the one X-Forwarded-For written */
	A_FORWARDED, /* its value goes into the one Forwarded written */
};

struct plan {
	unsigned char by_field[F_COUNT]; /* an enum action per enum field */
	unsigned char action[SHOAL_HTTP_MAX_HEADERS]; /* per parsed field */
	struct shoal_http_str named[SHOAL_HTTP_FORWARD_NAMED_MAX];
	size_t nnamed;
	size_t first_merged; /* the first A_XFF or A_FORWARDED field; nheaders when none */
	bool has_date;
};

/* Output with one overflow check at the end: once a piece does not fit, len exceeds cap and
 * nothing more is copied. */
struct out {
	char *p;
	size_t cap, len;
};

static void put(struct out *w, const char *s, size_t n)
{
	if (n > 0 && w->len <= w->cap && n <= w->cap - w->len)
		memcpy(w->p + w->len, s, n);
	w->len += n;
}

#define PUT_LIT(w, lit) put((w), (lit), sizeof(lit) - 1)

static void put_str(struct out *w, struct shoal_http_str s)
{
	put(w, s.p, s.len);
}

static void put_cstr(struct out *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_u64(struct out *w, uint64_t n)
{
	char digits[20];
	size_t d = sizeof(digits);

	do {
		digits[--d] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	put(w, digits + d, sizeof(digits) - d);
}

static void put_field(struct out *w, struct shoal_http_str name, struct shoal_http_str value)
{
	/* Most lines were written "Name: value": copied as they came, in one piece. */
	if ((uintptr_t)value.p - (uintptr_t)name.p == name.len + 2 && name.p[name.len] == ':' &&
	    name.p[name.len + 1] == ' ') {
		put(w, name.p, name.len + 2 + value.len);
	} else {
		put_str(w, name);
		PUT_LIT(w, ": ");
		put_str(w, value);
	}
	PUT_LIT(w, "\r\n");
}

static size_t out_end(const struct out *w)
{
	return w->len <= w->cap ? w->len : 0;
}

/* The names treated apart, by length first: a name is compared with one or two of them, not
 * walked through all eighteen (which cost a proxied request a tenth of its instructions). */
static enum field classify_known(struct shoal_http_str name)
{
#define IS(lower) shoal_http_str_eq(name, lower)
	switch (name.len) {
	case 2: return IS("te") ? F_TE : F_OTHER;
	case 4: return IS("host") ? F_HOST : IS("date") ? F_DATE : F_OTHER;
	case 5: return IS("proxy") ? F_PROXY_OTHER : F_OTHER;
	case 6: return IS("expect") ? F_EXPECT : F_OTHER;
	case 7: return IS("trailer") ? F_TRAILER : IS("upgrade") ? F_UPGRADE : F_OTHER;
	case 9: return IS("forwarded") ? F_FORWARDED : F_OTHER;
	case 10: return IS("connection") ? F_CONNECTION : IS("keep-alive") ? F_KEEP_ALIVE : F_OTHER;
	case 14: return IS("content-length") ? F_CONTENT_LENGTH : F_OTHER;
	case 15: return IS("x-forwarded-for") ? F_XFF : F_OTHER;
	case 16: return IS("x-forwarded-host") ? F_XFH
		      : IS("proxy-connection") ? F_PROXY_CONNECTION : F_OTHER;
	case 17: return IS("x-forwarded-proto") ? F_XFP
		      : IS("transfer-encoding") ? F_TRANSFER_ENCODING : F_OTHER;
	case 18: return IS("proxy-authenticate") ? F_PROXY_AUTH : F_OTHER;
	case 25: return IS("proxy-authentication-info") ? F_PROXY_AUTH : F_OTHER;
	default: return F_OTHER;
	}
#undef IS
}

static enum field classify(struct shoal_http_str name)
{
	enum field f = classify_known(name);

	if (f != F_OTHER)
		return f;
	if (name.len > 6 && shoal_http_str_eq(lex_str(name.p, 6), "proxy-"))
		return F_PROXY_OTHER;
	return memchr(name.p, '_', name.len) ? F_UNDERSCORE : F_OTHER;
}

/* Case-insensitive, as field names are (RFC 9110 5.1). */
static bool same_name(struct shoal_http_str a, struct shoal_http_str b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (lex_to_lower((unsigned char)a.p[i]) != lex_to_lower((unsigned char)b.p[i]))
			return false;
	return true;
}

static bool is_named(const struct plan *plan, struct shoal_http_str name)
{
	for (size_t i = 0; i < plan->nnamed; i++)
		if (same_name(plan->named[i], name))
			return true;
	return false;
}

/* The actions Connection can still change: the others are dropped or pinned anyway, so a
 * name of theirs takes no room in the list. */
static bool nameable(enum action a)
{
	return a == A_KEEP || a == A_DATE || a == A_XFF || a == A_FORWARDED;
}

/* Adds the field names of one Connection value to the plan. "close" is an option, not a
 * field; an element that is not a token cannot name a field. Returns false when the list
 * would outgrow SHOAL_HTTP_FORWARD_NAMED_MAX. */
static bool add_named(struct plan *plan, struct shoal_http_str value)
{
	struct shoal_http_str elem;
	size_t pos = 0;

	while (lex_next_element(value, &pos, &elem)) {
		if (!lex_is_token(elem) || shoal_http_str_eq(elem, "close") ||
		    !nameable(plan->by_field[classify(elem)]) || is_named(plan, elem))
			continue;
		if (plan->nnamed == SHOAL_HTTP_FORWARD_NAMED_MAX)
			return false;
		plan->named[plan->nnamed++] = elem;
	}
	return true;
}

/* The plan's first step, once plan->by_field is filled: an action per field, the names
 * Connection lists. Returns false as add_named does. */
static bool plan_fields(struct plan *plan, const struct shoal_http_header *h, size_t n)
{
	plan->nnamed = 0;
	plan->first_merged = n;
	plan->has_date = false;
	for (size_t i = 0; i < n; i++) {
		enum field f = classify(h[i].name);

		plan->action[i] = plan->by_field[f];
		if ((plan->action[i] == A_XFF || plan->action[i] == A_FORWARDED) &&
		    plan->first_merged == n)
			plan->first_merged = i;
		if (f == F_CONNECTION && !add_named(plan, h[i].value))
			return false;
	}
	return true;
}

/* Copies the kept fields in order. A field Connection names turns into A_DROP here, so that
 * the merged fields written later leave it out too. */
static void put_kept(struct out *w, const struct shoal_http_header *h, size_t n,
		     struct plan *plan)
{
	for (size_t i = 0; i < n; i++) {
		enum action a = plan->action[i];

		if (plan->nnamed > 0 && nameable(a) && is_named(plan, h[i].name))
			a = plan->action[i] = A_DROP;
		if (a == A_KEEP || a == A_PIN || a == A_DATE)
			put_field(w, h[i].name, h[i].value);
		plan->has_date |= a == A_DATE;
	}
}

/* The part of value before a list element that starts at start, without the separator and
 * whitespace between them. */
static struct shoal_http_str before_element(struct shoal_http_str value, size_t start)
{
	if (start < value.len)
		value.len = start;
	while (value.len > 0 && (value.p[value.len - 1] == ',' ||
				 lex_is_ows((unsigned char)value.p[value.len - 1])))
		value.len--;
	return value;
}

/* Writes the non-empty values of the fields planned as merged, in order and separated by
 * ", "; with cut, only what comes before the element it points at. Returns whether there was
 * any, so that the caller knows whether its own element needs a separator. */
static bool put_merged(struct out *w, const struct shoal_http_header *h, size_t n,
		       const struct plan *plan, enum action merged,
		       const struct shoal_http_real_ip *cut)
{
	bool any = false;

	for (size_t i = plan->first_merged; i < n; i++) {
		struct shoal_http_str value = h[i].value;

		if (cut && i > cut->field)
			break;
		if (cut && i == cut->field)
			value = before_element(value, cut->start);
		if (plan->action[i] != merged || value.len == 0)
			continue;
		if (any)
			PUT_LIT(w, ", ");
		put_str(w, value);
		any = true;
	}
	return any;
}

static void put_request_line(struct out *w, const struct shoal_http_request *req)
{
	struct shoal_http_str t = req->target;

	put_str(w, req->method_str);
	PUT_LIT(w, " ");
	if (t.p[0] == '/' || t.p[0] == '*' || req->method == SHOAL_HTTP_CONNECT) {
		put_str(w, t);
	} else {
		put_str(w, req->path);
		if (req->query.p) {
			PUT_LIT(w, "?");
			put_str(w, req->query);
		}
	}
	PUT_LIT(w, " HTTP/1.1\r\n");
}

static void put_host(struct out *w, const struct shoal_http_request *req,
		     const struct shoal_http_forward_opts *o)
{
	PUT_LIT(w, "Host: ");
	if (o->host.len > 0)
		put_str(w, o->host);
	else if (req->host.len > 0)
		put_str(w, req->host);
	else
		put_str(w, o->default_host);
	PUT_LIT(w, "\r\n");
}

static void put_request_framing(struct out *w, const struct shoal_http_request *req)
{
	if (req->body == SHOAL_HTTP_BODY_LENGTH) {
		PUT_LIT(w, "Content-Length: ");
		put_u64(w, req->content_length);
		PUT_LIT(w, "\r\n");
	} else if (req->body == SHOAL_HTTP_BODY_CHUNKED) {
		PUT_LIT(w, "Transfer-Encoding: chunked\r\n");
	}
}

static void put_x_forwarded(struct out *w, const struct shoal_http_request *req,
			    const struct shoal_http_forward_opts *o, const struct plan *plan)
{
	const struct shoal_http_real_ip *cut = o->xff_cut;

	if (cut && cut->header != SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR)
		cut = NULL;
	PUT_LIT(w, "X-Forwarded-For: ");
	if (put_merged(w, req->headers, req->nheaders, plan, A_XFF, cut))
		PUT_LIT(w, ", ");
	put_cstr(w, o->client_addr);
	PUT_LIT(w, "\r\nX-Forwarded-Proto: ");
	if (o->https)
		PUT_LIT(w, "https\r\n");
	else
		PUT_LIT(w, "http\r\n");
	if (req->host.len > 0) {
		PUT_LIT(w, "X-Forwarded-Host: ");
		put_str(w, req->host);
		PUT_LIT(w, "\r\n");
	}
}

/* node = nodename, RFC 7239 6: an IPv6 address goes in brackets, and then, as ':' and '[' are
 * not token characters, in quotes. An address is never anything quoting would have to
 * escape. */
static void put_node(struct out *w, const char *addr)
{
	size_t n = strlen(addr);

	if (!memchr(addr, ':', n)) {
		put(w, addr, n);
	} else if (addr[0] == '[') {
		PUT_LIT(w, "\"");
		put(w, addr, n);
		PUT_LIT(w, "\"");
	} else {
		PUT_LIT(w, "\"[");
		put(w, addr, n);
		PUT_LIT(w, "]\"");
	}
}

/* The host of the request is a valid uri-host [":" port] (the parser checked it), which
 * holds no character a quoted-string would have to escape. */
static void put_forwarded(struct out *w, const struct shoal_http_request *req,
			  const struct shoal_http_forward_opts *o, const struct plan *plan)
{
	PUT_LIT(w, "Forwarded: ");
	if (put_merged(w, req->headers, req->nheaders, plan, A_FORWARDED, NULL))
		PUT_LIT(w, ", ");
	PUT_LIT(w, "for=");
	put_node(w, o->client_addr);
	if (o->https)
		PUT_LIT(w, ";proto=https");
	else
		PUT_LIT(w, ";proto=http");
	if (req->host.len > 0) {
		PUT_LIT(w, ";host=\"");
		put_str(w, req->host);
		PUT_LIT(w, "\"");
	}
	PUT_LIT(w, "\r\n");
}

/* The request rules of forward.h as a table. */
static void plan_request(struct plan *plan, const struct shoal_http_request *req,
			 const struct shoal_http_forward_opts *o)
{
	unsigned char *a = plan->by_field;

	/* Hop-by-hop, framing, Host, Proxy-*, names with '_'. */
	memset(a, A_DROP, F_COUNT);
	a[F_OTHER] = a[F_DATE] = A_KEEP;
	a[F_EXPECT] = req->version == SHOAL_HTTP_11 ? A_PIN : A_DROP;
	a[F_UPGRADE] = o->upgrade ? A_PIN : A_DROP;
	a[F_XFF] = o->x_forwarded ? A_XFF : A_KEEP;
	a[F_XFP] = a[F_XFH] = o->x_forwarded ? A_DROP : A_KEEP;
	a[F_FORWARDED] = o->forwarded ? A_FORWARDED : A_KEEP;
}

size_t shoal_http_forward_request(const struct shoal_http_request *req,
				  const struct shoal_http_forward_opts *o, char *out, size_t cap)
{
	struct plan plan;
	struct out w = { .p = out, .cap = cap, .len = 0 };

	plan_request(&plan, req, o);
	if (!plan_fields(&plan, req->headers, req->nheaders))
		return 0;
	put_request_line(&w, req);
	put_host(&w, req, o);
	put_kept(&w, req->headers, req->nheaders, &plan);
	put_request_framing(&w, req);
	if (o->upgrade)
		PUT_LIT(&w, "Connection: upgrade\r\n");
	if (o->x_forwarded)
		put_x_forwarded(&w, req, o, &plan);
	if (o->forwarded)
		put_forwarded(&w, req, o, &plan);
	PUT_LIT(&w, "\r\n");
	return out_end(&w);
}

bool shoal_http_forward_wants_upgrade(const struct shoal_http_request *req)
{
	bool listed = false, has_upgrade = false;

	if (req->version != SHOAL_HTTP_11)
		return false;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct shoal_http_header *h = &req->headers[i];
		struct shoal_http_str elem;
		size_t pos = 0;

		if (shoal_http_str_eq(h->name, "upgrade")) {
			has_upgrade |= h->value.len > 0;
			continue;
		}
		if (!shoal_http_str_eq(h->name, "connection"))
			continue;
		while (lex_next_element(h->value, &pos, &elem))
			listed |= shoal_http_str_eq(elem, "upgrade");
	}
	return listed && has_upgrade;
}

/* A response without body still describes its representation by Content-Length, but 1xx and
 * 204 may not carry one (RFC 9110 8.6), nor may a message with Transfer-Encoding (RFC 9112
 * 6.1). */
static bool keeps_length(const struct shoal_http_response *resp,
			 const struct shoal_http_forward_resp_opts *o)
{
	if (o->chunked)
		return false;
	if (resp->body == SHOAL_HTTP_BODY_LENGTH)
		return true;
	return resp->body == SHOAL_HTTP_BODY_NONE && resp->status >= 200 && resp->status != 204;
}

/* The response rules of forward.h as a table. */
static void plan_response(struct plan *plan, const struct shoal_http_response *resp,
			  const struct shoal_http_forward_resp_opts *o)
{
	unsigned char *a = plan->by_field;

	memset(a, A_KEEP, F_COUNT);
	a[F_CONNECTION] = a[F_KEEP_ALIVE] = a[F_TE] = a[F_TRAILER] = A_DROP;
	a[F_TRANSFER_ENCODING] = a[F_PROXY_CONNECTION] = a[F_PROXY_AUTH] = A_DROP;
	a[F_UPGRADE] = resp->status == 101 ? A_PIN : A_DROP;
	a[F_CONTENT_LENGTH] = keeps_length(resp, o) ? A_PIN : A_DROP;
	a[F_DATE] = A_DATE;
}

static void put_status_line(struct out *w, const struct shoal_http_response *resp)
{
	char status[3] = {
		(char)('0' + resp->status / 100),
		(char)('0' + resp->status / 10 % 10),
		(char)('0' + resp->status % 10),
	};

	PUT_LIT(w, "HTTP/1.1 ");
	put(w, status, sizeof(status));
	PUT_LIT(w, " ");
	put_str(w, resp->reason);
	PUT_LIT(w, "\r\n");
}

static void put_response_connection(struct out *w, const struct shoal_http_response *resp,
				    const struct shoal_http_forward_resp_opts *o)
{
	if (resp->status == 101)
		PUT_LIT(w, "Connection: upgrade\r\n");
	else if (!o->keep_alive)
		PUT_LIT(w, "Connection: close\r\n");
	else if (o->client_version == SHOAL_HTTP_10)
		PUT_LIT(w, "Connection: keep-alive\r\n");
}

size_t shoal_http_forward_response(const struct shoal_http_response *resp,
				   const struct shoal_http_forward_resp_opts *o, char *out,
				   size_t cap)
{
	struct plan plan;
	struct out w = { .p = out, .cap = cap, .len = 0 };

	plan_response(&plan, resp, o);
	if (!plan_fields(&plan, resp->headers, resp->nheaders))
		return 0;
	put_status_line(&w, resp);
	put_kept(&w, resp->headers, resp->nheaders, &plan);
	if (o->chunked)
		PUT_LIT(&w, "Transfer-Encoding: chunked\r\n");
	put_response_connection(&w, resp, o);
	if (!plan.has_date && o->date_len > 0) {
		PUT_LIT(&w, "Date: ");
		put(&w, o->date, o->date_len);
		PUT_LIT(&w, "\r\n");
	}
	PUT_LIT(&w, "\r\n");
	return out_end(&w);
}
