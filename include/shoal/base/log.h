/* The error log: one line per event with time, level, pid and role. */
#ifndef SHOAL_BASE_LOG_H
#define SHOAL_BASE_LOG_H

#include <stdbool.h>

#include "shoal/base/error.h"

enum shoal_log_level {
	SHOAL_LOG_ERROR,
	SHOAL_LOG_WARN,
	SHOAL_LOG_INFO,
	SHOAL_LOG_DEBUG,
};

struct shoal_log {
	int fd;
	bool owns_fd; /* false for stderr */
	enum shoal_log_level level;
	char target[4096]; /* "stderr" or a path */
	char role[32];     /* "master", "worker 3" */
};

int shoal_log_level_parse(const char *name, enum shoal_log_level *out);
const char *shoal_log_level_name(enum shoal_log_level level);

/* Starts logging to stderr at info level, for the time before the config is read. */
void shoal_log_init(struct shoal_log *log, const char *role);
/* Switches to target ("stderr" or a path, opened for appending). Keeps the old target on error. */
int shoal_log_open(struct shoal_log *log, const char *target, enum shoal_log_level level,
		   struct shoal_err *err);
/* Reopens the same path, for log rotation. */
int shoal_log_reopen(struct shoal_log *log, struct shoal_err *err);
void shoal_log_set_role(struct shoal_log *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void shoal_log_close(struct shoal_log *log);

void shoal_log_write(const struct shoal_log *log, enum shoal_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(log, ...) shoal_log_write((log), SHOAL_LOG_ERROR, __VA_ARGS__)
#define log_warn(log, ...) shoal_log_write((log), SHOAL_LOG_WARN, __VA_ARGS__)
#define log_info(log, ...) shoal_log_write((log), SHOAL_LOG_INFO, __VA_ARGS__)
#define log_debug(log, ...) shoal_log_write((log), SHOAL_LOG_DEBUG, __VA_ARGS__)

#endif
