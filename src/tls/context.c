#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "shoal/tls/context.h"
#include "shoal/tls/out.h"

/* What a certificate has left before `shoal -t` warns. */
#define EXPIRY_WARN_DAYS 30
/* One ticket per handshake: a browser opens its next connections one at a time or resumes
 * with the ticket it has; each ticket costs a seal and a record. */
#define TICKETS_PER_HANDSHAKE 1
#define TICKET_IV 16 /* AES-256-CBC's */

static const unsigned char ALPN_HTTP11[] = "\x08http/1.1";
static const unsigned char SESSION_CONTEXT[] = "shoal";

struct entry {
	char *name; /* lower case; "*.suffix" for a pattern */
	SSL_CTX *ctx;
};

struct shoal_tls_context_set {
	SSL_CTX *fallback;
	BIO_METHOD *out; /* what its connections write through (shoal/tls/out.h) */
	struct entry *v;
	size_t n, cap;
};

/* OpenSSL's reason for the first error in its queue (the root cause, where a chain of them
 * was queued), which it then empties. */
static const char *ssl_reason(char *buf, size_t cap)
{
	unsigned long e = ERR_get_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	if (why)
		snprintf(buf, cap, "%s", why);
	else if (e)
		ERR_error_string_n(e, buf, cap);
	else
		snprintf(buf, cap, "unknown error");
	ERR_clear_error();
	return buf;
}

static int ssl_err(struct shoal_err *err, const char *what, const char *path)
{
	char why[256];

	return shoal_err_set(err, "%s: %s: %s", path, what, ssl_reason(why, sizeof(why)));
}

int shoal_tls_context_version_parse(const char *name, enum shoal_tls_version *out)
{
	if (strcmp(name, "TLSv1.2") == 0)
		*out = SHOAL_TLS_1_2;
	else if (strcmp(name, "TLSv1.3") == 0)
		*out = SHOAL_TLS_1_3;
	else
		return -1;
	return 0;
}

const char *shoal_tls_context_version_name(enum shoal_tls_version v)
{
	switch (v) {
	case SHOAL_TLS_1_2:
		return "TLSv1.2";
	case SHOAL_TLS_1_3:
		return "TLSv1.3";
	case SHOAL_TLS_VERSION_NONE:
		break;
	}
	return "none";
}

static int openssl_version(enum shoal_tls_version v, int dflt)
{
	return v == SHOAL_TLS_1_2 ? TLS1_2_VERSION : v == SHOAL_TLS_1_3 ? TLS1_3_VERSION : dflt;
}

static bool is_mismatch(unsigned long e)
{
	int why = ERR_GET_REASON(e);

	if (ERR_GET_LIB(e) == ERR_LIB_X509)
		return why == X509_R_KEY_VALUES_MISMATCH || why == X509_R_KEY_TYPE_MISMATCH;
	return ERR_GET_LIB(e) == ERR_LIB_SSL && why == SSL_R_PRIVATE_KEY_MISMATCH;
}

/* The chain and the key into ctx, the key checked against the leaf. */
static int load_pair(SSL_CTX *ctx, const char *certificate, const char *key,
		     struct shoal_err *err)
{
	char why[256];

	if (SSL_CTX_use_certificate_chain_file(ctx, certificate) != 1)
		return ssl_err(err, "cannot load the certificate chain", certificate);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1)
		return 0;
	if (is_mismatch(ERR_peek_error()))
		return shoal_err_set(err, "%s: the key does not match the certificate in %s (%s)",
				     key, certificate, ssl_reason(why, sizeof(why)));
	return ssl_err(err, "cannot load the private key", key);
}

/* Seals a new ticket with the current key (enc), or opens one with the key it names: 1 to
 * go on, 2 to go on and renew the ticket under the current key, 0 for no ticket (sealing)
 * or a full handshake (opening), -1 to fail the handshake. The keys are the context's of
 * the name the client asked for, which are the fallback's (shoal_tls_context_set_add). */
static int on_ticket(SSL *ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
		     EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac, int enc)
{
	const struct shoal_tls_keys *keys = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	enum shoal_tls_keys_found found = SHOAL_TLS_KEYS_CURRENT;
	struct shoal_tls_key key;
	OSSL_PARAM params[3];
	int ok;

	if (enc) {
		if (!shoal_tls_keys_current(keys, &key))
			return 0;
		if (RAND_bytes(iv, TICKET_IV) != 1)
			return -1;
		memcpy(name, key.name, SHOAL_TLS_KEY_NAME);
	} else {
		found = shoal_tls_keys_find(keys, name, &key);
		if (found == SHOAL_TLS_KEYS_UNKNOWN)
			return 0;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac,
						      sizeof(key.hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_CTX_set_params(mac, params) == 1 &&
	     EVP_CipherInit_ex(cipher, EVP_aes_256_cbc(), NULL, key.aes, iv, enc) == 1;
	OPENSSL_cleanse(&key, sizeof(key));
	if (!ok)
		return -1;
	/* 2: resume and issue a new ticket. A TLS 1.3 client uses a ticket once (RFC 8446
	 * C.4; OpenSSL's clients and browsers do), so each resumption must bring the next one,
	 * or every other connection would be a full handshake. A TLS 1.2 ticket is used again:
	 * renewed only when sealed by the previous key, before it stops opening. */
	return found == SHOAL_TLS_KEYS_PREVIOUS || (!enc && SSL_version(ssl) == TLS1_3_VERSION)
		       ? 2
		       : 1;
}

/* http/1.1 when the client offers it; a client that offers only other protocols (h2 alone)
 * is refused with no_application_protocol, as RFC 7301 asks. No ALPN at all is fine. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
		if (in[i] == ALPN_HTTP11[0] && i + 1u + in[i] <= inlen &&
		    memcmp(in + i + 1, ALPN_HTTP11 + 1, ALPN_HTTP11[0]) == 0) {
			*out = in + i + 1;
			*outlen = in[i];
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static bool same_lower(const char *lower, const char *any, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = any[i] >= 'A' && any[i] <= 'Z' ? (char)(any[i] + 32) : any[i];
		if (lower[i] != c)
			return false;
	}
	return true;
}

static SSL_CTX *set_find(const struct shoal_tls_context_set *set, const char *name)
{
	size_t len = strlen(name), best_len = 0;
	SSL_CTX *best = set->fallback;

	for (size_t i = 0; i < set->n; i++) {
		const char *p = set->v[i].name;
		size_t plen = strlen(p);

		if (p[0] != '*') {
			if (plen == len && same_lower(p, name, len))
				return set->v[i].ctx;
		} else if (len > plen - 1 && plen > best_len &&
			   same_lower(p + 1, name + len - (plen - 1), plen - 1)) {
			best = set->v[i].ctx;
			best_len = plen;
		}
	}
	return best;
}

/* The connection's set, attached by shoal_tls_context_set_ssl, picks the certificate. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	const struct shoal_tls_context_set *set = SSL_get_app_data(ssl);
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	SSL_CTX *ctx;

	(void)arg;
	if (!set || !name)
		return SSL_TLSEXT_ERR_OK;
	ctx = set_find(set, name);
	if (ctx != SSL_get_SSL_CTX(ssl) && !SSL_set_SSL_CTX(ssl, ctx)) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

/* What every connection of a context does, client or server: release the 16 KiB record
 * buffers while idle, read ahead (one read(2) for a record's header and body, and for
 * several records), accept a write retried from another address (the caller's bytes may
 * have moved: it re-gathers them), refuse renegotiation, and take a peer's close without
 * close_notify for the end of the stream (most HTTP clients and servers close so). */
static void common_settings(SSL_CTX *ctx)
{
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
}

static int set_versions(SSL_CTX *ctx, enum shoal_tls_version min, enum shoal_tls_version max,
			struct shoal_err *err)
{
	int lo = openssl_version(min, TLS1_2_VERSION), hi = openssl_version(max, TLS1_3_VERSION);

	if (lo > hi)
		return shoal_err_set(err, "tls protocols: %s is above %s",
				     shoal_tls_context_version_name(min),
				     shoal_tls_context_version_name(max));
	if (SSL_CTX_set_min_proto_version(ctx, lo) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, hi) != 1)
		return ssl_err(err, "cannot set the protocol range", "tls protocols");
	return 0;
}

static int set_ciphers(SSL_CTX *ctx, const struct shoal_tls_server_params *p,
		       struct shoal_err *err)
{
	char why[256];

	if (p->ciphers && SSL_CTX_set_cipher_list(ctx, p->ciphers) != 1)
		return shoal_err_set(err, "tls ciphers \"%s\": %s", p->ciphers,
				     ssl_reason(why, sizeof(why)));
	if (p->ciphersuites && SSL_CTX_set_ciphersuites(ctx, p->ciphersuites) != 1)
		return shoal_err_set(err, "tls ciphersuites \"%s\": %s", p->ciphersuites,
				     ssl_reason(why, sizeof(why)));
	if (p->prefer_server_ciphers)
		SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	return 0;
}

int shoal_tls_context_check_ciphers(const char *ciphers, const char *ciphersuites,
				    struct shoal_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[256];
	int rc = 0;

	if (!ctx) {
		ssl_reason(why, sizeof(why));
		return shoal_err_set(err, "cannot make a context: %s", why);
	}
	if ((ciphers && SSL_CTX_set_cipher_list(ctx, ciphers) != 1) ||
	    (ciphersuites && SSL_CTX_set_ciphersuites(ctx, ciphersuites) != 1))
		rc = shoal_err_set(err, "%s", ssl_reason(why, sizeof(why)));
	SSL_CTX_free(ctx);
	return rc;
}

/* Stateless tickets through the ring; no cache: each worker would have its own. */
static void set_tickets(SSL_CTX *ctx, const struct shoal_tls_keys *keys)
{
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* The same on every context, so that a TLS 1.2 session resumes whichever context of a
	 * set made it. */
	SSL_CTX_set_session_id_context(ctx, SESSION_CONTEXT, sizeof(SESSION_CONTEXT) - 1);
	if (!keys) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		return;
	}
	SSL_CTX_set_app_data(ctx, (void *)keys);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
	SSL_CTX_set_num_tickets(ctx, TICKETS_PER_HANDSHAKE);
}

SSL_CTX *shoal_tls_context_server(const struct shoal_tls_server_params *p, struct shoal_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		ssl_err(err, "cannot make a context", p->certificate);
		return NULL;
	}
	common_settings(ctx);
	if (p->kernel_tls)
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	if (load_pair(ctx, p->certificate, p->key, err) < 0 ||
	    set_versions(ctx, p->min_version, p->max_version, err) < 0 ||
	    set_ciphers(ctx, p, err) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	set_tickets(ctx, p->keys);
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
	SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
	return ctx;
}

bool shoal_tls_context_kernel_tls(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool offered;

	if (fd < 0)
		return false;
	/* The ULP is looked up before the socket's state is: a kernel that has it refuses an
	 * unconnected socket (ENOTCONN), one that has not says ENOENT. */
	offered = setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) == 0 || errno != ENOENT;
	close(fd);
	return offered;
}

SSL_CTX *shoal_tls_context_ref(SSL_CTX *ctx)
{
	SSL_CTX_up_ref(ctx);
	return ctx;
}

void shoal_tls_context_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/* A warning when the leaf's notAfter is less than EXPIRY_WARN_DAYS away or past. */
static void check_expiry(SSL_CTX *ctx, const char *certificate, struct shoal_err *warning)
{
	const ASN1_TIME *not_after = X509_get0_notAfter(SSL_CTX_get0_certificate(ctx));
	int days, secs;
	struct tm tm;
	char when[32];

	if (!ASN1_TIME_diff(&days, &secs, NULL, not_after) || !ASN1_TIME_to_tm(not_after, &tm)) {
		ERR_clear_error();
		shoal_err_set(warning, "%s: the certificate's end of validity cannot be read",
			      certificate);
		return;
	}
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (days < 0 || (days == 0 && secs <= 0))
		shoal_err_set(warning, "%s: the certificate expired on %s", certificate, when);
	else if (days < EXPIRY_WARN_DAYS)
		shoal_err_set(warning, "%s: the certificate expires on %s, in %d days", certificate,
			      when, days);
}

int shoal_tls_context_check(const char *certificate, const char *key,
			    struct shoal_err *warning, struct shoal_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	warning->msg[0] = '\0';
	if (!ctx)
		return ssl_err(err, "cannot make a context", certificate);
	if (load_pair(ctx, certificate, key, err) < 0) {
		SSL_CTX_free(ctx);
		return -1;
	}
	check_expiry(ctx, certificate, warning);
	SSL_CTX_free(ctx);
	return 0;
}

struct shoal_tls_context_set *shoal_tls_context_set_new(SSL_CTX *fallback, struct shoal_err *err)
{
	struct shoal_tls_context_set *set = calloc(1, sizeof(*set));

	if (!set) {
		shoal_err_set(err, "tls: out of memory");
		return NULL;
	}
	set->out = shoal_tls_out_method_new();
	if (!set->out) {
		free(set);
		shoal_err_set(err, "tls: out of memory");
		return NULL;
	}
	SSL_CTX_up_ref(fallback);
	set->fallback = fallback;
	return set;
}

struct bio_method_st *shoal_tls_context_set_out(const struct shoal_tls_context_set *set)
{
	return set->out;
}

/* "name" or "*.suffix", with no other '*' and nothing empty. */
static bool name_ok(const char *name)
{
	const char *rest = name[0] == '*' ? name + 1 : name;

	if (name[0] == '*' && (rest[0] != '.' || rest[1] == '\0'))
		return false;
	return rest[0] != '\0' && !strchr(rest, '*');
}

int shoal_tls_context_set_add(struct shoal_tls_context_set *set, const char *name, SSL_CTX *ctx,
			      struct shoal_err *err)
{
	char *copy;

	if (!name_ok(name))
		return shoal_err_set(err, "tls server name \"%s\": not a name nor \"*.suffix\"",
				     name);
	if (SSL_CTX_get_app_data(ctx) != SSL_CTX_get_app_data(set->fallback))
		return shoal_err_set(err, "tls server name \"%s\": its context has other ticket "
				     "keys than the listener's first", name);
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		struct entry *v = realloc(set->v, cap * sizeof(*v));
		if (!v)
			return shoal_err_set(err, "tls: out of memory");
		set->v = v;
		set->cap = cap;
	}
	copy = strdup(name);
	if (!copy)
		return shoal_err_set(err, "tls: out of memory");
	for (char *c = copy; *c; c++)
		*c = *c >= 'A' && *c <= 'Z' ? (char)(*c + 32) : *c;
	SSL_CTX_up_ref(ctx);
	set->v[set->n++] = (struct entry){ copy, ctx };
	return 0;
}

void shoal_tls_context_set_free(struct shoal_tls_context_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		free(set->v[i].name);
		SSL_CTX_free(set->v[i].ctx);
	}
	free(set->v);
	SSL_CTX_free(set->fallback);
	shoal_tls_out_method_free(set->out);
	free(set);
}

SSL *shoal_tls_context_set_ssl(const struct shoal_tls_context_set *set, struct shoal_err *err)
{
	SSL *ssl = SSL_new(set->fallback);

	if (!ssl) {
		ssl_err(err, "cannot make a connection", "tls");
		return NULL;
	}
	SSL_set_app_data(ssl, (void *)set);
	SSL_set_accept_state(ssl);
	return ssl;
}

/* A session the server issued (after a TLS 1.3 handshake, with a ticket; after a TLS 1.2
 * one, at its end) replaces the slot's; 1: the slot keeps OpenSSL's reference. */
static int on_client_session(SSL *ssl, SSL_SESSION *session)
{
	struct shoal_tls_session_slot *slot = SSL_get_app_data(ssl);

	if (!slot)
		return 0;
	shoal_tls_session_slot_clear(slot);
	slot->session = session;
	return 1;
}

void shoal_tls_session_slot_clear(struct shoal_tls_session_slot *slot)
{
	SSL_SESSION_free(slot->session);
	slot->session = NULL;
}

SSL_CTX *shoal_tls_context_client(const char *ca_file, struct shoal_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		ssl_err(err, "cannot make a context", "tls client");
		return NULL;
	}
	common_settings(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file ? SSL_CTX_load_verify_file(ctx, ca_file) != 1
		    : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ssl_err(err, "cannot load the certificate authorities",
			ca_file ? ca_file : "the system's store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (set_versions(ctx, SHOAL_TLS_VERSION_NONE, SHOAL_TLS_VERSION_NONE, err) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* The one setter that returns 0 for success. */
	if (SSL_CTX_set_alpn_protos(ctx, ALPN_HTTP11, sizeof(ALPN_HTTP11) - 1) != 0) {
		ssl_err(err, "cannot offer ALPN", "tls client");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_session_cache_mode(ctx,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, on_client_session);
	return ctx;
}

void shoal_tls_context_client_trust_any(SSL_CTX *client)
{
	SSL_CTX_set_verify(client, SSL_VERIFY_NONE, NULL);
}

static bool is_address(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

SSL *shoal_tls_context_client_ssl(SSL_CTX *client, const char *host,
				  struct shoal_tls_session_slot *slot, struct shoal_err *err)
{
	SSL *ssl = SSL_new(client);
	int ok;

	if (!ssl) {
		ssl_err(err, "cannot make a connection", host);
		return NULL;
	}
	/* RFC 6066: SNI carries names only. */
	if (is_address(host))
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
	else
		ok = SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
	if (!ok) {
		ssl_err(err, "cannot verify the peer as this host", host);
		SSL_free(ssl);
		return NULL;
	}
	if (slot) {
		SSL_set_app_data(ssl, slot);
		if (slot->session && SSL_set_session(ssl, slot->session) != 1)
			ERR_clear_error(); /* a full handshake then */
	}
	SSL_set_connect_state(ssl);
	return ssl;
}
