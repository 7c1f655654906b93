/* Content-Type by file extension: a table built once at start-up, before the workers fork,
 * and only read afterwards, so lookups need no locking and allocate nothing. */
#ifndef SHOAL_HTTP_MIME_H
#define SHOAL_HTTP_MIME_H

#include <stddef.h>

#include "shoal/base/error.h"

/* Longer extensions are ignored when loading and refused by shoal_mime_set(). */
#define SHOAL_MIME_EXT_MAX 32

struct shoal_mime;

/* Builds the table from a built-in set of common types, then from mime_types_path (the
 * /etc/mime.types format: "type/subtype ext1 ext2 ..." lines, '#' comments), whose entries
 * win. A missing file (or a NULL path) leaves the built-in set alone; an unreadable or
 * malformed one is an error. default_type answers for unknown extensions. Text types get
 * "; charset=utf-8" (see mime.c for which ones and why). Returns 0, or -1 with err set. */
int shoal_mime_load(struct shoal_mime **out, const char *mime_types_path,
		    const char *default_type, struct shoal_err *err);

/* Adds or replaces the type of one extension (given without its dot, any case), for
 * configuration that overrides the file. A type that already has parameters (contains ';')
 * is used as is. Returns 0, or -1 with err set. */
int shoal_mime_set(struct shoal_mime *m, const char *ext, const char *type,
		   struct shoal_err *err);

/* Returns the Content-Type value for the file name name[0..len): the type of the text after
 * the last '.' of its final path component, compared case-insensitively, or the default
 * type when there is none or it is unknown. The string lives as long as m. */
const char *shoal_mime_lookup(const struct shoal_mime *m, const char *name, size_t len);

void shoal_mime_free(struct shoal_mime *m);

#endif
