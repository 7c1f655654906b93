/* The TLS transport: a connection's bytes encrypted with OpenSSL, behind the operations of
 * shoal/net/transport.h, so that the HTTP code, the proxy and the stats use it as they use
 * plain TCP. The socket is non-blocking and registered edge-triggered by its owner; nothing
 * here blocks or waits.
 *
 * The handshake goes first: shoal_tls_conn_handshake, called again whenever it says, until
 * DONE. read and writev called earlier take the handshake on themselves (EAGAIN while it
 * waits, a broken stream when it fails), so an owner may also just read. Once it is done,
 * read at once: the client's first request may have come with its last handshake record,
 * and no event of the socket will come for it.
 *
 * The operations keep the transport's contracts, with these particulars:
 * - read fills the buffer while the socket or OpenSSL has bytes, and returns early only
 *   once the socket is found empty (a read(2) returned less than asked: the next bytes
 *   raise an event); pending says that decrypted or read-ahead bytes wait inside. A peer's
 *   close_notify, and also a close without one (most HTTP peers close so), read as 0.
 * - writev makes records of up to 16 KiB: pieces smaller than that are gathered into one
 *   record in a 16 KiB buffer on the stack of the call (no memory per connection, no
 *   allocation); a larger piece is encrypted from where it is, and a lone last piece too.
 *   One record, one write(2). OpenSSL holds a record's ciphertext until the socket has
 *   taken it all (16.7 KiB it allocates while a record is under way and frees after:
 *   SSL_MODE_RELEASE_BUFFERS), so after EAGAIN the caller offers the same bytes again.
 *   On a server connection `more` holds a record's last partial segment back for what
 *   follows (MSG_MORE), as for TCP; a client connection sends each record at once.
 * - sendfile sends with SSL_sendfile when the kernel took the connection's sending over
 *   (kernel TLS, which needs the kernel's `tls` ULP); otherwise it fails with EOPNOTSUPP
 *   and the caller copies the file through writev.
 * - cork is TCP_CORK, as for TCP.
 * - shutdown_write sends close_notify, then shuts the socket's sending down; reads go on.
 * - waits_for may say the other direction (TLS 1.3 key updates, a handshake under way).
 * - close frees the SSL and closes the socket, without close_notify.
 * A server connection's session ticket waits for its first answer (shoal/tls/out.h), and
 * its close_notify leaves with the FIN of the close or shutdown that follows it. */
#ifndef SHOAL_TLS_CONN_H
#define SHOAL_TLS_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "shoal/base/error.h"
#include "shoal/net/transport.h"
#include "shoal/tls/context.h"

enum shoal_tls_step {
	SHOAL_TLS_DONE,       /* the handshake is over: read at once */
	SHOAL_TLS_NEED_READ,  /* call again once the socket is readable (a new edge will come) */
	SHOAL_TLS_NEED_WRITE, /* call again once the socket is writable (a new edge will come) */
	SHOAL_TLS_ERROR,      /* failed: fail says why; close the transport */
};

/* Why a handshake failed, for the stats: a class, not OpenSSL's hundreds of reasons. */
enum shoal_tls_fail {
	SHOAL_TLS_FAIL_NONE,
	SHOAL_TLS_FAIL_PROTOCOL,    /* no protocol version, cipher, group or ALPN in common */
	SHOAL_TLS_FAIL_CERTIFICATE, /* a certificate refused: the peer's by us, ours by it */
	SHOAL_TLS_FAIL_GARBAGE,     /* not TLS, or TLS out of order: plain HTTP, a bad record */
	SHOAL_TLS_FAIL_CLOSED,      /* the peer closed or reset the connection mid-handshake */
	SHOAL_TLS_FAIL_TIMEOUT,     /* never set here: for the owner, whose timer it is */
	SHOAL_TLS_FAIL_OTHER,
};

/* Fill with shoal_tls_conn_accept or _connect; then use &transport. It must not move while
 * the transport is open (OpenSSL keeps a pointer to it). */
struct shoal_tls_conn {
	struct shoal_transport transport; /* .fd: the socket */
	struct ssl_st *ssl;               /* OpenSSL's SSL of the connection */
	/* What the handshake came to, for the stats and the logs: valid once it returned DONE
	 * (resumed, version, ktls_send) or ERROR (fail, reason). */
	bool resumed;                   /* an abbreviated handshake: a ticket was accepted */
	bool ktls_send;                 /* the kernel encrypts what is sent (sendfile works) */
	enum shoal_tls_version version; /* the protocol version agreed on */
	enum shoal_tls_fail fail;
	/* OpenSSL's words for a failure, for a log line: the peer's certificate's verification
	 * error ("unable to get local issuer certificate", "hostname mismatch"), else the
	 * error's reason ("wrong version number"); NULL when OpenSSL gave none (the peer
	 * closed). Static text. */
	const char *reason;
	/* The transport's own. */
	bool established;                      /* the handshake returned DONE */
	bool drained;                          /* the last read(2) left the socket empty */
	bool drained_fresh;                    /* the next read keeps drained */
	bool shut;                             /* close_notify is sent */
	enum shoal_transport_dir waits[2];     /* per direction: what its EAGAIN waits for */
	int broken;                            /* the errno due after bytes already returned */
	size_t committed;                      /* a record's plaintext length OpenSSL holds */
	/* Written while a handshake step runs, and after the step that ended a TLS 1.3
	 * handshake until the next write: shoal/tls/out.h. A ticket record is ~255 bytes. */
	bool holding;
	bool more; /* what is written now is followed by more, or by the end: MSG_MORE */
	uint16_t nheld;
	unsigned char held[512];
};

/* Makes c the server side of the accepted socket fd, with the contexts of set (the one its
 * listener serves). 0, or -1 with err set (out of memory), c then unused; either way fd
 * stays the caller's until c is closed. */
int shoal_tls_conn_accept(struct shoal_tls_conn *c, const struct shoal_tls_context_set *set,
			  int fd, struct shoal_err *err);

/* Makes c the client side of the connected socket fd (once a non-blocking connect has
 * finished) to host, a name or an address the certificate must name, offering the session
 * of slot, which keeps those the server issues (NULL: none; shoal_tls_context_client_ssl).
 * 0, or -1 with err set as for accept. */
int shoal_tls_conn_connect(struct shoal_tls_conn *c, struct ssl_ctx_st *client,
			   const char *host, struct shoal_tls_session_slot *slot, int fd,
			   struct shoal_err *err);

/* One step of the handshake, never blocking: what to wait for before the next, DONE (also
 * on every call after), or ERROR with c->fail set. */
enum shoal_tls_step shoal_tls_conn_handshake(struct shoal_tls_conn *c);

/* The caller's next operation on c is a read, in this same turn of its event loop (no event
 * taken in between): that read keeps what the last read(2) found (the socket empty) and
 * spares the read(2) that could only say EAGAIN. For the request that comes with the
 * client's last handshake record, read right after the handshake step that returned DONE. */
void shoal_tls_conn_read_follows(struct shoal_tls_conn *c);

/* Sends close_notify (once), and not the end of the TCP stream: for a connection that is
 * closed right after, whose close says that (shutdown_write would cost a system call more).
 * 0, or -1 with errno as shutdown_write. */
int shoal_tls_conn_close_notify(struct shoal_tls_conn *c);

/* The name of a failure class for logs and stats ("garbage"); "none" for NONE. */
const char *shoal_tls_conn_fail_name(enum shoal_tls_fail fail);

#endif
