#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/handler/file_cache.h"

#include "check_run.h"

static char *make_data(size_t head_len, size_t body_len)
{
	char *d = malloc(head_len + 2 + body_len);

	memset(d, 'h', head_len);
	memcpy(d + head_len, "\r\n", 2);
	memset(d + head_len + 2, 'b', body_len);
	return d;
}

static struct stat stat_of(ino_t ino, off_t size, time_t mtime)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	st.st_size = size;
	st.st_mtim.tv_sec = mtime;
	return st;
}

static struct shoal_cache_entry *put(struct shoal_file_cache *c, const void *owner,
				     const char *path, ino_t ino, size_t body)
{
	struct stat st = stat_of(ino, (off_t)body, 100);

	return shoal_file_cache_put(c, owner, path, strlen(path), &st, make_data(10, body), 10, body);
}

START_TEST(get_finds_by_owner_and_path)
{
	struct shoal_file_cache c;
	int a, b;

	ck_assert_int_eq(shoal_file_cache_init(&c, 8, 1 << 20, 0), 0);
	ck_assert_ptr_nonnull(put(&c, &a, "/x", 1, 5));
	ck_assert_ptr_nonnull(put(&c, &b, "/x", 2, 5));
	ck_assert_int_eq(shoal_file_cache_get(&c, &a, "/x", 2)->ino, 1);
	ck_assert_int_eq(shoal_file_cache_get(&c, &b, "/x", 2)->ino, 2);
	ck_assert_ptr_null(shoal_file_cache_get(&c, &a, "/y", 2));
	ck_assert_ptr_null(shoal_file_cache_get(&c, &a, "/x/", 3));
	shoal_file_cache_free(&c);
}
END_TEST

START_TEST(put_replaces_same_key)
{
	struct shoal_file_cache c;
	int owner;

	shoal_file_cache_init(&c, 8, 1 << 20, 0);
	put(&c, &owner, "/x", 1, 5);
	put(&c, &owner, "/x", 2, 7);
	ck_assert_uint_eq(c.nentries, 1);
	ck_assert_int_eq(shoal_file_cache_get(&c, &owner, "/x", 2)->ino, 2);
	shoal_file_cache_free(&c);
}
END_TEST

START_TEST(evicts_least_recently_used)
{
	struct shoal_file_cache c;
	int owner;

	shoal_file_cache_init(&c, 3, 1 << 20, 0);
	put(&c, &owner, "/1", 1, 5);
	put(&c, &owner, "/2", 2, 5);
	put(&c, &owner, "/3", 3, 5);
	shoal_file_cache_get(&c, &owner, "/1", 2); /* /2 is now the oldest */
	put(&c, &owner, "/4", 4, 5);
	ck_assert_ptr_nonnull(shoal_file_cache_get(&c, &owner, "/1", 2));
	ck_assert_ptr_null(shoal_file_cache_get(&c, &owner, "/2", 2));
	ck_assert_ptr_nonnull(shoal_file_cache_get(&c, &owner, "/3", 2));
	ck_assert_ptr_nonnull(shoal_file_cache_get(&c, &owner, "/4", 2));
	shoal_file_cache_free(&c);
}
END_TEST

START_TEST(byte_budget_is_kept)
{
	struct shoal_file_cache c;
	int owner;

	shoal_file_cache_init(&c, 100, 3000, 0);
	put(&c, &owner, "/1", 1, 1000);
	put(&c, &owner, "/2", 2, 1000);
	put(&c, &owner, "/3", 3, 1000);
	ck_assert_uint_le(c.bytes, 3000);
	ck_assert_ptr_null(shoal_file_cache_get(&c, &owner, "/1", 2));
	ck_assert_ptr_null(put(&c, &owner, "/big", 9, 5000)); /* larger than the whole budget */
	ck_assert_ptr_nonnull(shoal_file_cache_get(&c, &owner, "/3", 2));
	shoal_file_cache_free(&c);
}
END_TEST

START_TEST(referenced_entry_outlives_drop)
{
	struct shoal_file_cache c;
	struct shoal_cache_entry *e;
	int owner;

	shoal_file_cache_init(&c, 8, 1 << 20, 0);
	e = put(&c, &owner, "/x", 1, 5);
	shoal_ref_hold(&e->ref);
	shoal_file_cache_drop(&c, e);
	ck_assert_ptr_null(shoal_file_cache_get(&c, &owner, "/x", 2));
	ck_assert_uint_eq(c.nentries, 0);
	/* Still readable by the response that holds it (ASan would catch a use after free). */
	ck_assert_int_eq(e->data[e->head_len + 2], 'b');
	shoal_ref_drop(&e->ref);
	shoal_file_cache_free(&c);
}
END_TEST

START_TEST(matches_detects_changes)
{
	struct shoal_file_cache c;
	struct shoal_cache_entry *e;
	struct stat st;
	int owner;

	shoal_file_cache_init(&c, 8, 1 << 20, 0);
	e = put(&c, &owner, "/x", 1, 5);
	st = stat_of(1, 5, 100);
	ck_assert(shoal_cache_entry_matches(e, &st));
	st = stat_of(1, 6, 100);
	ck_assert(!shoal_cache_entry_matches(e, &st));
	st = stat_of(1, 5, 101);
	ck_assert(!shoal_cache_entry_matches(e, &st));
	st = stat_of(2, 5, 100);
	ck_assert(!shoal_cache_entry_matches(e, &st));
	shoal_file_cache_free(&c);
}
END_TEST

static int open_null(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static struct shoal_cache_entry *put_fd(struct shoal_file_cache *c, const void *owner,
					const char *path, int fd)
{
	struct stat st = stat_of((ino_t)fd, 1 << 20, 100);

	return shoal_file_cache_put_fd(c, owner, path, strlen(path), &st, fd);
}

START_TEST(open_files_are_kept_and_closed_least_recently_used_first)
{
	struct shoal_file_cache c;
	int owner, a = open_null(), b = open_null(), d = open_null();

	shoal_file_cache_init(&c, 8, 1 << 20, 2);
	ck_assert_ptr_nonnull(put(&c, &owner, "/small", 1, 5));
	ck_assert_int_eq(put_fd(&c, &owner, "/a", a)->fd, a);
	ck_assert_int_eq(put_fd(&c, &owner, "/b", b)->fd, b);
	ck_assert_uint_eq(c.nfds, 2);
	ck_assert_uint_eq(c.nentries, 1);
	ck_assert_int_eq(shoal_file_cache_get(&c, &owner, "/a", 2)->fd, a); /* /b is the oldest */
	ck_assert_ptr_nonnull(put_fd(&c, &owner, "/d", d));
	ck_assert_uint_eq(c.nfds, 2);
	ck_assert(!is_open(b));
	ck_assert_ptr_null(shoal_file_cache_get(&c, &owner, "/b", 2));
	ck_assert(is_open(a) && is_open(d));
	/* Open files do not push the small files out, nor the other way round. */
	ck_assert_int_eq(shoal_file_cache_get(&c, &owner, "/small", 6)->fd, -1);
	shoal_file_cache_free(&c);
	ck_assert(!is_open(a) && !is_open(d));
}
END_TEST

START_TEST(an_open_file_in_use_closes_with_its_last_response)
{
	struct shoal_file_cache c;
	struct shoal_cache_entry *e;
	int owner, fd = open_null(), newer = open_null();

	shoal_file_cache_init(&c, 8, 1 << 20, 4);
	e = put_fd(&c, &owner, "/big", fd);
	shoal_ref_hold(&e->ref); /* a response is sending from it */
	ck_assert_ptr_nonnull(put_fd(&c, &owner, "/big", newer)); /* the file was replaced */
	ck_assert_uint_eq(c.nfds, 1);
	ck_assert(is_open(fd));
	shoal_ref_drop(&e->ref);
	ck_assert(!is_open(fd));
	ck_assert(is_open(newer));
	shoal_file_cache_free(&c);
}
END_TEST

START_TEST(no_open_file_is_kept_without_room)
{
	struct shoal_file_cache c;
	int owner, fd = open_null();

	shoal_file_cache_init(&c, 8, 1 << 20, 0);
	ck_assert_ptr_null(put_fd(&c, &owner, "/big", fd));
	ck_assert(is_open(fd)); /* still the caller's */
	ck_assert_uint_eq(c.nfds, 0);
	close(fd);
	shoal_file_cache_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("file_cache");
	TCase *tc = tcase_create("cache");

	tcase_add_test(tc, get_finds_by_owner_and_path);
	tcase_add_test(tc, put_replaces_same_key);
	tcase_add_test(tc, evicts_least_recently_used);
	tcase_add_test(tc, byte_budget_is_kept);
	tcase_add_test(tc, referenced_entry_outlives_drop);
	tcase_add_test(tc, matches_detects_changes);
	tcase_add_test(tc, open_files_are_kept_and_closed_least_recently_used_first);
	tcase_add_test(tc, an_open_file_in_use_closes_with_its_last_response);
	tcase_add_test(tc, no_open_file_is_kept_without_room);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
