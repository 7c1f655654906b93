/* The master process: owns the listening sockets, forks and supervises the workers, and turns
 * signals into stops, reloads, log reopening and rescaling. */
#ifndef SHOAL_MASTER_MASTER_H
#define SHOAL_MASTER_MASTER_H

#include <stdbool.h>
#include <stdio.h>

#include "shoal/config/config.h"
#include "shoal/base/error.h"

struct shoal_master_options {
	const char *config_path; /* absolute */
	const char *exe;         /* the binary a binary upgrade (USR2) executes */
	int ready_fd; /* if >= 0, gets one byte once the first workers serve (daemon start-up) */
};

/* Everything a start would check short of binding: the file, the user, the roots, the
 * certificates and keys with the TLS settings. What is servable but wrong (a certificate
 * that expires within 30 days) goes to warnings, a line each. */
int shoal_master_check(const char *config_path, struct shoal_config *cfg, FILE *warnings,
		       struct shoal_err *err);

/* Runs until stopped. Returns 0 after a stop, or -1 with err if the server could not start. */
int shoal_master_run(const struct shoal_master_options *opts, struct shoal_err *err);

#endif
