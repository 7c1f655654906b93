/* What the limit table tests share: a state file of their own in a temporary directory, and
 * zones added to it as the master adds them (space reserved, then the zone, under the lock). */
#ifndef SHOAL_TESTS_LIMIT_FIXTURE_H
#define SHOAL_TESTS_LIMIT_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "shoal/state/limit.h"
#include "shoal/state/state.h"

#define NO_OWNER ((uid_t)-1), ((gid_t)-1)

struct limit_state {
	char dir[64];
	char path[128];
	struct shoal_state st;
};

/* A new state file in a new directory /tmp/shoal-NAME-XXXXXX. */
static inline void limit_state_open(struct limit_state *s, const char *name)
{
	struct shoal_err err = { "" };

	snprintf(s->dir, sizeof(s->dir), "/tmp/shoal-%s-XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/state", s->dir);
	ck_assert_msg(shoal_state_create(&s->st, s->path, NO_OWNER, &err) == 0, "%s", err.msg);
}

/* Removes the file and its directory. */
static inline void limit_state_close(struct limit_state *s)
{
	shoal_state_close(&s->st, true);
	ck_assert_int_eq(rmdir(s->dir), 0);
}

static inline struct shoal_state_limit_zone *
limit_state_zone_add(struct limit_state *s, const struct shoal_state_limit_spec *spec)
{
	struct shoal_err err = { "" };
	struct shoal_state_limit_zone *z;

	shoal_state_lock(&s->st);
	ck_assert_msg(shoal_state_limit_reserve(&s->st, 1, shoal_state_limit_table_bytes(spec),
						&err) == 0, "%s", err.msg);
	z = shoal_state_limit_add(&s->st, spec);
	shoal_state_unlock(&s->st);
	ck_assert_ptr_nonnull(z);
	return z;
}

#endif
