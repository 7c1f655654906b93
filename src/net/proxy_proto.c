/* The PROXY protocol header (see the header file). Every step of the parser decides on the
 * bytes it has: a byte that no valid header could hold there refuses at once, so a client
 * that speaks HTTP to a PROXY protocol listener is turned away at its first byte, and "needs
 * more" means a valid header can still follow. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "shoal/net/proxy_proto.h"

#define NEED_MORE (-2)
#define INVALID (-1)

/* Version 2: the signature, then version and command, family and transport, and the
 * big-endian length of what follows these 16 bytes. */
static const char v2_sig[12] = { '\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n' };
#define V2_HEAD 16
#define V2_LOCAL 0x20
#define V2_PROXY 0x21
#define V2_TCP4 0x11
#define V2_TCP6 0x21
#define V2_UNSPEC 0x00

/* Version 1: the longest address text inet_pton takes, "ffff:...:ffff:255.255.255.255". */
#define V1_ADDR_MAX (INET6_ADDRSTRLEN - 1)
#define V1_TCP_AT 11     /* after "PROXY TCP4 " */
#define V1_UNKNOWN_AT 13 /* after "PROXY UNKNOWN" */

/* 0 when buf holds all of lit; NEED_MORE when buf is a proper beginning of it; INVALID when
 * they differ in a byte both have. */
static int match(const char *buf, size_t len, const char *lit, size_t n)
{
	size_t k = len < n ? len : n;

	if (memcmp(buf, lit, k) != 0)
		return INVALID;
	return len < n ? NEED_MORE : 0;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The shortest text that completes t (a NUL-terminated beginning of an address of family)
 * into a valid address, as its length; -1 when none does. These suffixes complete every
 * beginning that can be completed, at its shortest: a group or octet that is valid as it
 * stands, one that needs a digit (after ':' or '.'), a "::" still allowed, and the octets
 * an IPv4 address (or IPv6's dotted tail) still lacks. */
static int addr_completion(const char *t, size_t n, int family)
{
	static const char *const suffixes[] = { "",     ":",     "0",      "::",     ".0",
						"0.0",  ".0.0",  "0.0.0",  ".0.0.0", "0.0.0.0" };
	char text[V1_ADDR_MAX + 8];
	uint8_t bin[16];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t m = strlen(suffixes[i]);

		if (n + m > V1_ADDR_MAX)
			break;
		memcpy(text, t, n);
		memcpy(text + n, suffixes[i], m + 1);
		if (inet_pton(family, text, bin) == 1)
			return (int)m;
	}
	return -1;
}

/* Reads the address of family at buf[*pos..), ended by a space, into addr and moves *pos
 * past the space. 0, INVALID, or NEED_MORE with *need the fewest bytes that finish it. */
static int v1_addr(const char *buf, size_t len, size_t *pos, int family, uint8_t *addr,
		   size_t *need)
{
	const char *chars = family == AF_INET ? "0123456789." : "0123456789abcdefABCDEF:.";
	size_t max = family == AF_INET ? INET_ADDRSTRLEN - 1 : V1_ADDR_MAX;
	size_t start = *pos, end = start;
	char text[V1_ADDR_MAX + 1];
	int more;

	while (end < len && end - start <= max && buf[end] != ' ' && buf[end] != '\0' &&
	       strchr(chars, buf[end]))
		end++;
	if (end - start > max)
		return INVALID;
	memcpy(text, buf + start, end - start);
	text[end - start] = '\0';
	if (end == len) {
		more = addr_completion(text, end - start, family);
		*need = (size_t)more + 1;
		return more < 0 ? INVALID : NEED_MORE;
	}
	if (buf[end] != ' ' || inet_pton(family, text, addr) != 1)
		return INVALID;
	*pos = end + 1;
	return 0;
}

/* Reads a decimal port at buf[*pos..) ended by term: 0 to 65535, no leading zero. */
static int v1_port(const char *buf, size_t len, size_t *pos, char term, uint16_t *port,
		   size_t *need)
{
	size_t p = *pos;
	unsigned v = 0;

	for (; p < len && buf[p] >= '0' && buf[p] <= '9'; p++) {
		if (p > *pos && v == 0)
			return INVALID;
		v = v * 10 + (unsigned)(buf[p] - '0');
		if (v > 65535)
			return INVALID;
	}
	if (p == len) {
		*need = p > *pos ? 1 : 2;
		return NEED_MORE;
	}
	if (p == *pos || buf[p] != term)
		return INVALID;
	*port = (uint16_t)v;
	*pos = p + 1;
	return 0;
}

/* The fields after "PROXY TCP4 " or "PROXY TCP6 ". Each field is checked against the room
 * the line has left for it and for the shortest rest of the line after it. */
static int v1_tcp(const char *buf, size_t len, int family, struct shoal_proxy_proto_addrs *a)
{
	/* The shortest line after each field: "0.0.0.0 0 0\r\n" or ":: 0 0\r\n", "0 0\r\n"... */
	const size_t rest[4] = { family == AF_INET ? 13 : 8, 5, 3, 1 };
	size_t pos = V1_TCP_AT;

	for (int f = 0; f < 4; f++) {
		size_t need = 0;
		int rc = f < 2 ? v1_addr(buf, len, &pos, family, f ? a->dst : a->src, &need)
			       : v1_port(buf, len, &pos, f == 2 ? ' ' : '\r',
					 f == 2 ? &a->src_port : &a->dst_port, &need);

		if (rc == NEED_MORE)
			return len + need + rest[f] > SHOAL_PROXY_PROTO_V1_MAX ? INVALID : NEED_MORE;
		if (rc < 0 || pos + rest[f] > SHOAL_PROXY_PROTO_V1_MAX)
			return INVALID;
	}
	if (pos == len)
		return NEED_MORE;
	if (buf[pos] != '\n')
		return INVALID;
	a->src_family = a->dst_family = (uint8_t)family;
	return (int)pos + 1;
}

/* "PROXY UNKNOWN" then "\r\n", or a space and anything but a line end up to "\r\n". */
static int v1_unknown(const char *buf, size_t len)
{
	size_t pos = V1_UNKNOWN_AT;

	if (pos < len && buf[pos] == ' ') {
		pos++;
		while (pos < len && pos < SHOAL_PROXY_PROTO_V1_MAX && buf[pos] != '\r' &&
		       buf[pos] != '\n')
			pos++;
	}
	if (pos + 2 > SHOAL_PROXY_PROTO_V1_MAX)
		return INVALID;
	if (pos == len)
		return NEED_MORE;
	if (buf[pos] != '\r')
		return INVALID;
	if (pos + 1 == len)
		return NEED_MORE;
	return buf[pos + 1] == '\n' ? (int)pos + 2 : INVALID;
}

static int v1_parse(const char *buf, size_t len, struct shoal_proxy_proto *out)
{
	static const char *const protos[] = { "TCP4 ", "TCP6 ", "UNKNOWN" };
	static const int families[] = { AF_INET, AF_INET6, AF_UNSPEC };
	struct shoal_proxy_proto p = { .version = 1 };
	int rc = match(buf, len, "PROXY ", 6), partial = 0, n;

	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		rc = match(buf + 6, len - 6, protos[i], strlen(protos[i]));
		if (rc == NEED_MORE)
			partial = 1;
		if (rc)
			continue;
		p.local = families[i] == AF_UNSPEC;
		n = p.local ? v1_unknown(buf, len) : v1_tcp(buf, len, families[i], &p.addrs);
		if (n > 0)
			*out = p;
		return n;
	}
	return partial ? NEED_MORE : INVALID;
}

/* The address block's size for a family and transport byte; -1 for one outside the spec. */
static int v2_addr_len(uint8_t fam)
{
	switch (fam) {
	case V2_UNSPEC:
		return 0;
	case V2_TCP4:
	case 0x12: /* UDP over IPv4 */
		return 12;
	case V2_TCP6:
	case 0x22: /* UDP over IPv6 */
		return 36;
	case 0x31: /* UNIX stream */
	case 0x32: /* UNIX datagram */
		return 216;
	default:
		return -1;
	}
}

/* The TLVs at b[p..total) must tile it exactly; a TLV whose announced end is past total
 * refuses as soon as its length is read. */
static int v2_tlvs(const uint8_t *b, size_t len, size_t p, size_t total)
{
	while (p < total) {
		if (total - p < 3)
			return INVALID;
		if (p + 3 > len)
			return NEED_MORE;
		p += 3 + (size_t)be16(b + p + 1);
		if (p > total)
			return INVALID;
	}
	return len < total ? NEED_MORE : 0;
}

static void v2_addrs(const uint8_t *b, struct shoal_proxy_proto *p)
{
	size_t n = b[13] == V2_TCP4 ? 4 : 16;
	const uint8_t *at = b + V2_HEAD;

	if (b[12] != V2_PROXY || (b[13] != V2_TCP4 && b[13] != V2_TCP6)) {
		p->local = true;
		return;
	}
	p->addrs.src_family = p->addrs.dst_family = n == 4 ? AF_INET : AF_INET6;
	memcpy(p->addrs.src, at, n);
	memcpy(p->addrs.dst, at + n, n);
	p->addrs.src_port = be16(at + 2 * n);
	p->addrs.dst_port = be16(at + 2 * n + 2);
}

static int v2_parse(const uint8_t *b, size_t len, struct shoal_proxy_proto *out)
{
	struct shoal_proxy_proto p = { .version = 2 };
	int rc = match((const char *)b, len, v2_sig, sizeof(v2_sig)), alen;
	size_t total;

	if (rc)
		return rc;
	if (len < 13)
		return NEED_MORE;
	if (b[12] != V2_LOCAL && b[12] != V2_PROXY)
		return INVALID;
	if (len < V2_HEAD)
		return b[12] == V2_PROXY && len >= 14 && v2_addr_len(b[13]) < 0 ? INVALID : NEED_MORE;
	total = V2_HEAD + (size_t)be16(b + 14);
	/* The spec has the receiver of LOCAL discard the block, the family byte included:
	 * whatever a balancer puts there (HAProxy does not check it either) is skipped. */
	if (b[12] == V2_LOCAL) {
		if (len < total)
			return NEED_MORE;
		*out = (struct shoal_proxy_proto){ .version = 2, .local = true };
		return (int)total;
	}
	if ((alen = v2_addr_len(b[13])) < 0)
		return INVALID;
	if (total < V2_HEAD + (size_t)alen)
		return INVALID;
	if ((rc = v2_tlvs(b, len, V2_HEAD + (size_t)alen, total)) != 0)
		return rc;
	v2_addrs(b, &p);
	*out = p;
	return (int)total;
}

int shoal_proxy_proto_parse(const char *buf, size_t len, struct shoal_proxy_proto *out)
{
	if (len == 0)
		return NEED_MORE;
	if (buf[0] == 'P')
		return v1_parse(buf, len, out);
	if (buf[0] == '\r')
		return v2_parse((const uint8_t *)buf, len, out);
	return INVALID;
}

/* Both ends in one family: as given, or both IPv6 with the IPv4 one mapped. False when
 * either end has no address. */
static bool one_family(const struct shoal_proxy_proto_addrs *a, struct shoal_proxy_proto_addrs *n)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	bool src4 = a->src_family == AF_INET, dst4 = a->dst_family == AF_INET;

	if ((!src4 && a->src_family != AF_INET6) || (!dst4 && a->dst_family != AF_INET6))
		return false;
	*n = *a;
	if (src4 == dst4)
		return true;
	n->src_family = n->dst_family = AF_INET6;
	memcpy(src4 ? n->src : n->dst, mapped, sizeof(mapped));
	memcpy((src4 ? n->src : n->dst) + 12, src4 ? a->src : a->dst, 4);
	return true;
}

static size_t put_text(char *out, const char *s)
{
	size_t n = strlen(s);

	memcpy(out, s, n);
	return n;
}

static size_t put_port(char *out, uint16_t port)
{
	char digits[5];
	size_t n = 0;

	do
		digits[n++] = (char)('0' + port % 10);
	while ((port /= 10) != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	return n;
}

/* At most "PROXY TCP6 " + two addresses of 39 bytes (inet_ntop writes an IPv4-mapped one
 * in 22) + two ports + spaces and "\r\n": 104 bytes. */
static size_t write_v1(char *out, const struct shoal_proxy_proto_addrs *n)
{
	char text[INET6_ADDRSTRLEN];
	size_t pos;

	if (!n)
		return put_text(out, "PROXY UNKNOWN\r\n");
	pos = put_text(out, n->src_family == AF_INET ? "PROXY TCP4 " : "PROXY TCP6 ");
	pos += put_text(out + pos, inet_ntop(n->src_family, n->src, text, sizeof(text)));
	out[pos++] = ' ';
	pos += put_text(out + pos, inet_ntop(n->dst_family, n->dst, text, sizeof(text)));
	out[pos++] = ' ';
	pos += put_port(out + pos, n->src_port);
	out[pos++] = ' ';
	pos += put_port(out + pos, n->dst_port);
	return pos + put_text(out + pos, "\r\n");
}

static size_t write_v2(uint8_t *out, const struct shoal_proxy_proto_addrs *n)
{
	size_t alen = !n ? 0 : n->src_family == AF_INET ? 4 : 16;
	uint8_t *at = out + V2_HEAD;

	memcpy(out, v2_sig, sizeof(v2_sig));
	out[12] = n ? V2_PROXY : V2_LOCAL;
	out[13] = !n ? V2_UNSPEC : alen == 4 ? V2_TCP4 : V2_TCP6;
	out[14] = 0;
	out[15] = (uint8_t)(n ? 2 * alen + 4 : 0);
	if (!n)
		return V2_HEAD;
	memcpy(at, n->src, alen);
	memcpy(at + alen, n->dst, alen);
	at[2 * alen] = (uint8_t)(n->src_port >> 8);
	at[2 * alen + 1] = (uint8_t)n->src_port;
	at[2 * alen + 2] = (uint8_t)(n->dst_port >> 8);
	at[2 * alen + 3] = (uint8_t)n->dst_port;
	return V2_HEAD + 2 * alen + 4;
}

size_t shoal_proxy_proto_write(char out[static SHOAL_PROXY_PROTO_WRITE_MAX], int version,
			       const struct shoal_proxy_proto_addrs *a)
{
	struct shoal_proxy_proto_addrs n;
	const struct shoal_proxy_proto_addrs *ends = one_family(a, &n) ? &n : NULL;

	if (version == 1)
		return write_v1(out, ends);
	return write_v2((uint8_t *)out, ends);
}
