#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/handler/autoindex.h"
#include "shoal/handler/file_cache.h"
#include "shoal/handler/fs.h"
#include "shoal/handler/reply.h"
#include "shoal/handler/static.h"
#include "shoal/http/date.h"
#include "shoal/http/mime.h"
#include "shoal/http/path.h"
#include "shoal/http/date.h"
#include "shoal/http/range.h"

static const char conn_close[] = "Connection: close\r\n";
static const char conn_keep_alive[] = "Connection: keep-alive\r\n";

static void respond_redirect(struct shoal_handler_ctx *ctx, const struct shoal_site *srv,
			     const struct shoal_http_request *req, size_t path_len, bool keep_alive,
			     struct shoal_out *out)
{
	struct shoal_http_head h;
	char location[sizeof(ctx->path) + 2];
	int n = snprintf(location, sizeof(location), "%.*s/%s%.*s", (int)path_len, ctx->path,
			 req->query.len ? "?" : "", (int)req->query.len, req->query.p);

	if (n < 0 || (size_t)n >= sizeof(location)) {
		shoal_reply_error(ctx, srv, out, 414, req->version, false, false);
		return;
	}
	shoal_reply_head(ctx, &h, 301, req->version, keep_alive);
	h.location = location;
	h.location_len = (size_t)n;
	shoal_reply_generated(ctx, out, &h, NULL, 0);
}

/* Weak comparison (RFC 9110 8.8.3.2): "W/" prefixes do not matter for If-None-Match. */
static bool etag_list_matches(struct shoal_http_str list, const char *etag)
{
	const char *p = list.p, *end = list.p + list.len;
	const char *tag = etag[0] == 'W' ? etag + 2 : etag;
	size_t tag_len = strlen(tag);

	while (p < end) {
		const char *start, *stop;
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p < end && *p == '*')
			return true;
		start = p;
		while (p < end && *p != ',')
			p++;
		stop = p;
		while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
			stop--;
		if (stop - start > 2 && start[0] == 'W' && start[1] == '/')
			start += 2;
		if ((size_t)(stop - start) == tag_len && memcmp(start, tag, tag_len) == 0)
			return true;
	}
	return false;
}

static bool not_modified(const struct shoal_http_request *req, const char *etag, time_t mtime)
{
	time_t since;

	if (req->if_none_match.len)
		return etag_list_matches(req->if_none_match, etag);
	return req->if_modified_since.len &&
	       shoal_http_date_parse(req->if_modified_since.p, req->if_modified_since.len,
				     &since) == 0 &&
	       mtime <= since;
}

/* Ranges in one multipart/byteranges answer; a request for more is served whole. */
#define MAX_RANGES 16
/* Bytes of parts read into memory for a multipart answer about a file served with sendfile;
 * a request for more is answered with the whole file. */
#define MULTIPART_READ_MAX (1 << 20)

/* What to send of a representation: all of it, ranges of it, or a status without body. */
struct selection {
	int status; /* 200, 206, 304 or 416 */
	uint64_t first, len; /* the one range of a single-part 206 */
	struct shoal_http_range ranges[MAX_RANGES];
	int nranges; /* > 1: multipart/byteranges */
};

static void select_whole(struct selection *sel, uint64_t size)
{
	sel->status = 200;
	sel->first = 0;
	sel->len = size;
	sel->nranges = 0;
}

/* What to answer about a file of size bytes: 304, 416, 206 with one range or more (sorted and
 * coalesced by the range parser), or the whole file. */
static void select_part(const struct shoal_http_request *req, const char *etag, time_t mtime,
			uint64_t size, struct selection *sel)
{
	int n;

	select_whole(sel, size);
	if (not_modified(req, etag, mtime)) {
		sel->status = 304;
		return;
	}
	if (!req->range.len || req->method != SHOAL_HTTP_GET)
		return;
	if (req->if_range.len &&
	    !shoal_http_range_if_range_ok(req->if_range.p, req->if_range.len, etag, strlen(etag), mtime))
		return;
	n = shoal_http_range_parse(req->range.p, req->range.len, size, sel->ranges, MAX_RANGES);
	if (n == -416) {
		sel->status = 416;
	} else if (n >= 1) {
		sel->status = 206;
		sel->nranges = n;
		sel->first = sel->ranges[0].first;
		sel->len = sel->ranges[0].last - sel->ranges[0].first + 1;
	}
}

/* The head of a 206, 304 or 416 answer about a file. */
static void queue_part_head(struct shoal_handler_ctx *ctx, const struct shoal_http_request *req,
			    const struct selection *sel, const char *type, const char *etag,
			    time_t mtime, uint64_t size, bool keep_alive, struct shoal_out *out)
{
	struct shoal_http_head h;

	if (sel->status == 416) {
		shoal_reply_head(ctx, &h, 416, req->version, keep_alive);
		h.unsatisfied_range = true;
		h.range_total = size;
		shoal_reply_builtin_page(ctx, out, &h, req->method == SHOAL_HTTP_HEAD);
		return;
	}
	shoal_reply_head(ctx, &h, sel->status, req->version, keep_alive);
	h.etag = etag;
	h.last_modified = mtime;
	if (sel->status == 206) {
		h.content_type = type;
		h.content_length = sel->len;
		h.accept_ranges = true;
		h.content_range = true;
		h.range_first = sel->first;
		h.range_last = sel->first + sel->len - 1;
		h.range_total = size;
	}
	shoal_reply_generated(ctx, out, &h, NULL, 0);
}

/* A boundary no file can be expected to contain: it changes with every answer. */
static size_t make_boundary(struct shoal_handler_ctx *ctx, char *out, size_t size)
{
	return (size_t)snprintf(out, size, "shoal-%016llx%08llx", (unsigned long long)ctx->now_ms,
				(unsigned long long)++ctx->multipart_count);
}

#define PART_HEAD_MAX 256

/* The head of one part, with the CRLF that ends the previous part in front. */
static size_t part_head(char *out, size_t size, const char *boundary, const char *type,
			const struct shoal_http_range *r, uint64_t total)
{
	int n = snprintf(out, size, "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
			 boundary, type, (unsigned long long)r->first, (unsigned long long)r->last,
			 (unsigned long long)total);

	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* 206 multipart/byteranges from a cached file: the part heads are generated, the parts are
 * slices of the entry. Returns false if the batch has no room for it. */
static bool queue_multipart(struct shoal_handler_ctx *ctx, const struct shoal_http_request *req,
			    struct shoal_cache_entry *e, const struct selection *sel,
			    bool keep_alive, struct shoal_out *out)
{
	char boundary[48], type[96], scratch_head[PART_HEAD_MAX];
	size_t blen = make_boundary(ctx, boundary, sizeof(boundary)), avail, used = 0;
	uint64_t length = 0, total = (uint64_t)e->body_len;
	struct shoal_http_head h;
	char *p;

	if (!shoal_out_room(out, (unsigned)(2 * sel->nranges + 2),
			    SHOAL_REPLY_HEAD_MAX + (size_t)sel->nranges * sizeof(scratch_head) + blen + 8))
		return false;
	for (int i = 0; i < sel->nranges; i++)
		length += part_head(scratch_head, sizeof(scratch_head), boundary, e->content_type,
				    &sel->ranges[i], total) +
			  sel->ranges[i].last - sel->ranges[i].first + 1;
	length += blen + 8; /* "\r\n--" boundary "--\r\n" */
	snprintf(type, sizeof(type), "multipart/byteranges; boundary=%s", boundary);
	shoal_reply_head(ctx, &h, 206, req->version, keep_alive);
	h.content_type = type;
	h.content_length = length;
	h.etag = e->etag;
	h.last_modified = e->mtime.tv_sec;
	h.accept_ranges = true;
	shoal_reply_generated(ctx, out, &h, NULL, 0);
	for (int i = 0; i < sel->nranges; i++) {
		p = shoal_out_scratch(out, &avail);
		shoal_out_commit(out, part_head(p, avail, boundary, e->content_type, &sel->ranges[i],
						total));
		shoal_out_add(out, e->data + e->head_len + 2 + sel->ranges[i].first,
			      sel->ranges[i].last - sel->ranges[i].first + 1, &e->ref);
	}
	p = shoal_out_scratch(out, &avail);
	used = (size_t)snprintf(p, avail, "\r\n--%s--\r\n", boundary);
	shoal_out_commit(out, used);
	shoal_out_note(out, 206, length);
	return true;
}

static void queue_entry(struct shoal_handler_ctx *ctx, const struct shoal_http_request *req,
			struct shoal_cache_entry *e, bool keep_alive, struct shoal_out *out)
{
	bool head_only = req->method == SHOAL_HTTP_HEAD;
	struct selection sel;

	/* An entry still being sent keeps its old Date until it is out: rewriting it now would
	 * change bytes under a write in progress. */
	if (e->date_sec != ctx->date.sec && e->ref.count == 0) {
		memcpy(e->data + e->date_off, ctx->date.text, strlen(ctx->date.text));
		e->date_sec = ctx->date.sec;
	}
	select_part(req, e->etag, e->mtime.tv_sec, (uint64_t)e->body_len, &sel);
	if (sel.nranges > 1 && queue_multipart(ctx, req, e, &sel, keep_alive, out))
		return;
	if (sel.nranges > 1) /* no room in this batch for all the parts: the whole file */
		select_whole(&sel, (uint64_t)e->body_len);
	if (sel.status != 200) {
		queue_part_head(ctx, req, &sel, e->content_type, e->etag, e->mtime.tv_sec,
				(uint64_t)e->body_len, keep_alive, out);
		if (sel.status == 206 && !head_only) {
			shoal_out_add(out, e->data + e->head_len + 2 + sel.first, sel.len, &e->ref);
			shoal_out_note(out, 206, sel.len);
		}
		return;
	}
	shoal_out_note(out, 200, head_only ? 0 : e->body_len);
	if (keep_alive && req->version == SHOAL_HTTP_11) {
		shoal_out_add(out, e->data, e->head_len + 2 + (head_only ? 0 : e->body_len), &e->ref);
		return;
	}
	shoal_out_add(out, e->data, e->head_len, &e->ref);
	if (!keep_alive)
		shoal_out_add(out, conn_close, sizeof(conn_close) - 1, NULL);
	else
		shoal_out_add(out, conn_keep_alive, sizeof(conn_keep_alive) - 1, NULL);
	shoal_out_add(out, e->data + e->head_len, 2 + (head_only ? 0 : e->body_len), &e->ref);
}

static void format_etag(const struct stat *st, char *etag, size_t size)
{
	snprintf(etag, size, "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t)st->st_mtime,
		 (uint64_t)st->st_size);
}

static bool read_all(int fd, char *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/* Builds the entry of a small file: its whole 200 response, head prebuilt. */
static struct shoal_cache_entry *cache_fill(struct shoal_handler_ctx *ctx,
					    const struct shoal_site *srv,
					    const struct shoal_fs_file *f, size_t path_len)
{
	struct shoal_http_head h;
	struct shoal_cache_entry *e;
	char head[SHOAL_REPLY_HEAD_MAX], etag[48];
	const char *type = shoal_mime_lookup(ctx->mime, f->name, f->name_len);
	size_t size = (size_t)f->st.st_size, n;
	char *data;

	format_etag(&f->st, etag, sizeof(etag));
	shoal_reply_head(ctx, &h, 200, SHOAL_HTTP_11, true);
	h.content_type = type;
	h.content_length = size;
	h.last_modified = f->st.st_mtime;
	h.etag = etag;
	h.accept_ranges = true;
	n = shoal_http_head_write(head, sizeof(head), &h, &ctx->date);
	data = n ? malloc(n + size) : NULL;
	if (!data)
		return NULL;
	memcpy(data, head, n);
	if (!read_all(f->fd, data + n, size, 0)) {
		free(data);
		return NULL;
	}
	e = shoal_file_cache_put(&ctx->cache, srv, ctx->path, path_len, &f->st, data, n - 2, size);
	if (!e)
		return NULL;
	e->date_sec = ctx->date.sec;
	e->date_off = (size_t)((char *)memmem(data, n, "\r\nDate: ", 8) - data) + 8;
	e->content_type = type;
	e->checked_ms = ctx->now_ms;
	memcpy(e->etag, etag, sizeof(etag));
	return e;
}

/* A file served with sendfile: what its response head needs, and whose descriptor it is. */
struct sent_file {
	int fd;
	struct shoal_cache_entry *owner; /* holds fd open; NULL: fd is this response's to close */
	const char *type;
	const char *etag;
	time_t mtime;
	uint64_t size;
};

/* 206 multipart/byteranges about a file served with sendfile: the parts are read into one
 * generated body. Returns false if they are too large for that, or cannot be read. */
static bool queue_file_multipart(struct shoal_handler_ctx *ctx,
				 const struct shoal_http_request *req, const struct sent_file *f,
				 const struct selection *sel, bool keep_alive, struct shoal_out *out)
{
	char boundary[48], type[96];
	size_t blen = make_boundary(ctx, boundary, sizeof(boundary)), cap = blen + 8, len = 0;
	uint64_t parts = 0;
	struct shoal_http_head h;
	char *body;

	for (int i = 0; i < sel->nranges; i++)
		parts += sel->ranges[i].last - sel->ranges[i].first + 1;
	if (parts > MULTIPART_READ_MAX)
		return false;
	cap += (size_t)parts + (size_t)sel->nranges * PART_HEAD_MAX;
	body = malloc(cap);
	for (int i = 0; body && i < sel->nranges; i++) {
		const struct shoal_http_range *r = &sel->ranges[i];
		size_t n = (size_t)(r->last - r->first + 1);
		len += part_head(body + len, cap - len, boundary, f->type, r, f->size);
		if (!read_all(f->fd, body + len, n, r->first)) {
			free(body);
			return false;
		}
		len += n;
	}
	if (!body)
		return false;
	len += (size_t)snprintf(body + len, cap - len, "\r\n--%s--\r\n", boundary);
	snprintf(type, sizeof(type), "multipart/byteranges; boundary=%s", boundary);
	shoal_reply_head(ctx, &h, 206, req->version, keep_alive);
	h.content_type = type;
	h.etag = f->etag;
	h.last_modified = f->mtime;
	h.accept_ranges = true;
	shoal_reply_owned_body(ctx, req, &h, body, len, keep_alive, out);
	return true;
}

/* A file too large for the in-memory cache: a generated head, then the body with sendfile. */
static void queue_file(struct shoal_handler_ctx *ctx, const struct shoal_http_request *req,
		       const struct sent_file *f, bool keep_alive, struct shoal_out *out)
{
	struct shoal_http_head h;
	struct selection sel;

	select_part(req, f->etag, f->mtime, f->size, &sel);
	if (sel.nranges > 1 && queue_file_multipart(ctx, req, f, &sel, keep_alive, out)) {
		if (!f->owner)
			close(f->fd);
		return;
	}
	if (sel.nranges > 1) /* too much to read into memory: the whole file, as RFC 9110 allows */
		select_whole(&sel, f->size);
	if (sel.status != 200) {
		queue_part_head(ctx, req, &sel, f->type, f->etag, f->mtime, f->size, keep_alive, out);
	} else {
		shoal_reply_head(ctx, &h, 200, req->version, keep_alive);
		h.content_type = f->type;
		h.content_length = f->size;
		h.last_modified = f->mtime;
		h.etag = f->etag;
		h.accept_ranges = true;
		shoal_reply_generated(ctx, out, &h, NULL, 0);
	}
	if ((sel.status == 200 || sel.status == 206) && req->method == SHOAL_HTTP_GET && sel.len) {
		shoal_out_file(out, f->fd, (off_t)sel.first, (off_t)sel.len,
			       f->owner ? &f->owner->ref : NULL);
		shoal_out_note(out, sel.status, sel.len);
		return;
	}
	if (!f->owner)
		close(f->fd);
}

/* Keeps a large file open in the cache for the next requests; NULL if it may not be, and
 * f->fd is still the caller's. */
static struct shoal_cache_entry *cache_keep_open(struct shoal_handler_ctx *ctx,
						 const struct shoal_site *srv,
						 struct shoal_fs_file *f, size_t path_len)
{
	struct shoal_cache_entry *e =
		shoal_file_cache_put_fd(&ctx->cache, srv, ctx->path, path_len, &f->st, f->fd);

	if (!e)
		return NULL;
	f->fd = -1;
	format_etag(&f->st, e->etag, sizeof(e->etag));
	e->content_type = shoal_mime_lookup(ctx->mime, f->name, f->name_len);
	e->checked_ms = ctx->now_ms;
	return e;
}

static void queue_open_file(struct shoal_handler_ctx *ctx, const struct shoal_http_request *req,
			    struct shoal_fs_file *f, bool keep_alive, struct shoal_out *out)
{
	char etag[48];
	struct sent_file sf = {
		.fd = f->fd, .etag = etag, .mtime = f->st.st_mtime, .size = (uint64_t)f->st.st_size,
		.type = shoal_mime_lookup(ctx->mime, f->name, f->name_len),
	};

	format_etag(&f->st, etag, sizeof(etag));
	queue_file(ctx, req, &sf, keep_alive, out);
}

static void queue_cached_file(struct shoal_handler_ctx *ctx, const struct shoal_http_request *req,
			      struct shoal_cache_entry *e, bool keep_alive, struct shoal_out *out)
{
	struct sent_file sf = {
		.fd = e->fd, .owner = e, .type = e->content_type, .etag = e->etag,
		.mtime = e->mtime.tv_sec, .size = (uint64_t)e->size,
	};

	queue_file(ctx, req, &sf, keep_alive, out);
}

/* The cached entry for the path, if it may be served: at most once per cache_revalidate the
 * file is opened again to check that it did not change. If it did, the fresh open is handed
 * back in *f so that the caller does not open it twice. */
static struct shoal_cache_entry *cache_lookup(struct shoal_handler_ctx *ctx,
					      struct shoal_site *srv, size_t path_len,
					      struct shoal_fs_file *f)
{
	struct shoal_cache_entry *e = shoal_file_cache_get(&ctx->cache, srv, ctx->path, path_len);

	f->status = 0;
	if (!e || ctx->now_ms - e->checked_ms < ctx->cache_revalidate_ms)
		return e;
	shoal_fs_open(srv->root_fd, srv->conf, ctx->path, path_len, f);
	if (f->status == 200 && shoal_cache_entry_matches(e, &f->st)) {
		close(f->fd);
		f->status = 0;
		e->checked_ms = ctx->now_ms;
		return e;
	}
	/* The check itself failed (out of descriptors, say): the cached copy is the best answer
	 * there is, and the next request checks again. */
	if (f->status == 500) {
		f->status = 0;
		return e;
	}
	shoal_file_cache_drop(&ctx->cache, e);
	return NULL;
}

/* autoindex: a directory without an index file is listed. */
static bool respond_listing(struct shoal_handler_ctx *ctx, const struct shoal_site *srv,
			    const struct shoal_http_request *req, bool keep_alive,
			    struct shoal_out *out)
{
	int fd = shoal_fs_open_dir(srv->root_fd, srv->conf, ctx->path);
	struct shoal_http_head h;
	struct shoal_err err;
	size_t len = 0;
	char *page = fd >= 0 ? shoal_autoindex_render(fd, ctx->path, &len, &err) : NULL;

	if (!page) {
		shoal_reply_error(ctx, srv, out, 403, req->version, keep_alive,
				  req->method == SHOAL_HTTP_HEAD);
		return keep_alive;
	}
	shoal_reply_head(ctx, &h, 200, req->version, keep_alive);
	h.content_type = "text/html; charset=utf-8";
	shoal_reply_owned_body(ctx, req, &h, page, len, keep_alive, out);
	return keep_alive;
}

static bool respond_static(struct shoal_handler_ctx *ctx, struct shoal_site *srv,
			   const struct shoal_http_request *req, bool keep_alive,
			   struct shoal_out *out)
{
	struct shoal_fs_file f;
	struct shoal_cache_entry *e;
	size_t path_len;
	int rc = shoal_http_path_normalize(req->path.p, req->path.len, ctx->path, sizeof(ctx->path),
					   &path_len);

	if (rc < 0) {
		shoal_reply_error(ctx, srv, out, -rc, req->version, keep_alive,
				  req->method == SHOAL_HTTP_HEAD);
		return keep_alive;
	}
	e = cache_lookup(ctx, srv, path_len, &f);
	if (!e && f.status == 0)
		shoal_fs_open(srv->root_fd, srv->conf, ctx->path, path_len, &f);
	if (!e && f.status == 301) {
		respond_redirect(ctx, srv, req, path_len, keep_alive, out);
		return keep_alive;
	}
	if (!e && f.no_index && srv->conf->autoindex)
		return respond_listing(ctx, srv, req, keep_alive, out);
	if (!e && f.status != 200) {
		shoal_reply_error(ctx, srv, out, f.status, req->version, keep_alive,
				  req->method == SHOAL_HTTP_HEAD);
		return keep_alive;
	}
	if (!e && ctx->cfg->cache_max_file_size > 0 && f.st.st_size <= ctx->cfg->cache_max_file_size) {
		e = cache_fill(ctx, srv, &f, path_len);
		if (e)
			close(f.fd);
	} else if (!e) {
		e = cache_keep_open(ctx, srv, &f, path_len);
	}
	if (e && e->fd >= 0)
		queue_cached_file(ctx, req, e, keep_alive, out);
	else if (e)
		queue_entry(ctx, req, e, keep_alive, out);
	else
		queue_open_file(ctx, req, &f, keep_alive, out);
	return keep_alive;
}

bool shoal_static_handle(struct shoal_handler_req *r)
{
	struct shoal_handler_ctx *ctx = r->ctx;
	struct shoal_site *srv = r->site;
	const struct shoal_http_request *req = r->http;
	struct shoal_out *out = r->out;
	bool keep_alive = r->keep_alive;
	struct shoal_http_head h;

	switch (req->method) {
	case SHOAL_HTTP_GET:
	case SHOAL_HTTP_HEAD:
		return respond_static(ctx, srv, req, keep_alive, out);
	case SHOAL_HTTP_OPTIONS:
		shoal_reply_head(ctx, &h, 200, req->version, keep_alive);
		h.allow = "GET, HEAD, OPTIONS";
		shoal_reply_generated(ctx, out, &h, NULL, 0);
		return keep_alive;
	case SHOAL_HTTP_OTHER: /* a method shoal does not know at all (RFC 9110 9.1) */
		/* Whatever the client meant by it, shoal cannot know what follows: close. */
		shoal_reply_error(ctx, srv, out, 501, req->version, false, false);
		return false;
	default: /* known, but not for static files */
		shoal_reply_error(ctx, srv, out, 405, req->version, keep_alive, false);
		return keep_alive;
	}
}
