/* OpenSSL contexts made from plain parameters: the server's (one per certificate), the set of
 * them a listener serves by server name (SNI), the check `shoal -t` runs on a certificate and
 * key, and the client's for HTTPS upstreams.
 *
 * A server context offers ALPN http/1.1 only, keeps no session cache (a prefork server's
 * workers share no memory for one) and resumes sessions with stateless tickets sealed by the
 * shared key ring (shoal/tls/keys.h), TLS 1.2 tickets and TLS 1.3 resumption alike, so that
 * any worker resumes any session. Its connections release their record buffers while idle
 * (idle keep-alive connections are most of a prefork server's), refuse renegotiation, and ask
 * for kernel TLS where the kernel offers it (params.kernel_tls), which it then grants or not
 * per connection (shoal/tls/conn.h).
 *
 * Contexts are OpenSSL's SSL_CTX, reference counted: a set takes its own reference on each;
 * release yours with shoal_tls_context_free. Headers of higher layers need not include
 * OpenSSL's: the types here are OpenSSL's structs, declared and not defined. Every function
 * leaves OpenSSL's error queue empty; its reason goes into err. */
#ifndef SHOAL_TLS_CONTEXT_H
#define SHOAL_TLS_CONTEXT_H

#include <stdbool.h>

#include "shoal/base/error.h"
#include "shoal/tls/keys.h"

struct ssl_ctx_st;     /* OpenSSL's SSL_CTX */
struct ssl_st;         /* OpenSSL's SSL */
struct ssl_session_st; /* OpenSSL's SSL_SESSION */

enum shoal_tls_version {
	SHOAL_TLS_VERSION_NONE, /* in parameters: the default; in an outcome: none, or older */
	SHOAL_TLS_1_2,
	SHOAL_TLS_1_3,
};

struct shoal_tls_server_params {
	const char *certificate; /* PEM: the leaf first, then the chain */
	const char *key;         /* PEM: the leaf's private key */
	enum shoal_tls_version min_version; /* NONE: TLS 1.2 */
	enum shoal_tls_version max_version; /* NONE: TLS 1.3 */
	const char *ciphers;      /* TLS 1.2 cipher list in OpenSSL's syntax; NULL: OpenSSL's */
	const char *ciphersuites; /* TLS 1.3 suites, ':' between; NULL: OpenSSL's */
	bool prefer_server_ciphers;
	/* Ask for kernel TLS: OpenSSL then tries to hand each connection's keys to the kernel
	 * (two setsockopt per connection, failing where the kernel has no tls module; see
	 * shoal_tls_context_kernel_tls). */
	bool kernel_tls;
	/* The ticket keys, which must outlive the context; NULL: no tickets, no resumption. */
	const struct shoal_tls_keys *keys;
};

/* "TLSv1.2" or "TLSv1.3" (OpenSSL's and nginx's names) into *out; -1 for anything else. */
int shoal_tls_context_version_parse(const char *name, enum shoal_tls_version *out);
/* The name of a version ("TLSv1.3"), "none" for NONE: for logs and stats. */
const char *shoal_tls_context_version_name(enum shoal_tls_version v);

/* A new server context, or NULL with err set: a file that does not load, a key that does not
 * match the certificate (both named with OpenSSL's reason), a bad version range or cipher
 * list (named as given). */
struct ssl_ctx_st *shoal_tls_context_server(const struct shoal_tls_server_params *p,
					    struct shoal_err *err);

/* Whether this kernel offers the tls ULP (kernel TLS), asked once with a socket of its own.
 * Run by root, the kernel loads its tls module for the question if it has one (as it would
 * not for a worker that dropped its privileges). */
bool shoal_tls_context_kernel_tls(void);

/* A reference of the caller's own to ctx (a server's or a client's), for a holder that
 * drops it with shoal_tls_context_free like the one it made. Returns ctx. */
struct ssl_ctx_st *shoal_tls_context_ref(struct ssl_ctx_st *ctx);

/* Drops the caller's reference to ctx (a server's or a client's); NULL is ignored. */
void shoal_tls_context_free(struct ssl_ctx_st *ctx);

/* Whether OpenSSL takes ciphers (a TLS 1.2 cipher list) and ciphersuites (TLS 1.3 suites,
 * ':' between), either NULL for unset: 0, or -1 with err set to OpenSSL's reason (without the
 * value: the caller names it). For the configuration, which names the key's own line. */
int shoal_tls_context_check_ciphers(const char *ciphers, const char *ciphersuites,
				    struct shoal_err *err);

/* For `shoal -t`: the chain in certificate and the key in key load and match. 0, with
 * warning->msg set when the leaf has expired or expires within 30 days ("" otherwise), or -1
 * with err set naming the file and OpenSSL's reason. Loads the files each call: not for a
 * worker. */
int shoal_tls_context_check(const char *certificate, const char *key,
			    struct shoal_err *warning, struct shoal_err *err);

/* The contexts one listener serves, chosen by the name a client asks for (SNI): exact names
 * first, then the longest "*.suffix" pattern that matches (any depth, as vhosts match), both
 * ignoring case; no name or an unknown one gets the fallback. The switch is made for the
 * certificate: OpenSSL keeps some settings of the context a connection began with (its
 * protocol range, for one), so give every context of a set the same parameters but the
 * files. Built once before the workers fork, then only read; it must outlive every
 * connection made from it. */
struct shoal_tls_context_set;

/* A set whose fallback is ctx; NULL with err set (out of memory). */
struct shoal_tls_context_set *shoal_tls_context_set_new(struct ssl_ctx_st *fallback,
							 struct shoal_err *err);
/* Serves name ("www.example.com" or "*.example.com") with ctx; the first context added for a
 * name keeps it. -1 with err set: a malformed name, or a context with other ticket keys than
 * the fallback's (a ticket is opened before the name is known and sealed after). */
int shoal_tls_context_set_add(struct shoal_tls_context_set *set, const char *name,
			      struct ssl_ctx_st *ctx, struct shoal_err *err);
void shoal_tls_context_set_free(struct shoal_tls_context_set *set);

/* The method of the BIO a connection of set writes through (shoal/tls/out.h). */
struct bio_method_st *shoal_tls_context_set_out(const struct shoal_tls_context_set *set);

/* A new server-side SSL for one accepted connection of set (shoal_tls_conn_accept calls
 * this); NULL with err set (out of memory). */
struct ssl_st *shoal_tls_context_set_ssl(const struct shoal_tls_context_set *set,
					 struct shoal_err *err);

/* A client context for HTTPS upstreams: TLS 1.2 and 1.3, ALPN http/1.1, the peer's
 * certificate verified against ca_file (PEM, one or more CAs) or, when NULL, the system's
 * store; sessions kept in the callers' slots (no cache of OpenSSL's own). NULL with err set
 * when ca_file does not load. */
struct ssl_ctx_st *shoal_tls_context_client(const char *ca_file, struct shoal_err *err);

/* Turns off the verification of client's peers: any certificate is taken, whoever it names
 * and whoever signed it, and the connections are encrypted but not authenticated (anyone on
 * the path may stand in for the server). Only for tests against servers with throwaway
 * certificates (an upstream group's tls_verify = false). */
void shoal_tls_context_client_trust_any(struct ssl_ctx_st *client);

/* The session a client resumes on its next connection to one server (a TLS 1.3 ticket, or a
 * TLS 1.2 session), so that a new connection to a server it has spoken to costs an
 * abbreviated handshake, as nginx's proxy_ssl_session_reuse does. The caller keeps one per
 * server, zeroed to begin with, and alive as long as connections made with it are open:
 * each session the server issues on one of them replaces the slot's (a ticket may arrive
 * with any read). Sessions are established with the server's certificate verified as
 * host's, so a slot must serve one host name. */
struct shoal_tls_session_slot {
	struct ssl_session_st *session; /* NULL: none yet, a full handshake */
};

/* Lets the slot's session go; the slot is empty and may be used again. */
void shoal_tls_session_slot_clear(struct shoal_tls_session_slot *slot);

/* A new client-side SSL of client for one connection to host, a name or an IP address
 * (without brackets): a name is sent as SNI and must be one the certificate names; an
 * address is not sent and must be one the certificate lists. It offers the session of slot
 * and keeps the sessions the server issues there; slot NULL: none. NULL with err set. */
struct ssl_st *shoal_tls_context_client_ssl(struct ssl_ctx_st *client, const char *host,
					    struct shoal_tls_session_slot *slot,
					    struct shoal_err *err);

#endif
