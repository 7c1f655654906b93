/* error_pages: which file of a site answers which error status. */
#ifndef SHOAL_HANDLER_ERROR_PAGE_H
#define SHOAL_HANDLER_ERROR_PAGE_H

#include "shoal/handler/handler.h"

/* Parses the site's error_pages ("CODE... /path", checked by the configuration) into
 * site->error_pages, once per worker; -1 if memory runs out. */
int shoal_error_page_load(struct shoal_site *site);

/* The path error_pages gives for status, or NULL; the first entry naming it wins. */
const char *shoal_error_page_find(const struct shoal_site *site, int status);

#endif
