#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/master/upgrade.h"

int shoal_upgrade_encode(const struct shoal_slot_socket *socks, size_t n, char *buf,
			 size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + len, cap - len, "%s%s/%u=%d", i ? "," : "",
				 socks[i].addr.text, socks[i].slot, socks[i].fd);
		if (w < 0 || (size_t)w >= cap - len)
			return -1;
		len += (size_t)w;
	}
	return (int)len;
}

static int check_listener(int fd)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		return -1;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
		return -1;
	return 0;
}

/* One "ADDR/SLOT=FD" item; item is modified in place. */
static int decode_item(char *item, struct shoal_slot_socket *s, struct shoal_err *err)
{
	char *eq = strrchr(item, '='), *slash = strrchr(item, '/'), *end;
	long slot, fd;

	if (!eq || !slash || slash > eq)
		return shoal_err_set(err, "%s: bad item '%s'", SHOAL_UPGRADE_SOCKETS_ENV, item);
	*slash = *eq = '\0';
	slot = strtol(slash + 1, &end, 10);
	if (*end || slot < 0 || slot > 65535)
		return shoal_err_set(err, "%s: bad slot in '%s'", SHOAL_UPGRADE_SOCKETS_ENV, item);
	fd = strtol(eq + 1, &end, 10);
	if (*end || fd < 3 || fd > 1 << 20)
		return shoal_err_set(err, "%s: bad fd in '%s'", SHOAL_UPGRADE_SOCKETS_ENV, item);
	if (shoal_addr_parse(item, &s->addr, err) < 0)
		return -1;
	if (check_listener((int)fd) < 0)
		return shoal_err_set(err, "%s: fd %ld for %s is not a listening socket",
				     SHOAL_UPGRADE_SOCKETS_ENV, fd, s->addr.text);
	s->slot = (unsigned)slot;
	s->fd = (int)fd;
	return 0;
}

int shoal_upgrade_decode(const char *text, struct shoal_slot_socket **out, size_t *n,
			 struct shoal_err *err)
{
	char *copy = strdup(text), *save = NULL, *item;
	size_t cap = 1;

	*out = NULL;
	*n = 0;
	for (const char *p = text; *p; p++)
		cap += *p == ',';
	*out = calloc(cap, sizeof(**out));
	if (!copy || !*out) {
		free(copy);
		return shoal_err_set(err, "out of memory");
	}
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (decode_item(item, &(*out)[*n], err) < 0) {
			free(copy);
			free(*out);
			*out = NULL;
			*n = 0;
			return -1;
		}
		(*n)++;
	}
	free(copy);
	return 0;
}

static void clear_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags >= 0)
		fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

/* In the child: everything else the old master has is close-on-exec. */
static void exec_new_master(const char *exe, char *const argv[],
			    const struct shoal_slot_socket *socks, size_t n, int ready_fd,
			    int keys_fd, const char *sockets_env)
{
	char ready[16], keys[16];

	for (size_t i = 0; i < n; i++)
		clear_cloexec(socks[i].fd);
	clear_cloexec(ready_fd);
	snprintf(ready, sizeof(ready), "%d", ready_fd);
	snprintf(keys, sizeof(keys), "%d", keys_fd);
	if (keys_fd >= 0)
		clear_cloexec(keys_fd);
	if (setenv(SHOAL_UPGRADE_SOCKETS_ENV, sockets_env, 1) == 0 &&
	    setenv(SHOAL_UPGRADE_READY_ENV, ready, 1) == 0 &&
	    (keys_fd < 0 || setenv(SHOAL_UPGRADE_TLS_KEYS_ENV, keys, 1) == 0))
		execv(exe, argv);
	fprintf(stderr, "shoal: cannot execute %s: %s\n", exe, strerror(errno));
	_exit(127);
}

pid_t shoal_upgrade_exec(const char *exe, char *const argv[],
			 const struct shoal_slot_socket *socks, size_t n, int ready_fd, int keys_fd,
			 struct shoal_err *err)
{
	size_t cap = 64 + n * (SHOAL_ADDR_TEXT_MAX + 24);
	char *env = malloc(cap);
	pid_t pid;

	if (!env)
		return shoal_err_set(err, "out of memory");
	if (shoal_upgrade_encode(socks, n, env, cap) < 0) {
		free(env);
		return shoal_err_set(err, "cannot describe the sockets");
	}
	pid = fork();
	if (pid == 0)
		exec_new_master(exe, argv, socks, n, ready_fd, keys_fd, env);
	free(env);
	if (pid < 0)
		return shoal_err_set(err, "fork: %s", strerror(errno));
	return pid;
}
