#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shoal/tls/keys.h"

#include "check_run.h"

static struct shoal_tls_keys *make_ring(void)
{
	struct shoal_tls_keys *k = NULL;
	struct shoal_err err = { "" };

	ck_assert_msg(shoal_tls_keys_create(&k, &err) == 0, "%s", err.msg);
	return k;
}

static bool same_key(const struct shoal_tls_key *a, const struct shoal_tls_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* The ring is memory, not a file: a sealed memfd, close-on-exec until an upgrade clears it. */
START_TEST(the_ring_is_a_sealed_memfd)
{
	struct shoal_tls_keys *k = make_ring();
	int fd = shoal_tls_keys_fd(k);
	char link[64], target[256];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	ck_assert_int_gt(n, 0);
	target[n] = '\0';
	ck_assert_msg(strncmp(target, "/memfd:shoal-tls-keys", 21) == 0, "%s", target);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS) & (F_SEAL_GROW | F_SEAL_SHRINK),
			 F_SEAL_GROW | F_SEAL_SHRINK);
	ck_assert_int_eq(ftruncate(fd, 0), -1);
	shoal_tls_keys_close(k);
}
END_TEST

START_TEST(the_current_key_is_found_by_its_name_and_no_other_is)
{
	struct shoal_tls_keys *k = make_ring();
	struct shoal_tls_key current, found;
	unsigned char stranger[SHOAL_TLS_KEY_NAME] = "not a key name";

	ck_assert(shoal_tls_keys_current(k, &current));
	ck_assert_int_eq(shoal_tls_keys_find(k, current.name, &found), SHOAL_TLS_KEYS_CURRENT);
	ck_assert(same_key(&current, &found));
	ck_assert_int_eq(shoal_tls_keys_find(k, stranger, &found), SHOAL_TLS_KEYS_UNKNOWN);
	shoal_tls_keys_close(k);
}
END_TEST

/* A key is current, then previous for one rotation, then gone. */
START_TEST(a_key_lives_through_one_rotation_and_dies_at_the_second)
{
	struct shoal_tls_keys *k = make_ring();
	struct shoal_tls_key first, second, found;

	ck_assert(shoal_tls_keys_current(k, &first));
	ck_assert_int_eq(shoal_tls_keys_rotate(k, NULL), 0);
	ck_assert(shoal_tls_keys_current(k, &second));
	ck_assert(!same_key(&first, &second));
	ck_assert_int_eq(shoal_tls_keys_find(k, first.name, &found), SHOAL_TLS_KEYS_PREVIOUS);
	ck_assert(same_key(&first, &found));
	ck_assert_int_eq(shoal_tls_keys_find(k, second.name, &found), SHOAL_TLS_KEYS_CURRENT);
	ck_assert_int_eq(shoal_tls_keys_rotate(k, NULL), 0);
	ck_assert_int_eq(shoal_tls_keys_find(k, first.name, &found), SHOAL_TLS_KEYS_UNKNOWN);
	ck_assert_int_eq(shoal_tls_keys_find(k, second.name, &found), SHOAL_TLS_KEYS_PREVIOUS);
	shoal_tls_keys_close(k);
}
END_TEST

/* A worker forked before a rotation sees it: the mapping is shared, not copied. */
START_TEST(a_process_forked_before_a_rotation_sees_it)
{
	struct shoal_tls_keys *k = make_ring();
	struct shoal_tls_key rotated;
	int go[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(go), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct shoal_tls_key told, seen;
		ssize_t n = read(go[0], &told, sizeof(told));
		_exit(n == (ssize_t)sizeof(told) && shoal_tls_keys_current(k, &seen) &&
			      same_key(&told, &seen) ? 0 : 1);
	}
	ck_assert_int_eq(shoal_tls_keys_rotate(k, NULL), 0);
	ck_assert(shoal_tls_keys_current(k, &rotated));
	ck_assert_int_eq(write(go[1], &rotated, sizeof(rotated)), sizeof(rotated));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	shoal_tls_keys_close(k);
}
END_TEST

/* What a new binary does with the descriptor it was handed: the same ring, live. */
START_TEST(a_ring_adopted_from_its_descriptor_is_the_same_ring)
{
	struct shoal_tls_keys *k = make_ring(), *adopted = NULL;
	struct shoal_tls_key mine, theirs;
	struct shoal_err err = { "" };

	ck_assert_int_eq(shoal_tls_keys_adopt(dup(shoal_tls_keys_fd(k)), &adopted, &err), 0);
	ck_assert_int_eq(shoal_tls_keys_rotate(k, NULL), 0);
	ck_assert(shoal_tls_keys_current(k, &mine));
	ck_assert(shoal_tls_keys_current(adopted, &theirs));
	ck_assert(same_key(&mine, &theirs));
	shoal_tls_keys_close(adopted);
	shoal_tls_keys_close(k);
}
END_TEST

START_TEST(a_descriptor_that_is_no_ring_is_refused)
{
	struct shoal_tls_keys *adopted = NULL;
	struct shoal_err err = { "" };
	int p[2], small = memfd_create("small", 0), zero = memfd_create("zero", 0);
	struct shoal_tls_keys *k = make_ring();
	off_t size = lseek(shoal_tls_keys_fd(k), 0, SEEK_END);

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(shoal_tls_keys_adopt(p[0], &adopted, &err), -1);
	ck_assert_msg(strstr(err.msg, "not a key ring") != NULL, "%s", err.msg);
	ck_assert_int_eq(ftruncate(small, 16), 0);
	ck_assert_int_eq(shoal_tls_keys_adopt(small, &adopted, &err), -1);
	/* The right size, but never made a ring. */
	ck_assert_int_eq(ftruncate(zero, size), 0);
	err.msg[0] = '\0';
	ck_assert_int_eq(shoal_tls_keys_adopt(zero, &adopted, &err), -1);
	ck_assert_msg(strstr(err.msg, "not a key ring") != NULL, "%s", err.msg);
	ck_assert_ptr_null(adopted);
	close(p[1]);
	shoal_tls_keys_close(k);
}
END_TEST

/* Readers never see a torn key while the writer rotates as fast as it can: a key read whole
 * (current) and the key of the same name found again must be the same bytes. */
START_TEST(readers_never_see_a_torn_key_while_the_writer_rotates)
{
	struct shoal_tls_keys *k = make_ring();
	struct timespec start, now;
	unsigned compared = 0;
	int status = 0;
	pid_t done = 0, pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (int i = 0; i < 200000; i++)
			if (shoal_tls_keys_rotate(k, NULL) < 0)
				_exit(1);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	now = start;
	while (done == 0 && now.tv_sec - start.tv_sec < 20) {
		struct shoal_tls_key current, again;

		if (shoal_tls_keys_current(k, &current) &&
		    shoal_tls_keys_find(k, current.name, &again) != SHOAL_TLS_KEYS_UNKNOWN) {
			ck_assert(same_key(&current, &again));
			compared++;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		done = waitpid(pid, &status, WNOHANG);
	}
	ck_assert_int_eq(done, pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_gt(compared, 1000);
	shoal_tls_keys_close(k);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls_keys");
	TCase *tc = tcase_create("keys");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, the_ring_is_a_sealed_memfd);
	tcase_add_test(tc, the_current_key_is_found_by_its_name_and_no_other_is);
	tcase_add_test(tc, a_key_lives_through_one_rotation_and_dies_at_the_second);
	tcase_add_test(tc, a_process_forked_before_a_rotation_sees_it);
	tcase_add_test(tc, a_ring_adopted_from_its_descriptor_is_the_same_ring);
	tcase_add_test(tc, a_descriptor_that_is_no_ring_is_refused);
	tcase_add_test(tc, readers_never_see_a_torn_key_while_the_writer_rotates);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
