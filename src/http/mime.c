#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/http/mime.h"

#define INITIAL_SLOTS 64
/* mime.types lines are short (under 100 bytes on Debian); a longer one is a broken file. */
#define MIME_LINE_MAX 4096
#define TOKEN_SPACE " \t\r\n"
#define UTF8_PARAM "; charset=utf-8"

struct mime_slot {
	const char *type; /* NULL: free slot */
	uint32_t hash;
	unsigned char len;
	char ext[SHOAL_MIME_EXT_MAX + 1]; /* lower case */
};

/* Type strings are shared by all the extensions of a mime.types line and stay alive until
 * shoal_mime_free(), so that replacing a mapping never frees a string still in use. */
struct mime_type {
	struct mime_type *next;
	char text[];
};

struct shoal_mime {
	struct mime_slot *slots;
	size_t mask; /* slot count - 1; the count is a power of two */
	size_t used;
	struct mime_type *types;
	const char *default_type;
};

struct builtin_type {
	const char *ext;
	const char *type;
};

/* Enough to serve a web site correctly where no mime.types is installed. */
static const struct builtin_type builtin_types[] = {
	{ "html", "text/html" },       { "htm", "text/html" },
	{ "css", "text/css" },         { "js", "text/javascript" }, /* RFC 9239 */
	{ "mjs", "text/javascript" },  { "json", "application/json" },
	{ "txt", "text/plain" },       { "xml", "application/xml" },
	{ "svg", "image/svg+xml" },    { "png", "image/png" },
	{ "jpg", "image/jpeg" },       { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },        { "webp", "image/webp" },
	{ "ico", "image/vnd.microsoft.icon" },
	{ "pdf", "application/pdf" },  { "wasm", "application/wasm" },
	{ "woff", "font/woff" },       { "woff2", "font/woff2" },
	{ "mp4", "video/mp4" },        { "webm", "video/webm" },
};

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool starts_with_nocase(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (ascii_lower(*s) != *prefix)
			return false;
	return true;
}

static bool equals_nocase(const char *s, const char *lower)
{
	return starts_with_nocase(s, lower) && s[strlen(lower)] == '\0';
}

/* Folds ext[0..len) to lower case into dst and returns its FNV-1a hash. */
static uint32_t fold_ext(char *dst, const char *ext, size_t len)
{
	uint32_t hash = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		dst[i] = ascii_lower(ext[i]);
		hash = (hash ^ (unsigned char)dst[i]) * 16777619u;
	}
	dst[len] = '\0';
	return hash;
}

/* Returns the slot holding ext, or the free slot where it belongs. */
static struct mime_slot *probe(struct mime_slot *slots, size_t mask, const char *ext,
			       size_t len, uint32_t hash)
{
	size_t i = hash & mask;

	while (slots[i].type && !(slots[i].hash == hash && slots[i].len == len &&
				  memcmp(slots[i].ext, ext, len) == 0))
		i = (i + 1) & mask;
	return &slots[i];
}

static int grow(struct shoal_mime *m)
{
	size_t count = (m->mask + 1) * 2;
	struct mime_slot *slots = calloc(count, sizeof(*slots));
	size_t i;

	if (!slots)
		return -1;
	for (i = 0; i <= m->mask; i++) {
		const struct mime_slot *old = &m->slots[i];

		if (old->type)
			*probe(slots, count - 1, old->ext, old->len, old->hash) = *old;
	}
	free(m->slots);
	m->slots = slots;
	m->mask = count - 1;
	return 0;
}

/* ext must be 1 to SHOAL_MIME_EXT_MAX bytes; type must outlive m. */
static int put(struct shoal_mime *m, const char *ext, size_t len, const char *type)
{
	char folded[SHOAL_MIME_EXT_MAX + 1];
	uint32_t hash = fold_ext(folded, ext, len);
	struct mime_slot *slot;

	/* Linear probing stays short while at most three quarters of the slots are used. */
	if ((m->used + 1) * 4 > (m->mask + 1) * 3 && grow(m) < 0)
		return -1;
	slot = probe(m->slots, m->mask, folded, len, hash);
	if (!slot->type) {
		slot->hash = hash;
		slot->len = (unsigned char)len;
		memcpy(slot->ext, folded, len + 1);
		m->used++;
	}
	slot->type = type;
	return 0;
}

/* Which types get "; charset=utf-8". Without a charset, browsers decode text/html, text/css,
 * text/plain and classic scripts with a legacy locale default (often windows-1252), which
 * garbles UTF-8 files that do not declare themselves; we assume the site is UTF-8, as is
 * nearly always true today, and a configured type with its own parameters overrides this.
 * application/javascript is the legacy name of text/javascript and is treated the same.
 * Not for application/json: RFC 8259 defines JSON as UTF-8 and registers no charset
 * parameter. Not for XML (application/xml, text/xml, image/svg+xml and other +xml types):
 * the document declares its own encoding and, by RFC 7303, a charset parameter would
 * override that declaration, breaking a correct file that is not UTF-8, while an absent one
 * lets the XML parser use the declaration (or its UTF-8 default). */
static bool wants_utf8_charset(const char *type)
{
	if (equals_nocase(type, "text/xml"))
		return false;
	return starts_with_nocase(type, "text/") ||
	       equals_nocase(type, "application/javascript");
}

/* A media type becomes a header value, so control bytes (CR, LF) must never get through. */
static bool valid_type(const char *type)
{
	const char *slash = strchr(type, '/');
	const char *p;

	if (!slash || slash == type || slash[1] == '\0' || slash[1] == ';')
		return false;
	for (p = type; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Copies a valid type into storage owned by m, adding the charset where it belongs.
 * Returns NULL only when out of memory. */
static const char *intern_type(struct shoal_mime *m, const char *type)
{
	bool add_charset = !strchr(type, ';') && wants_utf8_charset(type);
	size_t len = strlen(type);
	struct mime_type *node = malloc(sizeof(*node) + len + sizeof(UTF8_PARAM));

	if (!node)
		return NULL;
	memcpy(node->text, type, len + 1);
	if (add_charset)
		memcpy(node->text + len, UTF8_PARAM, sizeof(UTF8_PARAM));
	node->next = m->types;
	m->types = node;
	return node->text;
}

/* Splits off the next whitespace-separated token; a '#' starting a token ends the line. */
static char *next_token(char **cursor)
{
	char *start = *cursor + strspn(*cursor, TOKEN_SPACE);
	char *end;

	if (*start == '\0' || *start == '#')
		return NULL;
	end = start + strcspn(start, TOKEN_SPACE);
	if (*end)
		*end++ = '\0';
	*cursor = end;
	return start;
}

static int parse_line(struct shoal_mime *m, char *line, const char *path, unsigned lineno,
		      struct shoal_err *err)
{
	char *cursor = line;
	char *type_text = next_token(&cursor);
	char *ext = type_text ? next_token(&cursor) : NULL;
	const char *type;

	if (!type_text)
		return 0;
	if (!valid_type(type_text))
		return shoal_err_set(err, "%s:%u: '%s' is not a media type", path, lineno,
				     type_text);
	if (!ext)
		return 0; /* a type with no extension maps nothing */
	type = intern_type(m, type_text);
	if (!type)
		return shoal_err_set(err, "out of memory loading %s", path);
	for (; ext; ext = next_token(&cursor)) {
		size_t len = strlen(ext);

		if (len <= SHOAL_MIME_EXT_MAX && put(m, ext, len, type) < 0)
			return shoal_err_set(err, "out of memory loading %s", path);
	}
	return 0;
}

static int read_lines(struct shoal_mime *m, FILE *f, const char *path, struct shoal_err *err)
{
	char line[MIME_LINE_MAX];
	unsigned lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f))
			return shoal_err_set(err, "%s:%u: line longer than %d bytes", path, lineno,
					     MIME_LINE_MAX - 2);
		if (parse_line(m, line, path, lineno, err) < 0)
			return -1;
	}
	if (ferror(f))
		return shoal_err_set(err, "reading %s: %s", path, strerror(errno));
	return 0;
}

static int load_file(struct shoal_mime *m, const char *path, struct shoal_err *err)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		return shoal_err_set(err, "cannot open %s: %s", path, strerror(errno));
	}
	rc = read_lines(m, f, path, err);
	fclose(f);
	return rc;
}

static int load_builtins(struct shoal_mime *m, struct shoal_err *err)
{
	size_t i;

	for (i = 0; i < sizeof(builtin_types) / sizeof(builtin_types[0]); i++) {
		const struct builtin_type *b = &builtin_types[i];
		const char *type = intern_type(m, b->type);

		if (!type || put(m, b->ext, strlen(b->ext), type) < 0)
			return shoal_err_set(err, "out of memory building the type table");
	}
	return 0;
}

static int init_table(struct shoal_mime *m, const char *default_type, struct shoal_err *err)
{
	if (!valid_type(default_type))
		return shoal_err_set(err, "default type '%s' is not a media type", default_type);
	m->slots = calloc(INITIAL_SLOTS, sizeof(*m->slots));
	m->mask = INITIAL_SLOTS - 1;
	m->default_type = m->slots ? intern_type(m, default_type) : NULL;
	if (!m->default_type)
		return shoal_err_set(err, "out of memory building the type table");
	return 0;
}

int shoal_mime_load(struct shoal_mime **out, const char *mime_types_path,
		    const char *default_type, struct shoal_err *err)
{
	struct shoal_mime *m = calloc(1, sizeof(*m));

	if (!m)
		return shoal_err_set(err, "out of memory building the type table");
	if (init_table(m, default_type, err) < 0 || load_builtins(m, err) < 0 ||
	    (mime_types_path && load_file(m, mime_types_path, err) < 0)) {
		shoal_mime_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

static bool valid_ext(const char *ext, size_t len)
{
	size_t i;

	if (len == 0 || len > SHOAL_MIME_EXT_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)ext[i] <= ' ' || ext[i] == 0x7f || ext[i] == '.' || ext[i] == '/')
			return false;
	return true;
}

int shoal_mime_set(struct shoal_mime *m, const char *ext, const char *type,
		   struct shoal_err *err)
{
	size_t len = strlen(ext);
	const char *stored;

	if (!valid_ext(ext, len))
		return shoal_err_set(err, "'%s' is not a file extension (1 to %d bytes, no dot)",
				     ext, SHOAL_MIME_EXT_MAX);
	if (!valid_type(type))
		return shoal_err_set(err, "'%s' is not a media type", type);
	stored = intern_type(m, type);
	if (!stored || put(m, ext, len, stored) < 0)
		return shoal_err_set(err, "out of memory setting the type of '%s'", ext);
	return 0;
}

const char *shoal_mime_lookup(const struct shoal_mime *m, const char *name, size_t len)
{
	char ext[SHOAL_MIME_EXT_MAX + 1];
	size_t start = len, ext_len;
	const struct mime_slot *slot;
	uint32_t hash;

	/* Looking further back than the longest extension could only find one too long. */
	while (start > 0 && len - start <= SHOAL_MIME_EXT_MAX && name[start - 1] != '.' &&
	       name[start - 1] != '/')
		start--;
	ext_len = len - start;
	if (start == 0 || name[start - 1] != '.' || ext_len == 0 || ext_len > SHOAL_MIME_EXT_MAX)
		return m->default_type;
	hash = fold_ext(ext, name + start, ext_len);
	slot = probe(m->slots, m->mask, ext, ext_len, hash);
	return slot->type ? slot->type : m->default_type;
}

void shoal_mime_free(struct shoal_mime *m)
{
	struct mime_type *node, *next;

	if (!m)
		return;
	for (node = m->types; node; node = next) {
		next = node->next;
		free(node);
	}
	free(m->slots);
	free(m);
}
