/* Turns the path of a request target into the one absolute path the file engine may open:
 * percent-decoded exactly once, then with empty, "." and ".." segments resolved, so that
 * every spelling of a file maps to the same name and none of them climbs above the root. */
#ifndef SHOAL_HTTP_PATH_H
#define SHOAL_HTTP_PATH_H

#include <stddef.h>

/* Decodes and normalises path[0..len) (the target without its query; must start with '/')
 * into out as a NUL-terminated string of *outlen bytes. A trailing '/' is kept when the path
 * names a directory that way ("/a/", "/a/.", "/a/b/.." all give "/a/").
 * Returns 0; -400 for a malformed path (bad or NUL escape, control byte, ".." above the
 * root); -414 when the result plus its NUL does not fit in outsz bytes. Allocation-free,
 * O(len), and never writes past out[outsz - 1]. */
int shoal_http_path_normalize(const char *path, size_t len, char *out, size_t outsz,
			      size_t *outlen);

#endif
