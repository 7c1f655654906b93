#include <stdarg.h>
#include <stdio.h>

#include "shoal/http/head.h"
#include "shoal/http/parser.h"

const char *shoal_http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* Appends with snprintf semantics; *len grows past cap on overflow, which the caller checks once. */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
}

size_t shoal_http_head_write(char *buf, size_t cap, const struct shoal_http_head *h,
			     const struct shoal_http_date *date)
{
	size_t len = 0;

	append(buf, cap, &len, "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n", h->status,
	       shoal_http_reason(h->status), h->server, date->text);
	if (h->content_type)
		append(buf, cap, &len, "Content-Type: %s\r\n", h->content_type);
	/* A 304 describes the representation it stands for; a length of 0 would misstate it. */
	if (h->status != 304 && h->status != 204)
		append(buf, cap, &len, "Content-Length: %llu\r\n",
		       (unsigned long long)h->content_length);
	if (h->last_modified) {
		char lm[32];
		shoal_http_date_format(h->last_modified, lm);
		append(buf, cap, &len, "Last-Modified: %s\r\n", lm);
	}
	if (h->etag)
		append(buf, cap, &len, "ETag: %s\r\n", h->etag);
	if (h->location)
		append(buf, cap, &len, "Location: %.*s\r\n", (int)h->location_len, h->location);
	if (h->allow)
		append(buf, cap, &len, "Allow: %s\r\n", h->allow);
	if (h->retry_after)
		append(buf, cap, &len, "Retry-After: %u\r\n", h->retry_after);
	if (h->accept_ranges)
		append(buf, cap, &len, "Accept-Ranges: bytes\r\n");
	if (h->content_range)
		append(buf, cap, &len, "Content-Range: bytes %llu-%llu/%llu\r\n",
		       (unsigned long long)h->range_first, (unsigned long long)h->range_last,
		       (unsigned long long)h->range_total);
	if (h->unsatisfied_range)
		append(buf, cap, &len, "Content-Range: bytes */%llu\r\n",
		       (unsigned long long)h->range_total);
	if (!h->keep_alive)
		append(buf, cap, &len, "Connection: close\r\n");
	else if (h->version == SHOAL_HTTP_10)
		append(buf, cap, &len, "Connection: keep-alive\r\n");
	append(buf, cap, &len, "\r\n");
	return len < cap ? len : 0;
}

size_t shoal_http_error_body(char *buf, size_t cap, int status)
{
	const char *reason = shoal_http_reason(status);
	int n = snprintf(buf, cap,
			 "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
			 "<body><h1>%d %s</h1></body></html>\n",
			 status, reason, status, reason);

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
