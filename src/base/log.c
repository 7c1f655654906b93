#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shoal/base/log.h"

static const char *const level_names[] = {
	[SHOAL_LOG_ERROR] = "error",
	[SHOAL_LOG_WARN] = "warn",
	[SHOAL_LOG_INFO] = "info",
	[SHOAL_LOG_DEBUG] = "debug",
};

int shoal_log_level_parse(const char *name, enum shoal_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum shoal_log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *shoal_log_level_name(enum shoal_log_level level)
{
	return level_names[level];
}

void shoal_log_init(struct shoal_log *log, const char *role)
{
	memset(log, 0, sizeof(*log));
	log->fd = STDERR_FILENO;
	log->level = SHOAL_LOG_INFO;
	snprintf(log->target, sizeof(log->target), "stderr");
	snprintf(log->role, sizeof(log->role), "%s", role);
}

static int open_target(const char *target, bool *owns, struct shoal_err *err)
{
	int fd;

	if (strcmp(target, "stderr") == 0) {
		*owns = false;
		return STDERR_FILENO;
	}
	/* 0640: logs may carry client addresses and paths; never world-readable or writable. */
	fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return shoal_err_set(err, "cannot open log %s: %s", target, strerror(errno));
	*owns = true;
	return fd;
}

int shoal_log_open(struct shoal_log *log, const char *target, enum shoal_log_level level,
		   struct shoal_err *err)
{
	bool owns = false;
	int fd = open_target(target, &owns, err);

	if (fd < 0)
		return -1;
	shoal_log_close(log);
	log->fd = fd;
	log->owns_fd = owns;
	log->level = level;
	snprintf(log->target, sizeof(log->target), "%s", target);
	return 0;
}

int shoal_log_reopen(struct shoal_log *log, struct shoal_err *err)
{
	char target[sizeof(log->target)];

	memcpy(target, log->target, sizeof(target));
	return shoal_log_open(log, target, log->level, err);
}

void shoal_log_set_role(struct shoal_log *log, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(log->role, sizeof(log->role), fmt, ap);
	va_end(ap);
}

void shoal_log_close(struct shoal_log *log)
{
	if (log->owns_fd)
		close(log->fd);
	log->fd = STDERR_FILENO;
	log->owns_fd = false;
}

void shoal_log_write(const struct shoal_log *log, enum shoal_log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n, m;

	if (level > log->level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ld [%s] %d %s: ",
		      now.tv_nsec / 1000000, level_names[level], (int)getpid(), log->role);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: O_APPEND keeps lines from several processes whole. */
	while (write(log->fd, line, (size_t)n) < 0 && errno == EINTR)
		;
}
