#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shoal/state/format.h"
#include "shoal/state/state.h"
#include "shoal/state/upstream.h"

#define NO_OWNER ((uid_t)-1), ((gid_t)-1)
/* The published layout: the header, the upstream room's entries, the zone directory and the
 * limit tables' area, 256 MiB in all. */
#define FILE_SIZE (256u << 20)

struct tmp {
	char dir[64];
	char path[128];
};

static void tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/shoal-state-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/state", t->dir);
}

static void tmp_remove(struct tmp *t)
{
	unlink(t->path);
	ck_assert_int_eq(rmdir(t->dir), 0);
}

static void create_or_fail(struct shoal_state *st, const char *path)
{
	struct shoal_err err = { "" };

	ck_assert_msg(shoal_state_create(st, path, NO_OWNER, &err) == 0, "%s", err.msg);
}

static void open_or_fail(struct shoal_state *st, const char *path, bool writable)
{
	struct shoal_err err = { "" };

	ck_assert_msg(shoal_state_open(st, path, writable, &err) == 0, "%s", err.msg);
}

static void expect_open_error(const char *path, const char *want)
{
	struct shoal_state st;
	struct shoal_err err = { "" };

	ck_assert_int_eq(shoal_state_open(&st, path, false, &err), -1);
	ck_assert_msg(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
	ck_assert_ptr_null(st.hdr);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(create_publishes_an_empty_file)
{
	struct tmp t;
	struct shoal_state st;
	struct stat sb;

	tmp_make(&t);
	create_or_fail(&st, t.path);
	ck_assert_int_eq(stat(t.path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0640);
	ck_assert_uint_eq((size_t)sb.st_size, FILE_SIZE);
	ck_assert_int_eq(memcmp(st.hdr->magic, "SHOALSTA", 8), 0);
	ck_assert_uint_eq(st.hdr->version, SHOAL_STATE_VERSION);
	ck_assert_uint_eq(st.hdr->size, FILE_SIZE);
	ck_assert_uint_eq(st.hdr->master_pid, (uint32_t)getpid());
	ck_assert_uint_eq(st.hdr->upstream_room, SHOAL_STATE_UPSTREAM_ROOM);
	ck_assert_uint_eq(st.hdr->upstream_offset, 128);
	ck_assert_uint_eq(st.hdr->upstream_entry_size, 448);
	ck_assert_uint_eq(shoal_state_upstream_count(&st), 0);
	ck_assert_int_ge(st.fd, 0);
	shoal_state_close(&st, true);
	ck_assert_int_eq(access(t.path, F_OK), -1);
	tmp_remove(&t);
}
END_TEST

START_TEST(create_replaces_a_previous_file)
{
	struct tmp t;
	struct shoal_state old, st;

	tmp_make(&t);
	create_or_fail(&old, t.path);
	shoal_state_upstream_add(&old, "app", "127.0.0.1:9001", 5);
	create_or_fail(&st, t.path);
	ck_assert_uint_eq(shoal_state_upstream_count(&st), 0);
	/* The old mapping is another file now: nothing it does shows in the new one. */
	shoal_state_upstream_add(&old, "app", "127.0.0.1:9002", 5);
	ck_assert_uint_eq(shoal_state_upstream_count(&old), 2);
	ck_assert_uint_eq(shoal_state_upstream_count(&st), 0);
	shoal_state_close(&old, false);
	ck_assert_int_eq(access(t.path, F_OK), 0);
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(create_reports_a_bad_place)
{
	struct shoal_state st;
	struct shoal_err err = { "" };

	ck_assert_int_eq(shoal_state_create(&st, "/nonexistent-dir/state", NO_OWNER, &err), -1);
	ck_assert_msg(strstr(err.msg, "/nonexistent-dir/state: cannot create"), "%s", err.msg);
	ck_assert_ptr_null(st.hdr);
	ck_assert_ptr_null(st.path);
	ck_assert_int_eq(st.fd, -1);
}
END_TEST

START_TEST(entries_are_appended_and_found_by_name)
{
	struct tmp t;
	struct shoal_state st;
	struct shoal_state_upstream *a, *b, *c;

	tmp_make(&t);
	create_or_fail(&st, t.path);
	shoal_state_lock(&st);
	a = shoal_state_upstream_add(&st, "app", "127.0.0.1:9001", 1000);
	b = shoal_state_upstream_add(&st, "app", "127.0.0.1:9002", 2000);
	c = shoal_state_upstream_add(&st, "api", "127.0.0.1:9001", 3000);
	shoal_state_unlock(&st);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_ne(a, b);
	ck_assert_ptr_ne(a, c);
	ck_assert_uint_eq(shoal_state_upstream_count(&st), 3);
	ck_assert_ptr_eq(shoal_state_upstream_at(&st, 1), b);
	ck_assert_str_eq(b->upstream, "app");
	ck_assert_str_eq(b->server, "127.0.0.1:9002");
	ck_assert_uint_eq(atomic_load(&b->usable_since_ms), 2000);
	ck_assert_ptr_eq(shoal_state_upstream_find(&st, "api", "127.0.0.1:9001"), c);
	ck_assert_ptr_null(shoal_state_upstream_find(&st, "api", "127.0.0.1:9002"));
	ck_assert_ptr_null(shoal_state_upstream_find(&st, "ap", "127.0.0.1:9001"));
	/* Adding a pair again (a reload that keeps it) keeps its entry and what it holds. */
	atomic_store(&a->admin, SHOAL_STATE_ADMIN_DRAIN);
	ck_assert_ptr_eq(shoal_state_upstream_add(&st, "app", "127.0.0.1:9001", 9000), a);
	ck_assert_uint_eq(atomic_load(&a->admin), SHOAL_STATE_ADMIN_DRAIN);
	ck_assert_uint_eq(atomic_load(&a->usable_since_ms), 1000);
	ck_assert_uint_eq(shoal_state_upstream_count(&st), 3);
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(names_are_cut_at_63_bytes)
{
	struct tmp t;
	struct shoal_state st;
	struct shoal_state_upstream *e;
	char longname[100], prefix[64];

	memset(longname, 'u', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(prefix, longname, 63);
	prefix[63] = '\0';
	tmp_make(&t);
	create_or_fail(&st, t.path);
	e = shoal_state_upstream_add(&st, longname, "127.0.0.1:9001", 1);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(strnlen(e->upstream, sizeof(e->upstream)), 63);
	ck_assert_str_eq(e->upstream, prefix);
	ck_assert_ptr_eq(shoal_state_upstream_find(&st, longname, "127.0.0.1:9001"), e);
	ck_assert_ptr_eq(shoal_state_upstream_find(&st, prefix, "127.0.0.1:9001"), e);
	prefix[62] = '\0';
	ck_assert_ptr_null(shoal_state_upstream_find(&st, prefix, "127.0.0.1:9001"));
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(a_full_room_returns_null)
{
	struct tmp t;
	struct shoal_state st;
	char server[32];

	tmp_make(&t);
	create_or_fail(&st, t.path);
	for (unsigned i = 0; i < SHOAL_STATE_UPSTREAM_ROOM; i++) {
		snprintf(server, sizeof(server), "10.0.%u.%u:80", i / 256, i % 256);
		ck_assert_ptr_nonnull(shoal_state_upstream_add(&st, "big", server, 1));
	}
	ck_assert_uint_eq(shoal_state_upstream_count(&st), SHOAL_STATE_UPSTREAM_ROOM);
	ck_assert_ptr_null(shoal_state_upstream_add(&st, "big", "10.9.9.9:80", 1));
	ck_assert_uint_eq(shoal_state_upstream_count(&st), SHOAL_STATE_UPSTREAM_ROOM);
	/* Pairs already there are still found and added (a reload of the same groups). */
	ck_assert_ptr_eq(shoal_state_upstream_add(&st, "big", "10.0.3.255:80", 1),
			 shoal_state_upstream_at(&st, SHOAL_STATE_UPSTREAM_ROOM - 1));
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(adopt_keeps_the_entries)
{
	struct tmp t;
	struct shoal_state old, st;
	struct shoal_state_upstream *e;
	struct shoal_err err = { "" };

	tmp_make(&t);
	create_or_fail(&old, t.path);
	e = shoal_state_upstream_add(&old, "app", "127.0.0.1:9001", 1);
	atomic_store(&e->check, SHOAL_STATE_CHECK_DOWN);
	atomic_store(&e->active, 3);
	atomic_store(&e->ejected_total, 7);
	old.hdr->master_pid = 1;
	ck_assert_msg(shoal_state_adopt(&st, t.path, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(st.hdr->master_pid, (uint32_t)getpid());
	ck_assert_int_ge(st.fd, 0);
	ck_assert_uint_eq(shoal_state_upstream_count(&st), 1);
	e = shoal_state_upstream_find(&st, "app", "127.0.0.1:9001");
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(atomic_load(&e->check), SHOAL_STATE_CHECK_DOWN);
	ck_assert_uint_eq(atomic_load(&e->active), 3);
	ck_assert_uint_eq(atomic_load(&e->ejected_total), 7);
	/* Both masters map one file: an entry one appends the other finds. */
	shoal_state_upstream_add(&st, "app", "127.0.0.1:9002", 1);
	ck_assert_ptr_nonnull(shoal_state_upstream_find(&old, "app", "127.0.0.1:9002"));
	shoal_state_close(&old, false);
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(adopt_and_open_refuse_another_version)
{
	struct tmp t;
	struct shoal_state st, other;
	struct shoal_err err = { "" };
	uint32_t version = SHOAL_STATE_VERSION + 1;
	char want[80];
	int fd;

	tmp_make(&t);
	create_or_fail(&st, t.path);
	fd = open(t.path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &version, sizeof(version), 8), (ssize_t)sizeof(version));
	close(fd);
	snprintf(want, sizeof(want), "state layout version %u; this shoal reads version %u",
		 SHOAL_STATE_VERSION + 1, SHOAL_STATE_VERSION);
	ck_assert_int_eq(shoal_state_adopt(&other, t.path, &err), -1);
	ck_assert_msg(strstr(err.msg, want), "%s", err.msg);
	ck_assert_ptr_null(other.hdr);
	ck_assert_int_eq(other.fd, -1);
	expect_open_error(t.path, want);
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(open_explains_what_is_wrong)
{
	static const char zeros[4096];
	struct tmp t;
	struct shoal_state st;
	struct shoal_err err = { "" };
	int fd;

	tmp_make(&t);
	ck_assert_int_eq(shoal_state_open(&st, t.path, false, &err), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_msg(strstr(err.msg, "no such file"), "%s", err.msg);
	expect_open_error(t.dir, "not a regular file");
	write_file(t.path, "SHOALSTA", 8);
	expect_open_error(t.path, "not a shoal state file (too small)");
	write_file(t.path, zeros, sizeof(zeros));
	expect_open_error(t.path, "not a shoal state file (bad magic)");
	create_or_fail(&st, t.path);
	fd = open(t.path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, FILE_SIZE - 256), 0);
	expect_open_error(t.path, "truncated state file");
	close(fd);
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* In a child: a store through a read-only mapping must kill it. */
static int store_through(struct shoal_state_upstream *e)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		atomic_store(&e->admin, SHOAL_STATE_ADMIN_DOWN);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

START_TEST(readers_map_read_only_or_writable)
{
	struct tmp t;
	struct shoal_state st, ro, rw;
	struct shoal_state_upstream *e;
	int status;

	tmp_make(&t);
	create_or_fail(&st, t.path);
	e = shoal_state_upstream_add(&st, "app", "127.0.0.1:9001", 1);
	open_or_fail(&ro, t.path, false);
	ck_assert_int_eq(ro.fd, -1);
	ck_assert_ptr_null(ro.path);
	ck_assert_uint_eq(shoal_state_upstream_count(&ro), 1);
	status = store_through(shoal_state_upstream_find(&ro, "app", "127.0.0.1:9001"));
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	ck_assert_uint_eq(atomic_load(&e->admin), SHOAL_STATE_ADMIN_UP);
	open_or_fail(&rw, t.path, true);
	status = store_through(shoal_state_upstream_find(&rw, "app", "127.0.0.1:9001"));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(atomic_load(&e->admin), SHOAL_STATE_ADMIN_DOWN);
	shoal_state_close(&ro, false);
	shoal_state_close(&rw, false);
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* Whether another open of path can take the file lock now (in a child, as a second master). */
static bool lock_is_free(const char *path)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR);
		_exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status) == 0;
}

START_TEST(lock_excludes_another_master)
{
	struct tmp t;
	struct shoal_state st;

	tmp_make(&t);
	create_or_fail(&st, t.path);
	ck_assert(lock_is_free(t.path));
	shoal_state_lock(&st);
	ck_assert(!lock_is_free(t.path));
	shoal_state_unlock(&st);
	ck_assert(lock_is_free(t.path));
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

static char *status_of(const struct shoal_state_upstream *e, uint64_t now_ms)
{
	static char buf[32];

	shoal_state_format_status(buf, sizeof(buf), e, now_ms);
	return buf;
}

START_TEST(status_names_the_reason_a_server_is_out)
{
	struct shoal_state_upstream e;

	memset(&e, 0, sizeof(e));
	ck_assert_str_eq(status_of(NULL, 0), "-");
	ck_assert_str_eq(status_of(&e, 5000), "up");
	ck_assert(shoal_state_format_up(&e, 5000));
	atomic_store(&e.ejected_until_ms, 7001);
	ck_assert_str_eq(status_of(&e, 5000), "ejected 3s");
	ck_assert(!shoal_state_format_up(&e, 5000));
	ck_assert_str_eq(status_of(&e, 7001), "up");
	atomic_store(&e.check, SHOAL_STATE_CHECK_DOWN);
	ck_assert_str_eq(status_of(&e, 5000), "down (check)");
	atomic_store(&e.admin, SHOAL_STATE_ADMIN_DRAIN);
	ck_assert_str_eq(status_of(&e, 5000), "draining");
	atomic_store(&e.admin, SHOAL_STATE_ADMIN_DOWN);
	ck_assert_str_eq(status_of(&e, 5000), "down (admin)");
	atomic_store(&e.check, SHOAL_STATE_CHECK_UP);
	atomic_store(&e.ejected_until_ms, 0);
	ck_assert(!shoal_state_format_up(&e, 5000));
}
END_TEST

START_TEST(check_shows_the_last_probe)
{
	struct shoal_state_upstream e;
	char buf[32];

	memset(&e, 0, sizeof(e));
	shoal_state_format_check(buf, sizeof(buf), &e);
	ck_assert_str_eq(buf, "-");
	atomic_store(&e.last_check_ms, 10);
	atomic_store(&e.check_detail, 503);
	shoal_state_format_check(buf, sizeof(buf), &e);
	ck_assert_str_eq(buf, "HTTP 503");
	atomic_store(&e.check_detail, (uint32_t)-ECONNREFUSED);
	shoal_state_format_check(buf, sizeof(buf), &e);
	ck_assert_str_eq(buf, "ECONNREFUSED");
	atomic_store(&e.check_detail, 0);
	shoal_state_format_check(buf, sizeof(buf), &e);
	ck_assert_str_eq(buf, "connected");
}
END_TEST

/* What fn writes for e, as a string to free. */
static char *cells_of(void (*fn)(FILE *, const struct shoal_state_upstream *, uint64_t),
		      const struct shoal_state_upstream *e)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	fn(f, e, 1000);
	ck_assert_int_eq(fclose(f), 0);
	return text;
}

START_TEST(cells_and_json_show_the_entry_or_dashes)
{
	struct shoal_state_upstream e;
	char *text;

	memset(&e, 0, sizeof(e));
	atomic_store(&e.admin, SHOAL_STATE_ADMIN_DRAIN);
	atomic_store(&e.active, 4);
	atomic_store(&e.weight, 25);
	atomic_store(&e.ejected_total, 2);
	atomic_store(&e.checks_passed, 8);
	text = cells_of(shoal_state_format_cells, &e);
	ck_assert_str_eq(text, " draining      -                    4         25         2");
	free(text);
	text = cells_of(shoal_state_format_cells, NULL);
	ck_assert_str_eq(text, " -             -                    -          -         -");
	free(text);
	text = cells_of(shoal_state_format_json, &e);
	ck_assert_str_eq(text, ", \"state\": \"draining\", \"admin\": \"drain\", \"check\": \"none\", "
			 "\"check_result\": null, \"in_flight\": 4, \"admin_weight\": 25, "
			 "\"ejected_left_ms\": 0, \"ejections_total\": 2, \"checks_passed\": 8, "
			 "\"checks_failed\": 0");
	free(text);
	text = cells_of(shoal_state_format_json, NULL);
	ck_assert_ptr_nonnull(strstr(text, ", \"state\": null, \"admin\": null"));
	ck_assert_ptr_nonnull(strstr(text, ", \"checks_failed\": null"));
	free(text);
}
END_TEST

START_TEST(prometheus_labels_every_entry)
{
	struct tmp t;
	struct shoal_state st;
	struct shoal_state_upstream *e;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	tmp_make(&t);
	create_or_fail(&st, t.path);
	f = open_memstream(&text, &len);
	shoal_state_format_prometheus(f, &st, 1000);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_str_eq(text, "");
	free(text);
	e = shoal_state_upstream_add(&st, "a\"b", "127.0.0.1:9001", 1);
	atomic_store(&e->active, 3);
	atomic_store(&e->checks_failed, 5);
	atomic_store(&e->ejected_until_ms, 2000);
	shoal_state_upstream_add(&st, "app", "127.0.0.1:9002", 1);
	f = open_memstream(&text, &len);
	shoal_state_format_prometheus(f, &st, 1000);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(strstr(text, "# TYPE shoal_upstream_up gauge\n"
				     "shoal_upstream_up{upstream=\"a\\\"b\",server=\"127.0.0.1:9001\"} 0\n"
				     "shoal_upstream_up{upstream=\"app\",server=\"127.0.0.1:9002\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nshoal_upstream_in_flight{upstream=\"a\\\"b\","
				     "server=\"127.0.0.1:9001\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE shoal_upstream_ejections_total counter\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nshoal_upstream_checks_total{upstream=\"a\\\"b\","
				     "server=\"127.0.0.1:9001\",result=\"failed\"} 5\n"));
	free(text);
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

START_TEST(a_queue_entry_shows_its_waiting_requests_and_no_server_series)
{
	struct tmp t;
	struct shoal_state st;
	struct shoal_state_upstream *q;
	char *text = NULL, status[32];
	size_t len = 0;
	FILE *f;

	tmp_make(&t);
	create_or_fail(&st, t.path);
	shoal_state_upstream_add(&st, "app", "127.0.0.1:9001", 1);
	q = shoal_state_upstream_add(&st, "app", "", 1);
	ck_assert(shoal_state_upstream_is_queue(q));
	ck_assert(!shoal_state_upstream_is_queue(shoal_state_upstream_find(&st, "app",
									   "127.0.0.1:9001")));
	ck_assert_ptr_eq(shoal_state_upstream_find(&st, "app", ""), q);
	atomic_store(&q->active, 3);
	shoal_state_format_status(status, sizeof(status), q, 1000);
	ck_assert_str_eq(status, "queue");
	text = cells_of(shoal_state_format_cells, q);
	ck_assert_str_eq(text, " queue         -                    3          -         -");
	free(text);
	text = cells_of(shoal_state_format_json, q);
	ck_assert_str_eq(text, ", \"state\": \"queue\", \"admin\": null, \"check\": null, "
			 "\"check_result\": null, \"in_flight\": 3, \"admin_weight\": null, "
			 "\"ejected_left_ms\": null, \"ejections_total\": null, "
			 "\"checks_passed\": null, \"checks_failed\": null");
	free(text);
	f = open_memstream(&text, &len);
	shoal_state_format_prometheus(f, &st, 1000);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(strstr(text, "server=\"127.0.0.1:9001\"} 1\n"));
	ck_assert_ptr_null(strstr(text, "server=\"\""));
	free(text);
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

/* --- the address set --- */

static struct sockaddr_storage sa_of(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	}
	return ss;
}

static void assert_same_sa(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	size_t len = a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					      : sizeof(struct sockaddr_in);

	ck_assert_int_eq(a->ss_family, b->ss_family);
	ck_assert_int_eq(memcmp(a, b, len), 0);
}

START_TEST(address_sets_are_published_in_order)
{
	struct sockaddr_storage in[3], out[SHOAL_STATE_UPSTREAM_ADDRS];
	struct sockaddr_un *un = (struct sockaddr_un *)&in[1];
	struct shoal_state_upstream *e = calloc(1, sizeof(*e));
	uint32_t seq = 99, first;

	ck_assert_ptr_nonnull(e);
	/* No set: the configured address is used. */
	ck_assert_uint_eq(shoal_state_upstream_addrs(e, out, 8, &seq), 0);
	ck_assert_uint_eq(seq, 0);
	in[0] = sa_of("10.0.0.1", 9001);
	memset(&in[1], 0, sizeof(in[1]));
	un->sun_family = AF_UNIX;
	in[2] = sa_of("2001:db8::5", 9002);
	ck_assert_uint_eq(shoal_state_upstream_set_addrs(e, in, 3), 2);
	ck_assert_uint_eq(shoal_state_upstream_addrs(e, out, 8, &seq), 2);
	assert_same_sa(&out[0], &in[0]);
	assert_same_sa(&out[1], &in[2]);
	ck_assert_uint_eq(e->addrs[1].family, AF_INET6);
	ck_assert_uint_eq(e->addrs[1].port, 9002);
	ck_assert(seq != 0 && seq % 2 == 0);
	ck_assert_uint_eq(shoal_state_upstream_addr_seq(e), seq);
	first = seq;
	/* Every write moves the counter on, so a set read before is known to be old. */
	ck_assert_uint_eq(shoal_state_upstream_set_addrs(e, in, 1), 1);
	ck_assert_uint_eq(shoal_state_upstream_addrs(e, out, 8, &seq), 1);
	assert_same_sa(&out[0], &in[0]);
	ck_assert(seq > first && seq % 2 == 0);
	free(e);
}
END_TEST

START_TEST(address_sets_keep_the_first_eight)
{
	struct sockaddr_storage in[10], out[10];
	struct shoal_state_upstream *e = calloc(1, sizeof(*e));
	char ip[32];
	uint32_t seq;

	ck_assert_ptr_nonnull(e);
	for (int i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "10.0.0.%d", i + 1);
		in[i] = sa_of(ip, 80);
	}
	ck_assert_uint_eq(shoal_state_upstream_set_addrs(e, in, 10), SHOAL_STATE_UPSTREAM_ADDRS);
	ck_assert_uint_eq(shoal_state_upstream_addrs(e, out, 10, &seq), SHOAL_STATE_UPSTREAM_ADDRS);
	for (int i = 0; i < SHOAL_STATE_UPSTREAM_ADDRS; i++)
		assert_same_sa(&out[i], &in[i]);
	/* A reader takes no more than it asked for. */
	ck_assert_uint_eq(shoal_state_upstream_addrs(e, out, 3, &seq), 3);
	assert_same_sa(&out[2], &in[2]);
	free(e);
}
END_TEST

/* A writer killed while writing leaves the counter odd: readers give up (the configured
 * address serves), and the next writer takes the set over. */
START_TEST(an_abandoned_write_is_taken_over)
{
	struct sockaddr_storage in = sa_of("10.0.0.7", 80), out[8];
	struct shoal_state_upstream *e = calloc(1, sizeof(*e));
	uint32_t seq;

	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(shoal_state_upstream_set_addrs(e, &in, 1), 1);
	atomic_store(&e->addr_seq, 3);
	ck_assert_uint_eq(shoal_state_upstream_addrs(e, out, 8, &seq), 0);
	ck_assert_uint_eq(shoal_state_upstream_set_addrs(e, &in, 1), 1);
	ck_assert_uint_eq(shoal_state_upstream_addr_seq(e), 6);
	ck_assert_uint_eq(shoal_state_upstream_addrs(e, out, 8, &seq), 1);
	ck_assert_uint_eq(seq, 6);
	assert_same_sa(&out[0], &in);
	free(e);
}
END_TEST

/* Two sets, 2 and 8 addresses, written in turn by another process as fast as it can: every
 * read is one of them whole, never a mix (or none, when the reader gives up on a writer that
 * never stops). */
static void alternate_sets(struct shoal_state_upstream *e, const struct sockaddr_storage *a,
			   const struct sockaddr_storage *b)
{
	for (;;) {
		shoal_state_upstream_set_addrs(e, a, 2);
		shoal_state_upstream_set_addrs(e, b, SHOAL_STATE_UPSTREAM_ADDRS);
	}
}

static bool read_is_whole(const struct sockaddr_storage *out, unsigned n,
			  const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_storage *want = n == 2 ? a : b;

	if (n != 2 && n != SHOAL_STATE_UPSTREAM_ADDRS)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (memcmp(&out[i], &want[i], sizeof(struct sockaddr_in)) != 0)
			return false;
	return true;
}

START_TEST(address_sets_are_read_whole_while_written)
{
	struct sockaddr_storage a[2], b[SHOAL_STATE_UPSTREAM_ADDRS], out[8];
	unsigned seen[2] = { 0, 0 };
	struct shoal_state_upstream *e;
	struct shoal_state st;
	struct tmp t;
	time_t end = time(NULL) + 2;
	char ip[32];
	uint32_t seq;
	pid_t pid;

	a[0] = sa_of("10.0.0.1", 1);
	a[1] = sa_of("10.0.0.2", 1);
	for (int i = 0; i < SHOAL_STATE_UPSTREAM_ADDRS; i++) {
		snprintf(ip, sizeof(ip), "10.1.0.%d", i + 1);
		b[i] = sa_of(ip, 2);
	}
	tmp_make(&t);
	create_or_fail(&st, t.path);
	e = shoal_state_upstream_add(&st, "app", "app.internal:80", 1);
	shoal_state_upstream_set_addrs(e, a, 2);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		alternate_sets(e, a, b);
	while ((seen[0] < 1000 || seen[1] < 1000) && time(NULL) <= end) {
		unsigned n = shoal_state_upstream_addrs(e, out, 8, &seq);
		if (n == 0)
			continue;
		ck_assert_msg(read_is_whole(out, n, a, b), "a read of %u addresses is torn", n);
		seen[n == 2 ? 0 : 1]++;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_msg(seen[0] >= 1000 && seen[1] >= 1000, "saw %u and %u sets", seen[0], seen[1]);
	shoal_state_close(&st, true);
	tmp_remove(&t);
}
END_TEST

static Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *file = tcase_create("file");
	TCase *entries = tcase_create("entries");
	TCase *format = tcase_create("format");

	tcase_add_test(file, create_publishes_an_empty_file);
	tcase_add_test(file, create_replaces_a_previous_file);
	tcase_add_test(file, create_reports_a_bad_place);
	tcase_add_test(file, adopt_keeps_the_entries);
	tcase_add_test(file, adopt_and_open_refuse_another_version);
	tcase_add_test(file, open_explains_what_is_wrong);
	tcase_add_test(file, readers_map_read_only_or_writable);
	tcase_add_test(file, lock_excludes_another_master);
	tcase_add_test(entries, entries_are_appended_and_found_by_name);
	tcase_add_test(entries, names_are_cut_at_63_bytes);
	tcase_add_test(entries, a_full_room_returns_null);
	tcase_add_test(entries, address_sets_are_published_in_order);
	tcase_add_test(entries, address_sets_keep_the_first_eight);
	tcase_add_test(entries, an_abandoned_write_is_taken_over);
	tcase_add_test(entries, address_sets_are_read_whole_while_written);
	tcase_add_test(format, status_names_the_reason_a_server_is_out);
	tcase_add_test(format, check_shows_the_last_probe);
	tcase_add_test(format, cells_and_json_show_the_entry_or_dashes);
	tcase_add_test(format, prometheus_labels_every_entry);
	tcase_add_test(format, a_queue_entry_shows_its_waiting_requests_and_no_server_series);
	suite_add_tcase(s, file);
	suite_add_tcase(s, entries);
	suite_add_tcase(s, format);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(state_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
