/* One client connection: read, parse, answer, keep alive or close. Edge-triggered: the fd is
 * registered once for both directions and never modified, so a request costs no epoll_ctl;
 * the connection remembers whether the socket may still hold unread bytes. */
#ifndef SHOAL_CONN_H
#define SHOAL_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shoal/event.h"
#include "shoal/http_parser.h"
#include "shoal/timer.h"

struct shoal_worker;
struct shoal_worker_server;

enum shoal_conn_state {
	SHOAL_CONN_READING, /* waiting for or parsing a request head */
	SHOAL_CONN_WRITING, /* a response is being sent */
	SHOAL_CONN_LINGERING, /* write side shut; reading until the client closes */
};

struct shoal_conn {
	struct shoal_event_source ev;
	struct shoal_timer timer;
	struct shoal_timer_queue *timer_q; /* the queue timer is armed in */
	struct shoal_worker *worker;
	struct shoal_worker_server *server;
	struct shoal_conn *next; /* in the worker's free or closed list */

	char *in; /* pooled; NULL while idle */
	uint32_t in_len, in_pos, in_scanned;
	char *out; /* pooled; NULL when no response is pending */
	uint32_t out_len, out_pos;
	int file_fd;
	off_t file_off, file_end;

	uint64_t body_left; /* request body bytes still to discard */
	struct shoal_http_chunked chunked;
	uint32_t requests;
	uint8_t state;
	bool readable;    /* the socket may hold bytes we have not read */
	bool close_after; /* close once the current response is out */
	bool body_chunked;
};

void shoal_conn_accept(struct shoal_worker *w, struct shoal_worker_server *server, int fd);

/* Called by the worker when a connection's timer fires. */
void shoal_conn_timeout(struct shoal_conn *c);

/* Closes at once; the struct is recycled after the current event batch. */
void shoal_conn_close(struct shoal_conn *c);

#endif
