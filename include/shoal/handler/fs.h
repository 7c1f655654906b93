/* Maps a request path to a file beneath a server's root, without ever leaving it. */
#ifndef SHOAL_HANDLER_FS_H
#define SHOAL_HANDLER_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "shoal/config/config.h"

struct shoal_fs_file {
	int status;       /* 200, or the error/redirect status to answer */
	int fd;           /* open regular file when status is 200, else -1 */
	struct stat st;
	bool no_index;    /* 403 because the directory has no index file (autoindex may list it) */
	const char *name; /* last path component, for the content type */
	size_t name_len;
};

/* Opens the file a normalised path (starting with '/') names beneath root_fd. A directory
 * path ending in '/' serves the first index file that exists; without the slash it answers
 * 301 (the caller builds the Location). */
void shoal_fs_open(int root_fd, const struct shoal_server_conf *server, const char *path,
		   size_t path_len, struct shoal_fs_file *out);

/* Opens the directory a normalised path ending in '/' names, for a listing. */
int shoal_fs_open_dir(int root_fd, const struct shoal_server_conf *server, const char *path);

/* Opens root as the directory that shoal_fs_open resolves beneath. */
int shoal_fs_open_root(const char *root, struct shoal_err *err);

#endif
