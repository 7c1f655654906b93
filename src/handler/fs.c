#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shoal/handler/fs.h"

/* RESOLVE_BENEATH makes the kernel refuse any ".." or symlink that would leave the root,
 * atomically, which no userspace check between lookup and open can do. */
static int open_beneath(int dirfd, const char *path, int flags, bool follow_symlinks)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
			   (follow_symlinks ? 0 : RESOLVE_NO_SYMLINKS),
	};

	/* openat2 rejects O_PATH combined with flags that only make sense for real opens. */
	if (!(flags & O_PATH))
		how.flags |= O_NOCTTY;

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

static int status_for_errno(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG:
		return 404;
	case EACCES:
	case EPERM:
	case EXDEV: /* a symlink pointing out of the root */
	case ELOOP:
		return 403;
	default:
		return 500;
	}
}

static void set_error(struct shoal_fs_file *out, int status)
{
	out->status = status;
	out->fd = -1;
}

/* Regular files only: a FIFO or device under the root must never block or surprise a worker.
 * O_NONBLOCK in the open makes a FIFO open return at once so that this check can refuse it. */
static void finish_open(int fd, struct shoal_fs_file *out)
{
	struct stat *st = &out->st;

	if (fstat(fd, st) < 0) {
		close(fd);
		set_error(out, 500);
		return;
	}
	if (S_ISDIR(st->st_mode)) {
		close(fd);
		set_error(out, 301);
		return;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		set_error(out, 403);
		return;
	}
	out->status = 200;
	out->fd = fd;
}

static void open_index(int root_fd, const struct shoal_server_conf *server, const char *dir,
		       struct shoal_fs_file *out)
{
	int dirfd = open_beneath(root_fd, dir, O_PATH | O_DIRECTORY, server->follow_symlinks);

	if (dirfd < 0) {
		set_error(out, status_for_errno(errno));
		return;
	}
	for (size_t i = 0; i < server->nindex; i++) {
		int fd = open_beneath(dirfd, server->index[i], O_RDONLY | O_NONBLOCK,
				      server->follow_symlinks);
		if (fd < 0 && errno == ENOENT)
			continue;
		close(dirfd);
		if (fd < 0) {
			set_error(out, status_for_errno(errno));
			return;
		}
		out->name = server->index[i];
		out->name_len = strlen(server->index[i]);
		finish_open(fd, out);
		if (out->status == 301) /* an index that is a directory is not a file */
			out->status = 403;
		return;
	}
	close(dirfd);
	set_error(out, 403);
	out->no_index = true;
}

void shoal_fs_open(int root_fd, const struct shoal_server_conf *server, const char *path,
		   size_t path_len, struct shoal_fs_file *out)
{
	const char *rel = path_len > 1 ? path + 1 : ".";
	const char *slash = memrchr(path, '/', path_len);
	int fd;

	out->no_index = false;
	out->name = slash + 1;
	out->name_len = path_len - (size_t)(slash + 1 - path);
	if (path[path_len - 1] == '/') {
		open_index(root_fd, server, rel, out);
		return;
	}
	fd = open_beneath(root_fd, rel, O_RDONLY | O_NONBLOCK, server->follow_symlinks);
	if (fd < 0) {
		set_error(out, status_for_errno(errno));
		return;
	}
	finish_open(fd, out);
}

int shoal_fs_open_dir(int root_fd, const struct shoal_server_conf *server, const char *path)
{
	return open_beneath(root_fd, path[1] ? path + 1 : ".", O_RDONLY | O_DIRECTORY,
			    server->follow_symlinks);
}

int shoal_fs_open_root(const char *root, struct shoal_err *err)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return shoal_err_set(err, "cannot open root %s: %s", root, strerror(errno));
	return fd;
}
