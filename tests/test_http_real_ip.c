#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shoal/http/real_ip.h"

#include "check_run.h"
#include "kept.h"

#define XFF SHOAL_HTTP_REAL_IP_X_FORWARDED_FOR
#define FWD SHOAL_HTTP_REAL_IP_FORWARDED

static const struct shoal_http_limits limits = {
	.max_request_line = 8192,
	.max_head = 16384,
	.max_headers = 100,
};

static struct shoal_http_request req;
static struct shoal_http_real_ip found;
static int asked; /* addresses the walk asked about */

/* The proxies of these tests: 10.0.0.0/8 and ::1. */
static bool trusted(void *arg, int family, const uint8_t *addr)
{
	static const uint8_t loopback6[16] = { [15] = 1 };

	ck_assert_ptr_eq(arg, &asked);
	asked++;
	if (family == AF_INET)
		return addr[0] == 10;
	ck_assert_int_eq(family, AF_INET6);
	return memcmp(addr, loopback6, 16) == 0;
}

/* Parses a request with fields (whole lines) and walks header over it. */
static bool walk(const char *fields, enum shoal_http_real_ip_header header)
{
	char text[2048];
	size_t len;
	char *copy;

	len = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: h\r\n%s\r\n", fields);
	ck_assert_uint_lt(len, sizeof(text));
	copy = malloc(len);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, text, len);
	keep(copy);
	ck_assert_int_eq(shoal_http_parse_request(copy, len, 0, &limits, &req), (int)len);
	asked = 0;
	memset(&found, 0x5a, sizeof(found));
	return shoal_http_real_ip_find(&req, header, trusted, &asked, &found);
}

/* The walk found addr (a literal) in the element elem of field index field. */
static void assert_found(const char *fields, enum shoal_http_real_ip_header header,
			 const char *addr, size_t field, const char *elem)
{
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	uint8_t want[16] = { 0 };
	struct shoal_http_str v;

	ck_assert_int_eq(inet_pton(family, addr, want), 1);
	ck_assert_msg(walk(fields, header), "%s: nothing found", fields);
	ck_assert_int_eq(found.family, family);
	ck_assert_msg(memcmp(found.addr, want, 16) == 0, "%s: not %s", fields, addr);
	ck_assert_int_eq(found.header, header);
	ck_assert_uint_eq(found.field, field);
	ck_assert_uint_le(found.start, found.end);
	v = req.headers[field].value;
	ck_assert_uint_le(found.end, v.len);
	ck_assert_msg(found.end - found.start == strlen(elem) &&
			      memcmp(v.p + found.start, elem, strlen(elem)) == 0,
		      "%s: element '%.*s', expected '%s'", fields, (int)(found.end - found.start),
		      v.p + found.start, elem);
}

/* No element names the client: the peer stays. */
static void assert_none(const char *fields, enum shoal_http_real_ip_header header)
{
	ck_assert_msg(!walk(fields, header), "%s: found something", fields);
	ck_assert_int_eq(found.family, 0);
}

START_TEST(xff_rightmost_untrusted_is_the_client)
{
	assert_found("X-Forwarded-For: 192.0.2.1\r\n", XFF, "192.0.2.1", 1, "192.0.2.1");
	assert_found("X-Forwarded-For: 203.0.113.9, 192.0.2.1, 10.0.0.2, 10.0.0.1\r\n", XFF,
		     "192.0.2.1", 1, "192.0.2.1");
	/* Nothing left of the client is even looked at. */
	ck_assert_int_eq(asked, 3);
	assert_found("x-forwarded-for: 2001:db8::5, ::1\r\n", XFF, "2001:db8::5", 1,
		     "2001:db8::5");
}
END_TEST

START_TEST(xff_all_trusted_gives_the_leftmost)
{
	assert_found("X-Forwarded-For: 10.0.0.3, 10.0.0.2,10.0.0.1\r\n", XFF, "10.0.0.3", 1,
		     "10.0.0.3");
	ck_assert_int_eq(asked, 3);
}
END_TEST

START_TEST(xff_fields_are_one_list)
{
	assert_found("X-Forwarded-For: 192.0.2.5, 10.0.0.9\r\nAccept: */*\r\n"
		     "X-Forwarded-For: 10.0.0.1\r\n",
		     XFF, "192.0.2.5", 1, "192.0.2.5");
	assert_found("X-Forwarded-For: 192.0.2.5\r\nX-Forwarded-For: 198.51.100.7\r\n", XFF,
		     "198.51.100.7", 2, "198.51.100.7");
	/* The other header is not read. */
	assert_none("Forwarded: for=192.0.2.5\r\n", XFF);
	assert_none("X-Forwarded-Host: 192.0.2.5\r\n", XFF);
	assert_none("", XFF);
}
END_TEST

START_TEST(xff_empty_elements_are_skipped)
{
	assert_found("X-Forwarded-For: 192.0.2.1,, 10.0.0.1 , \r\n", XFF, "192.0.2.1", 1,
		     "192.0.2.1");
	assert_found("X-Forwarded-For: ,192.0.2.1\r\nX-Forwarded-For:\r\n", XFF, "192.0.2.1", 1,
		     "192.0.2.1");
	assert_none("X-Forwarded-For: , ,\r\n", XFF);
}
END_TEST

START_TEST(xff_malformed_element_stops_the_walk)
{
	/* The last trusted hop reached is the client: the client's garbage hides no proxy. */
	assert_found("X-Forwarded-For: 192.0.2.1, garbage, 10.0.0.2, 10.0.0.1\r\n", XFF,
		     "10.0.0.2", 1, "10.0.0.2");
	ck_assert_int_eq(asked, 2);
	/* Malformed at the right end: the peer stays. */
	assert_none("X-Forwarded-For: 192.0.2.1, unknown\r\n", XFF);
	ck_assert_int_eq(asked, 0);
	assert_none("X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 10.0.0.1 10.0.0.2\r\n", XFF);
}
END_TEST

START_TEST(xff_spellings)
{
	assert_found("X-Forwarded-For: 192.0.2.1:4711\r\n", XFF, "192.0.2.1", 1, "192.0.2.1:4711");
	assert_found("X-Forwarded-For: 2001:db8::1\r\n", XFF, "2001:db8::1", 1, "2001:db8::1");
	assert_found("X-Forwarded-For: [2001:db8::1]\r\n", XFF, "2001:db8::1", 1, "[2001:db8::1]");
	assert_found("X-Forwarded-For: [2001:db8::1]:4711, 10.0.0.1:80\r\n", XFF, "2001:db8::1", 1,
		     "[2001:db8::1]:4711");
	assert_found("X-Forwarded-For: ::ffff:192.0.2.1\r\n", XFF, "::ffff:192.0.2.1", 1,
		     "::ffff:192.0.2.1");
}
END_TEST

START_TEST(xff_not_addresses)
{
	static const char *const bad[] = {
		"[2001:db8::1", "2001:db8::1]", "[2001:db8::1]x", "[2001:db8::1]:", "[192.0.2.1]",
		"[]", "192.0.2.1:", "192.0.2.1:123456", "192.0.2.1:80x", "192.0.2.256", "1.2.3",
		"192.0.2.1/24", "host.example", "fe80::1%eth0", "[2001:db8::1]:_p", "_hidden",
		"\"192.0.2.1\"",
	};
	char fields[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(fields, sizeof(fields), "X-Forwarded-For: 192.0.2.9, %s\r\n", bad[i]);
		assert_none(fields, XFF);
	}
}
END_TEST

START_TEST(forwarded_for_parameter)
{
	assert_found("Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43\r\n", FWD,
		     "192.0.2.60", 1, "for=192.0.2.60;proto=http;by=203.0.113.43");
	assert_found("Forwarded: proto=https;For=\"[2001:db8:cafe::17]:4711\"\r\n", FWD,
		     "2001:db8:cafe::17", 1, "proto=https;For=\"[2001:db8:cafe::17]:4711\"");
	assert_found("Forwarded: for=\"[2001:db8::1]\"\r\n", FWD, "2001:db8::1", 1,
		     "for=\"[2001:db8::1]\"");
	assert_found("Forwarded: for=\"192.0.2.1:80\"\r\n", FWD, "192.0.2.1", 1,
		     "for=\"192.0.2.1:80\"");
	assert_found("Forwarded: for=\"192.0.2.1:_p1\"\r\n", FWD, "192.0.2.1", 1,
		     "for=\"192.0.2.1:_p1\"");
	assert_found("Forwarded: for=\"\\192.0.2.1\"\r\n", FWD, "192.0.2.1", 1,
		     "for=\"\\192.0.2.1\"");
	/* Empty pairs and whitespace around ';' are tolerated. */
	assert_found("Forwarded: ;for=192.0.2.1 ;; proto=http;\r\n", FWD, "192.0.2.1", 1,
		     ";for=192.0.2.1 ;; proto=http;");
}
END_TEST

START_TEST(forwarded_chain)
{
	assert_found("Forwarded: for=192.0.2.43, for=198.51.100.17;by=10.0.0.1, for=10.0.0.1\r\n",
		     FWD, "198.51.100.17", 1, "for=198.51.100.17;by=10.0.0.1");
	assert_found("Forwarded: for=192.0.2.43\r\nForwarded: for=\"[::1]\", for=10.0.0.5\r\n",
		     FWD, "192.0.2.43", 1, "for=192.0.2.43");
	assert_found("Forwarded: for=10.0.0.9, for=10.0.0.5\r\n", FWD, "10.0.0.9", 1,
		     "for=10.0.0.9");
	assert_none("X-Forwarded-For: 192.0.2.1\r\n", FWD);
}
END_TEST

START_TEST(forwarded_not_addresses_stop_the_walk)
{
	static const char *const stops[] = {
		"for=unknown", "for=\"unknown\"", "for=_hidden", "for=\"_gazonk\"",
		"for=\"[_x]\"", "proto=https", "", "for=192.0.2.1;for=192.0.2.2",
		"for=[::1]", "for=192.0.2.1:80", "for=\"2001:db8::1\"", "for=\"192.0.2.1\"x",
		"for =192.0.2.1", "for= 192.0.2.1", "for=192.0.2.1 proto=http", "for=",
		"for=\"192.0.2.1", "for=\"192.0.2.1:\"", "=192.0.2.1", "for=\"[::1]:65536x\"",
	};
	char fields[128];

	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		snprintf(fields, sizeof(fields), "Forwarded: for=192.0.2.9, %s, for=10.0.0.1\r\n",
			 stops[i]);
		if (!stops[i][0]) { /* an empty element is skipped, not a stop */
			assert_found(fields, FWD, "192.0.2.9", 1, "for=192.0.2.9");
			continue;
		}
		assert_found(fields, FWD, "10.0.0.1", 1, "for=10.0.0.1");
		ck_assert_int_eq(asked, 1);
	}
}
END_TEST

START_TEST(forwarded_quotes_hide_separators)
{
	/* A ',' in a quoted string is inside the element. */
	assert_found("Forwarded: for=192.0.2.1;note=\"a, for=10.0.0.7\"\r\n", FWD, "192.0.2.1", 1,
		     "for=192.0.2.1;note=\"a, for=10.0.0.7\"");
	ck_assert_int_eq(asked, 1);
	assert_found("Forwarded: for=192.0.2.1;x=\"a\\\",b\\\\\", for=10.0.0.1\r\n", FWD,
		     "192.0.2.1", 1, "for=192.0.2.1;x=\"a\\\",b\\\\\"");
	/* An unterminated quote of the client's cannot swallow what the proxies appended. */
	assert_found("Forwarded: x=\"unterminated, for=10.0.0.1\r\n", FWD, "10.0.0.1", 1,
		     "for=10.0.0.1");
	assert_found("Forwarded: for=192.0.2.1;x=\"a\", for=\"192.0.2.2\"\r\n", FWD,
		     "192.0.2.2", 1, "for=\"192.0.2.2\"");
}
END_TEST

START_TEST(header_names)
{
	enum shoal_http_real_ip_header h = FWD;

	ck_assert(shoal_http_real_ip_header_parse("X-Forwarded-For", &h));
	ck_assert_int_eq(h, XFF);
	ck_assert(shoal_http_real_ip_header_parse("forwarded", &h));
	ck_assert_int_eq(h, FWD);
	ck_assert(shoal_http_real_ip_header_parse("x-forwarded-for", &h));
	ck_assert_int_eq(h, XFF);
	ck_assert(!shoal_http_real_ip_header_parse("X-Real-IP", &h));
	ck_assert(!shoal_http_real_ip_header_parse("", &h));
	ck_assert(!shoal_http_real_ip_header_parse("Forwarded ", &h));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_real_ip");
	TCase *tc = tcase_create("walk");

	tcase_add_checked_fixture(tc, NULL, free_kept);
	tcase_add_test(tc, xff_rightmost_untrusted_is_the_client);
	tcase_add_test(tc, xff_all_trusted_gives_the_leftmost);
	tcase_add_test(tc, xff_fields_are_one_list);
	tcase_add_test(tc, xff_empty_elements_are_skipped);
	tcase_add_test(tc, xff_malformed_element_stops_the_walk);
	tcase_add_test(tc, xff_spellings);
	tcase_add_test(tc, xff_not_addresses);
	tcase_add_test(tc, forwarded_for_parameter);
	tcase_add_test(tc, forwarded_chain);
	tcase_add_test(tc, forwarded_not_addresses_stop_the_walk);
	tcase_add_test(tc, forwarded_quotes_hide_separators);
	tcase_add_test(tc, header_names);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
