#include <stdio.h>
#include <time.h>

#include "shoal/handler/handler.h"

/* The worker's file cache holds at most this many files, whatever their size. */
#define CACHE_MAX_ENTRIES 16384

int shoal_handler_ctx_init(struct shoal_handler_ctx *ctx, const struct shoal_config *cfg,
			   const struct shoal_mime *mime)
{
	ctx->cfg = cfg;
	ctx->mime = mime;
	shoal_http_date_update(&ctx->date, time(NULL));
	ctx->cache_revalidate_ms = (uint64_t)cfg->cache_revalidate * 1000;
	snprintf(ctx->server_header, sizeof(ctx->server_header), "%s",
		 cfg->server_tokens ? "shoal/" SHOAL_VERSION : "shoal");
	return shoal_file_cache_init(&ctx->cache, CACHE_MAX_ENTRIES, (size_t)cfg->cache_max_size,
				     (size_t)cfg->cache_max_open_files);
}
