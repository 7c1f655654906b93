#include "shoal/handler/health.h"
#include "shoal/handler/reply.h"

bool shoal_health_handle(struct shoal_handler_req *r)
{
	static const char ok[] = "ok\n", stopping[] = "stopping\n";
	struct shoal_handler_ctx *ctx = r->ctx;
	const struct shoal_http_request *req = r->http;
	const char *body = ctx->stopping ? stopping : ok;
	size_t len = ctx->stopping ? sizeof(stopping) - 1 : sizeof(ok) - 1;
	struct shoal_http_head h;

	shoal_reply_head(ctx, &h, ctx->stopping ? 503 : 200, req->version, r->keep_alive);
	h.content_type = "text/plain; charset=utf-8";
	h.content_length = len;
	shoal_reply_generated(ctx, r->out, &h, body, req->method == SHOAL_HTTP_HEAD ? 0 : len);
	return r->keep_alive;
}
