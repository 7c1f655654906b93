/* Directory listings (autoindex): an HTML page of a directory's entries, sorted by name, with
 * every name escaped for HTML and percent-encoded in links. Entries whose names start with a
 * dot are left out: they are often meant to stay private (.git, .htpasswd). */
#ifndef SHOAL_HANDLER_AUTOINDEX_H
#define SHOAL_HANDLER_AUTOINDEX_H

#include <stddef.h>

#include "shoal/base/error.h"

/* Renders the listing of the directory dirfd (which it closes) shown at url_path (decoded,
 * ending in '/'). Returns a malloc'ed page and its length in *len, or NULL with err. */
char *shoal_autoindex_render(int dirfd, const char *url_path, size_t *len, struct shoal_err *err);

#endif
