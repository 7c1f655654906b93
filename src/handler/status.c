#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/handler/metrics.h"
#include "shoal/handler/reply.h"
#include "shoal/handler/status.h"
#include "shoal/stats/format.h"
#include "shoal/stats/stats.h"

static bool wants_json(const struct shoal_http_request *req)
{
	return req->query.len && memmem(req->query.p, req->query.len, "format=json", 11);
}

/* Formats the stats into a malloc'ed buffer: the status endpoint is not a hot path. */
static char *format_stats(const struct shoal_handler_ctx *ctx, bool json, size_t *len)
{
	struct shoal_stats_snapshot snap;
	struct shoal_err err;
	char *buf = NULL;
	FILE *f;
	int rc;

	if (!ctx->stats_view || shoal_stats_snapshot_init(&snap, ctx->stats_view, &err) < 0)
		return NULL;
	f = open_memstream(&buf, len);
	rc = f ? shoal_stats_snapshot(ctx->stats_view, &snap, &err) : -1;
	if (rc == 0)
		rc = json ? shoal_stats_format_json(f, &snap)
			  : shoal_metrics_prometheus(f, &snap, ctx->state, ctx->now_ms);
	if (f && fclose(f) != 0)
		rc = -1;
	shoal_stats_snapshot_free(&snap);
	if (rc < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

bool shoal_status_handle(struct shoal_handler_req *r)
{
	struct shoal_handler_ctx *ctx = r->ctx;
	const struct shoal_http_request *req = r->http;
	bool json = wants_json(req);
	struct shoal_http_head h;
	size_t len = 0;
	char *text = format_stats(ctx, json, &len);

	if (!text) {
		shoal_reply_error(ctx, NULL, r->out, 500, req->version, r->keep_alive,
				  req->method == SHOAL_HTTP_HEAD);
		return r->keep_alive;
	}
	shoal_reply_head(ctx, &h, 200, req->version, r->keep_alive);
	h.content_type = json ? "application/json" : "text/plain; version=0.0.4; charset=utf-8";
	shoal_reply_owned_body(ctx, req, &h, text, len, r->keep_alive, r->out);
	return r->keep_alive;
}
