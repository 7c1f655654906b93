#include <stdlib.h>

#include "slots.h"
#include "spawn.h"
#include "workers.h"

int shoal_master_slots_resize(struct master *m, unsigned n)
{
	struct master_slot *slots = realloc(m->slots, n * sizeof(*slots));

	if (!slots)
		return -1;
	for (unsigned i = m->nslots; i < n; i++)
		slots[i] = (struct master_slot){ 0 };
	m->slots = slots;
	m->nslots = n;
	return 0;
}

int shoal_master_slots_sockets(struct master *m, struct shoal_err *err)
{
	const struct shoal_generation *g = m->current;

	return shoal_slot_sockets_ensure(&m->sockets, g->addrs, g->backlogs, g->naddrs, m->nslots,
					 err);
}

/* A worker holds its slot's socket of every address of its generation from its start to its
 * exit (a retiring one may still be accepting from it): the master's knowledge of which
 * sockets a close of its own would really take out of their groups. */
static bool slots_held(const struct shoal_slot_socket *sock, void *ctx)
{
	const struct master *m = ctx;

	for (size_t i = 0; i < m->nworkers; i++) {
		const struct master_worker *w = m->workers[i];
		for (size_t j = 0; w->slot == sock->slot && j < w->gen->naddrs; j++)
			if (shoal_addr_equal(w->gen->addrs[j], &sock->addr))
				return true;
	}
	return false;
}

void shoal_master_slots_gc(struct master *m)
{
	const struct shoal_generation *g = m->current;

	shoal_slot_sockets_gc(&m->sockets, g ? g->addrs : NULL, g ? g->naddrs : 0, m->nslots,
			      slots_held, m, &m->log);
}

void shoal_master_slots_steer(struct master *m)
{
	const struct shoal_generation *g = m->current;
	struct shoal_err err;

	if (shoal_slot_sockets_steer(&m->sockets, g->addrs, g->naddrs, m->nslots, &err) < 0)
		log_warn(&m->log, "%s; connections may be refused while removing workers", err.msg);
}

void shoal_master_slots_add(struct master *m)
{
	struct shoal_err err;
	unsigned slot = m->nslots;

	if (slot >= MAX_SLOTS) {
		log_warn(&m->log, "already %u workers, the most shoal runs", slot);
		return;
	}
	if (shoal_master_slots_resize(m, slot + 1) < 0 || shoal_master_slots_sockets(m, &err) < 0) {
		log_error(&m->log, "cannot add worker %u: %s", slot, err.msg);
		shoal_master_slots_resize(m, slot);
		shoal_master_slots_gc(m);
		return;
	}
	shoal_master_slots_steer(m);
	log_info(&m->log, "adding worker %u", slot);
	shoal_master_spawn_slot(m, slot);
}

void shoal_master_slots_remove(struct master *m)
{
	unsigned slot = m->nslots - 1;

	if (m->nslots <= 1) {
		log_warn(&m->log, "only one worker left; not removing it");
		return;
	}
	log_info(&m->log, "removing worker %u", slot);
	m->nslots = slot;
	shoal_master_slots_steer(m);
	for (size_t i = 0; i < m->nworkers; i++)
		if (m->workers[i]->slot == slot)
			shoal_master_workers_retire(m, m->workers[i]);
	shoal_master_slots_gc(m);
}
