#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shoal/master/pidfile.h"

static int lock_query(int fd, pid_t *holder)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_GETLK, &fl) < 0)
		return -1;
	*holder = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
	return 0;
}

int shoal_pidfile_acquire(struct shoal_pidfile *pf, const char *path, struct shoal_err *err)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char text[32];
	pid_t holder = 0;
	int n;

	pf->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pf->fd < 0)
		return shoal_err_set(err, "cannot open pid file %s: %s", path, strerror(errno));
	if (fcntl(pf->fd, F_SETLK, &fl) < 0) {
		lock_query(pf->fd, &holder);
		close(pf->fd);
		pf->fd = -1;
		return shoal_err_set(err, "another shoal master (pid %d) is running with pid file %s",
				     (int)holder, path);
	}
	n = snprintf(text, sizeof(text), "%d\n", (int)getpid());
	if (ftruncate(pf->fd, 0) < 0 || pwrite(pf->fd, text, (size_t)n, 0) != n) {
		shoal_err_set(err, "cannot write pid file %s: %s", path, strerror(errno));
		close(pf->fd);
		pf->fd = -1;
		return -1;
	}
	snprintf(pf->path, sizeof(pf->path), "%s", path);
	return 0;
}

void shoal_pidfile_release(struct shoal_pidfile *pf)
{
	if (pf->fd < 0)
		return;
	unlink(pf->path);
	close(pf->fd);
	pf->fd = -1;
}

int shoal_pidfile_hand_over(struct shoal_pidfile *pf, pid_t new_master)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%d\n", (int)new_master);
	int rc = 0;

	if (pf->fd < 0)
		return -1;
	if (ftruncate(pf->fd, 0) < 0 || pwrite(pf->fd, text, (size_t)n, 0) != n)
		rc = -1;
	close(pf->fd); /* releases the lock */
	pf->fd = -1;
	return rc;
}

pid_t shoal_pidfile_owner(const char *path, struct shoal_err *err)
{
	pid_t holder;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return shoal_err_set(err, "cannot open pid file %s: %s (is shoal running?)", path,
				     strerror(errno));
	/* F_GETLK with a write lock type needs only a read descriptor to report a holder. */
	if (lock_query(fd, &holder) < 0) {
		shoal_err_set(err, "cannot inspect pid file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (holder <= 0)
		return shoal_err_set(err, "no shoal master holds %s (stale pid file)", path);
	return holder;
}
