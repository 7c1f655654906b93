#include <stdlib.h>

#include "shoal/handler/error_page.h"

/* Walks the codes of an error_pages entry, counting them in *n and recording them in pages
 * (unless NULL) from index *n on; returns the path that follows them. */
static const char *error_page_codes(const char *entry, struct shoal_error_page *pages, size_t *n)
{
	const char *p = entry;

	while (*p >= '0' && *p <= '9') {
		char *end;
		long code = strtol(p, &end, 10);
		for (p = end; *p == ' '; p++)
			;
		if (pages)
			pages[*n].status = (int)code;
		(*n)++;
	}
	return p;
}

int shoal_error_page_load(struct shoal_site *srv)
{
	const struct shoal_server_conf *conf = srv->conf;
	size_t codes = 0, n = 0;

	for (size_t i = 0; i < conf->nerror_pages; i++)
		error_page_codes(conf->error_pages[i], NULL, &codes);
	srv->nerror_pages = 0;
	srv->error_pages = codes ? calloc(codes, sizeof(*srv->error_pages)) : NULL;
	if (codes && !srv->error_pages)
		return -1;
	for (size_t i = 0; i < conf->nerror_pages; i++) {
		size_t first = n;
		const char *path = error_page_codes(conf->error_pages[i], srv->error_pages, &n);
		while (first < n)
			srv->error_pages[first++].path = path;
	}
	srv->nerror_pages = n;
	return 0;
}

/* The path error_pages gives for status, or NULL; the first entry naming it wins. */
const char *shoal_error_page_find(const struct shoal_site *srv, int status)
{
	for (size_t i = 0; i < srv->nerror_pages; i++)
		if (srv->error_pages[i].status == status)
			return srv->error_pages[i].path;
	return NULL;
}
