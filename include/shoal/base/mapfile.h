/* Mapping a shared file whole: the stats file and the state file are read and written by
 * every process through such a mapping. */
#ifndef SHOAL_BASE_MAPFILE_H
#define SHOAL_BASE_MAPFILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "shoal/base/error.h"

/* Maps the regular file fd of at least min bytes whole, MAP_SHARED with prot; *map and *sb
 * (its stat) on success. Errors name path and say it is "not a shoal <what> file" when it is
 * not a regular file or too small. -1 with err set. */
int shoal_mapfile(int fd, const char *path, const char *what, size_t min, int prot, void **map,
		  struct stat *sb, struct shoal_err *err);

#endif
