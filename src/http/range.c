#include <limits.h>
#include <string.h>

#include "shoal/http/date.h"
#include "shoal/http/range.h"

#include "lex.h"

/* Reads 1*DIGIT. Returns 1 with *out set, 0 when no digit is there, -1 when the number does
 * not fit: a position that large cannot be honoured, and wrapping it would name another. */
static int take_uint64(struct lex_cursor *c, uint64_t *out)
{
	size_t start = c->pos;
	uint64_t v = 0;

	for (; !lex_at_end(c) && lex_is_digit((unsigned char)c->p[c->pos]); c->pos++) {
		unsigned d = (unsigned)(c->p[c->pos] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return c->pos > start;
}

/* The unit is a case-insensitive token (RFC 9110 14.1) immediately followed by '='. */
static bool take_bytes_unit(struct lex_cursor *c)
{
	static const char unit[] = "bytes";
	size_t i;

	if (c->len - c->pos < sizeof(unit) - 1)
		return false;
	for (i = 0; i < sizeof(unit) - 1; i++)
		if (lex_to_lower((unsigned char)c->p[c->pos + i]) != (unsigned char)unit[i])
			return false;
	c->pos += sizeof(unit) - 1;
	return lex_take_char(c, '=');
}

enum spec_result { SPEC_INVALID, SPEC_UNSATISFIABLE, SPEC_SATISFIABLE };

/* Parses one int-range ("first-" or "first-last") or suffix-range ("-suffix") and resolves
 * it against size. */
static enum spec_result take_range_spec(struct lex_cursor *c, uint64_t size,
					struct shoal_http_range *r)
{
	uint64_t first, last;
	int has_first = take_uint64(c, &first);
	int has_last;

	if (has_first < 0 || !lex_take_char(c, '-'))
		return SPEC_INVALID;
	has_last = take_uint64(c, &last);
	if (has_last < 0 || (!has_first && !has_last))
		return SPEC_INVALID;
	if (!has_first) {
		if (last == 0 || size == 0)
			return SPEC_UNSATISFIABLE;
		r->first = last < size ? size - last : 0;
		r->last = size - 1;
		return SPEC_SATISFIABLE;
	}
	if (has_last && last < first)
		return SPEC_INVALID;
	if (first >= size)
		return SPEC_UNSATISFIABLE;
	r->first = first;
	r->last = has_last && last < size ? last : size - 1;
	return SPEC_SATISFIABLE;
}

static void insert_sorted(struct shoal_http_range *out, size_t n, struct shoal_http_range r)
{
	size_t i = n;

	for (; i > 0 && out[i - 1].first > r.first; i--)
		out[i] = out[i - 1];
	out[i] = r;
}

/* Merges sorted ranges that overlap or touch. last < size <= UINT64_MAX, so last + 1 cannot
 * wrap. */
static size_t coalesce(struct shoal_http_range *out, size_t n)
{
	size_t kept = 0, i;

	for (i = 1; i < n; i++) {
		if (out[i].first <= out[kept].last + 1) {
			if (out[i].last > out[kept].last)
				out[kept].last = out[i].last;
		} else {
			out[++kept] = out[i];
		}
	}
	return kept + 1;
}

/* Specs are counted before they are resolved or merged: a cap on what the client wrote is
 * what bounds our parsing and sorting work, and ignoring an abusive header (200 with the whole
 * representation) is the response RFC 9110 14.2 suggests for it. The list follows the RFC
 * 9110 5.6.1 rules: empty elements are skipped, but at least one range-spec is required. */
int shoal_http_range_parse(const char *value, size_t len, uint64_t size,
			   struct shoal_http_range *out, size_t max)
{
	struct lex_cursor c = { value, len, 0 };
	size_t limit = max < INT_MAX ? max : INT_MAX; /* the count must fit the int returned */
	size_t nspecs = 0, n = 0;
	struct shoal_http_range r;

	if (!take_bytes_unit(&c))
		return 0;
	for (;;) {
		lex_skip_ows(&c);
		if (lex_at_end(&c))
			break;
		if (lex_take_char(&c, ','))
			continue;
		if (nspecs++ == limit)
			return 0;
		switch (take_range_spec(&c, size, &r)) {
		case SPEC_INVALID:
			return 0;
		case SPEC_SATISFIABLE:
			insert_sorted(out, n++, r);
			break;
		case SPEC_UNSATISFIABLE:
			break;
		}
		lex_skip_ows(&c);
		if (!lex_at_end(&c) && !lex_take_char(&c, ','))
			return 0;
	}
	if (nspecs == 0)
		return 0;
	if (n == 0)
		return -416;
	return (int)coalesce(out, n);
}

/* opaque-tag = DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text (RFC 9110 8.8.3) */
static bool is_opaque_tag(const char *s, size_t len)
{
	size_t i;

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return false;
	for (i = 1; i < len - 1; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x21 || ch == '"' || ch == 0x7f)
			return false;
	}
	return true;
}

/* If-Range needs a strong comparison (RFC 9110 13.1.5): a weak tag "W/..." is neither an
 * opaque-tag nor a date, so it falls through both tests and never matches; a weak server etag
 * cannot equal an opaque-tag byte for byte either. */
bool shoal_http_range_if_range_ok(const char *value, size_t len, const char *etag,
				  size_t etag_len, time_t last_modified)
{
	time_t date;

	if (len > 0 && value[0] == '"')
		return is_opaque_tag(value, len) && etag != NULL && etag_len == len &&
		       memcmp(value, etag, len) == 0;
	return last_modified != 0 && shoal_http_date_parse(value, len, &date) == 0 &&
	       date == last_modified;
}
