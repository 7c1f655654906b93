/* A generation: one loaded configuration and what the master derives from it before forking
 * workers (the user to drop to, the distinct listen addresses, the open document roots, the
 * media types). Workers forked from it share it; the master frees it when the last of them
 * is gone and a newer one is current. */
#ifndef SHOAL_MASTER_GENERATION_H
#define SHOAL_MASTER_GENERATION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "shoal/config/config.h"
#include "shoal/base/error.h"
#include "shoal/http/mime.h"

struct shoal_generation {
	unsigned id;
	unsigned refs;
	struct shoal_config cfg;
	struct shoal_mime *mime;
	int *root_fds;   /* of each server, then of each location with a root, in order */
	size_t nroot_fds;
	const struct shoal_addr **addrs; /* distinct listen addresses */
	int *backlogs;
	size_t naddrs;
	bool drop_privileges;
	uid_t uid;
	gid_t gid;
};

/* Loads and derives; an error names the file, line and key. */
struct shoal_generation *shoal_generation_load(const char *path, struct shoal_err *err);
void shoal_generation_free(struct shoal_generation *g);

/* A master started as root needs a user to drop the workers to, unless allow_root is set. */
int shoal_generation_check_root(const struct shoal_generation *g, struct shoal_err *err);

/* Frees what was derived and g itself, handing the configuration over to cfg. */
void shoal_generation_into_config(struct shoal_generation *g, struct shoal_config *cfg);

#endif
