#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shoal/tls/context.h"

#include "check_run.h"
#include "tls_fixture.h"

static struct tls_fixture f;

static void setup(void)
{
	fixture_init(&f);
}

static void teardown(void)
{
	fixture_cleanup(&f);
}

#define assert_has(text, part) ck_assert_msg(strstr((text), (part)) != NULL, "%s", (text))

START_TEST(versions_have_openssl_names)
{
	enum shoal_tls_version v;

	ck_assert_int_eq(shoal_tls_context_version_parse("TLSv1.2", &v), 0);
	ck_assert_int_eq(v, SHOAL_TLS_1_2);
	ck_assert_int_eq(shoal_tls_context_version_parse("TLSv1.3", &v), 0);
	ck_assert_int_eq(v, SHOAL_TLS_1_3);
	ck_assert_int_eq(shoal_tls_context_version_parse("TLSv1.1", &v), -1);
	ck_assert_int_eq(shoal_tls_context_version_parse("tlsv1.3", &v), -1);
	ck_assert_str_eq(shoal_tls_context_version_name(SHOAL_TLS_1_3), "TLSv1.3");
	ck_assert_str_eq(shoal_tls_context_version_name(SHOAL_TLS_VERSION_NONE), "none");
}
END_TEST

START_TEST(check_passes_a_good_pair_without_a_word)
{
	struct tls_pair pair;
	struct shoal_err warning, err = { "" };

	fixture_self_signed(&f, "a.test", 365 * DAY, &pair);
	ck_assert_msg(shoal_tls_context_check(pair.cert, pair.key, &warning, &err) == 0, "%s",
		      err.msg);
	ck_assert_str_eq(warning.msg, "");
}
END_TEST

START_TEST(check_refuses_a_key_that_does_not_match)
{
	struct tls_pair a, b;
	struct shoal_err warning, err = { "" };

	fixture_self_signed(&f, "a.test", 365 * DAY, &a);
	fixture_self_signed(&f, "b.test", 365 * DAY, &b);
	ck_assert_int_eq(shoal_tls_context_check(a.cert, b.key, &warning, &err), -1);
	assert_has(err.msg, b.key);
	assert_has(err.msg, "does not match the certificate in");
	assert_has(err.msg, a.cert);
	assert_has(err.msg, "key values mismatch");
}
END_TEST

/* A missing file, a directory and a file of no PEM at all: each named, with OpenSSL's why. */
START_TEST(check_names_a_file_that_cannot_be_read)
{
	struct tls_pair pair;
	struct shoal_err warning, err = { "" };
	char missing[PATH_MAX], junk[PATH_MAX];
	FILE *fp;

	fixture_self_signed(&f, "a.test", 365 * DAY, &pair);
	fixture_path(&f, "missing.crt", missing);
	ck_assert_int_eq(shoal_tls_context_check(missing, pair.key, &warning, &err), -1);
	assert_has(err.msg, missing);
	assert_has(err.msg, "cannot load the certificate chain");
	assert_has(err.msg, "No such file");

	ck_assert_int_eq(shoal_tls_context_check(pair.cert, f.dir, &warning, &err), -1);
	assert_has(err.msg, f.dir);
	assert_has(err.msg, "cannot load the private key");

	fixture_path(&f, "junk.crt", junk);
	fp = fopen(junk, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("not a certificate\n", fp);
	fclose(fp);
	ck_assert_int_eq(shoal_tls_context_check(junk, pair.key, &warning, &err), -1);
	assert_has(err.msg, junk);
	assert_has(err.msg, "no start line");
	ck_assert_int_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(check_warns_of_a_certificate_that_expires_soon_or_has)
{
	struct tls_pair soon, gone, fine;
	struct shoal_err warning, err = { "" };

	fixture_self_signed(&f, "soon.test", 10 * DAY - 3600, &soon);
	ck_assert_int_eq(shoal_tls_context_check(soon.cert, soon.key, &warning, &err), 0);
	assert_has(warning.msg, soon.cert);
	assert_has(warning.msg, "expires on");
	assert_has(warning.msg, "in 9 days");

	fixture_self_signed(&f, "gone.test", -3600, &gone);
	ck_assert_int_eq(shoal_tls_context_check(gone.cert, gone.key, &warning, &err), 0);
	assert_has(warning.msg, "expired on");

	fixture_self_signed(&f, "fine.test", 31 * DAY, &fine);
	ck_assert_int_eq(shoal_tls_context_check(fine.cert, fine.key, &warning, &err), 0);
	ck_assert_str_eq(warning.msg, "");
}
END_TEST

/* The answer is the kernel's list of ULPs, read after the question (which, asked by root,
 * loads the kernel's tls module if it has one). */
START_TEST(kernel_tls_is_offered_as_the_kernel_lists_it)
{
	bool offered = shoal_tls_context_kernel_tls();
	char list[256] = "";
	FILE *ulp = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");

	if (ulp) {
		if (!fgets(list, sizeof(list), ulp))
			list[0] = '\0';
		fclose(ulp);
	}
	ck_assert_int_eq(offered, strstr(list, "tls") != NULL);
}
END_TEST

START_TEST(a_server_context_refuses_bad_parameters_by_name)
{
	struct tls_pair pair;
	struct shoal_err err = { "" };
	struct shoal_tls_server_params p = { 0 };

	fixture_self_signed(&f, "a.test", 365 * DAY, &pair);
	p.certificate = pair.cert;
	p.key = pair.key;
	p.ciphers = "NO-SUCH-CIPHER";
	ck_assert_ptr_null(shoal_tls_context_server(&p, &err));
	assert_has(err.msg, "tls ciphers \"NO-SUCH-CIPHER\"");
	p.ciphers = NULL;
	p.ciphersuites = "TLS_NO_SUCH_SUITE";
	ck_assert_ptr_null(shoal_tls_context_server(&p, &err));
	assert_has(err.msg, "TLS_NO_SUCH_SUITE");
	p.ciphersuites = NULL;
	p.min_version = SHOAL_TLS_1_3;
	p.max_version = SHOAL_TLS_1_2;
	ck_assert_ptr_null(shoal_tls_context_server(&p, &err));
	assert_has(err.msg, "TLSv1.3 is above TLSv1.2");
	p.min_version = SHOAL_TLS_VERSION_NONE;
	p.key = f.dir;
	ck_assert_ptr_null(shoal_tls_context_server(&p, &err));
	assert_has(err.msg, f.dir);
	ck_assert_int_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(a_set_refuses_malformed_names_and_other_ticket_keys)
{
	struct shoal_tls_keys *keys = NULL, *other = NULL;
	struct tls_pair pair;
	struct shoal_err err = { "" };
	SSL_CTX *ctx, *stranger;
	struct shoal_tls_context_set *set;
	const char *bad[] = { "", "*", "*.", "a*.test", "*a.test", "*.*.test" };

	ck_assert_int_eq(shoal_tls_keys_create(&keys, NULL), 0);
	ck_assert_int_eq(shoal_tls_keys_create(&other, NULL), 0);
	fixture_self_signed(&f, "a.test", 365 * DAY, &pair);
	ctx = fixture_server_ctx(&pair, keys);
	stranger = fixture_server_ctx(&pair, other);
	set = fixture_set(ctx);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(shoal_tls_context_set_add(set, bad[i], ctx, &err), -1);
		assert_has(err.msg, "not a name");
	}
	ck_assert_int_eq(shoal_tls_context_set_add(set, "b.test", stranger, &err), -1);
	assert_has(err.msg, "other ticket keys");
	ck_assert_int_eq(shoal_tls_context_set_add(set, "*.a.test", ctx, &err), 0);
	shoal_tls_context_set_free(set);
	shoal_tls_context_free(ctx);
	shoal_tls_context_free(stranger);
	shoal_tls_keys_close(keys);
	shoal_tls_keys_close(other);
}
END_TEST

/* One handshake of a test client asking for sni (NULL: none) on set; the CN of the
 * certificate it got into cn. */
static void handshake_cn(const struct shoal_tls_context_set *set, const char *sni, char *cn)
{
	SSL_CTX *client_ctx = fixture_client_ctx(TLS1_3_VERSION);
	struct shoal_tls_conn server;
	bool client_ok;
	int s, c;
	SSL *client;

	fixture_socketpair(&s, &c);
	ck_assert_int_eq(shoal_tls_conn_accept(&server, set, s, NULL), 0);
	client = fixture_client(client_ctx, c, sni, NULL);
	ck_assert_int_eq(fixture_handshake(&server, client, &client_ok), SHOAL_TLS_DONE);
	ck_assert(client_ok);
	fixture_peer_cn(client, cn, 64);
	SSL_free(client);
	close(c);
	shoal_transport_close(&server.transport);
	SSL_CTX_free(client_ctx);
}

/* Exact names first, then the longest pattern, ignoring case; else the fallback. */
START_TEST(sni_picks_the_certificate_of_the_name_asked_for)
{
	const char *names[] = { "a.test", "b.test", "wild.test", "deep.wild.test" };
	const char *patterns[] = { NULL, "b.test", "*.wild.test", "*.deep.wild.test" };
	struct shoal_tls_context_set *set = NULL;
	struct shoal_tls_keys *keys = NULL;
	char cn[64];

	ck_assert_int_eq(shoal_tls_keys_create(&keys, NULL), 0);
	for (int i = 0; i < 4; i++) {
		struct tls_pair pair;
		SSL_CTX *ctx;

		fixture_self_signed(&f, names[i], 365 * DAY, &pair);
		ctx = fixture_server_ctx(&pair, keys);
		if (!set)
			set = fixture_set(ctx);
		else
			ck_assert_int_eq(shoal_tls_context_set_add(set, patterns[i], ctx, NULL), 0);
		shoal_tls_context_free(ctx);
	}
	handshake_cn(set, "b.test", cn);
	ck_assert_str_eq(cn, "b.test");
	handshake_cn(set, "B.Test", cn);
	ck_assert_str_eq(cn, "b.test");
	handshake_cn(set, "x.wild.test", cn);
	ck_assert_str_eq(cn, "wild.test");
	handshake_cn(set, "x.deep.wild.test", cn);
	ck_assert_str_eq(cn, "deep.wild.test");
	handshake_cn(set, "wild.test", cn); /* a pattern needs a label before its suffix */
	ck_assert_str_eq(cn, "a.test");
	handshake_cn(set, "nobody.test", cn);
	ck_assert_str_eq(cn, "a.test");
	handshake_cn(set, NULL, cn);
	ck_assert_str_eq(cn, "a.test");
	shoal_tls_context_set_free(set);
	shoal_tls_keys_close(keys);
}
END_TEST

/* A handshake offering alpn (wire format, NULL: no ALPN); the server's last step, and what
 * the client got selected into selected ("" for nothing). */
static enum shoal_tls_step handshake_alpn(const unsigned char *alpn, size_t len,
					  char *selected, enum shoal_tls_fail *fail)
{
	SSL_CTX *client_ctx = fixture_client_ctx(TLS1_3_VERSION), *ctx;
	struct shoal_tls_context_set *set;
	struct shoal_tls_conn server;
	const unsigned char *got;
	unsigned int got_len;
	enum shoal_tls_step step;
	struct tls_pair pair;
	bool client_ok;
	SSL *client;
	int s, c;

	fixture_self_signed(&f, "a.test", 365 * DAY, &pair);
	ctx = fixture_server_ctx(&pair, NULL);
	set = fixture_set(ctx);
	if (alpn)
		ck_assert_int_eq(SSL_CTX_set_alpn_protos(client_ctx, alpn, (unsigned)len), 0);
	fixture_socketpair(&s, &c);
	ck_assert_int_eq(shoal_tls_conn_accept(&server, set, s, NULL), 0);
	client = fixture_client(client_ctx, c, "a.test", NULL);
	step = fixture_handshake(&server, client, &client_ok);
	SSL_get0_alpn_selected(client, &got, &got_len);
	if (got_len)
		memcpy(selected, got, got_len);
	selected[got_len] = '\0';
	*fail = server.fail;
	SSL_free(client);
	close(c);
	shoal_transport_close(&server.transport);
	shoal_tls_context_set_free(set);
	shoal_tls_context_free(ctx);
	SSL_CTX_free(client_ctx);
	return step;
}

START_TEST(alpn_is_http_1_1_and_nothing_else)
{
	char selected[32];
	enum shoal_tls_fail fail;

	ck_assert_int_eq(handshake_alpn((const unsigned char *)"\x02h2\x08http/1.1", 12,
					selected, &fail),
			 SHOAL_TLS_DONE);
	ck_assert_str_eq(selected, "http/1.1");
	ck_assert_int_eq(handshake_alpn(NULL, 0, selected, &fail), SHOAL_TLS_DONE);
	ck_assert_str_eq(selected, "");
	ck_assert_int_eq(handshake_alpn((const unsigned char *)"\x02h2", 3, selected, &fail),
			 SHOAL_TLS_ERROR);
	ck_assert_int_eq(fail, SHOAL_TLS_FAIL_PROTOCOL);
}
END_TEST

/* An upstream's certificate for upstream.test and 127.0.0.1, signed by a test CA. */
struct upstream_pki {
	char ca[PATH_MAX];
	struct tls_pair signed_pair; /* by the CA */
	struct tls_pair self_pair;   /* the same names, self-signed */
};

static void make_upstream_pki(struct upstream_pki *u)
{
	EVP_PKEY *ca_key = fixture_key(), *key = fixture_key();
	X509 *ca = fixture_cert(ca_key, "Test CA", NULL, true, 365 * DAY, NULL, NULL);
	const char *san = "DNS:upstream.test,IP:127.0.0.1";
	X509 *leaf = fixture_cert(key, "upstream.test", san, false, 365 * DAY, ca, ca_key);
	X509 *self = fixture_cert(key, "upstream.test", san, false, 365 * DAY, NULL, NULL);

	fixture_path(&f, "ca.crt", u->ca);
	fixture_write(u->ca, ca, NULL);
	fixture_save(&f, "upstream", leaf, key, &u->signed_pair);
	fixture_save(&f, "self", self, key, &u->self_pair);
	X509_free(ca);
	X509_free(leaf);
	X509_free(self);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
}

/* What the client's handshake came to besides its step: its verify result and the reason it
 * gives, and the server's failure class. */
struct upstream_outcome {
	long verify;
	const char *reason;
	enum shoal_tls_fail server_fail;
};

/* Our client to our server serving pair, stepped in turn: the client's step, and out. */
static enum shoal_tls_step connect_upstream(SSL_CTX *client_ctx, const char *host,
					    const struct tls_pair *pair,
					    struct upstream_outcome *out)
{
	SSL_CTX *ctx = fixture_server_ctx(pair, NULL);
	struct shoal_tls_context_set *set = fixture_set(ctx);
	struct shoal_tls_conn server, client;
	enum shoal_tls_step s_step = SHOAL_TLS_NEED_READ, c_step = SHOAL_TLS_NEED_WRITE;
	struct shoal_err err = { "" };
	int s, c;

	fixture_socketpair(&s, &c);
	ck_assert_int_eq(shoal_tls_conn_accept(&server, set, s, NULL), 0);
	ck_assert_msg(shoal_tls_conn_connect(&client, client_ctx, host, NULL, c, &err) == 0, "%s",
		      err.msg);
	for (int round = 0; round < 100; round++) {
		if (!fixture_terminal(c_step))
			c_step = shoal_tls_conn_handshake(&client);
		if (!fixture_terminal(s_step))
			s_step = shoal_tls_conn_handshake(&server);
		if (fixture_terminal(c_step) && fixture_terminal(s_step))
			break;
	}
	out->verify = SSL_get_verify_result(client.ssl);
	out->reason = client.reason;
	out->server_fail = server.fail;
	if (c_step == SHOAL_TLS_DONE) {
		const unsigned char *alpn;
		unsigned int len;
		SSL_get0_alpn_selected(client.ssl, &alpn, &len);
		ck_assert_uint_eq(len, 8);
		ck_assert(memcmp(alpn, "http/1.1", 8) == 0);
	}
	shoal_transport_close(&client.transport);
	shoal_transport_close(&server.transport);
	shoal_tls_context_set_free(set);
	shoal_tls_context_free(ctx);
	return c_step;
}

/* One connection of our client with slot to a server of ctx, its handshake stepped in turn,
 * then an answer of the server and the client's read of it (which takes what the server
 * sent after the handshake: TLS 1.3 tickets, which go with the first answer). Whether the
 * client resumed a session. */
static bool connect_with_slot(SSL_CTX *client_ctx, SSL_CTX *ctx,
			      struct shoal_tls_session_slot *slot)
{
	struct shoal_tls_context_set *set = fixture_set(ctx);
	struct shoal_tls_conn server, client;
	enum shoal_tls_step s_step = SHOAL_TLS_NEED_READ, c_step = SHOAL_TLS_NEED_WRITE;
	struct shoal_err err = { "" };
	char buf[64];
	bool resumed;
	int s, c;

	fixture_socketpair(&s, &c);
	ck_assert_int_eq(shoal_tls_conn_accept(&server, set, s, NULL), 0);
	ck_assert_msg(shoal_tls_conn_connect(&client, client_ctx, "upstream.test", slot, c, &err) ==
			      0, "%s", err.msg);
	for (int round = 0; round < 100 && !(fixture_terminal(c_step) && fixture_terminal(s_step));
	     round++) {
		if (!fixture_terminal(c_step))
			c_step = shoal_tls_conn_handshake(&client);
		if (!fixture_terminal(s_step))
			s_step = shoal_tls_conn_handshake(&server);
	}
	ck_assert_int_eq(c_step, SHOAL_TLS_DONE);
	ck_assert_int_eq(s_step, SHOAL_TLS_DONE);
	ck_assert_int_eq(shoal_transport_writev(&server.transport, &(struct iovec){ "ok", 2 }, 1,
						false), 2);
	ck_assert_int_eq(shoal_transport_read(&client.transport, buf, sizeof(buf)), 2);
	resumed = client.resumed;
	ck_assert_int_eq(server.resumed, resumed);
	shoal_transport_close(&client.transport);
	shoal_transport_close(&server.transport);
	shoal_tls_context_set_free(set);
	return resumed;
}

/* A slot keeps the session the server issued: the next connection with it resumes, TLS 1.3
 * (a ticket read after the handshake) and TLS 1.2 alike; another slot has none. */
START_TEST(a_session_slot_resumes_the_next_connection_to_the_server)
{
	struct upstream_pki u;
	struct shoal_err err = { "" };
	struct shoal_tls_keys *keys;
	SSL_CTX *client_ctx;

	make_upstream_pki(&u);
	ck_assert_int_eq(shoal_tls_keys_create(&keys, NULL), 0);
	client_ctx = shoal_tls_context_client(u.ca, &err);
	ck_assert_msg(client_ctx != NULL, "%s", err.msg);
	for (int v = SHOAL_TLS_1_2; v <= SHOAL_TLS_1_3; v++) {
		struct shoal_tls_server_params p = {
			.certificate = u.signed_pair.cert, .key = u.signed_pair.key,
			.min_version = (enum shoal_tls_version)v,
			.max_version = (enum shoal_tls_version)v, .keys = keys,
		};
		struct shoal_tls_session_slot slot = { NULL }, other = { NULL };
		SSL_CTX *ctx = shoal_tls_context_server(&p, &err);

		ck_assert_msg(ctx != NULL, "%s", err.msg);
		ck_assert(!connect_with_slot(client_ctx, ctx, &slot));
		ck_assert_ptr_nonnull(slot.session);
		for (int n = 2; n <= 4; n++)
			ck_assert_msg(connect_with_slot(client_ctx, ctx, &slot),
				      "connection %d, TLS %s, not resumed", n,
				      shoal_tls_context_version_name((enum shoal_tls_version)v));
		ck_assert(!connect_with_slot(client_ctx, ctx, &other));
		ck_assert(!connect_with_slot(client_ctx, ctx, NULL));
		shoal_tls_session_slot_clear(&slot);
		ck_assert_ptr_null(slot.session);
		shoal_tls_session_slot_clear(&other);
		shoal_tls_context_free(ctx);
	}
	shoal_tls_context_free(client_ctx);
	shoal_tls_keys_close(keys);
}
END_TEST

START_TEST(the_client_verifies_the_upstream_against_its_ca_and_name)
{
	struct upstream_pki u;
	struct shoal_err err = { "" };
	SSL_CTX *client_ctx;
	struct upstream_outcome o;

	make_upstream_pki(&u);
	client_ctx = shoal_tls_context_client(u.ca, &err);
	ck_assert_msg(client_ctx != NULL, "%s", err.msg);
	ck_assert_int_eq(connect_upstream(client_ctx, "upstream.test", &u.signed_pair, &o),
			 SHOAL_TLS_DONE);
	ck_assert_int_eq(o.verify, X509_V_OK);
	ck_assert_int_eq(connect_upstream(client_ctx, "127.0.0.1", &u.signed_pair, &o),
			 SHOAL_TLS_DONE);
	/* A wrong name, a wrong address: refused, and the server hears why. */
	ck_assert_int_eq(connect_upstream(client_ctx, "other.test", &u.signed_pair, &o),
			 SHOAL_TLS_ERROR);
	ck_assert_int_eq(o.verify, X509_V_ERR_HOSTNAME_MISMATCH);
	ck_assert_str_eq(o.reason, "hostname mismatch");
	ck_assert_int_eq(o.server_fail, SHOAL_TLS_FAIL_CERTIFICATE);
	ck_assert_int_eq(connect_upstream(client_ctx, "127.0.0.2", &u.signed_pair, &o),
			 SHOAL_TLS_ERROR);
	ck_assert_int_eq(o.verify, X509_V_ERR_IP_ADDRESS_MISMATCH);
	ck_assert_str_eq(o.reason, "IP address mismatch");
	/* The right names, not signed by the CA. */
	ck_assert_int_eq(connect_upstream(client_ctx, "upstream.test", &u.self_pair, &o),
			 SHOAL_TLS_ERROR);
	ck_assert_int_eq(o.verify, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
	ck_assert_str_eq(o.reason, X509_verify_cert_error_string(o.verify));
	ck_assert_int_eq(o.server_fail, SHOAL_TLS_FAIL_CERTIFICATE);
	shoal_tls_context_free(client_ctx);
}
END_TEST

/* tls_verify = false: a certificate of nobody's, for another name, is taken. */
START_TEST(a_client_that_trusts_any_takes_any_certificate)
{
	struct upstream_pki u;
	struct shoal_err err = { "" };
	struct upstream_outcome o;
	SSL_CTX *client_ctx;

	make_upstream_pki(&u);
	client_ctx = shoal_tls_context_client(u.ca, &err);
	ck_assert_msg(client_ctx != NULL, "%s", err.msg);
	shoal_tls_context_client_trust_any(client_ctx);
	ck_assert_int_eq(connect_upstream(client_ctx, "other.test", &u.self_pair, &o),
			 SHOAL_TLS_DONE);
	ck_assert_int_ne(o.verify, X509_V_OK);
	ck_assert_int_eq(connect_upstream(client_ctx, "127.0.0.2", &u.signed_pair, &o),
			 SHOAL_TLS_DONE);
	shoal_tls_context_free(client_ctx);
}
END_TEST

/* The system's store knows no test CA; a CA file that is not there is named. */
START_TEST(the_client_uses_the_system_store_without_a_ca_file)
{
	struct upstream_pki u;
	struct shoal_err err = { "" };
	struct upstream_outcome o;
	SSL_CTX *client_ctx;
	char missing[PATH_MAX];

	make_upstream_pki(&u);
	client_ctx = shoal_tls_context_client(NULL, &err);
	ck_assert_msg(client_ctx != NULL, "%s", err.msg);
	ck_assert_int_eq(connect_upstream(client_ctx, "upstream.test", &u.signed_pair, &o),
			 SHOAL_TLS_ERROR);
	ck_assert_int_eq(o.verify, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	ck_assert_str_eq(o.reason, "unable to get local issuer certificate");
	shoal_tls_context_free(client_ctx);
	fixture_path(&f, "no-ca.crt", missing);
	ck_assert_ptr_null(shoal_tls_context_client(missing, &err));
	assert_has(err.msg, missing);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls_context");
	TCase *check = tcase_create("check");
	TCase *server = tcase_create("server");
	TCase *client = tcase_create("client");

	tcase_add_checked_fixture(check, setup, teardown);
	tcase_add_checked_fixture(server, setup, teardown);
	tcase_add_checked_fixture(client, setup, teardown);
	tcase_add_test(check, versions_have_openssl_names);
	tcase_add_test(check, check_passes_a_good_pair_without_a_word);
	tcase_add_test(check, check_refuses_a_key_that_does_not_match);
	tcase_add_test(check, check_names_a_file_that_cannot_be_read);
	tcase_add_test(check, check_warns_of_a_certificate_that_expires_soon_or_has);
	tcase_add_test(server, kernel_tls_is_offered_as_the_kernel_lists_it);
	tcase_add_test(server, a_server_context_refuses_bad_parameters_by_name);
	tcase_add_test(server, a_set_refuses_malformed_names_and_other_ticket_keys);
	tcase_add_test(server, sni_picks_the_certificate_of_the_name_asked_for);
	tcase_add_test(server, alpn_is_http_1_1_and_nothing_else);
	tcase_add_test(client, the_client_verifies_the_upstream_against_its_ca_and_name);
	tcase_add_test(client, the_client_uses_the_system_store_without_a_ca_file);
	tcase_add_test(client, a_client_that_trusts_any_takes_any_certificate);
	tcase_add_test(client, a_session_slot_resumes_the_next_connection_to_the_server);
	suite_add_tcase(s, check);
	suite_add_tcase(s, server);
	suite_add_tcase(s, client);
	return shoal_check_run(s);
}
