#include <stdint.h>

#include "shoal/http/date.h"

#include "lex.h"

size_t shoal_http_date_format(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	return strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void shoal_http_date_update(struct shoal_http_date *d, time_t now)
{
	if (d->sec == now)
		return;
	d->sec = now;
	shoal_http_date_format(now, d->text);
}

struct civil_time {
	int year, month, day, hour, minute, second; /* month 1..12 */
};

static const char *const month_names[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const char *const day_names[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const long_day_names[7] = { "Monday", "Tuesday",  "Wednesday", "Thursday",
						"Friday", "Saturday", "Sunday" };

/* Returns the index of the name taken, or -1. No name is a prefix of another in one table. */
static int take_name(struct lex_cursor *c, const char *const *names, int count)
{
	int i;

	for (i = 0; i < count; i++)
		if (lex_take_str(c, names[i]))
			return i;
	return -1;
}

static bool take_month(struct lex_cursor *c, int *month)
{
	*month = take_name(c, month_names, 12) + 1;
	return *month > 0;
}

/* Exactly n digits. */
static bool take_digits(struct lex_cursor *c, int n, int *out)
{
	*out = 0;
	for (; n > 0; n--, c->pos++) {
		if (lex_at_end(c) || !lex_is_digit((unsigned char)c->p[c->pos]))
			return false;
		*out = *out * 10 + (c->p[c->pos] - '0');
	}
	return true;
}

static bool take_time_of_day(struct lex_cursor *c, struct civil_time *t)
{
	return take_digits(c, 2, &t->hour) && lex_take_char(c, ':') &&
	       take_digits(c, 2, &t->minute) && lex_take_char(c, ':') &&
	       take_digits(c, 2, &t->second);
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool take_imf_fixdate(struct lex_cursor *c, struct civil_time *t)
{
	return take_name(c, day_names, 7) >= 0 && lex_take_str(c, ", ") &&
	       take_digits(c, 2, &t->day) && lex_take_char(c, ' ') && take_month(c, &t->month) &&
	       lex_take_char(c, ' ') && take_digits(c, 4, &t->year) && lex_take_char(c, ' ') &&
	       take_time_of_day(c, t) && lex_take_str(c, " GMT");
}

/* RFC 9110 5.6.7: a two-digit year that would be more than 50 years in the future is the most
 * recent past year with those digits. Judged by calendar year, which is all two digits carry. */
static int rfc850_full_year(int two_digits)
{
	time_t now = time(NULL);
	struct tm tm;
	int horizon;

	gmtime_r(&now, &tm);
	horizon = tm.tm_year + 1900 + 50;
	return horizon - (horizon - two_digits) % 100;
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static bool take_rfc850_date(struct lex_cursor *c, struct civil_time *t)
{
	int two_digits;

	if (!(take_name(c, long_day_names, 7) >= 0 && lex_take_str(c, ", ") &&
	      take_digits(c, 2, &t->day) && lex_take_char(c, '-') && take_month(c, &t->month) &&
	      lex_take_char(c, '-') && take_digits(c, 2, &two_digits) && lex_take_char(c, ' ') &&
	      take_time_of_day(c, t) && lex_take_str(c, " GMT")))
		return false;
	t->year = rfc850_full_year(two_digits);
	return true;
}

/* "Sun Nov  6 08:49:37 1994": the day is two digits or a space and one digit. */
static bool take_asctime_date(struct lex_cursor *c, struct civil_time *t)
{
	return take_name(c, day_names, 7) >= 0 && lex_take_char(c, ' ') &&
	       take_month(c, &t->month) && lex_take_char(c, ' ') &&
	       (lex_take_char(c, ' ') ? take_digits(c, 1, &t->day) : take_digits(c, 2, &t->day)) &&
	       lex_take_char(c, ' ') && take_time_of_day(c, t) && lex_take_char(c, ' ') &&
	       take_digits(c, 4, &t->year);
}

static bool is_leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return days[month - 1] + (month == 2 && is_leap_year(year));
}

/* Years start at 1900 as in RFC 5322 3.3, where IMF-fixdate comes from. The day name is
 * redundant with the date and is only checked for spelling. Second 60 is a leap second. */
static bool is_valid_civil_time(const struct civil_time *t)
{
	return t->year >= 1900 && t->day >= 1 && t->day <= days_in_month(t->year, t->month) &&
	       t->hour <= 23 && t->minute <= 59 && t->second <= 60;
}

/* Proleptic Gregorian, counted from 0001-01-01 so the leap-day divisions stay non-negative. */
static int64_t days_since_epoch(const struct civil_time *t)
{
	static const int days_before_month[12] = { 0,   31,  59,  90,  120, 151,
						   181, 212, 243, 273, 304, 334 };
	const int64_t days_0001_to_1970 = 719162;
	int64_t y = t->year - 1;
	int64_t days = 365 * y + y / 4 - y / 100 + y / 400;

	days += days_before_month[t->month - 1] + (t->month > 2 && is_leap_year(t->year));
	return days + t->day - 1 - days_0001_to_1970;
}

int shoal_http_date_parse(const char *value, size_t len, time_t *out)
{
	struct lex_cursor c = { value, len, 0 };
	struct civil_time t;
	int64_t seconds;

	if (!take_imf_fixdate(&c, &t)) {
		c.pos = 0;
		if (!take_rfc850_date(&c, &t)) {
			c.pos = 0;
			if (!take_asctime_date(&c, &t))
				return -1;
		}
	}
	if (!lex_at_end(&c) || !is_valid_civil_time(&t))
		return -1;
	seconds = days_since_epoch(&t) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
	if ((int64_t)(time_t)seconds != seconds)
		return -1;
	*out = (time_t)seconds;
	return 0;
}
