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
#include "shoal/tls/context.h"

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
	/* Per addrs[i]: the contexts a tls address serves by SNI, else NULL; none until
	 * shoal_generation_tls_build. */
	struct shoal_tls_context_set **tls_sets;
	/* The client context of each upstream group with tls (cfg order; NULL for the others,
	 * or NULL: none), made as the master's user so that tls_ca may be unreadable to the
	 * workers' (as server keys may). */
	struct ssl_ctx_st **tls_clients;
	/* What the load found wrong but servable (a certificate that expires soon or has):
	 * each to be told once. */
	struct shoal_err *tls_warnings;
	size_t ntls_warnings;
};

/* Loads and derives; an error names the file, line and key. Every server's certificate and
 * key are loaded and checked (shoal_tls_context_check): a pair that does not load or match
 * is an error, one that expires within 30 days a warning in tls_warnings. */
struct shoal_generation *shoal_generation_load(const char *path, struct shoal_err *err);
void shoal_generation_free(struct shoal_generation *g);

/* Makes the contexts of every tls address of g (tls_sets), their tickets sealed by keys
 * (NULL: no tickets, as for a check): a context per server with the global tls_* settings,
 * chosen by its server_names, the address's default_server's (else its first server's) for
 * a name no server has; and the client context of each upstream group with tls
 * (tls_clients). -1 with err naming the file, line and key of the server whose certificate
 * or settings OpenSSL refused, or the group whose tls_ca did not load (g then holds none). */
int shoal_generation_tls_build(struct shoal_generation *g, const struct shoal_tls_keys *keys,
			       struct shoal_err *err);

/* Checks every server's certificate and key (shoal_generation_load does). */
int shoal_generation_tls_check(struct shoal_generation *g, struct shoal_err *err);

/* Frees the contexts and warnings; g keeps the rest. */
void shoal_generation_tls_free(struct shoal_generation *g);

/* A master started as root needs a user to drop the workers to, unless allow_root is set. */
int shoal_generation_check_root(const struct shoal_generation *g, struct shoal_err *err);

/* Frees what was derived and g itself, handing the configuration over to cfg. */
void shoal_generation_into_config(struct shoal_generation *g, struct shoal_config *cfg);

#endif
