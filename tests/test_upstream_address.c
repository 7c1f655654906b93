/* Where a worker's connections to an upstream server go: a server given by name takes the
 * addresses of its published set in turn, and a pooled connection to a replaced set is not
 * reused; a server given by address is untouched by any of it. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/state/upstream.h"
#include "shoal/upstream/address.h"
#include "shoal/upstream/conn.h"
#include "shoal/upstream/pool.h"
#include "shoal/upstream/upstream.h"

#include "check_run.h"
#include "loopback.h"

#define WAIT_MS 2000
/* Listeners: 0 is the address the name had at load, 1 and 2 the set published later. */
#define LISTENERS 3

/* Two servers at once: servers[0] given by name, servers[1] by address (listener 0). */
struct fixture {
	struct shoal_event_loop loop;
	struct shoal_upstream_server_conf servers[2];
	struct shoal_upstream_conf group;
	struct shoal_config cfg;
	struct shoal_upstream_set set;
	struct shoal_addr addr[LISTENERS];
	int listener[LISTENERS];
	struct shoal_upstream_server *name, *numeric;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(shoal_event_init(&f->loop, NULL), 0);
	for (int i = 0; i < LISTENERS; i++) {
		f->listener[i] = loopback_foreign_listener(&f->addr[i]);
		ck_assert_int_eq(listen(f->listener[i], 16), 0);
	}
	f->servers[0] = (struct shoal_upstream_server_conf){
		.address = f->addr[0], .host = "app.test:80", .resolve = true, .weight = 1 };
	f->servers[1] = (struct shoal_upstream_server_conf){ .address = f->addr[0], .weight = 1 };
	f->group = (struct shoal_upstream_conf){ .name = "app", .servers = f->servers,
						 .nservers = 2, .keepalive = 4 };
	f->cfg.upstreams = &f->group;
	f->cfg.nupstreams = 1;
	ck_assert_int_eq(shoal_upstream_set_init(&f->set, &f->cfg, NULL, NULL, &f->loop, NULL), 0);
	f->name = &f->set.groups[0].servers[0];
	f->numeric = &f->set.groups[0].servers[1];
}

static void fixture_free(struct fixture *f)
{
	shoal_upstream_set_free(&f->set);
	shoal_event_close(&f->loop);
	for (int i = 0; i < LISTENERS; i++)
		close(f->listener[i]);
}

/* Publishes listeners first .. first + n - 1 as s's set, as the checker does. */
static void publish(struct fixture *f, struct shoal_upstream_server *s, int first, int n)
{
	struct sockaddr_storage set[LISTENERS];

	for (int i = 0; i < n; i++)
		set[i] = f->addr[first + i].ss;
	ck_assert_uint_eq(shoal_state_upstream_set_addrs(s->shared, set, (unsigned)n),
			  (unsigned)n);
}

static void ignore(struct shoal_upstream_conn *uc, uint32_t events)
{
	(void)uc;
	(void)events;
}

/* The listener that the connection just opened reached, its peer end in *peer. */
static int reached(struct fixture *f, int *peer)
{
	struct pollfd p[LISTENERS];
	int hit = -1;

	for (int i = 0; i < LISTENERS; i++)
		p[i] = (struct pollfd){ .fd = f->listener[i], .events = POLLIN };
	ck_assert_int_eq(poll(p, LISTENERS, WAIT_MS), 1);
	for (int i = 0; i < LISTENERS; i++)
		if (p[i].revents & POLLIN)
			hit = i;
	*peer = accept(f->listener[hit], NULL, NULL);
	ck_assert_int_ge(*peer, 0);
	return hit;
}

static struct shoal_upstream_conn *open_to(struct fixture *f, struct shoal_upstream_server *s,
					   int *listener, int *peer)
{
	struct shoal_upstream_conn *uc;

	ck_assert_int_eq(shoal_upstream_conn_open(s, ignore, NULL, &uc), 0);
	*listener = reached(f, peer);
	return uc;
}

static void assert_peer_sees_close(int peer)
{
	struct pollfd p = { .fd = peer, .events = POLLIN };
	char c;
	ssize_t n;

	ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
	n = read(peer, &c, 1);
	ck_assert(n == 0 || (n < 0 && errno == ECONNRESET));
	close(peer);
}

START_TEST(a_name_s_connections_take_its_addresses_in_turn)
{
	struct fixture f;
	struct shoal_upstream_conn *uc;
	unsigned count[LISTENERS] = { 0 };
	int hit, peer;

	fixture_init(&f);
	/* No set published (no state file, say): the address the name had at load. */
	uc = open_to(&f, f.name, &hit, &peer);
	ck_assert_int_eq(hit, 0);
	ck_assert_uint_eq(uc->addr_seq, 0);
	shoal_upstream_conn_close(uc);
	close(peer);
	publish(&f, f.name, 1, 2);
	for (int i = 0; i < 6; i++) {
		uc = open_to(&f, f.name, &hit, &peer);
		count[hit]++;
		ck_assert_uint_eq(uc->addr_seq, shoal_state_upstream_addr_seq(f.name->shared));
		shoal_upstream_conn_close(uc);
		close(peer);
	}
	ck_assert_uint_eq(count[0], 0);
	ck_assert_uint_eq(count[1], 3);
	ck_assert_uint_eq(count[2], 3);
	fixture_free(&f);
}
END_TEST

START_TEST(a_server_given_by_address_ignores_any_set)
{
	struct fixture f;
	struct shoal_upstream_address a;
	struct shoal_upstream_conn *uc;
	int hit, peer;

	fixture_init(&f);
	publish(&f, f.numeric, 1, 2);
	for (int i = 0; i < 3; i++) {
		uc = open_to(&f, f.numeric, &hit, &peer);
		ck_assert_int_eq(hit, 0);
		ck_assert_uint_eq(uc->addr_seq, 0);
		shoal_upstream_conn_close(uc);
		close(peer);
	}
	shoal_upstream_address_first(f.numeric, &a);
	ck_assert_ptr_eq(a.sa, (const struct sockaddr *)&f.numeric->conf->address.ss);
	ck_assert(shoal_upstream_address_current(f.numeric, 12345));
	fixture_free(&f);
}
END_TEST

/* The checker probes the first address of the current set, whatever the turn. */
START_TEST(the_first_address_is_the_set_s_first)
{
	struct fixture f;
	struct shoal_upstream_address a;

	fixture_init(&f);
	shoal_upstream_address_first(f.name, &a);
	ck_assert_int_eq(memcmp(a.sa, &f.addr[0].ss, f.addr[0].len), 0);
	publish(&f, f.name, 1, 2);
	for (int i = 0; i < 3; i++) {
		shoal_upstream_address_next(f.name, &a);
		shoal_upstream_address_first(f.name, &a);
		ck_assert_uint_eq(a.len, f.addr[1].len);
		ck_assert_int_eq(memcmp(a.sa, &f.addr[1].ss, a.len), 0);
	}
	fixture_free(&f);
}
END_TEST

/* A set replaced: the idle connection opened under the old one is closed instead of reused,
 * and one in flight keeps working and is closed, not pooled, once its exchange ends. */
START_TEST(connections_to_a_replaced_set_are_not_reused)
{
	struct fixture f;
	struct shoal_upstream_conn *idle, *busy, *fresh;
	int hit, idle_peer, busy_peer, fresh_peer;
	char byte;

	fixture_init(&f);
	publish(&f, f.name, 1, 1);
	idle = open_to(&f, f.name, &hit, &idle_peer);
	busy = open_to(&f, f.name, &hit, &busy_peer);
	ck_assert_int_eq(hit, 1);
	shoal_upstream_pool_put(idle);
	ck_assert_uint_eq(f.name->nidle, 1);
	publish(&f, f.name, 2, 1);
	ck_assert(!shoal_upstream_address_current(f.name, busy->addr_seq));
	ck_assert_ptr_null(shoal_upstream_pool_get(f.name, ignore, NULL));
	ck_assert_uint_eq(f.name->nidle, 0);
	assert_peer_sees_close(idle_peer);
	ck_assert_int_eq(write(busy->ev.fd, "x", 1), 1);
	ck_assert_int_eq(read(busy_peer, &byte, 1), 1);
	ck_assert_int_eq(byte, 'x');
	shoal_upstream_pool_put(busy);
	ck_assert_uint_eq(f.name->nidle, 0);
	assert_peer_sees_close(busy_peer);
	/* A connection to the new set is pooled and reused. */
	fresh = open_to(&f, f.name, &hit, &fresh_peer);
	ck_assert_int_eq(hit, 2);
	shoal_upstream_pool_put(fresh);
	ck_assert_ptr_eq(shoal_upstream_pool_get(f.name, ignore, NULL), fresh);
	shoal_upstream_conn_close(fresh);
	close(fresh_peer);
	fixture_free(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("upstream_address");
	TCase *tc = tcase_create("address");

	tcase_add_test(tc, a_name_s_connections_take_its_addresses_in_turn);
	tcase_add_test(tc, a_server_given_by_address_ignores_any_set);
	tcase_add_test(tc, the_first_address_is_the_set_s_first);
	tcase_add_test(tc, connections_to_a_replaced_set_are_not_reused);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
