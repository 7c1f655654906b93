/* libFuzzer target for the real client address walk (shoal_http_real_ip_find) and the
 * X-Forwarded-For the proxy sends on with its cut.
 *
 * The first input byte picks the options: bit 0 the header walked (X-Forwarded-For or
 * Forwarded), bits 1-2 who is trusted (nobody, everybody, 10.0.0.0/8 and ::1, or a mix
 * that bits 3-7 seed); the rest is a request head. When it parses, the walk must give the
 * same answer twice; an answer must be an address in an element of a field of that name,
 * without surrounding whitespace, and the element alone must walk to the same address; the
 * walk may only go on past a trusted address, and its last question is about the address
 * it answers; trusting nobody it finds the rightmost element or nothing, and trusting
 * everybody it finds something then too, never to the right of that. In X-Forwarded-For,
 * the list forwarded with the cut must end with the client, which a walk trusting nobody
 * then finds there. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "fuzz_check.h"
#include "shoal/http/forward.h"
#include "shoal/http/real_ip.h"

#define OUT_CAP 32768
/* Questions one walk may ask: an address takes two bytes and a comma at least ("::,"). */
#define MAX_ASKED (8192 / 3 + 1)

static const struct shoal_http_limits in_limits = {
	.max_request_line = 8192, .max_head = 8192, .max_headers = 100,
};
static const struct shoal_http_limits out_limits = {
	.max_request_line = 16384, .max_head = OUT_CAP, .max_headers = SHOAL_HTTP_MAX_HEADERS,
};

enum trust { TRUST_NONE, TRUST_ALL, TRUST_TEN, TRUST_MIX };

/* Who is trusted, and what the walk asked, in order. */
struct asker {
	enum trust trust;
	unsigned seed;
	size_t n;
	struct {
		int family;
		uint8_t addr[16];
		bool answer;
	} asked[MAX_ASKED];
};

static bool decide(const struct asker *k, int family, const uint8_t *addr)
{
	static const uint8_t loopback6[16] = { [15] = 1 };
	unsigned sum = k->seed;

	switch (k->trust) {
	case TRUST_NONE:
		return false;
	case TRUST_ALL:
		return true;
	case TRUST_TEN:
		return family == AF_INET ? addr[0] == 10 : memcmp(addr, loopback6, 16) == 0;
	case TRUST_MIX:
		break;
	}
	for (int i = 0; i < (family == AF_INET ? 4 : 16); i++)
		sum = sum * 31 + addr[i];
	return sum % 3 != 0;
}

static bool trusted(void *arg, int family, const uint8_t *addr)
{
	struct asker *k = arg;
	bool answer;

	FUZZ_CHECK(family == AF_INET || family == AF_INET6);
	answer = decide(k, family, addr);
	FUZZ_CHECK(k->n < MAX_ASKED);
	k->asked[k->n].family = family;
	memset(k->asked[k->n].addr, 0, 16);
	memcpy(k->asked[k->n].addr, addr, family == AF_INET ? 4 : 16);
	k->asked[k->n++].answer = answer;
	return answer;
}

struct work {
	struct shoal_http_request req, alone, again;
	struct asker asker;
	char out[OUT_CAP];
	char text[OUT_CAP];
};

static const char *field_name(enum shoal_http_real_ip_header h)
{
	return h == SHOAL_HTTP_REAL_IP_FORWARDED ? "Forwarded" : "X-Forwarded-For";
}

static bool name_is(struct shoal_http_str s, const char *name)
{
	return s.len == strlen(name) && strncasecmp(s.p, name, s.len) == 0;
}

static bool same_found(const struct shoal_http_real_ip *a, const struct shoal_http_real_ip *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0 &&
	       a->header == b->header && a->field == b->field && a->start == b->start &&
	       a->end == b->end;
}

static bool only_separators(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ',' && p[i] != ' ' && p[i] != '\t')
			return false;
	return true;
}

/* Nothing but separators after the element found in its field and in the later fields of
 * its name: it is the rightmost element. */
static void check_rightmost(const struct shoal_http_request *req,
			    const struct shoal_http_real_ip *f)
{
	struct shoal_http_str v = req->headers[f->field].value;

	FUZZ_CHECK(only_separators(v.p + f->end, v.len - f->end));
	for (size_t i = f->field + 1; i < req->nheaders; i++)
		if (name_is(req->headers[i].name, field_name(f->header)))
			FUZZ_CHECK(only_separators(req->headers[i].value.p,
						   req->headers[i].value.len));
}

/* Runs the walk with trust t; checks what any answer must satisfy. */
static bool walk(const struct shoal_http_request *req, enum shoal_http_real_ip_header h,
		 enum trust t, unsigned seed, struct work *w, struct shoal_http_real_ip *f)
{
	struct asker *k = &w->asker;
	bool found;

	k->trust = t;
	k->seed = seed;
	k->n = 0;
	found = shoal_http_real_ip_find(req, h, trusted, k, f);
	FUZZ_CHECK(found == (f->family != 0));
	for (size_t i = 0; i + 1 < k->n; i++)
		FUZZ_CHECK(k->asked[i].answer);
	if (!found)
		return false;
	FUZZ_CHECK(f->family == AF_INET || f->family == AF_INET6);
	FUZZ_CHECK(f->header == h && f->field < req->nheaders);
	FUZZ_CHECK(name_is(req->headers[f->field].name, field_name(h)));
	FUZZ_CHECK(f->start < f->end && f->end <= req->headers[f->field].value.len);
	FUZZ_CHECK(k->n > 0 && k->asked[k->n - 1].family == f->family &&
		   memcmp(k->asked[k->n - 1].addr, f->addr, 16) == 0);
	return true;
}

/* The element found, alone in a request, walks to the same address. */
static void check_alone(const struct shoal_http_request *req, const struct shoal_http_real_ip *f,
			struct work *w)
{
	struct shoal_http_str v = req->headers[f->field].value;
	struct shoal_http_real_ip again;
	int n = snprintf(w->text, sizeof(w->text), "GET / HTTP/1.1\r\nHost: h\r\n%s: %.*s\r\n\r\n",
			 field_name(f->header), (int)(f->end - f->start), v.p + f->start);

	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(w->text));
	FUZZ_CHECK(shoal_http_parse_request(w->text, (size_t)n, 0, &out_limits, &w->alone) == n);
	FUZZ_CHECK(walk(&w->alone, f->header, TRUST_NONE, 0, w, &again));
	FUZZ_CHECK(again.family == f->family && memcmp(again.addr, f->addr, 16) == 0);
	FUZZ_CHECK(again.field == 1 && again.start == 0 && again.end == f->end - f->start);
}

/* The list forwarded with the cut ends with the client. */
static void check_cut(const struct shoal_http_request *req, const struct shoal_http_real_ip *f,
		      struct work *w)
{
	char client[INET6_ADDRSTRLEN];
	struct shoal_http_forward_opts o = {
		.client_addr = client, .x_forwarded = true, .xff_cut = f,
		.default_host = { "127.0.0.1:9001", 14 },
	};
	struct shoal_http_real_ip last;
	size_t n;

	FUZZ_CHECK(inet_ntop(f->family, f->addr, client, sizeof(client)));
	n = shoal_http_forward_request(req, &o, w->out, sizeof(w->out));
	if (n == 0) /* Connection names too many fields, or a long Host outgrew out */
		return;
	FUZZ_CHECK(shoal_http_parse_request(w->out, n, 0, &out_limits, &w->again) == (int)n);
	FUZZ_CHECK(walk(&w->again, SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR, TRUST_NONE, 0, w, &last));
	FUZZ_CHECK(last.family == f->family && memcmp(last.addr, f->addr, 16) == 0);
	FUZZ_CHECK(last.end - last.start == strlen(client));
}

static void fuzz_walk(const char *buf, size_t len, uint8_t opts, struct work *w)
{
	enum shoal_http_real_ip_header h = opts & 1 ? SHOAL_HTTP_REAL_IP_FORWARDED
						    : SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR;
	enum trust t = (enum trust)((opts >> 1) & 3);
	struct shoal_http_real_ip f, twice, none, all;
	bool found;

	if (shoal_http_parse_request(buf, len, 0, &in_limits, &w->req) <= 0)
		return;
	found = walk(&w->req, h, t, opts >> 3, w, &f);
	FUZZ_CHECK(walk(&w->req, h, t, opts >> 3, w, &twice) == found && same_found(&f, &twice));
	if (found)
		check_alone(&w->req, &f, w);
	if (walk(&w->req, h, TRUST_NONE, 0, w, &none)) {
		FUZZ_CHECK(w->asker.n == 1);
		check_rightmost(&w->req, &none);
		FUZZ_CHECK(walk(&w->req, h, TRUST_ALL, 0, w, &all));
		FUZZ_CHECK(all.field < none.field ||
			   (all.field == none.field && all.end <= none.start) ||
			   same_found(&all, &none));
		FUZZ_CHECK(found);
	} else {
		FUZZ_CHECK(!found && w->asker.n == 0);
	}
	if (found && h == SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR)
		check_cut(&w->req, &f, w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct work *w;
	char *buf;

	if (size == 0)
		return 0;
	/* A copy of exactly the head bytes, so that AddressSanitizer sees any read past the end. */
	buf = malloc(size - 1 ? size - 1 : 1);
	w = malloc(sizeof(*w));
	memcpy(buf, data + 1, size - 1);
	fuzz_walk(buf, size - 1, data[0], w);
	free(w);
	free(buf);
	return 0;
}
