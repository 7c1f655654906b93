/* HTTP-dates (RFC 9110 5.6.7): the IMF-fixdate the server writes in Date and Last-Modified,
 * and the three forms a client may send in If-Modified-Since and If-Range. Allocation-free. The
 * parser is locale-free; the formatter's day and month names are those of the C locale, which
 * shoal never leaves. */
#ifndef SHOAL_HTTP_DATE_H
#define SHOAL_HTTP_DATE_H

#include <stddef.h>
#include <time.h>

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") recomputed at most once a second. */
struct shoal_http_date {
	time_t sec;
	char text[32];
};

/* Makes d->text the IMF-fixdate of now. Formats only when now differs from d->sec, so the text
 * of a d whose sec was set by hand is trusted as it is. */
void shoal_http_date_update(struct shoal_http_date *d, time_t now);

/* Writes the IMF-fixdate of t, NUL-terminated, into out. Returns its length (29 for years
 * 1000 to 9999), or 0 when it does not fit in 32 bytes. */
size_t shoal_http_date_format(time_t t, char out[32]);

/* Parses an HTTP-date in any of its three forms: IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT"), rfc850-date ("Sunday, 06-Nov-94 08:49:37 GMT") and
 * asctime-date ("Sun Nov  6 08:49:37 1994"). The whole of value[0..len) must match, case
 * included. Returns 0 and sets *out to seconds since the epoch, or -1. */
int shoal_http_date_parse(const char *value, size_t len, time_t *out);

#endif
