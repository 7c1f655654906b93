/* What the stats tests share: a temporary stats file, snapshots and formats of it checked
 * line by line, and the shoalctl binary run on it. */
#ifndef SHOAL_TESTS_STATS_FIXTURE_H
#define SHOAL_TESTS_STATS_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shoal/base/util.h"
#include "shoal/stats/stats.h"

#define NO_OWNER ((uid_t)-1), ((gid_t)-1)

/* The published layout's sizes: header, retired block and retired upstream area; a slot. */
#define FIXED_SIZE (128 + 1024 + 256 * 512)
#define SLOT_SIZE (1088 + 64 * 512)

/* Passed by the build as argv[1]; the shoalctl tests run only when it is. */
static const char *shoalctl_path;

struct tmp {
	char dir[64];
	char path[128];
};

static inline void tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/shoal-stats-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/stats", t->dir);
}

static inline void tmp_remove(struct tmp *t)
{
	unlink(t->path);
	ck_assert_int_eq(rmdir(t->dir), 0);
}

static inline void create_or_fail(struct shoal_stats *st, const char *path, unsigned capacity)
{
	struct shoal_err err = { "" };

	ck_assert_msg(shoal_stats_create(st, path, capacity, NO_OWNER, &err) == 0, "%s", err.msg);
}

static inline void snapshot_or_fail(const struct shoal_stats_view *v,
				    struct shoal_stats_snapshot *snap)
{
	struct shoal_err err = { "" };

	ck_assert_msg(shoal_stats_snapshot(v, snap, &err) == 0, "%s", err.msg);
}

static inline char *format_to_string(int (*format)(FILE *, const struct shoal_stats_snapshot *),
				     const struct shoal_stats_view *v)
{
	struct shoal_stats_snapshot snap;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(shoal_stats_snapshot_init(&snap, v, NULL), 0);
	snapshot_or_fail(v, &snap);
	ck_assert_int_eq(format(out, &snap), 0);
	fclose(out);
	shoal_stats_snapshot_free(&snap);
	return buf;
}

static inline void expect_lines(const char *text, const char *const *lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strstr(text, lines[i]) != NULL, "missing: %s\nin:\n%s", lines[i], text);
}

/* What format makes of v holds each of the n lines. */
static inline void expect_format(int (*format)(FILE *, const struct shoal_stats_snapshot *),
				 const struct shoal_stats_view *v, const char *const *lines, size_t n)
{
	char *text = format_to_string(format, v);

	expect_lines(text, lines, n);
	free(text);
}

/* Runs shoalctl with args; returns its exit status and what it wrote to stdout and stderr. */
static inline int run_shoalctl(char *const *args, char *out, size_t size)
{
	int pipefd[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execv(shoalctl_path, args);
		_exit(127);
	}
	close(pipefd[1]);
	while (len + 1 < size && (n = read(pipefd[0], out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

#endif
