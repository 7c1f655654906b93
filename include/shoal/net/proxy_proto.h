/* The PROXY protocol (HAProxy's "proxy-protocol.txt", versions 1 and 2): the header a load
 * balancer sends first on a connection it relays, naming the client it came from and the
 * address that client connected to; read on listeners that ask for it, written on upstream
 * connections that announce their client. Pure: no I/O, no allocation.
 *
 * Parsing follows the calling convention of shoal's other leaf parsers: it is given
 * everything read so far and says how many bytes the header took, that it needs more, or
 * that the bytes are no header. It never looks past the header's own length, so what follows
 * (the client's first request) stays the caller's. */
#ifndef SHOAL_NET_PROXY_PROTO_H
#define SHOAL_NET_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest version 1 header, "PROXY TCP6 <39> <39> 65535 65535\r\n", per the spec. */
#define SHOAL_PROXY_PROTO_V1_MAX 107
/* Room for any header this writer makes: a version 1 line takes at most 104 bytes (two IPv6
 * addresses of 39), a version 2 header 52 (16 bytes, two IPv6 addresses and ports, no TLV). */
#define SHOAL_PROXY_PROTO_WRITE_MAX SHOAL_PROXY_PROTO_V1_MAX

/* Both ends of the relayed connection. */
struct shoal_proxy_proto_addrs {
	uint8_t src_family; /* AF_INET, AF_INET6, or AF_UNSPEC: no address given */
	uint8_t dst_family; /* as src_family; the parser sets both the same */
	uint16_t src_port;  /* host byte order */
	uint16_t dst_port;
	uint8_t src[16]; /* 4 bytes for AF_INET, 16 for AF_INET6 */
	uint8_t dst[16];
};

struct shoal_proxy_proto {
	uint8_t version; /* 1 or 2 */
	/* No client to take: a version 2 LOCAL command (the balancer's own health check), a
	 * version 1 "UNKNOWN", or a family other than TCP over IPv4/IPv6 (UNIX, UDP, UNSPEC).
	 * The connection's own endpoints apply; addrs says AF_UNSPEC. */
	bool local;
	struct shoal_proxy_proto_addrs addrs;
};

/* Parses the header at buf[0..len), the first bytes of a connection. Returns the header's
 * length (> 0; the bytes after it are the client's), -2 when buf is a proper beginning of a
 * header and more bytes are needed, or -1 when it is no valid header: a bad signature or
 * version, a command, family or transport byte outside the spec, a version 1 line over
 * SHOAL_PROXY_PROTO_V1_MAX bytes or with a malformed address, port or separator, a version 2
 * address block shorter than its family needs, or TLVs that overrun the header's length
 * (TLVs are otherwise skipped, not interpreted). A version 2 LOCAL header's block is discarded
 * whole, its family byte included, as the spec has the receiver do. A caller whose buffer is full while the
 * answer is still -2 refuses the connection: a version 2 header may announce up to 64 KiB.
 * out is written only on success. */
int shoal_proxy_proto_parse(const char *buf, size_t len, struct shoal_proxy_proto *out);

/* Writes the header announcing a: version 1 ("PROXY TCP4 ...\r\n", "PROXY TCP6
 * ...\r\n", "PROXY UNKNOWN\r\n" when either family is AF_UNSPEC) or version 2 (PROXY
 * command over TCP; LOCAL when either family is AF_UNSPEC). Ends of different families are
 * both written as IPv6, the IPv4 one mapped (::ffff:a.b.c.d), since a header has one family.
 * Returns the length written, at most SHOAL_PROXY_PROTO_WRITE_MAX. */
size_t shoal_proxy_proto_write(char out[static SHOAL_PROXY_PROTO_WRITE_MAX], int version,
			       const struct shoal_proxy_proto_addrs *a);

#endif
