#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/handler/autoindex.h"
#include "shoal/handler/file_cache.h"
#include "shoal/http/path.h"
#include "shoal/http/date.h"
#include "shoal/http/range.h"
#include "shoal/http/head.h"
#include "shoal/http/mime.h"
#include "shoal/handler/respond.h"
#include "shoal/handler/fs.h"
#include "shoal/stats/stats.h"
#include "shoal/stats/format.h"
#include "shoal/worker/worker.h"

/* A generated head with every header shoal sends, and a generated error page. */
#define HEAD_MAX 1024
#define PAGE_MAX 256

static const char conn_close[] = "Connection: close\r\n";
static const char conn_keep_alive[] = "Connection: keep-alive\r\n";

size_t shoal_respond_scratch_need(size_t target_len)
{
	return HEAD_MAX + PAGE_MAX + target_len;
}

static void head_init(const struct shoal_worker *w, struct shoal_http_head *h, int status,
		      int version, bool keep_alive)
{
	memset(h, 0, sizeof(*h));
	h->server = w->server_header;
	h->status = status;
	h->version = version;
	h->keep_alive = keep_alive;
}

/* Writes head into the batch's scratch space, followed by body_len bytes of body (may be 0). */
static void queue_generated(struct shoal_worker *w, struct shoal_out *out,
			    const struct shoal_http_head *h, const char *body, size_t body_len)
{
	size_t avail;
	char *p = shoal_out_scratch(out, &avail);
	size_t n = shoal_http_head_write(p, avail, h, &w->date);

	if (n == 0 || n + body_len > avail)
		return; /* cannot happen: callers reserve shoal_respond_scratch_need() */
	if (body_len)
		memcpy(p + n, body, body_len);
	shoal_out_commit(out, n + body_len);
	shoal_out_note(out, h->status, body_len);
}

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

int shoal_respond_load_error_pages(struct shoal_worker_server *srv)
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
static const char *error_page_for(const struct shoal_worker_server *srv, int status)
{
	for (size_t i = 0; i < srv->nerror_pages; i++)
		if (srv->error_pages[i].status == status)
			return srv->error_pages[i].path;
	return NULL;
}

static bool queue_custom_error(struct shoal_worker *w, const struct shoal_worker_server *srv,
			       struct shoal_out *out, int status, int version, bool keep_alive,
			       bool head_only)
{
	const char *path = srv ? error_page_for(srv, status) : NULL;
	struct shoal_fs_file f;
	struct shoal_http_head h;

	if (!path)
		return false;
	shoal_fs_open(srv->root_fd, srv->conf, path, strlen(path), &f);
	if (f.status != 200)
		return false;
	head_init(w, &h, status, version, keep_alive);
	h.content_type = shoal_mime_lookup(w->mime, f.name, f.name_len);
	h.content_length = (uint64_t)f.st.st_size;
	if (status == 405)
		h.allow = "GET, HEAD, OPTIONS";
	queue_generated(w, out, &h, NULL, 0);
	if (head_only || f.st.st_size == 0) {
		close(f.fd);
		return true;
	}
	shoal_out_file(out, f.fd, 0, f.st.st_size, NULL);
	shoal_out_note(out, status, (uint64_t)f.st.st_size);
	return true;
}

/* Queues h with the small built-in HTML page of its status as the body. */
static void queue_builtin_page(struct shoal_worker *w, struct shoal_out *out,
			       struct shoal_http_head *h, bool head_only)
{
	char page[PAGE_MAX];
	size_t len = shoal_http_error_body(page, sizeof(page), h->status);

	h->content_type = "text/html; charset=utf-8";
	h->content_length = len;
	queue_generated(w, out, h, page, head_only ? 0 : len);
}

void shoal_respond_error(struct shoal_worker *w, const struct shoal_worker_server *srv,
			 struct shoal_out *out, int status, int version, bool keep_alive,
			 bool head_only)
{
	struct shoal_http_head h;

	if (queue_custom_error(w, srv, out, status, version, keep_alive, head_only))
		return;
	head_init(w, &h, status, version, keep_alive);
	if (status == 405)
		h.allow = "GET, HEAD, OPTIONS";
	queue_builtin_page(w, out, &h, head_only);
}

static void respond_redirect(struct shoal_worker *w, const struct shoal_worker_server *srv,
			     const struct shoal_http_request *req, size_t path_len, bool keep_alive,
			     struct shoal_out *out)
{
	struct shoal_http_head h;
	char location[sizeof(w->path) + 2];
	int n = snprintf(location, sizeof(location), "%.*s/%s%.*s", (int)path_len, w->path,
			 req->query.len ? "?" : "", (int)req->query.len, req->query.p);

	if (n < 0 || (size_t)n >= sizeof(location)) {
		shoal_respond_error(w, srv, out, 414, req->version, false, false);
		return;
	}
	head_init(w, &h, 301, req->version, keep_alive);
	h.location = location;
	h.location_len = (size_t)n;
	queue_generated(w, out, &h, NULL, 0);
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

/* A generated body that outlives this call: held by the batch until it is sent. */
static void queue_owned_body(struct shoal_worker *w, const struct shoal_http_request *req,
			     struct shoal_http_head *h, char *body, size_t len, bool keep_alive,
			     struct shoal_out *out)
{
	struct shoal_cache_entry *owned = shoal_cache_entry_adopt(body, len);

	if (!owned) {
		shoal_respond_error(w, NULL, out, 500, req->version, keep_alive,
				    req->method == SHOAL_HTTP_HEAD);
		return;
	}
	h->content_length = len;
	queue_generated(w, out, h, NULL, 0);
	shoal_ref_hold(&owned->ref);
	if (req->method == SHOAL_HTTP_GET) {
		shoal_out_add(out, owned->data, len, &owned->ref);
		shoal_out_note(out, h->status, len);
	}
	shoal_ref_drop(&owned->ref); /* the batch holds it now, or (HEAD) nothing does */
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
static void queue_part_head(struct shoal_worker *w, const struct shoal_http_request *req,
			    const struct selection *sel, const char *type, const char *etag,
			    time_t mtime, uint64_t size, bool keep_alive, struct shoal_out *out)
{
	struct shoal_http_head h;

	if (sel->status == 416) {
		head_init(w, &h, 416, req->version, keep_alive);
		h.unsatisfied_range = true;
		h.range_total = size;
		queue_builtin_page(w, out, &h, req->method == SHOAL_HTTP_HEAD);
		return;
	}
	head_init(w, &h, sel->status, req->version, keep_alive);
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
	queue_generated(w, out, &h, NULL, 0);
}

/* A boundary no file can be expected to contain: it changes with every answer. */
static size_t make_boundary(struct shoal_worker *w, char *out, size_t size)
{
	return (size_t)snprintf(out, size, "shoal-%016llx%08llx", (unsigned long long)w->now_ms,
				(unsigned long long)++w->multipart_count);
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
static bool queue_multipart(struct shoal_worker *w, const struct shoal_http_request *req,
			    struct shoal_cache_entry *e, const struct selection *sel,
			    bool keep_alive, struct shoal_out *out)
{
	char boundary[48], type[96], scratch_head[PART_HEAD_MAX];
	size_t blen = make_boundary(w, boundary, sizeof(boundary)), avail, used = 0;
	uint64_t length = 0, total = (uint64_t)e->body_len;
	struct shoal_http_head h;
	char *p;

	if (!shoal_out_room(out, (unsigned)(2 * sel->nranges + 2),
			    HEAD_MAX + (size_t)sel->nranges * sizeof(scratch_head) + blen + 8))
		return false;
	for (int i = 0; i < sel->nranges; i++)
		length += part_head(scratch_head, sizeof(scratch_head), boundary, e->content_type,
				    &sel->ranges[i], total) +
			  sel->ranges[i].last - sel->ranges[i].first + 1;
	length += blen + 8; /* "\r\n--" boundary "--\r\n" */
	snprintf(type, sizeof(type), "multipart/byteranges; boundary=%s", boundary);
	head_init(w, &h, 206, req->version, keep_alive);
	h.content_type = type;
	h.content_length = length;
	h.etag = e->etag;
	h.last_modified = e->mtime.tv_sec;
	h.accept_ranges = true;
	queue_generated(w, out, &h, NULL, 0);
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

static void queue_entry(struct shoal_worker *w, const struct shoal_http_request *req,
			struct shoal_cache_entry *e, bool keep_alive, struct shoal_out *out)
{
	bool head_only = req->method == SHOAL_HTTP_HEAD;
	struct selection sel;

	/* An entry still being sent keeps its old Date until it is out: rewriting it now would
	 * change bytes under a write in progress. */
	if (e->date_sec != w->date.sec && e->ref.count == 0) {
		memcpy(e->data + e->date_off, w->date.text, strlen(w->date.text));
		e->date_sec = w->date.sec;
	}
	select_part(req, e->etag, e->mtime.tv_sec, (uint64_t)e->body_len, &sel);
	if (sel.nranges > 1 && queue_multipart(w, req, e, &sel, keep_alive, out))
		return;
	if (sel.nranges > 1) /* no room in this batch for all the parts: the whole file */
		select_whole(&sel, (uint64_t)e->body_len);
	if (sel.status != 200) {
		queue_part_head(w, req, &sel, e->content_type, e->etag, e->mtime.tv_sec,
				(uint64_t)e->body_len, keep_alive, out);
		if (sel.status == 206 && !head_only) {
			shoal_out_add(out, e->data + e->head_len + 2 + sel.first, sel.len, &e->ref);
			shoal_out_note(out, 206, sel.len);
		}
		return;
	}
	shoal_out_note(out, 200, head_only ? 0 : e->body_len);
	if (keep_alive && req->version == 11) {
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
static struct shoal_cache_entry *cache_fill(struct shoal_worker *w,
					    const struct shoal_worker_server *srv,
					    const struct shoal_fs_file *f, size_t path_len)
{
	struct shoal_http_head h;
	struct shoal_cache_entry *e;
	char head[HEAD_MAX], etag[48];
	const char *type = shoal_mime_lookup(w->mime, f->name, f->name_len);
	size_t size = (size_t)f->st.st_size, n;
	char *data;

	format_etag(&f->st, etag, sizeof(etag));
	head_init(w, &h, 200, 11, true);
	h.content_type = type;
	h.content_length = size;
	h.last_modified = f->st.st_mtime;
	h.etag = etag;
	h.accept_ranges = true;
	n = shoal_http_head_write(head, sizeof(head), &h, &w->date);
	data = n ? malloc(n + size) : NULL;
	if (!data)
		return NULL;
	memcpy(data, head, n);
	if (!read_all(f->fd, data + n, size, 0)) {
		free(data);
		return NULL;
	}
	e = shoal_file_cache_put(&w->cache, srv, w->path, path_len, &f->st, data, n - 2, size);
	if (!e)
		return NULL;
	e->date_sec = w->date.sec;
	e->date_off = (size_t)((char *)memmem(data, n, "\r\nDate: ", 8) - data) + 8;
	e->content_type = type;
	e->checked_ms = w->now_ms;
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
static bool queue_file_multipart(struct shoal_worker *w, const struct shoal_http_request *req,
				 const struct sent_file *f, const struct selection *sel,
				 bool keep_alive, struct shoal_out *out)
{
	char boundary[48], type[96];
	size_t blen = make_boundary(w, boundary, sizeof(boundary)), cap = blen + 8, len = 0;
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
	head_init(w, &h, 206, req->version, keep_alive);
	h.content_type = type;
	h.etag = f->etag;
	h.last_modified = f->mtime;
	h.accept_ranges = true;
	queue_owned_body(w, req, &h, body, len, keep_alive, out);
	return true;
}

/* A file too large for the in-memory cache: a generated head, then the body with sendfile. */
static void queue_file(struct shoal_worker *w, const struct shoal_http_request *req,
		       const struct sent_file *f, bool keep_alive, struct shoal_out *out)
{
	struct shoal_http_head h;
	struct selection sel;

	select_part(req, f->etag, f->mtime, f->size, &sel);
	if (sel.nranges > 1 && queue_file_multipart(w, req, f, &sel, keep_alive, out)) {
		if (!f->owner)
			close(f->fd);
		return;
	}
	if (sel.nranges > 1) /* too much to read into memory: the whole file, as RFC 9110 allows */
		select_whole(&sel, f->size);
	if (sel.status != 200) {
		queue_part_head(w, req, &sel, f->type, f->etag, f->mtime, f->size, keep_alive, out);
	} else {
		head_init(w, &h, 200, req->version, keep_alive);
		h.content_type = f->type;
		h.content_length = f->size;
		h.last_modified = f->mtime;
		h.etag = f->etag;
		h.accept_ranges = true;
		queue_generated(w, out, &h, NULL, 0);
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
static struct shoal_cache_entry *cache_keep_open(struct shoal_worker *w,
						 const struct shoal_worker_server *srv,
						 struct shoal_fs_file *f, size_t path_len)
{
	struct shoal_cache_entry *e =
		shoal_file_cache_put_fd(&w->cache, srv, w->path, path_len, &f->st, f->fd);

	if (!e)
		return NULL;
	f->fd = -1;
	format_etag(&f->st, e->etag, sizeof(e->etag));
	e->content_type = shoal_mime_lookup(w->mime, f->name, f->name_len);
	e->checked_ms = w->now_ms;
	return e;
}

static void queue_open_file(struct shoal_worker *w, const struct shoal_http_request *req,
			    struct shoal_fs_file *f, bool keep_alive, struct shoal_out *out)
{
	char etag[48];
	struct sent_file sf = {
		.fd = f->fd, .etag = etag, .mtime = f->st.st_mtime, .size = (uint64_t)f->st.st_size,
		.type = shoal_mime_lookup(w->mime, f->name, f->name_len),
	};

	format_etag(&f->st, etag, sizeof(etag));
	queue_file(w, req, &sf, keep_alive, out);
}

static void queue_cached_file(struct shoal_worker *w, const struct shoal_http_request *req,
			      struct shoal_cache_entry *e, bool keep_alive, struct shoal_out *out)
{
	struct sent_file sf = {
		.fd = e->fd, .owner = e, .type = e->content_type, .etag = e->etag,
		.mtime = e->mtime.tv_sec, .size = (uint64_t)e->size,
	};

	queue_file(w, req, &sf, keep_alive, out);
}

/* The cached entry for the path, if it may be served: at most once per cache_revalidate the
 * file is opened again to check that it did not change. If it did, the fresh open is handed
 * back in *f so that the caller does not open it twice. */
static struct shoal_cache_entry *cache_lookup(struct shoal_worker *w,
					      struct shoal_worker_server *srv, size_t path_len,
					      struct shoal_fs_file *f)
{
	struct shoal_cache_entry *e = shoal_file_cache_get(&w->cache, srv, w->path, path_len);

	f->status = 0;
	if (!e || w->now_ms - e->checked_ms < w->cache_revalidate_ms)
		return e;
	shoal_fs_open(srv->root_fd, srv->conf, w->path, path_len, f);
	if (f->status == 200 && shoal_cache_entry_matches(e, &f->st)) {
		close(f->fd);
		f->status = 0;
		e->checked_ms = w->now_ms;
		return e;
	}
	/* The check itself failed (out of descriptors, say): the cached copy is the best answer
	 * there is, and the next request checks again. */
	if (f->status == 500) {
		f->status = 0;
		return e;
	}
	shoal_file_cache_drop(&w->cache, e);
	return NULL;
}

/* autoindex: a directory without an index file is listed. */
static bool respond_listing(struct shoal_worker *w, const struct shoal_worker_server *srv,
			    const struct shoal_http_request *req, bool keep_alive,
			    struct shoal_out *out)
{
	int fd = shoal_fs_open_dir(srv->root_fd, srv->conf, w->path);
	struct shoal_http_head h;
	struct shoal_err err;
	size_t len = 0;
	char *page = fd >= 0 ? shoal_autoindex_render(fd, w->path, &len, &err) : NULL;

	if (!page) {
		shoal_respond_error(w, srv, out, 403, req->version, keep_alive,
				    req->method == SHOAL_HTTP_HEAD);
		return keep_alive;
	}
	head_init(w, &h, 200, req->version, keep_alive);
	h.content_type = "text/html; charset=utf-8";
	queue_owned_body(w, req, &h, page, len, keep_alive, out);
	return keep_alive;
}

static bool respond_static(struct shoal_worker *w, struct shoal_worker_server *srv,
			   const struct shoal_http_request *req, bool keep_alive,
			   struct shoal_out *out)
{
	struct shoal_fs_file f;
	struct shoal_cache_entry *e;
	size_t path_len;
	int rc = shoal_http_path_normalize(req->path.p, req->path.len, w->path, sizeof(w->path),
					   &path_len);

	if (rc < 0) {
		shoal_respond_error(w, srv, out, -rc, req->version, keep_alive,
				    req->method == SHOAL_HTTP_HEAD);
		return keep_alive;
	}
	e = cache_lookup(w, srv, path_len, &f);
	if (!e && f.status == 0)
		shoal_fs_open(srv->root_fd, srv->conf, w->path, path_len, &f);
	if (!e && f.status == 301) {
		respond_redirect(w, srv, req, path_len, keep_alive, out);
		return keep_alive;
	}
	if (!e && f.no_index && srv->conf->autoindex)
		return respond_listing(w, srv, req, keep_alive, out);
	if (!e && f.status != 200) {
		shoal_respond_error(w, srv, out, f.status, req->version, keep_alive,
				    req->method == SHOAL_HTTP_HEAD);
		return keep_alive;
	}
	if (!e && w->cfg->cache_max_file_size > 0 && f.st.st_size <= w->cfg->cache_max_file_size) {
		e = cache_fill(w, srv, &f, path_len);
		if (e)
			close(f.fd);
	} else if (!e) {
		e = cache_keep_open(w, srv, &f, path_len);
	}
	if (e && e->fd >= 0)
		queue_cached_file(w, req, e, keep_alive, out);
	else if (e)
		queue_entry(w, req, e, keep_alive, out);
	else
		queue_open_file(w, req, &f, keep_alive, out);
	return keep_alive;
}

bool shoal_respond(struct shoal_worker *w, struct shoal_worker_server *srv,
		   const struct shoal_http_request *req, bool keep_alive, struct shoal_out *out)
{
	struct shoal_http_head h;

	switch (req->method) {
	case SHOAL_HTTP_GET:
	case SHOAL_HTTP_HEAD:
		return respond_static(w, srv, req, keep_alive, out);
	case SHOAL_HTTP_OPTIONS:
		head_init(w, &h, 200, req->version, keep_alive);
		h.allow = "GET, HEAD, OPTIONS";
		queue_generated(w, out, &h, NULL, 0);
		return keep_alive;
	case SHOAL_HTTP_OTHER: /* a method shoal does not know at all (RFC 9110 9.1) */
		/* Whatever the client meant by it, shoal cannot know what follows: close. */
		shoal_respond_error(w, srv, out, 501, req->version, false, false);
		return false;
	default: /* known, but not for static files */
		shoal_respond_error(w, srv, out, 405, req->version, keep_alive, false);
		return keep_alive;
	}
}

static bool is_endpoint(const char *path, const struct shoal_http_request *req)
{
	return path && (req->method == SHOAL_HTTP_GET || req->method == SHOAL_HTTP_HEAD) &&
	       req->path.len == strlen(path) && memcmp(req->path.p, path, req->path.len) == 0;
}

bool shoal_respond_is_status(const struct shoal_worker *w, const struct shoal_http_request *req)
{
	return is_endpoint(w->cfg->status_path, req);
}

bool shoal_respond_is_health(const struct shoal_worker *w, const struct shoal_http_request *req)
{
	return is_endpoint(w->cfg->health_path, req);
}

bool shoal_respond_health(struct shoal_worker *w, const struct shoal_http_request *req,
			  bool keep_alive, struct shoal_out *out)
{
	static const char ok[] = "ok\n", stopping[] = "stopping\n";
	const char *body = w->stopping ? stopping : ok;
	size_t len = w->stopping ? sizeof(stopping) - 1 : sizeof(ok) - 1;
	struct shoal_http_head h;

	head_init(w, &h, w->stopping ? 503 : 200, req->version, keep_alive);
	h.content_type = "text/plain; charset=utf-8";
	h.content_length = len;
	queue_generated(w, out, &h, body, req->method == SHOAL_HTTP_HEAD ? 0 : len);
	return keep_alive;
}

static bool wants_json(const struct shoal_http_request *req)
{
	return req->query.len && memmem(req->query.p, req->query.len, "format=json", 11);
}

/* Formats the stats into a malloc'ed buffer: the status endpoint is not a hot path. */
static char *format_stats(const struct shoal_worker *w, bool json, size_t *len)
{
	struct shoal_stats_snapshot snap;
	struct shoal_err err;
	char *buf = NULL;
	FILE *f;
	int rc;

	if (!w->stats_view || shoal_stats_snapshot_init(&snap, w->stats_view, &err) < 0)
		return NULL;
	f = open_memstream(&buf, len);
	rc = f ? shoal_stats_snapshot(w->stats_view, &snap, &err) : -1;
	if (rc == 0)
		rc = json ? shoal_stats_format_json(f, &snap) : shoal_stats_format_prometheus(f, &snap);
	if (f && fclose(f) != 0)
		rc = -1;
	shoal_stats_snapshot_free(&snap);
	if (rc < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

bool shoal_respond_status(struct shoal_worker *w, const struct shoal_http_request *req,
			  bool keep_alive, bool allowed, struct shoal_out *out)
{
	bool json = wants_json(req);
	struct shoal_http_head h;
	size_t len = 0;
	char *text;

	if (!allowed) {
		shoal_respond_error(w, NULL, out, 403, req->version, keep_alive,
				    req->method == SHOAL_HTTP_HEAD);
		return keep_alive;
	}
	text = format_stats(w, json, &len);
	if (!text) {
		shoal_respond_error(w, NULL, out, 500, req->version, keep_alive,
				    req->method == SHOAL_HTTP_HEAD);
		return keep_alive;
	}
	head_init(w, &h, 200, req->version, keep_alive);
	h.content_type = json ? "application/json" : "text/plain; version=0.0.4; charset=utf-8";
	queue_owned_body(w, req, &h, text, len, keep_alive, out);
	return keep_alive;
}
