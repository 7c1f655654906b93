#include <string.h>
#include <unistd.h>

#include "shoal/handler/error_page.h"
#include "shoal/handler/fs.h"
#include "shoal/handler/reply.h"
#include "shoal/http/mime.h"

/* A generated error page's body. */
#define PAGE_MAX 256

size_t shoal_reply_scratch_need(size_t target_len)
{
	return SHOAL_REPLY_HEAD_MAX + PAGE_MAX + target_len;
}

void shoal_reply_head(const struct shoal_handler_ctx *ctx, struct shoal_http_head *h, int status,
		      int version, bool keep_alive)
{
	memset(h, 0, sizeof(*h));
	h->server = ctx->server_header;
	h->status = status;
	h->version = version;
	h->keep_alive = keep_alive;
}

/* Writes head into the batch's scratch space, followed by body_len bytes of body (may be 0). */
void shoal_reply_generated(struct shoal_handler_ctx *ctx, struct shoal_out *out,
			   const struct shoal_http_head *h, const char *body, size_t body_len)
{
	size_t avail;
	char *p = shoal_out_scratch(out, &avail);
	size_t n = shoal_http_head_write(p, avail, h, &ctx->date);

	if (n == 0 || n + body_len > avail)
		return; /* cannot happen: callers reserve shoal_reply_scratch_need() */
	if (body_len)
		memcpy(p + n, body, body_len);
	shoal_out_commit(out, n + body_len);
	shoal_out_note(out, h->status, body_len);
}

static bool queue_custom_error(struct shoal_handler_ctx *ctx, const struct shoal_site *srv,
			       struct shoal_out *out, const struct shoal_http_head *base,
			       bool head_only)
{
	const char *path = srv ? shoal_error_page_find(srv, base->status) : NULL;
	struct shoal_fs_file f;
	struct shoal_http_head h;

	if (!path)
		return false;
	shoal_fs_open(srv->root_fd, srv->conf, path, strlen(path), &f);
	if (f.status != 200)
		return false;
	h = *base;
	h.content_type = shoal_mime_lookup(ctx->mime, f.name, f.name_len);
	h.content_length = (uint64_t)f.st.st_size;
	shoal_reply_generated(ctx, out, &h, NULL, 0);
	if (head_only || f.st.st_size == 0) {
		close(f.fd);
		return true;
	}
	shoal_out_file(out, f.fd, 0, f.st.st_size, NULL);
	shoal_out_note(out, h.status, (uint64_t)f.st.st_size);
	return true;
}

/* Queues h with the small built-in HTML page of its status as the body. */
void shoal_reply_builtin_page(struct shoal_handler_ctx *ctx, struct shoal_out *out,
			      struct shoal_http_head *h, bool head_only)
{
	char page[PAGE_MAX];
	size_t len = shoal_http_error_body(page, sizeof(page), h->status);

	h->content_type = "text/html; charset=utf-8";
	h->content_length = len;
	shoal_reply_generated(ctx, out, h, page, head_only ? 0 : len);
}

void shoal_reply_error(struct shoal_handler_ctx *ctx, const struct shoal_site *srv,
		       struct shoal_out *out, int status, int version, bool keep_alive,
		       bool head_only)
{
	shoal_reply_error_after(ctx, srv, out, status, version, keep_alive, head_only, 0);
}

void shoal_reply_error_after(struct shoal_handler_ctx *ctx, const struct shoal_site *srv,
			     struct shoal_out *out, int status, int version, bool keep_alive,
			     bool head_only, unsigned retry_after)
{
	struct shoal_http_head h;

	shoal_reply_head(ctx, &h, status, version, keep_alive);
	if (status == 405)
		h.allow = "GET, HEAD, OPTIONS";
	h.retry_after = retry_after;
	if (queue_custom_error(ctx, srv, out, &h, head_only))
		return;
	shoal_reply_builtin_page(ctx, out, &h, head_only);
}

/* A generated body that outlives this call: held by the batch until it is sent. */
void shoal_reply_owned_body(struct shoal_handler_ctx *ctx, const struct shoal_http_request *req,
			    struct shoal_http_head *h, char *body, size_t len, bool keep_alive,
			    struct shoal_out *out)
{
	struct shoal_cache_entry *owned = shoal_cache_entry_adopt(body, len);

	if (!owned) {
		shoal_reply_error(ctx, NULL, out, 500, req->version, keep_alive,
				  req->method == SHOAL_HTTP_HEAD);
		return;
	}
	h->content_length = len;
	shoal_reply_generated(ctx, out, h, NULL, 0);
	shoal_ref_hold(&owned->ref);
	if (req->method == SHOAL_HTTP_GET) {
		shoal_out_add(out, owned->data, len, &owned->ref);
		shoal_out_note(out, h->status, len);
	}
	shoal_ref_drop(&owned->ref); /* the batch holds it now, or (HEAD) nothing does */
}
