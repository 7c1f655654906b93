#include <errno.h>
#include <limits.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shoal/net/acl.h"
#include "shoal/config/config.h"
#include "shoal/http/parser.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct conf_ctx {
	const char *file; /* absolute path of the config file */
	char *dir;        /* base of relative paths: the config file's directory */
	char where[64];   /* key path prefix of the group being read: "" or "servers[3]." */
	struct shoal_err *err;
};

struct conf_key;

/* How one type of value is read, defaulted, printed and freed. */
struct conf_kind {
	int (*parse)(const struct conf_key *key, const config_setting_t *s, void *base,
		     struct conf_ctx *ctx);
	int (*set_default)(const struct conf_key *key, void *base, struct conf_ctx *ctx);
	void (*dump)(const struct conf_key *key, const void *base, FILE *out, int indent);
	void (*release)(const struct conf_key *key, void *base); /* NULL: owns no memory */
};

/* One line of a schema table: a key of a group and where its value lives in the struct. */
struct conf_key {
	const char *name;
	const struct conf_kind *kind;
	size_t offset;       /* of the value in the struct the table describes */
	size_t count_offset; /* lists: of the size_t element count */
	long long min, max;  /* integers: the range; lists: min is the least number of elements */
	long long def_int;
	const char *def_str;
	const char *keyword; /* log targets: the word kept as is rather than taken as a path */
	/* name lists: NULL if an element is acceptable, else what is wrong with it */
	const char *(*check)(const char *text);
	bool required;
};

static void *field_of(void *base, const struct conf_key *key)
{
	return (char *)base + key->offset;
}

static const void *cfield_of(const void *base, const struct conf_key *key)
{
	return (const char *)base + key->offset;
}

static size_t *count_of(void *base, const struct conf_key *key)
{
	return (size_t *)(void *)((char *)base + key->count_offset);
}

static size_t ccount_of(const void *base, const struct conf_key *key)
{
	return *(const size_t *)(const void *)((const char *)base + key->count_offset);
}

/* "file:line", or just "file" for a place libconfig has no line for (the root group). */
static void position(const struct conf_ctx *ctx, const config_setting_t *s, char *buf,
		     size_t size)
{
	const char *file = s ? config_setting_source_file(s) : NULL;
	unsigned int line = s ? config_setting_source_line(s) : 0;

	if (!file)
		file = ctx->file;
	if (line)
		snprintf(buf, size, "%s:%u", file, line);
	else
		snprintf(buf, size, "%s", file);
}

/* Reports a problem with key name (element index, if >= 0) at setting s. Returns -1. */
static int conf_fail(const struct conf_ctx *ctx, const config_setting_t *s, const char *name,
		     int index, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int conf_fail(const struct conf_ctx *ctx, const config_setting_t *s, const char *name,
		     int index, const char *fmt, ...)
{
	char pos[SHOAL_ERR_MAX];
	char msg[SHOAL_ERR_MAX];
	char idx[16] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (index >= 0)
		snprintf(idx, sizeof(idx), "[%d]", index);
	position(ctx, s, pos, sizeof(pos));
	return shoal_err_set(ctx->err, "%s: %s%s%s: %s", pos, ctx->where, name, idx, msg);
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	case CONFIG_TYPE_GROUP:
		return "a group";
	default:
		return "nothing";
	}
}

static bool is_integer(const config_setting_t *s)
{
	int type = config_setting_type(s);

	return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
}

/* Writes s as a libconfig string literal, so that any path survives a reload. */
static void put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* ---- generic group handling, driven by a schema table ---- */

static const struct conf_key *find_key(const struct conf_key *keys, size_t nkeys,
				       const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int check_known_keys(const struct conf_key *keys, size_t nkeys,
			    const config_setting_t *group, const struct conf_ctx *ctx)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned int)i);
		const char *name = config_setting_name(s);
		char pos[SHOAL_ERR_MAX];

		if (!find_key(keys, nkeys, name)) {
			position(ctx, s, pos, sizeof(pos));
			return shoal_err_set(ctx->err, "%s: unknown key '%s%s'", pos, ctx->where,
					     name);
		}
	}
	return 0;
}

static int parse_group(const struct conf_key *keys, size_t nkeys, const config_setting_t *group,
		       void *base, struct conf_ctx *ctx)
{
	if (check_known_keys(keys, nkeys, group, ctx) < 0)
		return -1;
	for (size_t i = 0; i < nkeys; i++) {
		const struct conf_key *key = &keys[i];
		const config_setting_t *s = config_setting_get_member(group, key->name);
		int rc;

		if (s)
			rc = key->kind->parse(key, s, base, ctx);
		else if (key->required)
			rc = conf_fail(ctx, group, key->name, -1, "required key is missing");
		else
			rc = key->kind->set_default(key, base, ctx);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static void dump_group(const struct conf_key *keys, size_t nkeys, const void *base, FILE *out,
		       int indent)
{
	for (size_t i = 0; i < nkeys; i++)
		keys[i].kind->dump(&keys[i], base, out, indent);
}

static void release_group(const struct conf_key *keys, size_t nkeys, void *base)
{
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].kind->release)
			keys[i].kind->release(&keys[i], base);
}

/* ---- integers ---- */

static int parse_int(const struct conf_key *key, const config_setting_t *s, void *base,
		     struct conf_ctx *ctx)
{
	long long v;

	if (!is_integer(s))
		return conf_fail(ctx, s, key->name, -1, "must be an integer from %lld to %lld, not %s",
				 key->min, key->max, type_name(s));
	v = config_setting_get_int64(s);
	if (v < key->min || v > key->max)
		return conf_fail(ctx, s, key->name, -1, "must be an integer from %lld to %lld",
				 key->min, key->max);
	*(int *)field_of(base, key) = (int)v;
	return 0;
}

static int default_int(const struct conf_key *key, void *base, struct conf_ctx *ctx)
{
	(void)ctx;
	*(int *)field_of(base, key) = (int)key->def_int;
	return 0;
}

static void dump_int(const struct conf_key *key, const void *base, FILE *out, int indent)
{
	fprintf(out, "%*s%s = %d;\n", indent, "", key->name, *(const int *)cfield_of(base, key));
}

static const struct conf_kind kind_int = { parse_int, default_int, dump_int, NULL };

static int parse_bool(const struct conf_key *key, const config_setting_t *s, void *base,
		      struct conf_ctx *ctx)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return conf_fail(ctx, s, key->name, -1, "must be true or false, not %s", type_name(s));
	*(bool *)field_of(base, key) = config_setting_get_bool(s);
	return 0;
}

static int default_bool(const struct conf_key *key, void *base, struct conf_ctx *ctx)
{
	(void)ctx;
	*(bool *)field_of(base, key) = key->def_int != 0;
	return 0;
}

static void dump_bool(const struct conf_key *key, const void *base, FILE *out, int indent)
{
	fprintf(out, "%*s%s = %s;\n", indent, "", key->name,
		*(const bool *)cfield_of(base, key) ? "true" : "false");
}

static const struct conf_kind kind_bool = { parse_bool, default_bool, dump_bool, NULL };

/* ---- workers: a count or "auto" ---- */

static int online_cpus(const struct conf_key *key)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < key->min)
		return (int)key->min;
	return n > key->max ? (int)key->max : (int)n;
}

static int default_workers(const struct conf_key *key, void *base, struct conf_ctx *ctx)
{
	struct shoal_config *cfg = base;

	(void)ctx;
	cfg->workers = online_cpus(key);
	cfg->workers_auto = true;
	return 0;
}

static int parse_workers(const struct conf_key *key, const config_setting_t *s, void *base,
			 struct conf_ctx *ctx)
{
	struct shoal_config *cfg = base;
	long long v;

	if (config_setting_type(s) == CONFIG_TYPE_STRING &&
	    strcmp(config_setting_get_string(s), "auto") == 0)
		return default_workers(key, base, ctx);
	if (is_integer(s)) {
		v = config_setting_get_int64(s);
		if (v >= key->min && v <= key->max) {
			cfg->workers = (int)v;
			cfg->workers_auto = false;
			return 0;
		}
	}
	return conf_fail(ctx, s, key->name, -1, "must be an integer from %lld to %lld or \"auto\"",
			 key->min, key->max);
}

static void dump_workers(const struct conf_key *key, const void *base, FILE *out, int indent)
{
	const struct shoal_config *cfg = base;

	fprintf(out, "%*s%s = %d;%s\n", indent, "", key->name, cfg->workers,
		cfg->workers_auto ? "  # auto" : "");
}

static const struct conf_kind kind_workers = {
	parse_workers, default_workers, dump_workers, NULL
};

/* ---- strings and paths ---- */

static int get_string(const struct conf_key *key, const config_setting_t *s,
		      const struct conf_ctx *ctx, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_fail(ctx, s, key->name, -1, "must be a string, not %s", type_name(s));
	*out = config_setting_get_string(s);
	if (**out == '\0')
		return conf_fail(ctx, s, key->name, -1, "must not be empty");
	return 0;
}

static char *resolve_path(const char *dir, const char *path)
{
	size_t size;
	char *out;

	if (path[0] == '/')
		return strdup(path);
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (*path == '/')
			path++;
	}
	if (path[0] == '\0' || strcmp(path, ".") == 0)
		return strdup(dir);
	if (strcmp(dir, "/") == 0)
		dir = "";
	size = strlen(dir) + strlen(path) + 2;
	out = malloc(size);
	if (out)
		snprintf(out, size, "%s/%s", dir, path);
	return out;
}

static int store_path(const struct conf_key *key, const config_setting_t *s, const char *text,
		      void *base, struct conf_ctx *ctx)
{
	char **dst = field_of(base, key);

	*dst = resolve_path(ctx->dir, text);
	if (!*dst)
		return conf_fail(ctx, s, key->name, -1, "out of memory");
	return 0;
}

static int store_string(const struct conf_key *key, const config_setting_t *s, const char *text,
			void *base, struct conf_ctx *ctx)
{
	char **dst = field_of(base, key);

	*dst = text ? strdup(text) : NULL;
	if (text && !*dst)
		return conf_fail(ctx, s, key->name, -1, "out of memory");
	return 0;
}

static int parse_string(const struct conf_key *key, const config_setting_t *s, void *base,
			struct conf_ctx *ctx)
{
	const char *text = NULL;
	const char *problem;

	if (get_string(key, s, ctx, &text) < 0)
		return -1;
	problem = key->check ? key->check(text) : NULL;
	if (problem)
		return conf_fail(ctx, s, key->name, -1, "'%s' %s", text, problem);
	return store_string(key, s, text, base, ctx);
}

static int default_string(const struct conf_key *key, void *base, struct conf_ctx *ctx)
{
	return store_string(key, NULL, key->def_str, base, ctx);
}

static void dump_string(const struct conf_key *key, const void *base, FILE *out, int indent)
{
	const char *value = *(char *const *)cfield_of(base, key);

	if (!value) {
		fprintf(out, "%*s# %s is unset\n", indent, "", key->name);
		return;
	}
	fprintf(out, "%*s%s = ", indent, "", key->name);
	put_string(out, value);
	fputs(";\n", out);
}

static void release_string(const struct conf_key *key, void *base)
{
	char **value = field_of(base, key);

	free(*value);
	*value = NULL;
}

static const struct conf_kind kind_string = {
	parse_string, default_string, dump_string, release_string
};

static int parse_path(const struct conf_key *key, const config_setting_t *s, void *base,
		      struct conf_ctx *ctx)
{
	const char *text = NULL;

	if (get_string(key, s, ctx, &text) < 0)
		return -1;
	return store_path(key, s, text, base, ctx);
}

static int default_path(const struct conf_key *key, void *base, struct conf_ctx *ctx)
{
	return store_path(key, NULL, key->def_str, base, ctx);
}

static const struct conf_kind kind_path = {
	parse_path, default_path, dump_string, release_string
};

/* A log target: a keyword ("stderr", "off") or a path. */
static int parse_log_target(const struct conf_key *key, const config_setting_t *s, void *base,
			    struct conf_ctx *ctx)
{
	const char *text = NULL;

	if (get_string(key, s, ctx, &text) < 0)
		return -1;
	if (strcmp(text, key->keyword) == 0)
		return store_string(key, s, text, base, ctx);
	return store_path(key, s, text, base, ctx);
}

static int default_log_target(const struct conf_key *key, void *base, struct conf_ctx *ctx)
{
	if (strcmp(key->def_str, key->keyword) == 0)
		return store_string(key, NULL, key->def_str, base, ctx);
	return store_path(key, NULL, key->def_str, base, ctx);
}

static const struct conf_kind kind_log_target = {
	parse_log_target, default_log_target, dump_string, release_string
};

/* ---- log level ---- */

static int store_log_level(const struct conf_key *key, const config_setting_t *s,
			   const char *text, void *base, struct conf_ctx *ctx)
{
	char names[64] = "";
	size_t len = 0;

	if (shoal_log_level_parse(text, field_of(base, key)) == 0)
		return 0;
	for (int level = SHOAL_LOG_ERROR; level <= SHOAL_LOG_DEBUG && len < sizeof(names); level++)
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", level ? ", " : "",
					shoal_log_level_name((enum shoal_log_level)level));
	return conf_fail(ctx, s, key->name, -1, "must be one of %s", names);
}

static int parse_log_level(const struct conf_key *key, const config_setting_t *s, void *base,
			   struct conf_ctx *ctx)
{
	const char *text = NULL;

	if (get_string(key, s, ctx, &text) < 0)
		return -1;
	return store_log_level(key, s, text, base, ctx);
}

static int default_log_level(const struct conf_key *key, void *base, struct conf_ctx *ctx)
{
	return store_log_level(key, NULL, key->def_str, base, ctx);
}

static void dump_log_level(const struct conf_key *key, const void *base, FILE *out, int indent)
{
	const enum shoal_log_level *level = cfield_of(base, key);

	fprintf(out, "%*s%s = ", indent, "", key->name);
	put_string(out, shoal_log_level_name(*level));
	fputs(";\n", out);
}

static const struct conf_kind kind_log_level = {
	parse_log_level, default_log_level, dump_log_level, NULL
};

/* ---- lists of strings: listen addresses, index file names ---- */

static int check_count(const struct conf_key *key, const config_setting_t *s, int n,
		       const struct conf_ctx *ctx)
{
	if (n >= key->min)
		return 0;
	if (key->min == 1)
		return conf_fail(ctx, s, key->name, -1, "must not be empty");
	return conf_fail(ctx, s, key->name, -1, "must have at least %lld entries", key->min);
}

/* Checks that s is an array or list of enough non-empty strings; returns their number. */
static int check_strings(const struct conf_key *key, const config_setting_t *s,
			 const struct conf_ctx *ctx)
{
	int n;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return conf_fail(ctx, s, key->name, -1, "must be an array of strings, not %s",
				 type_name(s));
	n = config_setting_length(s);
	if (check_count(key, s, n, ctx) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return conf_fail(ctx, e, key->name, i, "must be a string, not %s",
					 type_name(e));
		if (config_setting_get_string(e)[0] == '\0')
			return conf_fail(ctx, e, key->name, i, "must not be empty");
	}
	return n;
}

static void dump_list_start(const struct conf_key *key, FILE *out, int indent)
{
	fprintf(out, "%*s%s = [", indent, "", key->name);
}

static void dump_list_item(FILE *out, size_t i, const char *text)
{
	fputs(i ? ", " : " ", out);
	put_string(out, text);
}

static int parse_addrs(const struct conf_key *key, const config_setting_t *s, void *base,
		       struct conf_ctx *ctx)
{
	struct shoal_addr **addrs = field_of(base, key);
	size_t *count = count_of(base, key);
	int n = check_strings(key, s, ctx);

	if (n <= 0)
		return n;
	*addrs = calloc((size_t)n, sizeof(**addrs));
	if (!*addrs)
		return conf_fail(ctx, s, key->name, -1, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		struct shoal_addr *addr = &(*addrs)[i];
		struct shoal_err why;

		if (shoal_addr_parse(config_setting_get_string(e), addr, &why) < 0)
			return conf_fail(ctx, e, key->name, i, "%s", why.msg);
		for (size_t j = 0; j < *count; j++)
			if (shoal_addr_equal(&(*addrs)[j], addr))
				return conf_fail(ctx, e, key->name, i,
						 "'%s' is listed twice (also at index %zu)",
						 config_setting_get_string(e), j);
		(*count)++;
	}
	return 0;
}

static void dump_addrs(const struct conf_key *key, const void *base, FILE *out, int indent)
{
	const struct shoal_addr *addrs = *(struct shoal_addr *const *)cfield_of(base, key);
	size_t n = ccount_of(base, key);

	dump_list_start(key, out, indent);
	for (size_t i = 0; i < n; i++)
		dump_list_item(out, i, addrs[i].text);
	fputs(" ];\n", out);
}

static void release_addrs(const struct conf_key *key, void *base)
{
	struct shoal_addr **addrs = field_of(base, key);

	free(*addrs);
	*addrs = NULL;
	*count_of(base, key) = 0;
}

static const struct conf_kind kind_addrs = { parse_addrs, NULL, dump_addrs, release_addrs };

/* Index files are looked up inside the requested directory, so they must not lead out of it. */
static const char *check_file_name(const char *name)
{
	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "must be a plain file name: no '/', not \".\" or \"..\"";
	return NULL;
}

static const char *check_acl(const char *text)
{
	struct shoal_acl_entry entry;

	if (shoal_acl_parse(text, &entry) < 0)
		return "must be an address or a network such as \"10.0.0.0/8\" or \"::1\"";
	return NULL;
}

static const char *check_url_path(const char *text)
{
	if (text[0] != '/' || strpbrk(text, "?# \t"))
		return "must be a path starting with '/', without query or spaces";
	return NULL;
}

/* "type/subtype ext ext ...", the format of a line of /etc/mime.types. */
static const char *check_type_line(const char *text)
{
	const char *slash = strchr(text, '/'), *space = strchr(text, ' ');

	if (!slash || !space || slash > space || slash == text || space == slash + 1)
		return "must be a media type and its extensions, such as \"text/markdown md\"";
	while (*space == ' ')
		space++;
	return *space ? NULL : "names no extension";
}

static const char *check_media_type(const char *text)
{
	const char *slash = strchr(text, '/');

	if (!slash || slash == text || !slash[1] || strpbrk(text, " \t\r\n"))
		return "must be a media type such as \"application/octet-stream\"";
	return NULL;
}

/* "404 /errors/404.html", "500 502 503 /50x.html": status codes, then the page's path. */
static const char *check_error_page(const char *text)
{
	const char *p = text;
	int codes = 0;

	while (*p >= '0' && *p <= '9') {
		char *end;
		long code = strtol(p, &end, 10);
		if (code < 400 || code > 599 || *end != ' ')
			return "must be status codes from 400 to 599, then a path, as in \"404 /404.html\"";
		codes++;
		for (p = end; *p == ' '; p++)
			;
	}
	if (!codes || *p != '/' || strpbrk(p, " ?#"))
		return "must be status codes from 400 to 599, then a path, as in \"404 /404.html\"";
	return NULL;
}

/* A host name as it may appear in Host, or "*." followed by one (a leading wildcard). */
static const char *check_host_name(const char *name)
{
	const char *p = strncmp(name, "*.", 2) == 0 ? name + 2 : name;

	if (!*p)
		return "must be a host name such as \"example.com\" or \"*.example.com\"";
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return "must be a host name such as \"example.com\" or \"*.example.com\"";
	return NULL;
}

static int parse_names(const struct conf_key *key, const config_setting_t *s, void *base,
		       struct conf_ctx *ctx)
{
	char ***names = field_of(base, key);
	size_t *count = count_of(base, key);
	int n = check_strings(key, s, ctx);

	if (n <= 0)
		return n;
	*names = calloc((size_t)n, sizeof(**names));
	if (!*names)
		return conf_fail(ctx, s, key->name, -1, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		const char *text = config_setting_get_string(e);
		const char *problem = key->check(text);

		if (problem)
			return conf_fail(ctx, e, key->name, i, "'%s' %s", text, problem);
		(*names)[i] = strdup(text);
		if (!(*names)[i])
			return conf_fail(ctx, e, key->name, i, "out of memory");
		(*count)++;
	}
	return 0;
}

static int default_names(const struct conf_key *key, void *base, struct conf_ctx *ctx)
{
	char ***names = field_of(base, key);

	if (!key->def_str)
		return 0;
	*names = calloc(1, sizeof(**names));
	if (*names)
		(*names)[0] = strdup(key->def_str);
	if (!*names || !(*names)[0])
		return conf_fail(ctx, NULL, key->name, -1, "out of memory");
	*count_of(base, key) = 1;
	return 0;
}

static void dump_names(const struct conf_key *key, const void *base, FILE *out, int indent)
{
	char *const *names = *(char **const *)cfield_of(base, key);
	size_t n = ccount_of(base, key);

	dump_list_start(key, out, indent);
	for (size_t i = 0; i < n; i++)
		dump_list_item(out, i, names[i]);
	fputs(" ];\n", out);
}

static void release_names(const struct conf_key *key, void *base)
{
	char ***names = field_of(base, key);
	size_t *count = count_of(base, key);

	for (size_t i = 0; i < *count; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
	*count = 0;
}

static const struct conf_kind kind_names = {
	parse_names, default_names, dump_names, release_names
};

/* ---- the schema of a server group ---- */

#define SERVER_KEY(f, k, ...) \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_server_conf, f), __VA_ARGS__ }

static const struct conf_key server_keys[] = {
	SERVER_KEY(listen, kind_addrs, .count_offset = offsetof(struct shoal_server_conf, nlisten),
		   .min = 1, .required = true),
	SERVER_KEY(backlog, kind_int, .min = 1, .max = 65535, .def_int = 4096),
	SERVER_KEY(root, kind_path, .required = true),
	SERVER_KEY(index, kind_names, .count_offset = offsetof(struct shoal_server_conf, nindex),
		   .def_str = "index.html", .check = check_file_name),
	SERVER_KEY(server_names, kind_names,
		   .count_offset = offsetof(struct shoal_server_conf, nserver_names),
		   .check = check_host_name),
	SERVER_KEY(default_server, kind_bool, .def_int = 0),
	SERVER_KEY(error_pages, kind_names,
		   .count_offset = offsetof(struct shoal_server_conf, nerror_pages),
		   .check = check_error_page),
	SERVER_KEY(follow_symlinks, kind_bool, .def_int = 1),
	SERVER_KEY(autoindex, kind_bool, .def_int = 0),
};

/* ---- servers: a list of server groups ---- */

static int parse_servers(const struct conf_key *key, const config_setting_t *s, void *base,
			 struct conf_ctx *ctx)
{
	struct shoal_server_conf **servers = field_of(base, key);
	size_t len = strlen(ctx->where);
	int n;

	if (!config_setting_is_list(s))
		return conf_fail(ctx, s, key->name, -1, "must be a list of groups ( { ... } ), not %s",
				 type_name(s));
	n = config_setting_length(s);
	if (check_count(key, s, n, ctx) < 0)
		return -1;
	if (n == 0)
		return 0;
	*servers = calloc((size_t)n, sizeof(**servers));
	if (!*servers)
		return conf_fail(ctx, s, key->name, -1, "out of memory");
	*count_of(base, key) = (size_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		int rc;

		if (!config_setting_is_group(e))
			return conf_fail(ctx, e, key->name, i, "must be a group { ... }, not %s",
					 type_name(e));
		snprintf(ctx->where + len, sizeof(ctx->where) - len, "%s[%d].", key->name, i);
		rc = parse_group(server_keys, ARRAY_LEN(server_keys), e, &(*servers)[i], ctx);
		ctx->where[len] = '\0';
		if (rc < 0)
			return -1;
		(*servers)[i].root_line = config_setting_source_line(config_setting_get_member(e, "root"));
	}
	return 0;
}

static void dump_servers(const struct conf_key *key, const void *base, FILE *out, int indent)
{
	const struct shoal_server_conf *servers =
		*(struct shoal_server_conf *const *)cfield_of(base, key);
	size_t n = ccount_of(base, key);

	fprintf(out, "%*s%s = (\n", indent, "", key->name);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%*s{\n", indent + 2, "");
		dump_group(server_keys, ARRAY_LEN(server_keys), &servers[i], out, indent + 4);
		fprintf(out, "%*s}%s\n", indent + 2, "", i + 1 < n ? "," : "");
	}
	fprintf(out, "%*s);\n", indent, "");
}

static void release_servers(const struct conf_key *key, void *base)
{
	struct shoal_server_conf **servers = field_of(base, key);
	size_t *count = count_of(base, key);

	for (size_t i = 0; i < *count; i++)
		release_group(server_keys, ARRAY_LEN(server_keys), &(*servers)[i]);
	free(*servers);
	*servers = NULL;
	*count = 0;
}

static const struct conf_kind kind_servers = {
	parse_servers, NULL, dump_servers, release_servers
};

/* ---- the schema of the file ---- */

#define TOP_KEY(f, k, ...) \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_config, f), __VA_ARGS__ }

static const struct conf_key top_keys[] = {
	TOP_KEY(workers, kind_workers, .min = 1, .max = 1024),
	TOP_KEY(user, kind_string, .def_str = NULL),
	TOP_KEY(allow_root, kind_bool, .def_int = 0),
	TOP_KEY(group, kind_string, .def_str = NULL),
	TOP_KEY(pid_file, kind_path, .def_str = "shoal.pid"),
	TOP_KEY(error_log, kind_log_target, .def_str = "stderr", .keyword = "stderr"),
	TOP_KEY(access_log, kind_log_target, .def_str = "off", .keyword = "off"),
	TOP_KEY(log_level, kind_log_level, .def_str = "info"),
	TOP_KEY(shutdown_timeout, kind_int, .min = 0, .max = 3600, .def_int = 30),
	TOP_KEY(worker_timeout, kind_int, .min = 0, .max = 3600, .def_int = 30),
	TOP_KEY(stop_delay, kind_int, .min = 0, .max = 3600, .def_int = 0),
	TOP_KEY(health_path, kind_string, .def_str = NULL, .check = check_url_path),
	TOP_KEY(stats_file, kind_path, .def_str = "/dev/shm/shoal.stats"),
	TOP_KEY(stats_export, kind_log_target, .def_str = "off", .keyword = "off"),
	TOP_KEY(stats_interval, kind_int, .min = 1, .max = 3600, .def_int = 15),
	TOP_KEY(status_path, kind_string, .def_str = NULL, .check = check_url_path),
	TOP_KEY(status_allow, kind_names,
		.count_offset = offsetof(struct shoal_config, nstatus_allow), .check = check_acl),
	TOP_KEY(max_connections, kind_int, .min = 1, .max = 1000000, .def_int = 10000),
	TOP_KEY(header_timeout, kind_int, .min = 1, .max = 3600, .def_int = 10),
	TOP_KEY(keepalive_timeout, kind_int, .min = 0, .max = 3600, .def_int = 75),
	TOP_KEY(send_timeout, kind_int, .min = 1, .max = 3600, .def_int = 60),
	TOP_KEY(max_keepalive_requests, kind_int, .min = 1, .max = 10000000, .def_int = 10000),
	TOP_KEY(max_header_size, kind_int, .min = 1024, .max = 1048576, .def_int = 8192),
	TOP_KEY(max_headers, kind_int, .min = 1, .max = SHOAL_HTTP_MAX_HEADERS, .def_int = 100),
	TOP_KEY(max_body_size, kind_int, .min = 0, .max = INT_MAX, .def_int = 1048576),
	TOP_KEY(server_tokens, kind_bool, .def_int = 1),
	TOP_KEY(types, kind_names, .count_offset = offsetof(struct shoal_config, ntypes),
		.check = check_type_line),
	TOP_KEY(default_type, kind_string, .def_str = "application/octet-stream",
		.check = check_media_type),
	TOP_KEY(cache_max_file_size, kind_int, .min = 0, .max = 16777216, .def_int = 65536),
	TOP_KEY(cache_max_size, kind_int, .min = 0, .max = INT_MAX, .def_int = 67108864),
	TOP_KEY(cache_revalidate, kind_int, .min = 0, .max = 3600, .def_int = 1),
	TOP_KEY(cache_max_open_files, kind_int, .min = 0, .max = 65536, .def_int = 256),
	TOP_KEY(servers, kind_servers, .count_offset = offsetof(struct shoal_config, nservers),
		.min = 1, .required = true),
};

/* ---- loading ---- */

static int check_user_group(const config_setting_t *root, const struct shoal_config *cfg,
			    const struct conf_ctx *ctx)
{
	if (cfg->group && !cfg->user)
		return conf_fail(ctx, config_setting_get_member(root, "group"), "group", -1,
				 "group requires user");
	return 0;
}

static bool shares_addr(const struct shoal_server_conf *a, const struct shoal_server_conf *b)
{
	for (size_t i = 0; i < a->nlisten; i++)
		for (size_t j = 0; j < b->nlisten; j++)
			if (shoal_addr_equal(&a->listen[i], &b->listen[j]))
				return true;
	return false;
}

/* Two defaults for one address would leave the choice to the order of the file. */
static int check_default_servers(const config_setting_t *root, const struct shoal_config *cfg,
				 const struct conf_ctx *ctx)
{
	const config_setting_t *list = config_setting_get_member(root, "servers");

	for (size_t i = 0; i < cfg->nservers; i++) {
		for (size_t j = 0; j < i; j++) {
			const struct shoal_server_conf *a = &cfg->servers[j], *b = &cfg->servers[i];
			if (a->default_server && b->default_server && shares_addr(a, b))
				return conf_fail(ctx, config_setting_get_elem(list, (unsigned int)i),
						 "servers", (int)i,
						 "default_server: servers[%zu] is already the default "
						 "for an address this server listens on", j);
		}
	}
	return 0;
}

static int read_config(config_t *lc, FILE *fp, struct shoal_config *cfg, struct conf_ctx *ctx)
{
	const config_setting_t *root;
	const char *file;

	if (config_read(lc, fp) != CONFIG_TRUE) {
		const char *text = config_error_text(lc);
		bool plain = config_error_type(lc) != CONFIG_ERR_PARSE ||
			     strcmp(text, "syntax error") == 0;

		file = config_error_file(lc) ? config_error_file(lc) : ctx->file;
		return shoal_err_set(ctx->err, "%s:%d: %s%s", file, config_error_line(lc),
				     plain ? "" : "syntax error: ", text);
	}
	root = config_root_setting(lc);
	if (parse_group(top_keys, ARRAY_LEN(top_keys), root, cfg, ctx) < 0 ||
	    check_default_servers(root, cfg, ctx) < 0)
		return -1;
	return check_user_group(root, cfg, ctx);
}

static int open_config(const char *path, char **abs, FILE **fp, struct shoal_err *err)
{
	struct stat st;

	*abs = realpath(path, NULL);
	if (!*abs)
		return shoal_err_set(err, "cannot read %s: %s", path, strerror(errno));
	*fp = fopen(*abs, "r");
	if (!*fp)
		return shoal_err_set(err, "cannot read %s: %s", path, strerror(errno));
	if (fstat(fileno(*fp), &st) == 0 && S_ISDIR(st.st_mode))
		return shoal_err_set(err, "cannot read %s: %s", path, strerror(EISDIR));
	return 0;
}

static char *dir_of(const char *abs)
{
	const char *slash = strrchr(abs, '/');
	size_t len = slash == abs ? 1 : (size_t)(slash - abs);
	char *dir = malloc(len + 1);

	if (dir) {
		memcpy(dir, abs, len);
		dir[len] = '\0';
	}
	return dir;
}

int shoal_config_load(struct shoal_config *cfg, const char *path, struct shoal_err *err)
{
	struct shoal_config tmp;
	struct conf_ctx ctx = { .err = err };
	config_t lc;
	FILE *fp = NULL;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	rc = open_config(path, &tmp.path, &fp, err);
	if (rc == 0) {
		ctx.file = tmp.path;
		ctx.dir = dir_of(tmp.path);
		rc = ctx.dir ? 0 : shoal_err_set(err, "%s: out of memory", tmp.path);
	}
	if (rc == 0) {
		config_init(&lc);
		config_set_include_dir(&lc, ctx.dir);
		rc = read_config(&lc, fp, &tmp, &ctx);
		config_destroy(&lc);
	}
	if (fp)
		fclose(fp);
	free(ctx.dir);
	if (rc < 0) {
		shoal_config_free(&tmp);
		memset(cfg, 0, sizeof(*cfg));
		return -1;
	}
	*cfg = tmp;
	return 0;
}

void shoal_config_free(struct shoal_config *cfg)
{
	release_group(top_keys, ARRAY_LEN(top_keys), cfg);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

void shoal_config_dump(const struct shoal_config *cfg, FILE *out)
{
	fputs("# effective configuration of ", out);
	put_string(out, cfg->path ? cfg->path : "");
	fputc('\n', out);
	dump_group(top_keys, ARRAY_LEN(top_keys), cfg, out, 0);
}
