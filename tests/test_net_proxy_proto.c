#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shoal/net/proxy_proto.h"

#include "check_run.h"

#define SIG "\r\n\r\n\0\r\nQUIT\n"

/* A parse that must not touch out unless it succeeds: out starts as a pattern. */
static int parse(const char *buf, size_t len, struct shoal_proxy_proto *out)
{
	struct shoal_proxy_proto untouched;
	int rc;

	memset(out, 0xa5, sizeof(*out));
	memset(&untouched, 0xa5, sizeof(untouched));
	rc = shoal_proxy_proto_parse(buf, len, out);
	if (rc <= 0)
		ck_assert_msg(memcmp(out, &untouched, sizeof(*out)) == 0, "out written on %d", rc);
	return rc;
}

/* Every proper beginning of a valid header needs more; the whole says its length. */
static void assert_header(const char *buf, size_t n, struct shoal_proxy_proto *out)
{
	for (size_t k = 0; k < n; k++)
		ck_assert_msg(parse(buf, k, out) == -2, "prefix %zu of %zu: not -2", k, n);
	ck_assert_int_eq(parse(buf, n, out), (int)n);
}

/* bad is refused exactly from its byte at: every shorter beginning needs more. */
static void assert_refused_at(const char *bad, size_t len, size_t at)
{
	struct shoal_proxy_proto p;

	for (size_t k = 0; k <= at && k < len; k++)
		ck_assert_msg(parse(bad, k, &p) == -2, "'%.*s': prefix %zu not -2", (int)len, bad, k);
	for (size_t k = at + 1; k <= len; k++)
		ck_assert_msg(parse(bad, k, &p) == -1, "'%.*s': prefix %zu not -1", (int)len, bad, k);
}

static void assert_addr(int family, const uint8_t *got, const char *text)
{
	uint8_t want[16];

	ck_assert_int_eq(inet_pton(family, text, want), 1);
	ck_assert_msg(memcmp(got, want, family == AF_INET ? 4 : 16) == 0, "address not %s", text);
}

START_TEST(v1_tcp4)
{
	static const char h[] = "PROXY TCP4 192.0.2.1 198.51.100.22 56324 443\r\n";
	char buf[128];
	struct shoal_proxy_proto p;

	assert_header(h, strlen(h), &p);
	ck_assert_int_eq(p.version, 1);
	ck_assert(!p.local);
	ck_assert_int_eq(p.addrs.src_family, AF_INET);
	ck_assert_int_eq(p.addrs.dst_family, AF_INET);
	assert_addr(AF_INET, p.addrs.src, "192.0.2.1");
	assert_addr(AF_INET, p.addrs.dst, "198.51.100.22");
	ck_assert_uint_eq(p.addrs.src_port, 56324);
	ck_assert_uint_eq(p.addrs.dst_port, 443);
	/* What follows the header is the client's. */
	snprintf(buf, sizeof(buf), "%sGET / HTTP/1.1\r\n", h);
	ck_assert_int_eq(parse(buf, strlen(buf), &p), (int)strlen(h));
}
END_TEST

START_TEST(v1_tcp6)
{
	static const char h[] = "PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 65535\r\n";
	struct shoal_proxy_proto p;

	assert_header(h, strlen(h), &p);
	ck_assert_int_eq(p.version, 1);
	ck_assert(!p.local);
	ck_assert_int_eq(p.addrs.src_family, AF_INET6);
	ck_assert_int_eq(p.addrs.dst_family, AF_INET6);
	assert_addr(AF_INET6, p.addrs.src, "2001:db8::1");
	assert_addr(AF_INET6, p.addrs.dst, "::ffff:10.0.0.1");
	ck_assert_uint_eq(p.addrs.src_port, 0);
	ck_assert_uint_eq(p.addrs.dst_port, 65535);
}
END_TEST

START_TEST(v1_unknown)
{
	static const char *const good[] = {
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN \r\n",
		"PROXY UNKNOWN whatever\tthe balancer says \x01\xff\r\n",
		/* The spec's own longest example. */
		"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
	};
	struct shoal_proxy_proto p;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_header(good[i], strlen(good[i]), &p);
		ck_assert_int_eq(p.version, 1);
		ck_assert(p.local);
		ck_assert_int_eq(p.addrs.src_family, AF_UNSPEC);
		ck_assert_int_eq(p.addrs.dst_family, AF_UNSPEC);
		ck_assert_uint_eq(p.addrs.src_port, 0);
		ck_assert_uint_eq(p.addrs.dst_port, 0);
	}
}
END_TEST

/* 107 bytes with the line end, and not one more. */
START_TEST(v1_longest_line)
{
	char line[SHOAL_PROXY_PROTO_V1_MAX + 2];
	struct shoal_proxy_proto p;
	size_t n = SHOAL_PROXY_PROTO_V1_MAX;

	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + n - 2, "\r\n", 2);
	assert_header(line, n, &p);
	ck_assert(p.local);
	memcpy(line + n - 2, "x\r\n", 3);
	assert_refused_at(line, n + 1, n - 2);
}
END_TEST

START_TEST(v1_tcp6_longest)
{
	/* Two addresses of 39 bytes and the largest ports: 104 bytes. */
	static const char h[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
				"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65534\r\n";
	/* The dotted form is valid IPv6 text but makes the line too long for the spec: refused
	 * at the byte from which no line could end in time. */
	static const char too_long[] = "PROXY TCP6 0000:0000:0000:0000:0000:0000:255.255.255.255 "
				       "0000:0000:0000:0000:0000:0000:255.255.255.255 1 2\r\n";
	struct shoal_proxy_proto p;

	assert_header(h, strlen(h), &p);
	ck_assert_uint_eq(p.addrs.src_port, 65535);
	ck_assert_uint_eq(p.addrs.dst_port, 65534);
	/* The second address may take 107 - 57 - "  0 0\r\n" (6) = 44 bytes before its end. */
	assert_refused_at(too_long, strlen(too_long), 57 + 44);
}
END_TEST

/* Malformed lines, each with the offset of its first byte no valid header has there. */
START_TEST(v1_malformed)
{
	static const struct {
		const char *line;
		size_t at;
	} bad[] = {
		{ "GET / HTTP/1.1\r\n", 0 },
		{ "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0 },
		{ "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 6 },
		{ "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", 9 },
		{ "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", 11 },
		{ "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", 19 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n", 27 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n", 29 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", 30 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 30 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r", 31 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 28 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", 28 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n", 30 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", 31 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", 27 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\t2\r\n", 28 },
		{ "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", 18 },
		{ "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", 16 },
		{ "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", 19 },
		{ "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", 12 },
		{ "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", 11 },
		{ "PROXY TCP4 a.b.c.d 5.6.7.8 1 2\r\n", 11 },
		{ "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", 12 },
		{ "PROXY TCP6 ::1 ::g 1 2\r\n", 17 },
		{ "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", 26 },
		{ "PROXY TCP6 1::2::3 ::1 1 2\r\n", 16 },
		{ "PROXY TCP6 12345:: ::1 1 2\r\n", 15 },
		{ "PROXY TCP6 :1 ::1 1 2\r\n", 12 },
		{ "PROXY UNKNOWNX\r\n", 13 },
		{ "PROXY UNKNOWN\n", 13 },
		{ "PROXY UNKNOWN\rX", 14 },
		{ "PROXY UNKNOWN bare\nline\r\n", 18 },
		{ "PROXY\r\n", 5 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused_at(bad[i].line, strlen(bad[i].line), bad[i].at);
}
END_TEST

/* A version 2 header: the 16 bytes, then body (addresses and TLVs) of body_len bytes. */
static size_t v2(char *buf, int ver_cmd, int fam, const char *body, size_t body_len)
{
	memcpy(buf, SIG, 12);
	buf[12] = (char)ver_cmd;
	buf[13] = (char)fam;
	buf[14] = (char)(body_len >> 8);
	buf[15] = (char)body_len;
	memcpy(buf + 16, body, body_len);
	return 16 + body_len;
}

START_TEST(v2_proxy_tcp4)
{
	static const char body[] = "\xc0\x00\x02\x01" "\xc6\x33\x64\x16" "\xdc\x04" "\x01\xbb";
	char buf[64];
	struct shoal_proxy_proto p;
	size_t n = v2(buf, 0x21, 0x11, body, 12);

	assert_header(buf, n, &p);
	ck_assert_int_eq(p.version, 2);
	ck_assert(!p.local);
	ck_assert_int_eq(p.addrs.src_family, AF_INET);
	ck_assert_int_eq(p.addrs.dst_family, AF_INET);
	assert_addr(AF_INET, p.addrs.src, "192.0.2.1");
	assert_addr(AF_INET, p.addrs.dst, "198.51.100.22");
	ck_assert_uint_eq(p.addrs.src_port, 56324);
	ck_assert_uint_eq(p.addrs.dst_port, 443);
	memcpy(buf + n, "GET", 3);
	ck_assert_int_eq(parse(buf, n + 3, &p), (int)n);
}
END_TEST

START_TEST(v2_proxy_tcp6)
{
	char body[36], buf[64];
	struct shoal_proxy_proto p;
	size_t n;

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", body), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "::1", body + 16), 1);
	memcpy(body + 32, "\x00\x00\xff\xff", 4);
	n = v2(buf, 0x21, 0x21, body, 36);
	assert_header(buf, n, &p);
	ck_assert_int_eq(p.version, 2);
	ck_assert(!p.local);
	ck_assert_int_eq(p.addrs.src_family, AF_INET6);
	ck_assert_int_eq(p.addrs.dst_family, AF_INET6);
	assert_addr(AF_INET6, p.addrs.src, "2001:db8::1");
	assert_addr(AF_INET6, p.addrs.dst, "::1");
	ck_assert_uint_eq(p.addrs.src_port, 0);
	ck_assert_uint_eq(p.addrs.dst_port, 65535);
}
END_TEST

/* No client to take: LOCAL with any family, and PROXY over UDP, UNIX or UNSPEC. */
START_TEST(v2_without_client)
{
	static const struct {
		int ver_cmd, fam;
		size_t body_len;
	} cases[] = {
		{ 0x20, 0x00, 0 },   { 0x20, 0x11, 12 }, { 0x20, 0x21, 36 },
		{ 0x20, 0x31, 216 }, { 0x21, 0x00, 0 },  { 0x21, 0x12, 12 },
		{ 0x21, 0x22, 36 },  { 0x21, 0x31, 216 }, { 0x21, 0x32, 216 },
	};
	char body[216], buf[300];
	struct shoal_proxy_proto p;

	memset(body, 0x7f, sizeof(body));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = v2(buf, cases[i].ver_cmd, cases[i].fam, body, cases[i].body_len);

		assert_header(buf, n, &p);
		ck_assert_int_eq(p.version, 2);
		ck_assert_msg(p.local, "case %zu: not local", i);
		ck_assert_int_eq(p.addrs.src_family, AF_UNSPEC);
		ck_assert_int_eq(p.addrs.dst_family, AF_UNSPEC);
		ck_assert_uint_eq(p.addrs.src_port, 0);
		ck_assert_uint_eq(p.addrs.dst_port, 0);
	}
}
END_TEST

START_TEST(v2_tlvs_skipped)
{
	/* Addresses, then ALPN "h2", an empty NOOP, and AUTHORITY "example.com". */
	static const char body[] = "\x0a\x00\x00\x01" "\x0a\x00\x00\x02" "\x30\x39" "\x00\x50"
				   "\x01\x00\x02" "h2" "\x04\x00\x00" "\x02\x00\x0b" "example.com";
	char buf[128];
	struct shoal_proxy_proto p;
	size_t n = v2(buf, 0x21, 0x11, body, sizeof(body) - 1);

	assert_header(buf, n, &p);
	ck_assert(!p.local);
	assert_addr(AF_INET, p.addrs.src, "10.0.0.1");
	ck_assert_uint_eq(p.addrs.src_port, 12345);
	ck_assert_uint_eq(p.addrs.dst_port, 80);
	/* TLVs after LOCAL's empty block too. */
	n = v2(buf, 0x20, 0x00, body + 12, sizeof(body) - 13);
	assert_header(buf, n, &p);
	ck_assert(p.local);
}
END_TEST

/* LOCAL's block is discarded whole, the family byte included (the spec): a family outside
 * the spec, a block shorter than its family needs, TLVs that do not tile: all skipped. */
START_TEST(v2_local_discards_its_block)
{
	static const struct {
		int fam;
		size_t body_len;
	} cases[] = { { 0x7f, 3 }, { 0x11, 5 }, { 0x21, 12 }, { 0x00, 2 }, { 0xff, 0 } };
	char body[64], buf[128];
	struct shoal_proxy_proto p;

	memset(body, 0x01, sizeof(body));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = v2(buf, 0x20, cases[i].fam, body, cases[i].body_len);

		assert_header(buf, n, &p);
		ck_assert_msg(p.local, "case %zu: not local", i);
		ck_assert_int_eq(p.addrs.src_family, AF_UNSPEC);
	}
	/* The same blocks under PROXY are refused. */
	ck_assert_int_eq(shoal_proxy_proto_parse(buf, v2(buf, 0x21, 0x7f, body, 3), &p), -1);
	ck_assert_int_eq(shoal_proxy_proto_parse(buf, v2(buf, 0x21, 0x11, body, 5), &p), -1);
}
END_TEST

START_TEST(v2_tlv_overrun)
{
	char body[32] = { 0 }, buf[64];
	size_t n;

	/* A TLV announcing 5 bytes where 4 are left: refused once its length is read. */
	memcpy(body + 12, "\x01\x00\x05" "abcd", 7);
	n = v2(buf, 0x21, 0x11, body, 19);
	assert_refused_at(buf, n, 16 + 12 + 2);
	/* One or two bytes left: too few for a TLV's type and length. */
	memcpy(body + 12, "\x04\x00\x00" "\x04", 4);
	n = v2(buf, 0x21, 0x11, body, 16);
	assert_refused_at(buf, n, 16 + 12 + 2);
	memcpy(body + 12, "\x04\x00\x00" "\x04\x00", 5);
	n = v2(buf, 0x21, 0x11, body, 17);
	assert_refused_at(buf, n, 16 + 12 + 2);
}
END_TEST

START_TEST(v2_bad_signature)
{
	char buf[64], body[12] = { 0 };
	size_t n = v2(buf, 0x21, 0x11, body, 12);

	for (size_t i = 0; i < 12; i++) {
		buf[i] ^= 0x20;
		assert_refused_at(buf, n, i);
		buf[i] ^= 0x20;
	}
}
END_TEST

START_TEST(v2_bad_version_command)
{
	static const int bad[] = { 0x00, 0x01, 0x10, 0x11, 0x22, 0x2f, 0x30, 0x31, 0xf1, 0x12 };
	char buf[64], body[12] = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused_at(buf, v2(buf, bad[i], 0x11, body, 12), 12);
}
END_TEST

START_TEST(v2_bad_family)
{
	static const int bad[] = { 0x01, 0x02, 0x10, 0x13, 0x20, 0x23, 0x30, 0x33, 0x41, 0xff };
	char buf[64], body[36] = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_refused_at(buf, v2(buf, 0x21, bad[i], body, 36), 13);
	}
}
END_TEST

/* A length shorter than the family's address block is refused once the length is read (under
 * PROXY: LOCAL's block is discarded, see v2_local_discards_its_block). */
START_TEST(v2_block_too_short)
{
	static const struct {
		int fam;
		size_t len;
	} bad[] = { { 0x11, 11 }, { 0x12, 0 }, { 0x21, 35 }, { 0x22, 12 }, { 0x31, 215 },
		    { 0x32, 36 } };
	char buf[300], body[216] = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_refused_at(buf, v2(buf, 0x21, bad[i].fam, body, bad[i].len), 15);
	}
}
END_TEST

/* A header longer than what arrived needs more, up to the largest length announced. */
START_TEST(v2_length_past_buffer)
{
	char *body = calloc(1, 65535), *buf = malloc(16 + 65535);
	struct shoal_proxy_proto p;
	size_t n;

	ck_assert(body && buf);
	/* One TLV of 65535 - 12 - 3 bytes fills the largest header. */
	body[12] = 0x04;
	body[13] = (char)((65535 - 15) >> 8);
	body[14] = (char)(65535 - 15);
	n = v2(buf, 0x21, 0x11, body, 65535);
	ck_assert_int_eq(parse(buf, 64, &p), -2);
	ck_assert_int_eq(parse(buf, n - 1, &p), -2);
	ck_assert_int_eq(parse(buf, n, &p), (int)n);
	ck_assert(!p.local);
	free(body);
	free(buf);
}
END_TEST

static struct shoal_proxy_proto_addrs ends(int src_family, const char *src, uint16_t src_port,
					   int dst_family, const char *dst, uint16_t dst_port)
{
	struct shoal_proxy_proto_addrs a = { .src_family = (uint8_t)src_family,
					     .dst_family = (uint8_t)dst_family,
					     .src_port = src_port,
					     .dst_port = dst_port };

	if (src)
		ck_assert_int_eq(inet_pton(src_family, src, a.src), 1);
	if (dst)
		ck_assert_int_eq(inet_pton(dst_family, dst, a.dst), 1);
	return a;
}

static void assert_text(const char *out, size_t n, const char *want)
{
	ck_assert_msg(n == strlen(want) && memcmp(out, want, n) == 0, "wrote '%.*s', not '%s'",
		      (int)n, out, want);
}

START_TEST(write_v1_text)
{
	char out[SHOAL_PROXY_PROTO_WRITE_MAX];
	struct shoal_proxy_proto_addrs a = ends(AF_INET, "192.0.2.1", 56324, AF_INET,
						"127.0.0.1", 8080);

	assert_text(out, shoal_proxy_proto_write(out, 1, &a),
		    "PROXY TCP4 192.0.2.1 127.0.0.1 56324 8080\r\n");
	a = ends(AF_INET6, "2001:db8::1", 0, AF_INET6, "::1", 65535);
	assert_text(out, shoal_proxy_proto_write(out, 1, &a), "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n");
	a = ends(AF_INET, "192.0.2.1", 1, AF_INET6, "2001:db8::2", 2);
	assert_text(out, shoal_proxy_proto_write(out, 1, &a),
		    "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1 2\r\n");
	a = ends(AF_UNSPEC, NULL, 0, AF_INET, "127.0.0.1", 80);
	assert_text(out, shoal_proxy_proto_write(out, 1, &a), "PROXY UNKNOWN\r\n");
}
END_TEST

START_TEST(write_v2_bytes)
{
	static const char want4[] = SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01" "\x7f\x00\x00\x01"
				    "\xdc\x04" "\x1f\x90";
	static const char local[] = SIG "\x20\x00\x00\x00";
	char out[SHOAL_PROXY_PROTO_WRITE_MAX];
	struct shoal_proxy_proto_addrs a = ends(AF_INET, "192.0.2.1", 56324, AF_INET,
						"127.0.0.1", 8080);

	ck_assert_uint_eq(shoal_proxy_proto_write(out, 2, &a), sizeof(want4) - 1);
	ck_assert(memcmp(out, want4, sizeof(want4) - 1) == 0);
	a = ends(AF_INET6, "2001:db8::1", 1, AF_INET, "127.0.0.1", 2);
	ck_assert_uint_eq(shoal_proxy_proto_write(out, 2, &a), 16 + 36);
	ck_assert(memcmp(out + 12, "\x21\x21\x00\x24", 4) == 0);
	ck_assert(memcmp(out + 16 + 16, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\1", 16) == 0);
	a.dst_family = AF_UNSPEC;
	ck_assert_uint_eq(shoal_proxy_proto_write(out, 2, &a), sizeof(local) - 1);
	ck_assert(memcmp(out, local, sizeof(local) - 1) == 0);
}
END_TEST

/* An end as the parser reads it back: as given, or IPv4-mapped when the ends' families
 * differ. */
static void assert_end(const uint8_t *got, int family, const uint8_t *given, bool mixed)
{
	uint8_t want[16] = { [10] = 0xff, [11] = 0xff };

	if (mixed && family == AF_INET)
		memcpy(want + 12, given, 4);
	else
		memcpy(want, given, family == AF_INET ? 4 : 16);
	ck_assert(memcmp(got, want, family == AF_INET && !mixed ? 4 : 16) == 0);
}

/* What the writer writes, the parser reads back: both versions, every pair of families. */
START_TEST(write_then_parse)
{
	static const struct {
		int family;
		const char *text;
		uint16_t port;
	} e[] = { { AF_INET, "203.0.113.7", 0 },
		  { AF_INET, "255.255.255.255", 65535 },
		  { AF_INET6, "2001:db8::7", 443 },
		  { AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535 },
		  { AF_UNSPEC, NULL, 0 } };
	const size_t ne = sizeof(e) / sizeof(e[0]);

	for (size_t i = 0; i < ne * ne * 2; i++) {
		size_t s = i % ne, d = i / ne % ne;
		int version = i < ne * ne ? 1 : 2;
		struct shoal_proxy_proto_addrs a = ends(e[s].family, e[s].text, e[s].port,
							e[d].family, e[d].text, e[d].port);
		char out[SHOAL_PROXY_PROTO_WRITE_MAX];
		size_t n = shoal_proxy_proto_write(out, version, &a);
		struct shoal_proxy_proto p;
		bool mixed = e[s].family != e[d].family;

		ck_assert_uint_le(n, SHOAL_PROXY_PROTO_WRITE_MAX);
		assert_header(out, n, &p);
		ck_assert_int_eq(p.version, version);
		ck_assert(p.local == (e[s].family == AF_UNSPEC || e[d].family == AF_UNSPEC));
		if (p.local)
			continue;
		ck_assert_int_eq(p.addrs.src_family, mixed ? AF_INET6 : e[s].family);
		ck_assert_int_eq(p.addrs.dst_family, mixed ? AF_INET6 : e[s].family);
		ck_assert_uint_eq(p.addrs.src_port, e[s].port);
		ck_assert_uint_eq(p.addrs.dst_port, e[d].port);
		assert_end(p.addrs.src, e[s].family, a.src, mixed);
		assert_end(p.addrs.dst, e[d].family, a.dst, mixed);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("net_proxy_proto");
	TCase *v1 = tcase_create("v1"), *v2c = tcase_create("v2"), *w = tcase_create("write");

	tcase_add_test(v1, v1_tcp4);
	tcase_add_test(v1, v1_tcp6);
	tcase_add_test(v1, v1_unknown);
	tcase_add_test(v1, v1_longest_line);
	tcase_add_test(v1, v1_tcp6_longest);
	tcase_add_test(v1, v1_malformed);
	tcase_add_test(v2c, v2_proxy_tcp4);
	tcase_add_test(v2c, v2_proxy_tcp6);
	tcase_add_test(v2c, v2_without_client);
	tcase_add_test(v2c, v2_tlvs_skipped);
	tcase_add_test(v2c, v2_local_discards_its_block);
	tcase_add_test(v2c, v2_tlv_overrun);
	tcase_add_test(v2c, v2_bad_signature);
	tcase_add_test(v2c, v2_bad_version_command);
	tcase_add_test(v2c, v2_bad_family);
	tcase_add_test(v2c, v2_block_too_short);
	tcase_add_test(v2c, v2_length_past_buffer);
	tcase_add_test(w, write_v1_text);
	tcase_add_test(w, write_v2_bytes);
	tcase_add_test(w, write_then_parse);
	suite_add_tcase(s, v1);
	suite_add_tcase(s, v2c);
	suite_add_tcase(s, w);
	return shoal_check_run(s);
}
