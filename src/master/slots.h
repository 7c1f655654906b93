/* The master's worker slots: how many there are, their listening sockets, and TTIN / TTOU,
 * which add a slot or take the last one away. */
#ifndef SHOAL_MASTER_SLOTS_H
#define SHOAL_MASTER_SLOTS_H

#include "shoal/base/error.h"
#include "master_int.h"

/* Sets the number of slots to n; new slots start with no crash history. Returns -1 (and
 * keeps the old slots) if out of memory. */
int shoal_master_slots_resize(struct master *m, unsigned n);

/* Sockets for the current configuration's addresses and every slot. */
int shoal_master_slots_sockets(struct master *m, struct shoal_err *err);

/* Closes the sockets of addresses no longer configured and of slots no longer there, once no
 * worker holds them any more (see shoal_slot_sockets_gc): until then a slot added back takes
 * its socket again. Called again whenever workers have been reaped. */
void shoal_master_slots_gc(struct master *m);

/* New connections go to the current slots only; a slot being removed drains what it queued.
 * A failure is logged. */
void shoal_master_slots_steer(struct master *m);

/* TTIN: one more slot, with its sockets (those of the slot's retiring worker, if it is still
 * there) and a worker; refused at MAX_SLOTS. */
void shoal_master_slots_add(struct master *m);

/* TTOU: the last slot goes, its worker retired; the last slot of all stays. */
void shoal_master_slots_remove(struct master *m);

#endif
