/* What the TLS tests share: ECDSA P-256 keys and certificates made with OpenSSL's API into a
 * temporary directory (no network, no files in the tree), a test client's SSL over a
 * non-blocking socket, and handshakes stepped in turn, server then client, in one process. */
#ifndef SHOAL_TESTS_TLS_FIXTURE_H
#define SHOAL_TESTS_TLS_FIXTURE_H

#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "shoal/tls/conn.h"
#include "shoal/tls/context.h"
#include "shoal/tls/keys.h"

#define DAY (24L * 3600)

struct tls_fixture {
	char dir[64];
};

/* A certificate and key on disk. */
struct tls_pair {
	char cert[PATH_MAX];
	char key[PATH_MAX];
};

static inline void fixture_init(struct tls_fixture *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/shoal-test-tls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	/* A peer that is gone must be EPIPE, as in a worker. */
	signal(SIGPIPE, SIG_IGN);
}

static inline int fixture_remove(const char *path, const struct stat *st, int flag,
				 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void fixture_cleanup(struct tls_fixture *f)
{
	nftw(f->dir, fixture_remove, 16, FTW_DEPTH | FTW_PHYS);
}

static inline EVP_PKEY *fixture_key(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");

	ck_assert_ptr_nonnull(key);
	return key;
}

static inline void fixture_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for key named cn, valid from a day ago to not_after seconds from now; san
 * ("DNS:a.test,IP:127.0.0.1") if not NULL; signed by issuer's key, or self-signed. */
static inline X509 *fixture_cert(EVP_PKEY *key, const char *cn, const char *san, bool ca,
				 long not_after, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	X509V3_CTX ctx;
	unsigned int serial;

	ck_assert_int_eq(RAND_bytes((unsigned char *)&serial, sizeof(serial)), 1);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(serial >> 1));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), -DAY));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), not_after));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	ck_assert_int_eq(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	if (san)
		fixture_ext(x, &ctx, NID_subject_alt_name, san);
	fixture_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (ca)
		fixture_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	ck_assert_int_gt(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()), 0);
	return x;
}

static inline void fixture_path(const struct tls_fixture *f, const char *file, char *out)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", f->dir, file);

	ck_assert(n > 0 && n < PATH_MAX);
}

static inline void fixture_write(const char *path, X509 *x, EVP_PKEY *key)
{
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	if (x)
		ck_assert_int_eq(PEM_write_X509(fp, x), 1);
	if (key)
		ck_assert_int_eq(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
	ck_assert_int_eq(fclose(fp), 0);
}

/* Writes x and key as NAME.crt and NAME.key into the directory. */
static inline void fixture_save(const struct tls_fixture *f, const char *name, X509 *x,
				EVP_PKEY *key, struct tls_pair *out)
{
	char file[128];

	snprintf(file, sizeof(file), "%s.crt", name);
	fixture_path(f, file, out->cert);
	fixture_write(out->cert, x, NULL);
	snprintf(file, sizeof(file), "%s.key", name);
	fixture_path(f, file, out->key);
	fixture_write(out->key, NULL, key);
}

/* A self-signed certificate for the DNS name name (also its CN), valid for not_after more
 * seconds, and its key, saved under name. */
static inline void fixture_self_signed(const struct tls_fixture *f, const char *name,
				       long not_after, struct tls_pair *out)
{
	EVP_PKEY *key = fixture_key();
	char san[256];
	X509 *x;

	snprintf(san, sizeof(san), "DNS:%s", name);
	x = fixture_cert(key, name, san, false, not_after, NULL, NULL);
	fixture_save(f, name, x, key, out);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* A server context for pair with the default parameters and keys (NULL: no tickets). */
static inline SSL_CTX *fixture_server_ctx(const struct tls_pair *pair,
					  const struct shoal_tls_keys *keys)
{
	struct shoal_tls_server_params p = { .certificate = pair->cert, .key = pair->key,
					     .keys = keys };
	struct shoal_err err = { "" };
	SSL_CTX *ctx = shoal_tls_context_server(&p, &err);

	ck_assert_msg(ctx != NULL, "%s", err.msg);
	return ctx;
}

/* A set of ctx alone, which it holds a reference to (drop yours). */
static inline struct shoal_tls_context_set *fixture_set(SSL_CTX *ctx)
{
	struct shoal_tls_context_set *set = shoal_tls_context_set_new(ctx, NULL);

	ck_assert_ptr_nonnull(set);
	return set;
}

/* A connected pair of non-blocking stream sockets. */
static inline void fixture_socketpair(int *server, int *client)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	*server = sv[0];
	*client = sv[1];
}

/* A test client context: versions up to max_version, no verification (the tests look at
 * the certificate they got). */
static inline SSL_CTX *fixture_client_ctx(int max_version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_set_max_proto_version(ctx, max_version), 1);
	return ctx;
}

static inline SSL *fixture_client(SSL_CTX *ctx, int fd, const char *sni, SSL_SESSION *session)
{
	SSL *ssl = SSL_new(ctx);

	ck_assert_ptr_nonnull(ssl);
	ck_assert_int_eq(SSL_set_fd(ssl, fd), 1);
	if (sni)
		ck_assert_int_eq(SSL_set_tlsext_host_name(ssl, sni), 1);
	if (session)
		ck_assert_int_eq(SSL_set_session(ssl, session), 1);
	SSL_set_connect_state(ssl);
	return ssl;
}

/* Frees a client that keeps its session resumable: OpenSSL takes a session off when its
 * connection is freed without close_notify, as a broken one. */
static inline void fixture_client_free(SSL *client)
{
	SSL_shutdown(client);
	ERR_clear_error();
	SSL_free(client);
}

static inline bool fixture_terminal(enum shoal_tls_step s)
{
	return s == SHOAL_TLS_DONE || s == SHOAL_TLS_ERROR;
}

/* Steps the server's handshake and the client's in turn, each never blocking, until both
 * are over (or a hundred rounds went by: a side that waits for nothing). Returns the
 * server's last step; *client_ok: whether the client's handshake succeeded. */
static inline enum shoal_tls_step fixture_handshake(struct shoal_tls_conn *server, SSL *client,
						    bool *client_ok)
{
	enum shoal_tls_step step = SHOAL_TLS_NEED_READ;
	int r = 0;
	bool client_over = false;

	for (int round = 0; round < 100; round++) {
		if (!fixture_terminal(step))
			step = shoal_tls_conn_handshake(server);
		if (!client_over) {
			r = SSL_do_handshake(client);
			int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(client, r);
			client_over = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
		}
		if (fixture_terminal(step) && (client_over || step == SHOAL_TLS_ERROR))
			break;
	}
	ERR_clear_error();
	*client_ok = r == 1;
	return step;
}

/* Reads exactly len bytes with the test client, waiting for the socket as needed. */
static inline void fixture_client_read(SSL *client, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		size_t n;
		struct pollfd p = { .fd = SSL_get_fd(client), .events = POLLIN };

		if (SSL_read_ex(client, buf + got, len - got, &n)) {
			got += n;
			continue;
		}
		ck_assert_int_eq(SSL_get_error(client, 0), SSL_ERROR_WANT_READ);
		ck_assert_int_eq(poll(&p, 1, 5000), 1);
	}
}

/* The CN of the certificate the client got. */
static inline void fixture_peer_cn(SSL *client, char *cn, int len)
{
	X509 *peer = SSL_get1_peer_certificate(client);

	ck_assert_ptr_nonnull(peer);
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName,
						   cn, len), 0);
	X509_free(peer);
}

#endif
