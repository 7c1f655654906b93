/* libFuzzer target for the PROXY protocol header parser and writer.
 *
 * Every input is parsed whole and at every length up to it, as reads would deliver it: the
 * verdicts must agree (needs more until the header is whole or refused, and a refusal or a
 * header stays what it was as more bytes arrive), a header must be consistent with itself,
 * and the writer's header for the ends it names must parse back to the same ends. The input
 * is then taken as a pair of ends for the writer, whose header must parse back to them. */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz_check.h"
#include "shoal/net/proxy_proto.h"

/* Past this many bytes the lengths tried are spread out, to keep each input quick. */
#define EVERY_LENGTH 512

static int parse(const char *buf, size_t len, struct shoal_proxy_proto *out)
{
	struct shoal_proxy_proto untouched;
	int rc;

	memset(out, 0x5a, sizeof(*out));
	memcpy(&untouched, out, sizeof(untouched));
	rc = shoal_proxy_proto_parse(buf, len, out);
	FUZZ_CHECK(rc == -1 || rc == -2 || (rc > 0 && (size_t)rc <= len));
	if (rc < 0)
		FUZZ_CHECK(memcmp(out, &untouched, sizeof(*out)) == 0);
	return rc;
}

static void check_header(const char *buf, int rc, const struct shoal_proxy_proto *p)
{
	static const uint8_t zero[16];
	const struct shoal_proxy_proto_addrs *a = &p->addrs;

	FUZZ_CHECK(a->src_family == a->dst_family);
	FUZZ_CHECK(p->local == (a->src_family == AF_UNSPEC));
	FUZZ_CHECK(p->local || a->src_family == AF_INET || a->src_family == AF_INET6);
	if (p->local)
		FUZZ_CHECK(a->src_port == 0 && a->dst_port == 0 && memcmp(a->src, zero, 16) == 0 &&
			   memcmp(a->dst, zero, 16) == 0);
	if (a->src_family == AF_INET)
		FUZZ_CHECK(memcmp(a->src + 4, zero, 12) == 0 && memcmp(a->dst + 4, zero, 12) == 0);
	if (p->version == 1) {
		FUZZ_CHECK(rc <= SHOAL_PROXY_PROTO_V1_MAX && memcmp(buf, "PROXY ", 6) == 0);
		FUZZ_CHECK(memcmp(buf + rc - 2, "\r\n", 2) == 0);
		FUZZ_CHECK(!memchr(buf, '\n', (size_t)rc - 1));
	} else {
		FUZZ_CHECK(p->version == 2 && rc >= 16);
		FUZZ_CHECK(rc == 16 + ((uint8_t)buf[14] << 8 | (uint8_t)buf[15]));
		FUZZ_CHECK(memcmp(buf, "\r\n\r\n\0\r\nQUIT\n", 12) == 0);
	}
}

/* The writer's header for a's ends, in version, parses back to them. */
static void check_written(int version, const struct shoal_proxy_proto *from)
{
	char out[SHOAL_PROXY_PROTO_WRITE_MAX];
	size_t n = shoal_proxy_proto_write(out, version, &from->addrs);
	struct shoal_proxy_proto back;

	FUZZ_CHECK(n > 0 && n <= SHOAL_PROXY_PROTO_WRITE_MAX);
	FUZZ_CHECK(parse(out, n, &back) == (int)n);
	FUZZ_CHECK(back.version == version && back.local == from->local);
	FUZZ_CHECK(memcmp(&back.addrs, &from->addrs, sizeof(back.addrs)) == 0);
	for (size_t k = 0; k < n; k++)
		FUZZ_CHECK(parse(out, k, &back) == -2);
}

/* Parses every beginning of buf: -2 until the verdict, which then holds. */
static void fuzz_parse(const char *buf, size_t len)
{
	struct shoal_proxy_proto whole, p;
	int rc = parse(buf, len, &whole);
	size_t step = 1;

	if (rc > 0) {
		check_header(buf, rc, &whole);
		check_written(1, &whole);
		check_written(2, &whole);
	}
	for (size_t k = 0; k < len; k += step) {
		int at = parse(buf, k, &p);

		if (rc > 0 && k >= (size_t)rc)
			FUZZ_CHECK(at == rc && memcmp(&p, &whole, sizeof(p)) == 0);
		else if (rc > 0 || rc == -2)
			FUZZ_CHECK(at == -2);
		else
			FUZZ_CHECK(at == -2 || at == -1);
		if (at == -1)
			FUZZ_CHECK(parse(buf, k + (len - k) / 2, &p) == -1);
		if (k >= EVERY_LENGTH)
			step = k / 8;
	}
}

/* The input as two ends: family selectors, ports and addresses. */
static void fuzz_write(const uint8_t *data, size_t size)
{
	static const uint8_t families[] = { AF_INET, AF_INET6, AF_UNSPEC };
	struct shoal_proxy_proto p = { 0 };
	struct shoal_proxy_proto_addrs *a = &p.addrs, from;
	uint8_t raw[38] = { 0 };

	memcpy(raw, data, size < sizeof(raw) ? size : sizeof(raw));
	a->src_family = families[raw[0] % 3];
	a->dst_family = families[raw[1] % 3];
	from = *a;
	p.local = a->src_family == AF_UNSPEC || a->dst_family == AF_UNSPEC;
	if (p.local) {
		a->src_family = a->dst_family = AF_UNSPEC;
	} else {
		a->src_port = (uint16_t)(raw[2] << 8 | raw[3]);
		a->dst_port = (uint16_t)(raw[4] << 8 | raw[5]);
		memcpy(a->src, raw + 6, a->src_family == AF_INET ? 4 : 16);
		memcpy(a->dst, raw + 22, a->dst_family == AF_INET ? 4 : 16);
		from = *a;
		if (a->src_family != a->dst_family) {
			/* Written as IPv6, the IPv4 end mapped: what the parser must read back. */
			uint8_t *v4 = a->src_family == AF_INET ? a->src : a->dst;

			memmove(v4 + 12, v4, 4);
			memset(v4, 0, 10);
			v4[10] = v4[11] = 0xff;
			a->src_family = a->dst_family = AF_INET6;
		}
	}
	for (int version = 1; version <= 2; version++) {
		char out[SHOAL_PROXY_PROTO_WRITE_MAX];
		size_t n = shoal_proxy_proto_write(out, version, &from);
		struct shoal_proxy_proto back;

		FUZZ_CHECK(n > 0 && n <= SHOAL_PROXY_PROTO_WRITE_MAX);
		FUZZ_CHECK(parse(out, n, &back) == (int)n);
		FUZZ_CHECK(back.version == version && back.local == p.local);
		FUZZ_CHECK(memcmp(&back.addrs, a, sizeof(back.addrs)) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse((const char *)data, size);
	fuzz_write(data, size);
	return 0;
}
