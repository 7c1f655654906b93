/* Upstream connections of a tls group: the group's client context and each server's name,
 * and a connection established event by event (connect, preface in clear, handshake)
 * against a TLS server of the test's own on a loopback listener, or refused with OpenSSL's
 * reason. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "shoal/upstream/conn.h"
#include "shoal/upstream/pool.h"
#include "shoal/upstream/upstream.h"

#include "check_run.h"
#include "loopback.h"
#include "tls_fixture.h"

#define WAIT_MS 2000

static struct tls_fixture pki_dir;

/* A CA, a certificate it signed for 127.0.0.1, and one for the same names signed by nobody. */
struct pki {
	char ca[PATH_MAX];
	struct tls_pair signed_pair, self_pair;
};

static void make_pki(struct pki *k)
{
	EVP_PKEY *ca_key = fixture_key(), *key = fixture_key();
	X509 *ca = fixture_cert(ca_key, "Test CA", NULL, true, 365 * DAY, NULL, NULL);
	X509 *leaf = fixture_cert(key, "upstream", "IP:127.0.0.1", false, 365 * DAY, ca, ca_key);
	X509 *self = fixture_cert(key, "upstream", "IP:127.0.0.1", false, 365 * DAY, NULL, NULL);

	fixture_path(&pki_dir, "ca.crt", k->ca);
	fixture_write(k->ca, ca, NULL);
	fixture_save(&pki_dir, "signed", leaf, key, &k->signed_pair);
	fixture_save(&pki_dir, "self", self, key, &k->self_pair);
	X509_free(ca);
	X509_free(leaf);
	X509_free(self);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
}

static void setup(void)
{
	fixture_init(&pki_dir);
}

static void teardown(void)
{
	fixture_cleanup(&pki_dir);
}

/* One tls group of n servers, the first at a loopback listener the test owns. */
struct up {
	struct shoal_event_loop loop;
	struct shoal_upstream_server_conf servers[3];
	struct shoal_upstream_conf group;
	struct shoal_config cfg;
	struct shoal_upstream_set set;
	int listener;
};

static int up_init(struct up *u, const char *ca, size_t n, struct shoal_err *err)
{
	struct shoal_addr addr;

	memset(u, 0, sizeof(*u));
	ck_assert_int_eq(shoal_event_init(&u->loop, NULL), 0);
	u->listener = loopback_foreign_listener(&addr);
	for (size_t i = 0; i < n; i++)
		u->servers[i] = (struct shoal_upstream_server_conf){ .address = addr, .weight = 1 };
	u->group = (struct shoal_upstream_conf){ .name = "secure", .servers = u->servers,
						 .nservers = n, .keepalive = 4, .tls = true,
						 .tls_ca = (char *)ca, .tls_verify = true };
	u->cfg.upstreams = &u->group;
	u->cfg.nupstreams = 1;
	return shoal_upstream_set_init(&u->set, &u->cfg, NULL, NULL, &u->loop, err);
}

static void up_free(struct up *u)
{
	shoal_upstream_set_free(&u->set);
	shoal_event_close(&u->loop);
	close(u->listener);
}

START_TEST(a_tls_group_has_a_context_and_each_server_its_name)
{
	struct pki k;
	struct up u;
	struct shoal_err err = { "" };
	struct shoal_upstream *g;

	make_pki(&k);
	memset(&u, 0, sizeof(u));
	ck_assert_int_eq(shoal_event_init(&u.loop, NULL), 0);
	u.listener = -1;
	ck_assert_int_eq(shoal_addr_parse("127.0.0.1:9443", &u.servers[0].address, NULL), 0);
	ck_assert_int_eq(shoal_addr_parse("[::1]:443", &u.servers[1].address, NULL), 0);
	u.servers[2].address = u.servers[0].address;
	u.servers[2].host = "app.test:8443";
	u.group = (struct shoal_upstream_conf){ .name = "secure", .servers = u.servers,
						.nservers = 3, .tls = true, .tls_ca = k.ca,
						.tls_verify = true };
	u.cfg.upstreams = &u.group;
	u.cfg.nupstreams = 1;
	ck_assert_msg(shoal_upstream_set_init(&u.set, &u.cfg, NULL, NULL, &u.loop, &err) == 0, "%s",
		      err.msg);
	g = &u.set.groups[0];
	ck_assert_ptr_nonnull(g->tls);
	ck_assert_str_eq(g->servers[0].tls_name, "127.0.0.1");
	ck_assert_str_eq(g->servers[1].tls_name, "::1");
	ck_assert_str_eq(g->servers[2].tls_name, "app.test");
	shoal_upstream_set_free(&u.set);
	/* The group's name stands for every server's. */
	u.group.tls_server_name = "api.internal";
	ck_assert_int_eq(shoal_upstream_set_init(&u.set, &u.cfg, NULL, NULL, &u.loop, &err), 0);
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(u.set.groups[0].servers[i].tls_name, "api.internal");
	shoal_upstream_set_free(&u.set);
	/* Without tls: no context, no names. */
	u.group.tls = false;
	ck_assert_int_eq(shoal_upstream_set_init(&u.set, &u.cfg, NULL, NULL, &u.loop, &err), 0);
	ck_assert_ptr_null(u.set.groups[0].tls);
	ck_assert_ptr_null(u.set.groups[0].servers[0].tls_name);
	shoal_upstream_set_free(&u.set);
	shoal_event_close(&u.loop);
}
END_TEST

START_TEST(a_ca_file_gone_since_the_load_fails_the_set_by_name)
{
	struct up u;
	struct shoal_err err = { "" };
	char missing[PATH_MAX];

	fixture_path(&pki_dir, "gone.crt", missing);
	ck_assert_int_eq(up_init(&u, missing, 1, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "upstream \"secure\""));
	ck_assert_ptr_nonnull(strstr(err.msg, missing));
	shoal_event_close(&u.loop);
	close(u.listener);
}
END_TEST

/* The test's server: the listener's end of the connection, TLS once the preface was read. */
struct peer {
	int fd;
	size_t preface; /* bytes to read in clear first */
	char got[64];
	SSL_CTX *ctx;
	struct shoal_tls_context_set *set;
	struct shoal_tls_conn tls;
	bool started;
	enum shoal_tls_step step;
};

/* What the holder saw: establish's last answer. */
struct holder {
	int result;
	unsigned calls;
};

static void on_event(struct shoal_upstream_conn *uc, uint32_t events)
{
	struct holder *h = uc->holder;

	h->calls++;
	if (h->result == EAGAIN)
		h->result = shoal_upstream_conn_establish(uc, events);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Accepts, reads the preface whole, then steps the server's handshake while it goes on. */
static void peer_step(struct up *u, struct peer *p)
{
	struct pollfd pf = { .fd = u->listener, .events = POLLIN };

	if (p->fd < 0) {
		if (poll(&pf, 1, 0) != 1)
			return;
		p->fd = accept4(u->listener, NULL, NULL, SOCK_NONBLOCK);
		ck_assert_int_ge(p->fd, 0);
	}
	if (!p->started) {
		ssize_t n = recv(p->fd, p->got, p->preface, MSG_PEEK);
		if (p->preface && (n < 0 || (size_t)n < p->preface))
			return;
		if (p->preface)
			ck_assert_int_eq(recv(p->fd, p->got, p->preface, 0), (ssize_t)p->preface);
		ck_assert_int_eq(shoal_tls_conn_accept(&p->tls, p->set, p->fd, NULL), 0);
		p->started = true;
		p->step = SHOAL_TLS_NEED_READ;
	}
	if (!fixture_terminal(p->step))
		p->step = shoal_tls_conn_handshake(&p->tls);
}

/* Runs the loop and the peer until the holder's connection is established or failed. */
static void run(struct up *u, struct peer *p, struct holder *h)
{
	long long deadline = now_ms() + WAIT_MS;

	while (h->result == EAGAIN) {
		int n;
		ck_assert_msg(now_ms() < deadline, "establishing never ended");
		peer_step(u, p);
		n = shoal_event_wait(&u->loop, 5);
		ck_assert_int_ge(n, 0);
		shoal_event_dispatch(&u->loop, n);
	}
	/* The peer's last step (its Finished read) may come after ours. */
	for (int i = 0; i < 50 && p->started && !fixture_terminal(p->step); i++) {
		usleep(2000);
		peer_step(u, p);
	}
}

static void peer_init(struct peer *p, const struct tls_pair *pair, size_t preface)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->preface = preface;
	p->ctx = fixture_server_ctx(pair, NULL);
	p->set = fixture_set(p->ctx);
}

static void peer_free(struct peer *p)
{
	if (p->started)
		shoal_transport_close(&p->tls.transport);
	else if (p->fd >= 0)
		close(p->fd);
	shoal_tls_context_set_free(p->set);
	shoal_tls_context_free(p->ctx);
}

/* Reads exactly len bytes from t, waiting on fd. */
static void read_all(struct shoal_transport *t, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pf = { .fd = t->fd, .events = POLLIN };
		ssize_t n = shoal_transport_read(t, buf + got, len - got);
		if (n < 0 && errno == EAGAIN) {
			ck_assert_int_eq(poll(&pf, 1, WAIT_MS), 1);
			continue;
		}
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
}

START_TEST(a_connection_is_established_after_its_preface_and_handshake)
{
	static const char preface[] = "PROXY UNKNOWN\r\n";
	struct shoal_transport tcp;
	struct shoal_transport *t;
	struct iovec v = { "ping", 4 };
	struct holder h = { .result = EAGAIN };
	struct shoal_upstream_conn *uc;
	struct shoal_upstream_server *s;
	struct peer p;
	struct pki k;
	struct up u;
	char buf[8];

	make_pki(&k);
	ck_assert_int_eq(up_init(&u, k.ca, 1, NULL), 0);
	s = &u.set.groups[0].servers[0];
	peer_init(&p, &k.signed_pair, sizeof(preface) - 1);
	ck_assert_int_eq(shoal_upstream_conn_open(s, on_event, &h, &uc), 0);
	shoal_upstream_conn_preface(uc, preface, sizeof(preface) - 1);
	run(&u, &p, &h);
	ck_assert_int_eq(h.result, 0);
	ck_assert_int_eq(p.step, SHOAL_TLS_DONE);
	ck_assert(memcmp(p.got, preface, sizeof(preface) - 1) == 0);
	ck_assert_ptr_nonnull(uc->tls);
	ck_assert(uc->tls->established);
	/* Bytes go through the transport both ways. */
	t = shoal_upstream_conn_transport(uc, &tcp);
	ck_assert_ptr_eq(t, &uc->tls->transport);
	ck_assert_int_eq(shoal_transport_writev(t, &v, 1, false), 4);
	read_all(&p.tls.transport, buf, 4);
	ck_assert(memcmp(buf, "ping", 4) == 0);
	v.iov_base = "pong";
	ck_assert_int_eq(shoal_transport_writev(&p.tls.transport, &v, 1, false), 4);
	read_all(t, buf, 4);
	ck_assert(memcmp(buf, "pong", 4) == 0);
	ck_assert(shoal_upstream_conn_drained(uc));
	/* Pooled, it stays TLS; the server closing it is noticed and it leaves the pool. */
	uc->requests = 1;
	shoal_upstream_pool_put(uc);
	ck_assert_uint_eq(s->nidle, 1);
	shoal_transport_close(&p.tls.transport);
	p.started = false;
	p.fd = -1;
	for (long long end = now_ms() + WAIT_MS; s->nidle && now_ms() < end;)
		shoal_event_dispatch(&u.loop, shoal_event_wait(&u.loop, 10));
	ck_assert_uint_eq(s->nidle, 0);
	peer_free(&p);
	up_free(&u);
}
END_TEST

START_TEST(a_certificate_from_another_ca_fails_with_the_reason)
{
	struct holder h = { .result = EAGAIN };
	struct shoal_upstream_conn *uc;
	struct peer p;
	struct pki k;
	struct up u;
	char why[128];

	make_pki(&k);
	ck_assert_int_eq(up_init(&u, k.ca, 1, NULL), 0);
	peer_init(&p, &k.self_pair, 0);
	ck_assert_int_eq(shoal_upstream_conn_open(&u.set.groups[0].servers[0], on_event, &h, &uc),
			 0);
	run(&u, &p, &h);
	ck_assert_int_eq(h.result, EPROTO);
	ck_assert_str_eq(shoal_upstream_conn_tls_failure(uc, why, sizeof(why)),
			 "certificate: self-signed certificate");
	ck_assert_int_eq(p.step, SHOAL_TLS_ERROR);
	shoal_upstream_conn_close(uc);
	peer_free(&p);
	up_free(&u);
}
END_TEST

/* A plain group's connection is established once connected: no handshake, no TLS. */
START_TEST(a_plain_connection_is_established_once_connected)
{
	struct holder h = { .result = EAGAIN };
	struct shoal_upstream_conn *uc;
	struct shoal_transport tcp;
	struct pki k;
	struct up u;
	char why[128];
	long long deadline = now_ms() + WAIT_MS;

	make_pki(&k);
	ck_assert_int_eq(up_init(&u, k.ca, 1, NULL), 0);
	shoal_upstream_set_free(&u.set);
	u.group.tls = false;
	ck_assert_int_eq(shoal_upstream_set_init(&u.set, &u.cfg, NULL, NULL, &u.loop, NULL), 0);
	ck_assert_int_eq(shoal_upstream_conn_open(&u.set.groups[0].servers[0], on_event, &h, &uc),
			 0);
	while (h.result == EAGAIN && now_ms() < deadline)
		shoal_event_dispatch(&u.loop, shoal_event_wait(&u.loop, 10));
	ck_assert_int_eq(h.result, 0);
	ck_assert_ptr_null(uc->tls);
	ck_assert_ptr_null(shoal_upstream_conn_tls_failure(uc, why, sizeof(why)));
	ck_assert_ptr_eq(shoal_upstream_conn_transport(uc, &tcp), &tcp);
	ck_assert_int_eq(tcp.fd, uc->ev.fd);
	shoal_upstream_conn_close(uc);
	up_free(&u);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("upstream_tls");
	TCase *tc = tcase_create("tls");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_tls_group_has_a_context_and_each_server_its_name);
	tcase_add_test(tc, a_ca_file_gone_since_the_load_fails_the_set_by_name);
	tcase_add_test(tc, a_connection_is_established_after_its_preface_and_handshake);
	tcase_add_test(tc, a_certificate_from_another_ca_fails_with_the_reason);
	tcase_add_test(tc, a_plain_connection_is_established_once_connected);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
