#include <stdbool.h>
#include <string.h>

#include "shoal/http/path.h"

/* The work is done right to left: a ".." then only has to skip the next name it meets, so
 * names that a later ".." removes are never written. That makes the size check exact (a path
 * whose result fits is accepted whatever its detours) without a scratch buffer. Walking the
 * escapes backwards is unambiguous once a first pass has checked that every '%' starts a
 * valid escape, because the two hex digits that follow a '%' can never be a '%' themselves. */

enum segment_kind { SEGMENT_EMPTY, SEGMENT_DOT, SEGMENT_DOTDOT, SEGMENT_NAME };

struct segment {
	size_t begin, end; /* raw bytes of the segment, without its leading '/' */
	size_t decoded_len;
	enum segment_kind kind;
};

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Rejects what cannot be decoded or must not reach the file system; %00 is a control byte,
 * and would otherwise cut the name short at the open(2) call. An encoded '/' is refused
 * too: RFC 3986 says it is not a separator, and no file name can hold one. */
static int validate(const char *path, size_t len)
{
	size_t i;

	if (len == 0 || path[0] != '/')
		return -400;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c == '%') {
			int hi = i + 2 < len ? hex_value(path[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value(path[i + 2]) : -1;

			if (lo < 0)
				return -400;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			if (c == '/')
				return -400;
		}
		if (is_control(c))
			return -400;
	}
	return 0;
}

/* Steps *pos back over one decoded byte and returns it. Needs a validated path. */
static unsigned char byte_before(const char *path, size_t *pos)
{
	if (*pos >= 3 && path[*pos - 3] == '%') {
		*pos -= 3;
		return (unsigned char)(hex_value(path[*pos + 1]) << 4 | hex_value(path[*pos + 2]));
	}
	--*pos;
	return (unsigned char)path[*pos];
}

/* Reads the segment that ends at *pos and moves *pos to the start of the '/' before it.
 * The raw leading '/' of the path guarantees that such a '/' exists. */
static void segment_before(const char *path, size_t *pos, struct segment *seg)
{
	size_t dots = 0;
	size_t before;
	unsigned char c;

	seg->end = *pos;
	seg->decoded_len = 0;
	for (;;) {
		before = *pos;
		c = byte_before(path, pos);
		if (c == '/')
			break;
		seg->decoded_len++;
		dots += c == '.';
	}
	seg->begin = before;
	if (seg->decoded_len == 0)
		seg->kind = SEGMENT_EMPTY;
	else if (dots == seg->decoded_len && dots <= 2)
		seg->kind = dots == 1 ? SEGMENT_DOT : SEGMENT_DOTDOT;
	else
		seg->kind = SEGMENT_NAME;
}

/* Decides whether a segment survives; *pending counts the ".." not yet matched by a name. */
static bool keeps(const struct segment *seg, size_t *pending)
{
	if (seg->kind == SEGMENT_DOTDOT) {
		++*pending;
		return false;
	}
	if (seg->kind != SEGMENT_NAME)
		return false;
	if (*pending > 0) {
		--*pending;
		return false;
	}
	return true;
}

/* Computes the length of the result. A path whose last segment is not a name ("/a/",
 * "/a/.", "/a/b/..") names a directory and keeps its trailing '/'. */
static int measure(const char *path, size_t len, size_t *total, bool *trailing_slash)
{
	struct segment seg;
	size_t pos = len, pending = 0, names = 0, bytes = 0;

	*trailing_slash = false;
	while (pos > 0) {
		segment_before(path, &pos, &seg);
		if (seg.end == len)
			*trailing_slash = seg.kind != SEGMENT_NAME;
		if (keeps(&seg, &pending)) {
			names++;
			bytes += seg.decoded_len;
		}
	}
	if (pending > 0)
		return -400;
	if (names == 0) {
		*trailing_slash = false;
		*total = 1;
	} else {
		*total = bytes + names + *trailing_slash;
	}
	return 0;
}

/* Fills out[0..total) from the right; measure() has already checked everything. */
static void write_backwards(const char *path, size_t len, char *out, size_t total,
			    bool trailing_slash)
{
	struct segment seg;
	size_t pos = len, pending = 0, w = total;

	if (trailing_slash)
		out[--w] = '/';
	while (pos > 0) {
		segment_before(path, &pos, &seg);
		if (!keeps(&seg, &pending))
			continue;
		while (seg.end > seg.begin)
			out[--w] = (char)byte_before(path, &seg.end);
		out[--w] = '/';
	}
	if (w > 0)
		out[0] = '/'; /* no name survived: the root */
}

/* Whether the path is its own normal form: it starts with '/' and has no escape, no control
 * byte, no empty segment and no segment that starts with a dot (which covers "." and "..").
 * Most paths are: they are copied as they are, in one pass instead of three. */
static bool is_plain(const char *path, size_t len)
{
	if (len == 0 || path[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c == '%' || is_control(c) ||
		    (c == '/' && i + 1 < len && (path[i + 1] == '/' || path[i + 1] == '.')))
			return false;
	}
	return true;
}

int shoal_http_path_normalize(const char *path, size_t len, char *out, size_t outsz,
			      size_t *outlen)
{
	size_t total;
	bool trailing_slash;
	int rc;

	if (is_plain(path, len)) {
		if (len >= outsz)
			return -414;
		memcpy(out, path, len);
		out[len] = '\0';
		*outlen = len;
		return 0;
	}
	rc = validate(path, len);
	if (rc == 0)
		rc = measure(path, len, &total, &trailing_slash);
	if (rc < 0)
		return rc;
	if (total >= outsz)
		return -414;
	write_backwards(path, len, out, total, trailing_slash);
	out[total] = '\0';
	*outlen = total;
	return 0;
}
