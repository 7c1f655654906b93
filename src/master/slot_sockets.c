#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "shoal/master/slot_sockets.h"

int shoal_slot_sockets_fd(const struct shoal_slot_sockets *s, const struct shoal_addr *addr,
			  unsigned slot)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].slot == slot && shoal_addr_equal(&s->v[i].addr, addr))
			return s->v[i].fd;
	return -1;
}

static bool slot_sockets_have_addr(const struct shoal_slot_sockets *s,
				   const struct shoal_addr *addr)
{
	for (size_t i = 0; i < s->n; i++)
		if (shoal_addr_equal(&s->v[i].addr, addr))
			return true;
	return false;
}

static int slot_sockets_add(struct shoal_slot_sockets *s, const struct shoal_addr *addr,
			    unsigned slot, int backlog, struct shoal_err *err)
{
	struct shoal_slot_socket *v = realloc(s->v, (s->n + 1) * sizeof(*v));
	int fd;

	if (!v)
		return shoal_err_set(err, "out of memory");
	s->v = v;
	fd = shoal_listener_open(addr, backlog, err);
	if (fd < 0)
		return -1;
	v[s->n++] = (struct shoal_slot_socket){ .addr = *addr, .slot = slot, .fd = fd };
	return 0;
}

int shoal_slot_sockets_ensure(struct shoal_slot_sockets *s, const struct shoal_addr *const *addrs,
			      const int *backlogs, size_t naddrs, unsigned nslots,
			      struct shoal_err *err)
{
	for (size_t i = 0; i < naddrs; i++) {
		if (!slot_sockets_have_addr(s, addrs[i]) && shoal_listener_probe(addrs[i], err) < 0)
			return -1;
		for (unsigned slot = 0; slot < nslots; slot++) {
			int fd = shoal_slot_sockets_fd(s, addrs[i], slot);
			if (fd >= 0) {
				if (shoal_listener_set_backlog(fd, backlogs[i], err) < 0)
					return -1;
				continue;
			}
			if (slot_sockets_add(s, addrs[i], slot, backlogs[i], err) < 0)
				return -1;
		}
	}
	return 0;
}

int shoal_slot_sockets_steer(const struct shoal_slot_sockets *s,
			     const struct shoal_addr *const *addrs, size_t naddrs, unsigned nslots,
			     struct shoal_err *err)
{
	struct shoal_err first = { "" }, why;
	int rc = 0;

	for (size_t i = 0; i < naddrs; i++) {
		int fd = shoal_slot_sockets_fd(s, addrs[i], 0);
		if (fd >= 0 && shoal_listener_steer(fd, nslots, &why) < 0 && rc == 0) {
			shoal_err_set(&first, "%s: %s", addrs[i]->text, why.msg);
			rc = -1;
		}
	}
	if (rc < 0 && err)
		*err = first;
	return rc;
}

static bool slot_sockets_needed(const struct shoal_slot_socket *sock,
				const struct shoal_addr *const *addrs, size_t naddrs,
				unsigned nslots)
{
	if (sock->slot >= nslots)
		return false;
	for (size_t i = 0; i < naddrs; i++)
		if (shoal_addr_equal(addrs[i], &sock->addr))
			return true;
	return false;
}

/* Whether sock sits above every socket of its address that gc keeps: only then does closing
 * it take it out of its reuseport group without moving a kept socket to another index. */
static bool slot_sockets_above_kept(const struct shoal_slot_sockets *s,
				    const struct shoal_slot_socket *sock, const bool *keep)
{
	for (size_t i = 0; i < s->n; i++)
		if (keep[i] && s->v[i].slot > sock->slot && shoal_addr_equal(&s->v[i].addr, &sock->addr))
			return false;
	return true;
}

void shoal_slot_sockets_gc(struct shoal_slot_sockets *s, const struct shoal_addr *const *addrs,
			   size_t naddrs, unsigned nslots, shoal_slot_sockets_held_fn *held,
			   void *ctx, struct shoal_log *log)
{
	bool *keep = calloc(s->n ? s->n : 1, sizeof(*keep));
	size_t kept = 0;

	if (!keep) {
		log_warn(log, "out of memory: unused listeners stay open for now");
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		keep[i] = slot_sockets_needed(&s->v[i], addrs, naddrs, nslots) ||
			  held(&s->v[i], ctx);
	for (size_t i = 0; i < s->n; i++) {
		if (keep[i] || !slot_sockets_above_kept(s, &s->v[i], keep))
			continue;
		log_info(log, "closing listener %s of slot %u", s->v[i].addr.text, s->v[i].slot);
		close(s->v[i].fd);
		s->v[i].fd = -1;
	}
	free(keep);
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].fd >= 0)
			s->v[kept++] = s->v[i];
	s->n = kept;
}

void shoal_slot_sockets_close_all(struct shoal_slot_sockets *s)
{
	for (size_t i = 0; i < s->n; i++)
		close(s->v[i].fd);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
