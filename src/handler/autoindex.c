#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shoal/handler/autoindex.h"

struct entry {
	char *name;
	bool dir;
	off_t size;
	time_t mtime;
};

static void put_html(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

/* Everything but unreserved characters and '/' is percent-encoded in an href. */
static void put_href(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~/", c))
			fputc(c, out);
		else
			fprintf(out, "%%%02X", c);
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static void free_entries(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

static int read_entries(DIR *d, struct entry **out, size_t *n, struct shoal_err *err)
{
	size_t cap = 0;
	struct dirent *de;

	*out = NULL;
	*n = 0;
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (*n == cap) {
			struct entry *more = realloc(*out, (cap = cap ? cap * 2 : 32) * sizeof(**out));
			if (!more)
				return shoal_err_set(err, "out of memory");
			*out = more;
		}
		(*out)[*n] = (struct entry){ .name = strdup(de->d_name), .dir = S_ISDIR(st.st_mode),
					     .size = st.st_size, .mtime = st.st_mtime };
		if (!(*out)[*n].name)
			return shoal_err_set(err, "out of memory");
		(*n)++;
	}
	if (errno)
		return shoal_err_set(err, "readdir: %s", strerror(errno));
	qsort(*out, *n, sizeof(**out), by_name);
	return 0;
}

static void write_page(FILE *out, const char *url_path, const struct entry *e, size_t n)
{
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ", out);
	put_html(out, url_path);
	fputs("</title></head>\n<body><h1>Index of ", out);
	put_html(out, url_path);
	fputs("</h1>\n<pre>\n", out);
	if (strcmp(url_path, "/") != 0)
		fputs("<a href=\"../\">../</a>\n", out);
	for (size_t i = 0; i < n; i++) {
		char when[32];
		struct tm tm;
		gmtime_r(&e[i].mtime, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
		fputs("<a href=\"", out);
		put_href(out, e[i].name);
		fputs(e[i].dir ? "/\">" : "\">", out);
		put_html(out, e[i].name);
		fprintf(out, "%s</a>  %s  ", e[i].dir ? "/" : "", when);
		if (e[i].dir)
			fputs("-\n", out);
		else
			fprintf(out, "%lld\n", (long long)e[i].size);
	}
	fputs("</pre>\n</body></html>\n", out);
}

char *shoal_autoindex_render(int fd, const char *url_path, size_t *len, struct shoal_err *err)
{
	DIR *d = fdopendir(fd);
	struct entry *entries = NULL;
	size_t n = 0;
	char *page = NULL;
	FILE *out;

	if (!d) {
		shoal_err_set(err, "fdopendir: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (read_entries(d, &entries, &n, err) < 0 ||
	    (!(out = open_memstream(&page, len)) && shoal_err_set(err, "out of memory"))) {
		free_entries(entries, n);
		closedir(d);
		return NULL;
	}
	write_page(out, url_path, entries, n);
	free_entries(entries, n);
	closedir(d);
	if (fclose(out) != 0) {
		free(page);
		shoal_err_set(err, "out of memory");
		return NULL;
	}
	return page;
}
