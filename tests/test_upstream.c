#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shoal/upstream/balancer.h"
#include "shoal/upstream/conn.h"
#include "shoal/upstream/pool.h"
#include "shoal/upstream/upstream.h"

#include "check_run.h"
#include "loopback.h"

/* Every wait on the loop or on a socket gives up after this long: a test fails, never hangs. */
#define WAIT_MS 2000
#define MAX_SERVERS 3
#define MAX_WEIGHT 1000

/* One group of servers, all at the address of a loopback listener the test owns (the
 * balancer never connects; the connection tests accept what they open). */
struct fixture {
	struct shoal_event_loop loop;
	struct shoal_upstream_server_conf servers[MAX_SERVERS];
	struct shoal_upstream_conf group;
	struct shoal_config cfg;
	struct shoal_upstream_set set;
	struct shoal_addr addr;
	int listener; /* -1 once closed */
};

static void fixture_init(struct fixture *f, const int *weights, size_t n, int keepalive)
{
	memset(f, 0, sizeof(*f));
	ck_assert_uint_le(n, MAX_SERVERS);
	ck_assert_int_eq(shoal_event_init(&f->loop, NULL), 0);
	f->listener = loopback_foreign_listener(&f->addr);
	/* Several connections may wait to be accepted: more room than the helper's backlog. */
	ck_assert_int_eq(listen(f->listener, 16), 0);
	for (size_t i = 0; i < n; i++)
		f->servers[i] = (struct shoal_upstream_server_conf){ .address = f->addr,
							    .weight = weights[i] };
	f->group = (struct shoal_upstream_conf){ .name = "backend", .servers = f->servers,
						 .nservers = n, .keepalive = keepalive };
	f->cfg.upstreams = &f->group;
	f->cfg.nupstreams = 1;
	ck_assert_int_eq(shoal_upstream_set_init(&f->set, &f->cfg, NULL, NULL, &f->loop, NULL), 0);
	ck_assert_uint_eq(f->set.ngroups, 1);
}

static void fixture_free(struct fixture *f)
{
	shoal_upstream_set_free(&f->set);
	shoal_event_close(&f->loop);
	if (f->listener >= 0)
		close(f->listener);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Runs the loop until done(arg) holds or WAIT_MS pass; returns whether it holds. */
static bool drive(struct fixture *f, bool (*done)(const void *), const void *arg)
{
	long long deadline = now_ms() + WAIT_MS;

	while (!done(arg)) {
		long long left = deadline - now_ms();
		int n;
		if (left <= 0)
			return false;
		n = shoal_event_wait(&f->loop, (int)left);
		ck_assert_int_ge(n, 0);
		shoal_event_dispatch(&f->loop, n);
	}
	return true;
}

/* What a holder's callback saw. */
struct seen {
	uint32_t events;
	unsigned calls;
};

static void record(struct shoal_upstream_conn *uc, uint32_t events)
{
	struct seen *seen = uc->holder;

	seen->events |= events;
	seen->calls++;
}

static bool saw_out(const void *arg)
{
	return ((const struct seen *)arg)->events & EPOLLOUT;
}

static bool saw_in(const void *arg)
{
	return ((const struct seen *)arg)->events & EPOLLIN;
}

static bool saw_err(const void *arg)
{
	return ((const struct seen *)arg)->events & EPOLLERR;
}

static bool pool_empty(const void *arg)
{
	return ((const struct shoal_upstream_server *)arg)->nidle == 0;
}

static bool pool_has_one(const void *arg)
{
	return ((const struct shoal_upstream_server *)arg)->nidle == 1;
}

static bool readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

/* The listener's end of the connection just opened. */
static int accept_peer(struct fixture *f)
{
	int fd;

	ck_assert(readable(f->listener, WAIT_MS));
	fd = accept(f->listener, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Opens a connection to s, held by seen, and runs the loop until it is connected; returns
 * the peer's end. */
static int open_connected(struct fixture *f, struct shoal_upstream_server *s, struct seen *seen,
			  struct shoal_upstream_conn **uc)
{
	ck_assert_int_eq(shoal_upstream_conn_open(s, record, seen, uc), 0);
	ck_assert_int_ge((*uc)->ev.fd, 0);
	ck_assert(drive(f, saw_out, seen));
	ck_assert_int_eq(shoal_upstream_conn_error(*uc), 0);
	return accept_peer(f);
}

/* The peer sees our side close the socket: the end of the stream, or a reset when the
 * socket was closed with bytes from the peer still unread. */
static void assert_peer_sees_close(int peer)
{
	char c;
	ssize_t n;

	ck_assert(readable(peer, WAIT_MS));
	n = read(peer, &c, 1);
	ck_assert(n == 0 || (n < 0 && errno == ECONNRESET));
	close(peer);
}

/* Nothing to read, not even an end: our side keeps the socket open. */
static void assert_peer_still_open(int peer)
{
	ck_assert(!readable(peer, 0));
}

/* --- balancer ------------------------------------------------------------------------- */

static const struct {
	int weights[MAX_SERVERS];
	size_t n;
} weight_sets[] = {
	{ { 1 }, 1 }, { { 1, 1 }, 2 }, { { 5, 1, 1 }, 3 }, { { 3, 2 }, 2 }, { { 1, MAX_WEIGHT }, 2 },
};

/* Picks n servers of u; picks[i] is the index of the i-th. */
static void pick(struct shoal_upstream *u, unsigned *picks, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct shoal_upstream_pick p = { .now_ms = 1 };
		struct shoal_upstream_server *s = shoal_upstream_select(u, &p);
		ck_assert_uint_lt(s->index, u->nservers);
		ck_assert_ptr_eq(s, &u->servers[s->index]);
		picks[i] = s->index;
	}
}

/* Each server got k times its weight among the first k * total picks, and exactly its
 * weight in every run of total picks, wherever the run starts. */
static void assert_shares(const unsigned *picks, size_t cycles, const int *weights, size_t n,
			  size_t total)
{
	unsigned count[MAX_SERVERS] = { 0 };

	for (size_t i = 0; i < cycles * total; i++) {
		count[picks[i]]++;
		if ((i + 1) % total != 0)
			continue;
		for (size_t j = 0; j < n; j++)
			ck_assert_uint_eq(count[j], (i + 1) / total * (unsigned)weights[j]);
	}
	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < total; i++)
		count[picks[i]]++;
	for (size_t start = 1; start + total <= cycles * total; start++) {
		count[picks[start - 1]]--;
		count[picks[start + total - 1]]++;
		for (size_t j = 0; j < n; j++)
			ck_assert_uint_eq(count[j], (unsigned)weights[j]);
	}
}

START_TEST(rr_gives_each_server_its_weight_share)
{
	struct fixture f;
	const int *w = weight_sets[_i].weights;
	size_t n = weight_sets[_i].n, total = 0, cycles = 3;
	unsigned picks[3 * (MAX_WEIGHT + 1)];
	struct shoal_upstream *u;

	for (size_t j = 0; j < n; j++)
		total += (size_t)w[j];
	fixture_init(&f, w, n, 0);
	u = &f.set.groups[0];
	ck_assert_str_eq(u->balancer->name, "round_robin");
	ck_assert_uint_le(cycles * total, sizeof(picks) / sizeof(picks[0]));
	pick(u, picks, cycles * total);
	assert_shares(picks, cycles, w, n, total);
	fixture_free(&f);
}
END_TEST

START_TEST(rr_spreads_the_heavy_server)
{
	static const int w[] = { 5, 1, 1 };
	/* Smooth weighted round robin over {5, 1, 1}: a a b a c a a, cycle after cycle. */
	static const unsigned expected[] = { 0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0 };
	unsigned picks[14];
	unsigned run = 0, longest = 0;
	struct fixture f;

	fixture_init(&f, w, 3, 0);
	pick(&f.set.groups[0], picks, 14);
	for (size_t i = 0; i < 14; i++)
		ck_assert_uint_eq(picks[i], expected[i]);
	/* Within a cycle the light servers are never picked twice running, and the heavy one
	 * at most twice running (a plain weighted round robin gives a a a a a b c). */
	for (size_t i = 0; i < 7; i++) {
		if (i > 0 && picks[i] != 0)
			ck_assert_uint_ne(picks[i], picks[i - 1]);
		run = picks[i] == 0 ? run + 1 : 0;
		longest = run > longest ? run : longest;
	}
	ck_assert_uint_eq(longest, 2);
	fixture_free(&f);
}
END_TEST

START_TEST(set_init_makes_the_groups_in_config_order)
{
	struct shoal_upstream_server_conf servers[3] = { { .weight = 2 }, { .weight = 3 },
							  { .weight = 4 } };
	struct shoal_upstream_conf groups[2] = {
		{ .name = "one", .servers = servers, .nservers = 1, .keepalive = 1 },
		{ .name = "two", .servers = servers + 1, .nservers = 2, .keepalive = 1 },
	};
	struct shoal_config cfg = { .upstreams = groups, .nupstreams = 2 };
	struct shoal_event_loop loop;
	struct shoal_upstream_set set;

	ck_assert_int_eq(shoal_event_init(&loop, NULL), 0);
	ck_assert_int_eq(shoal_upstream_set_init(&set, &cfg, NULL, NULL, &loop, NULL), 0);
	ck_assert_uint_eq(set.ngroups, 2);
	ck_assert_ptr_eq(set.loop, &loop);
	for (size_t i = 0; i < 2; i++) {
		struct shoal_upstream *u = &set.groups[i];
		ck_assert_ptr_eq(u->conf, &groups[i]);
		ck_assert_ptr_eq(u->set, &set);
		ck_assert_uint_eq(u->nservers, groups[i].nservers);
		for (size_t j = 0; j < u->nservers; j++) {
			ck_assert_ptr_eq(u->servers[j].conf, &groups[i].servers[j]);
			ck_assert_ptr_eq(u->servers[j].group, u);
			ck_assert_uint_eq(u->servers[j].index, j);
			ck_assert_int_eq(u->servers[j].stats_index, -1);
			ck_assert_ptr_null(u->servers[j].idle);
		}
	}
	ck_assert_uint_eq(set.groups[1].nprimaries, 2);
	shoal_upstream_set_free(&set);
	ck_assert_ptr_null(set.groups);
	ck_assert_int_eq(shoal_upstream_set_init(&set, &(struct shoal_config){ 0 }, NULL, NULL,
						 &loop, NULL),
			 0);
	ck_assert_uint_eq(set.ngroups, 0);
	shoal_upstream_set_free(&set);
	shoal_event_close(&loop);
}
END_TEST

/* --- connections ---------------------------------------------------------------------- */

START_TEST(conn_open_connects_and_delivers_events_to_its_holder)
{
	static const int w[] = { 1 };
	struct fixture f;
	struct seen seen = { 0 };
	struct shoal_upstream_conn *uc;
	struct shoal_upstream_server *s;
	int peer;

	fixture_init(&f, w, 1, 1);
	s = &f.set.groups[0].servers[0];
	peer = open_connected(&f, s, &seen, &uc);
	ck_assert_ptr_eq(uc->server, s);
	ck_assert_ptr_eq(uc->holder, &seen);
	ck_assert_uint_eq(uc->requests, 0);
	ck_assert(!uc->idle);
	ck_assert_uint_eq(seen.events & (EPOLLERR | EPOLLHUP | EPOLLIN), 0);
	seen = (struct seen){ 0 };
	ck_assert_int_eq(write(peer, "x", 1), 1);
	ck_assert(drive(&f, saw_in, &seen));
	shoal_upstream_conn_close(uc);
	ck_assert_int_eq(uc->ev.fd, -1);
	ck_assert_ptr_eq(f.set.closed, uc);
	assert_peer_sees_close(peer);
	fixture_free(&f);
}
END_TEST

START_TEST(conn_open_to_a_port_nobody_listens_on_is_refused)
{
	static const int w[] = { 1 };
	struct fixture f;
	struct seen seen = { 0 };
	struct shoal_upstream_conn *uc;

	fixture_init(&f, w, 1, 1);
	close(f.listener); /* the servers' address is now a free port */
	f.listener = -1;
	ck_assert_int_eq(shoal_upstream_conn_open(&f.set.groups[0].servers[0], record, &seen, &uc), 0);
	ck_assert(drive(&f, saw_err, &seen));
	ck_assert_int_eq(shoal_upstream_conn_error(uc), ECONNREFUSED);
	shoal_upstream_conn_close(uc);
	fixture_free(&f);
}
END_TEST

/* Each holder's callback closes the other connection: whichever comes first in the batch,
 * the other's event, already in the batch, must not reach its holder. */
struct pair {
	struct shoal_upstream_conn *uc[2];
	unsigned calls;
};

static void close_the_other(struct shoal_upstream_conn *uc, uint32_t events)
{
	struct pair *p = uc->holder;

	(void)events;
	p->calls++;
	shoal_upstream_conn_close(p->uc[uc == p->uc[0]]);
}

START_TEST(conn_closed_during_a_batch_gets_no_more_events)
{
	static const int w[] = { 1 };
	struct fixture f;
	struct seen seen[2] = { { 0 } };
	struct pair p = { .calls = 0 };
	struct pollfd both[2];
	int peer[2], n;

	fixture_init(&f, w, 1, 1);
	for (size_t i = 0; i < 2; i++)
		peer[i] = open_connected(&f, &f.set.groups[0].servers[0], &seen[i], &p.uc[i]);
	n = shoal_event_wait(&f.loop, 0); /* whatever is left of the connects */
	ck_assert_int_ge(n, 0);
	shoal_event_dispatch(&f.loop, n);
	for (size_t i = 0; i < 2; i++) {
		p.uc[i]->on_event = close_the_other;
		p.uc[i]->holder = &p;
		ck_assert_int_eq(write(peer[i], "x", 1), 1);
		both[i] = (struct pollfd){ .fd = p.uc[i]->ev.fd, .events = POLLIN };
	}
	for (long long deadline = now_ms() + WAIT_MS; poll(both, 2, WAIT_MS) < 2;)
		ck_assert_int_lt(now_ms(), deadline);
	n = shoal_event_wait(&f.loop, WAIT_MS);
	ck_assert_int_eq(n, 2);
	shoal_event_dispatch(&f.loop, n);
	ck_assert_uint_eq(p.calls, 1);
	ck_assert_int_eq((p.uc[0]->ev.fd < 0) + (p.uc[1]->ev.fd < 0), 1);
	for (size_t i = 0; i < 2; i++)
		shoal_upstream_conn_close(p.uc[i]);
	assert_peer_sees_close(peer[0]);
	assert_peer_sees_close(peer[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(closed_structs_are_reused_only_after_recycle)
{
	static const int w[] = { 1 };
	struct fixture f;
	struct seen seen[3] = { { 0 } };
	struct shoal_upstream_conn *a, *b, *c;
	struct shoal_upstream_server *s;

	fixture_init(&f, w, 1, 1);
	s = &f.set.groups[0].servers[0];
	ck_assert_int_eq(shoal_upstream_conn_open(s, record, &seen[0], &a), 0);
	shoal_upstream_conn_close(a);
	ck_assert_ptr_eq(f.set.closed, a);
	ck_assert_ptr_null(f.set.free);
	ck_assert_int_eq(shoal_upstream_conn_open(s, record, &seen[1], &b), 0);
	ck_assert_ptr_ne(b, a);
	ck_assert_ptr_eq(f.set.closed, a);
	shoal_upstream_set_recycle(&f.set);
	ck_assert_ptr_null(f.set.closed);
	ck_assert_ptr_eq(f.set.free, a);
	ck_assert_uint_eq(f.set.nfree, 1);
	ck_assert_int_eq(shoal_upstream_conn_open(s, record, &seen[2], &c), 0);
	ck_assert_ptr_eq(c, a);
	ck_assert_ptr_null(f.set.free);
	ck_assert_uint_eq(f.set.nfree, 0);
	ck_assert_ptr_eq(c->holder, &seen[2]);
	ck_assert_ptr_eq(c->server, s);
	ck_assert_ptr_null(c->next);
	/* The reused struct is registered anew: its events arrive. */
	ck_assert(drive(&f, saw_out, &seen[2]));
	ck_assert_int_eq(shoal_upstream_conn_error(c), 0);
	shoal_upstream_conn_close(b);
	shoal_upstream_conn_close(c);
	fixture_free(&f);
}
END_TEST

/* --- pools ---------------------------------------------------------------------------- */

START_TEST(pool_put_keeps_up_to_keepalive_and_closes_the_rest)
{
	static const int w[] = { 1 };
	struct fixture f;
	struct seen seen[3] = { { 0 } };
	struct shoal_upstream_conn *uc[3];
	struct shoal_upstream_server *s;
	int peer[3], n;

	fixture_init(&f, w, 1, 2);
	s = &f.set.groups[0].servers[0];
	for (size_t i = 0; i < 3; i++)
		peer[i] = open_connected(&f, s, &seen[i], &uc[i]);
	for (size_t i = 0; i < 3; i++)
		shoal_upstream_pool_put(uc[i]);
	ck_assert_uint_eq(s->nidle, 2);
	ck_assert(uc[0]->idle && uc[1]->idle);
	ck_assert_ptr_null(uc[0]->holder);
	ck_assert_int_eq(uc[2]->ev.fd, -1);
	assert_peer_sees_close(peer[2]);
	/* The kept ones stay kept while nothing happens on them. */
	n = shoal_event_wait(&f.loop, 100);
	ck_assert_int_ge(n, 0);
	shoal_event_dispatch(&f.loop, n);
	ck_assert_uint_eq(s->nidle, 2);
	assert_peer_still_open(peer[0]);
	assert_peer_still_open(peer[1]);
	close(peer[0]);
	close(peer[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(pool_put_with_keepalive_0_closes)
{
	static const int w[] = { 1 };
	struct fixture f;
	struct seen seen = { 0 };
	struct shoal_upstream_conn *uc;
	struct shoal_upstream_server *s;
	int peer;

	fixture_init(&f, w, 1, 0);
	s = &f.set.groups[0].servers[0];
	peer = open_connected(&f, s, &seen, &uc);
	shoal_upstream_pool_put(uc);
	ck_assert_uint_eq(s->nidle, 0);
	ck_assert_ptr_null(s->idle);
	ck_assert_int_eq(uc->ev.fd, -1);
	assert_peer_sees_close(peer);
	fixture_free(&f);
}
END_TEST

START_TEST(pool_get_takes_the_last_put_first_then_null)
{
	static const int w[] = { 1 };
	struct fixture f;
	struct seen seen[3] = { { 0 } }, taker = { 0 };
	struct shoal_upstream_conn *uc[3], *got;
	struct shoal_upstream_server *s;
	int peer[3];

	fixture_init(&f, w, 1, 3);
	s = &f.set.groups[0].servers[0];
	ck_assert_ptr_null(shoal_upstream_pool_get(s, record, &taker));
	for (size_t i = 0; i < 3; i++)
		peer[i] = open_connected(&f, s, &seen[i], &uc[i]);
	for (size_t i = 0; i < 3; i++)
		shoal_upstream_pool_put(uc[i]);
	ck_assert_uint_eq(s->nidle, 3);
	for (size_t i = 3; i-- > 0;) {
		got = shoal_upstream_pool_get(s, record, &taker);
		ck_assert_ptr_eq(got, uc[i]);
		ck_assert_uint_eq(s->nidle, i);
		ck_assert(!got->idle);
		ck_assert_ptr_eq(got->holder, &taker);
		ck_assert(got->on_event == record);
		ck_assert_int_ge(got->ev.fd, 0);
	}
	ck_assert_ptr_null(s->idle);
	ck_assert_ptr_null(shoal_upstream_pool_get(s, record, &taker));
	/* Taken and put back, a connection is the first taken again. */
	shoal_upstream_pool_put(uc[0]);
	shoal_upstream_pool_put(uc[2]);
	ck_assert_ptr_eq(shoal_upstream_pool_get(s, record, &taker), uc[2]);
	ck_assert_ptr_eq(shoal_upstream_pool_get(s, record, &taker), uc[0]);
	for (size_t i = 0; i < 3; i++) {
		shoal_upstream_conn_close(uc[i]);
		assert_peer_sees_close(peer[i]);
	}
	fixture_free(&f);
}
END_TEST

START_TEST(pools_are_per_server)
{
	static const int w[] = { 1, 1 };
	struct fixture f;
	struct seen seen[2] = { { 0 } }, taker = { 0 };
	struct shoal_upstream_conn *uc[2];
	struct shoal_upstream *u;
	int peer[2];

	fixture_init(&f, w, 2, 1);
	u = &f.set.groups[0];
	for (size_t i = 0; i < 2; i++)
		peer[i] = open_connected(&f, &u->servers[i], &seen[i], &uc[i]);
	shoal_upstream_pool_put(uc[0]);
	shoal_upstream_pool_put(uc[1]); /* keepalive 1 is per server: both are kept */
	ck_assert_uint_eq(u->servers[0].nidle, 1);
	ck_assert_uint_eq(u->servers[1].nidle, 1);
	ck_assert_ptr_eq(shoal_upstream_pool_get(&u->servers[1], record, &taker), uc[1]);
	ck_assert_ptr_null(shoal_upstream_pool_get(&u->servers[1], record, &taker));
	ck_assert_ptr_eq(shoal_upstream_pool_get(&u->servers[0], record, &taker), uc[0]);
	for (size_t i = 0; i < 2; i++) {
		shoal_upstream_conn_close(uc[i]);
		assert_peer_sees_close(peer[i]);
	}
	fixture_free(&f);
}
END_TEST

/* A client's ends: IPv4 10.0.0.<src_host>:src_port to 10.0.0.9:dst_port. */
static struct shoal_upstream_announce announce(int client_fd, uint8_t src_host,
					       uint16_t src_port, uint16_t dst_port)
{
	struct shoal_upstream_announce a = {
		.ends = { .src_family = AF_INET, .dst_family = AF_INET, .src_port = src_port,
			  .dst_port = dst_port, .src = { 10, 0, 0, src_host },
			  .dst = { 10, 0, 0, 9 } },
		.client_fd = client_fd,
	};

	return a;
}

/* Connections that announced a client serve only requests announcing the same. */
START_TEST(pool_get_announced_matches_the_client)
{
	static const int w[] = { 1 };
	struct fixture f;
	struct seen seen[3] = { { 0 } }, taker = { 0 };
	struct shoal_upstream_conn *uc[3];
	struct shoal_upstream_server *s;
	struct shoal_upstream_announce want;
	int peer[3];

	fixture_init(&f, w, 1, 3);
	s = &f.set.groups[0].servers[0];
	for (size_t i = 0; i < 3; i++)
		peer[i] = open_connected(&f, s, &seen[i], &uc[i]);
	uc[0]->announce = announce(7, 1, 1000, 80);  /* the client connection on socket 7 */
	uc[1]->announce = announce(-1, 2, 2000, 80); /* relayed, to port 80 */
	uc[2]->announce = announce(-1, 2, 2000, 443);
	for (size_t i = 0; i < 3; i++)
		shoal_upstream_pool_put(uc[i]);
	/* Another client socket, another source port or address, another destination: none. */
	want = announce(8, 1, 1000, 80);
	ck_assert_ptr_null(shoal_upstream_pool_get_announced(s, &want, record, &taker));
	want = announce(7, 1, 1001, 80);
	ck_assert_ptr_null(shoal_upstream_pool_get_announced(s, &want, record, &taker));
	want = announce(7, 3, 1000, 80);
	ck_assert_ptr_null(shoal_upstream_pool_get_announced(s, &want, record, &taker));
	want = announce(-1, 2, 2000, 8080);
	ck_assert_ptr_null(shoal_upstream_pool_get_announced(s, &want, record, &taker));
	want = announce(-1, 1, 1000, 80); /* relayed with uc[0]'s ends: not its client socket */
	ck_assert_ptr_null(shoal_upstream_pool_get_announced(s, &want, record, &taker));
	ck_assert_uint_eq(s->nidle, 3);
	/* The client socket's own: its destination is that socket's, whatever want says. */
	want = announce(7, 1, 1000, 0);
	ck_assert_ptr_eq(shoal_upstream_pool_get_announced(s, &want, record, &taker), uc[0]);
	/* Relayed: the one with the same destination, not the most recent. */
	want = announce(-1, 2, 2000, 80);
	ck_assert_ptr_eq(shoal_upstream_pool_get_announced(s, &want, record, &taker), uc[1]);
	ck_assert_ptr_eq(uc[1]->holder, &taker);
	ck_assert(!uc[1]->idle);
	ck_assert_ptr_null(shoal_upstream_pool_get_announced(s, &want, record, &taker));
	ck_assert_uint_eq(s->nidle, 1);
	ck_assert_ptr_eq(s->idle, uc[2]);
	for (size_t i = 0; i < 3; i++)
		close(peer[i]);
	shoal_upstream_conn_close(uc[0]);
	shoal_upstream_conn_close(uc[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(idle_conn_closed_by_the_server_is_dropped)
{
	static const int w[] = { 1 };
	struct fixture f;
	struct seen seen = { 0 }, taker = { 0 };
	struct shoal_upstream_conn *uc;
	struct shoal_upstream_server *s;
	unsigned calls;

	fixture_init(&f, w, 1, 1);
	s = &f.set.groups[0].servers[0];
	close(open_connected(&f, s, &seen, &uc));
	shoal_upstream_pool_put(uc);
	calls = seen.calls;
	ck_assert_uint_eq(s->nidle, 1);
	ck_assert(drive(&f, pool_empty, s));
	ck_assert_ptr_null(s->idle);
	ck_assert_int_eq(uc->ev.fd, -1);
	ck_assert_ptr_eq(f.set.closed, uc);
	ck_assert_ptr_null(shoal_upstream_pool_get(s, record, &taker));
	ck_assert_uint_eq(seen.calls, calls); /* the idle connection's events went to the pool */
	fixture_free(&f);
}
END_TEST

START_TEST(idle_conn_that_receives_bytes_is_dropped)
{
	static const int w[] = { 1 };
	struct fixture f;
	struct seen seen[2] = { { 0 } }, taker = { 0 };
	struct shoal_upstream_conn *uc[2];
	struct shoal_upstream_server *s;
	int peer[2];

	fixture_init(&f, w, 1, 2);
	s = &f.set.groups[0].servers[0];
	for (size_t i = 0; i < 2; i++)
		peer[i] = open_connected(&f, s, &seen[i], &uc[i]);
	shoal_upstream_pool_put(uc[0]);
	shoal_upstream_pool_put(uc[1]);
	ck_assert_int_eq(write(peer[0], "x", 1), 1);
	ck_assert(drive(&f, pool_has_one, s));
	ck_assert_int_eq(uc[0]->ev.fd, -1);
	assert_peer_sees_close(peer[0]);
	ck_assert_ptr_eq(s->idle, uc[1]);
	ck_assert_ptr_null(uc[1]->next);
	ck_assert_ptr_eq(shoal_upstream_pool_get(s, record, &taker), uc[1]);
	ck_assert_ptr_null(shoal_upstream_pool_get(s, record, &taker));
	assert_peer_still_open(peer[1]);
	shoal_upstream_conn_close(uc[1]);
	assert_peer_sees_close(peer[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(set_free_closes_the_idle_connections)
{
	static const int w[] = { 1, 1 };
	struct fixture f;
	struct seen seen[3] = { { 0 } };
	struct shoal_upstream_conn *uc[3];
	struct shoal_upstream *u;
	int peer[3];

	fixture_init(&f, w, 2, 2);
	u = &f.set.groups[0];
	for (size_t i = 0; i < 3; i++) {
		peer[i] = open_connected(&f, &u->servers[i % 2], &seen[i], &uc[i]);
		shoal_upstream_pool_put(uc[i]);
	}
	ck_assert_uint_eq(u->servers[0].nidle + u->servers[1].nidle, 3);
	shoal_upstream_set_free(&f.set);
	ck_assert_ptr_null(f.set.groups);
	ck_assert_uint_eq(f.set.ngroups, 0);
	for (size_t i = 0; i < 3; i++)
		assert_peer_sees_close(peer[i]);
	fixture_free(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("upstream");
	TCase *balancer = tcase_create("balancer");
	TCase *conn = tcase_create("conn");
	TCase *pool = tcase_create("pool");

	tcase_add_loop_test(balancer, rr_gives_each_server_its_weight_share, 0,
			    sizeof(weight_sets) / sizeof(weight_sets[0]));
	tcase_add_test(balancer, rr_spreads_the_heavy_server);
	tcase_add_test(balancer, set_init_makes_the_groups_in_config_order);
	suite_add_tcase(s, balancer);
	tcase_add_test(conn, conn_open_connects_and_delivers_events_to_its_holder);
	tcase_add_test(conn, conn_open_to_a_port_nobody_listens_on_is_refused);
	tcase_add_test(conn, conn_closed_during_a_batch_gets_no_more_events);
	tcase_add_test(conn, closed_structs_are_reused_only_after_recycle);
	suite_add_tcase(s, conn);
	tcase_add_test(pool, pool_put_keeps_up_to_keepalive_and_closes_the_rest);
	tcase_add_test(pool, pool_put_with_keepalive_0_closes);
	tcase_add_test(pool, pool_get_takes_the_last_put_first_then_null);
	tcase_add_test(pool, pools_are_per_server);
	tcase_add_test(pool, pool_get_announced_matches_the_client);
	tcase_add_test(pool, idle_conn_closed_by_the_server_is_dropped);
	tcase_add_test(pool, idle_conn_that_receives_bytes_is_dropped);
	tcase_add_test(pool, set_free_closes_the_idle_connections);
	suite_add_tcase(s, pool);
	return shoal_check_run(s);
}
