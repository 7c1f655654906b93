#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "shoal/base/mapfile.h"

int shoal_mapfile(int fd, const char *path, const char *what, size_t min, int prot, void **map,
		  struct stat *sb, struct shoal_err *err)
{
	if (fstat(fd, sb) < 0)
		return shoal_err_set(err, "%s: %s", path, strerror(errno));
	if (!S_ISREG(sb->st_mode) || (size_t)sb->st_size < min)
		return shoal_err_set(err, "%s: not a shoal %s file (%s)", path, what,
				     S_ISREG(sb->st_mode) ? "too small" : "not a regular file");
	*map = mmap(NULL, (size_t)sb->st_size, prot, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED)
		return shoal_err_set(err, "%s: mmap: %s", path, strerror(errno));
	return 0;
}
