/* The probes of the checker, shared by the files of src/check/: check.c times them, opens
 * their connections and publishes their results; a kind of probe (check_tcp.c, check_http.c)
 * says what its connection's events come to; check_resolve.c looks up the names of servers
 * given by one, on the same loop. Private to this folder.
 *
 * One calling convention for every kind: init(p) once; then for each probe check.c opens
 * p->conn (a non-blocking connect) and calls start(p), then on_event(p, events) for every
 * event on it, until a step is not CHECK_PENDING. A kind sets p->detail with its result (an
 * HTTP status, 0, or an errno negated) and never closes the connection nor decides when to
 * give up: check.c does, at timeout_ms, with -ETIMEDOUT. */
#ifndef SHOAL_CHECK_CHECK_INT_H
#define SHOAL_CHECK_CHECK_INT_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/check/check.h"
#include "shoal/net/timer.h"
#include "shoal/upstream/conn.h"

enum check_step {
	CHECK_PENDING, /* wait for the connection's next event */
	CHECK_PASSED,
	CHECK_FAILED,
};

struct shoal_check_kind {
	/* Once, when the checker is made: what every probe of p will use. -1: out of memory.
	 * NULL: nothing to make. */
	int (*init)(struct shoal_check_probe *p);
	/* Frees what init made (also after a failed init). NULL: nothing to free. */
	void (*dispose)(struct shoal_check_probe *p);
	void (*start)(struct shoal_check_probe *p);
	enum check_step (*on_event)(struct shoal_check_probe *p, uint32_t events);
};

/* The kinds, by enum shoal_check_type. */
extern const struct shoal_check_kind shoal_check_tcp;
extern const struct shoal_check_kind shoal_check_http;

/* The timers of a group: every probe of it has the same interval and the same timeout, and
 * every lookup the same resolve_interval, so each is a queue of its own
 * (shoal/net/timer.h). */
struct shoal_check_group {
	const struct shoal_health_check_conf *conf;
	struct shoal_timer_queue tick;    /* the next probe's start */
	struct shoal_timer_queue timeout; /* the running probe's end */
	struct shoal_timer_queue resolve; /* the next lookup's start */
};

/* The HTTP kind's bytes: the request, then the status line read back. To a tls group the
 * probe speaks TLS, verified as the proxy's connections are (shoal/upstream/conn.h). */
#define CHECK_HTTP_LINE 13 /* "HTTP/1.1 200 ": enough to know the status */

struct check_http {
	char *request; /* made once, at init: the PROXY protocol header, if any, then the GET */
	size_t request_len, sent;
	size_t pp_len; /* of the header: sent in clear before a tls group's handshake */
	char line[CHECK_HTTP_LINE];
	size_t line_len;
	unsigned skip_match; /* in an interim (1xx) head: bytes of "\r\n\r\n" matched */
	bool skipping;
	bool connected;
};

struct shoal_check_probe {
	struct shoal_check *check;
	struct shoal_check_group *group;
	struct shoal_upstream_server *server;
	const struct shoal_check_kind *kind;
	struct shoal_upstream_conn *conn; /* NULL between probes */
	struct shoal_timer tick, timeout;
	bool due;   /* the next probe came due while this one ran: it starts when this ends */
	int detail; /* the kind's: an HTTP status, 0 for an open TCP connection, or -errno */
	char tls_why[128]; /* a failed handshake's reason (detail -EPROTO); "" otherwise */
	struct check_http http;
};

/* A server given by name, looked up again every resolve_interval (check_resolve.c). */
struct shoal_check_lookup {
	struct shoal_check *check;
	struct shoal_check_group *group;
	struct shoal_upstream_server *server;
	struct shoal_timer tick;  /* the next lookup's start */
	struct shoal_timer poll;  /* while one runs: the next look at it */
	struct gaicb cb;          /* the running lookup's, for getaddrinfo_a */
	struct addrinfo hints;
	char *name;               /* the host of server's NAME:PORT, a copy cut at the colon */
	const char *port;         /* within name's allocation */
	bool running;
	int error;                /* the failure last logged (an EAI_ code); 0: none since the
				   * last success */
};

/* The lookups of c's configuration, their first ones spread over their intervals from now
 * like the probes'. -1: out of memory (c's lookups then hold what was made, for
 * shoal_check_resolve_free). */
int shoal_check_resolve_init(struct shoal_check *c, const struct shoal_config *cfg);

/* Whether the i-th server of u is looked up: given by name and not down. */
bool shoal_check_resolve_wanted(const struct shoal_upstream_conf *u, size_t i);

/* Milliseconds until a lookup is due or a running one is to be looked at; -1: none. */
int64_t shoal_check_resolve_next_ms(const struct shoal_check *c);

/* Starts the lookups that are due and finishes the ones that ended: a new set is
 * published and logged, a failure logged once per new error. */
void shoal_check_resolve_expire(struct shoal_check *c);

/* Cancels the running lookups (waits for the ones that cannot be) and frees them. */
void shoal_check_resolve_free(struct shoal_check *c);

#endif
