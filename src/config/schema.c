#include <libconfig.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "shoal/base/log.h"
#include "shoal/net/addr.h"

static void *field_of(void *base, const struct shoal_conf_key *key)
{
	return (char *)base + key->offset;
}

static const void *cfield_of(const void *base, const struct shoal_conf_key *key)
{
	return (const char *)base + key->offset;
}

static size_t *count_of(void *base, const struct shoal_conf_key *key)
{
	return (size_t *)(void *)((char *)base + key->count_offset);
}

static size_t ccount_of(const void *base, const struct shoal_conf_key *key)
{
	return *(const size_t *)(const void *)((const char *)base + key->count_offset);
}

/* A list field points to elements of a type the generic code does not name; memcpy moves the
 * pointer without reading it through a type it does not have. */
static void *list_of(const void *base, const struct shoal_conf_key *key)
{
	void *list;

	memcpy(&list, cfield_of(base, key), sizeof(list));
	return list;
}

static void set_list(void *base, const struct shoal_conf_key *key, void *list)
{
	memcpy(field_of(base, key), &list, sizeof(list));
}

/* "file:line", or just "file" for a place libconfig has no line for (the root group). */
static void position(const struct shoal_conf_ctx *ctx, const config_setting_t *s, char *buf,
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

int shoal_schema_fail(const struct shoal_conf_ctx *ctx, const config_setting_t *s,
		      const char *name, int index, const char *fmt, ...)
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

bool shoal_schema_is_integer(const config_setting_t *s)
{
	int type = config_setting_type(s);

	return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
}

void shoal_schema_put_string(FILE *out, const char *s)
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

static const struct shoal_conf_key *find_key(const struct shoal_conf_key *keys, size_t nkeys,
				       const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int check_known_keys(const struct shoal_conf_key *keys, size_t nkeys,
			    const config_setting_t *group, const struct shoal_conf_ctx *ctx)
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

int shoal_schema_parse(const struct shoal_conf_key *keys, size_t nkeys,
		       const config_setting_t *group, void *base, struct shoal_conf_ctx *ctx)
{
	if (check_known_keys(keys, nkeys, group, ctx) < 0)
		return -1;
	for (size_t i = 0; i < nkeys; i++) {
		const struct shoal_conf_key *key = &keys[i];
		const config_setting_t *s = config_setting_get_member(group, key->name);
		int rc;

		if (s)
			rc = key->kind->parse(key, s, base, ctx);
		else if (key->required)
			rc = shoal_schema_fail(ctx, group, key->name, -1,
					       "required key is missing");
		else
			rc = key->kind->set_default(key, base, ctx);
		if (rc < 0)
			return -1;
	}
	return 0;
}

void shoal_schema_dump(const struct shoal_conf_key *keys, size_t nkeys, const void *base,
		       FILE *out, int indent)
{
	for (size_t i = 0; i < nkeys; i++)
		keys[i].kind->dump(&keys[i], base, out, indent);
}

void shoal_schema_release(const struct shoal_conf_key *keys, size_t nkeys, void *base)
{
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].kind->release)
			keys[i].kind->release(&keys[i], base);
}

/* ---- integers ---- */

static int parse_int(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		     struct shoal_conf_ctx *ctx)
{
	long long v;

	if (!shoal_schema_is_integer(s))
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be an integer from %lld to %lld, not %s", key->min,
					 key->max, type_name(s));
	v = config_setting_get_int64(s);
	if (v < key->min || v > key->max)
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be an integer from %lld to %lld", key->min,
					 key->max);
	*(int *)field_of(base, key) = (int)v;
	return 0;
}

static int default_int(const struct shoal_conf_key *key, void *base, struct shoal_conf_ctx *ctx)
{
	(void)ctx;
	*(int *)field_of(base, key) = (int)key->def_int;
	return 0;
}

static void dump_int(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	fprintf(out, "%*s%s = %d;\n", indent, "", key->name, *(const int *)cfield_of(base, key));
}

const struct shoal_conf_kind shoal_schema_int = { parse_int, default_int, dump_int, NULL };

static int parse_bool(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		      struct shoal_conf_ctx *ctx)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return shoal_schema_fail(ctx, s, key->name, -1, "must be true or false, not %s",
					 type_name(s));
	*(bool *)field_of(base, key) = config_setting_get_bool(s);
	return 0;
}

static int default_bool(const struct shoal_conf_key *key, void *base, struct shoal_conf_ctx *ctx)
{
	(void)ctx;
	*(bool *)field_of(base, key) = key->def_int != 0;
	return 0;
}

static void dump_bool(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	fprintf(out, "%*s%s = %s;\n", indent, "", key->name,
		*(const bool *)cfield_of(base, key) ? "true" : "false");
}

const struct shoal_conf_kind shoal_schema_bool = {
	parse_bool, default_bool, dump_bool, NULL
};

/* ---- durations: seconds, fractions allowed, kept as milliseconds ---- */

/* Seconds with no more decimals than ms needs, so that the dump reads as it was written:
 * "60", "0.5", "1.25". */
static void format_seconds(char *buf, size_t size, long long ms)
{
	int len = snprintf(buf, size, "%lld.%03lld", ms / 1000, ms % 1000);

	while (len > 0 && buf[len - 1] == '0')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '.')
		buf[--len] = '\0';
}

static int parse_duration(const struct shoal_conf_key *key, const config_setting_t *s,
			  void *base, struct shoal_conf_ctx *ctx)
{
	char low[32], high[32];
	double ms = -1.0;

	format_seconds(low, sizeof(low), key->min);
	format_seconds(high, sizeof(high), key->max);
	if (shoal_schema_is_integer(s))
		ms = (double)config_setting_get_int64(s) * 1000.0;
	else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		ms = config_setting_get_float(s) * 1000.0;
	else
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be a number of seconds from %s to %s, not %s", low,
					 high, type_name(s));
	/* Written so that a NaN fails too. */
	if (!(ms >= (double)key->min && ms <= (double)key->max))
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be a number of seconds from %s to %s", low, high);
	/* Rounded to the nearest millisecond; durations are never negative. */
	*(int *)field_of(base, key) = (int)(ms + 0.5);
	return 0;
}

static void dump_duration(const struct shoal_conf_key *key, const void *base, FILE *out,
			  int indent)
{
	char seconds[32];

	format_seconds(seconds, sizeof(seconds), *(const int *)cfield_of(base, key));
	fprintf(out, "%*s%s = %s;\n", indent, "", key->name, seconds);
}

const struct shoal_conf_kind shoal_schema_duration = {
	parse_duration, default_int, dump_duration, NULL
};

/* ---- strings and paths ---- */

int shoal_schema_get_string(const struct shoal_conf_key *key, const config_setting_t *s,
			    const struct shoal_conf_ctx *ctx, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return shoal_schema_fail(ctx, s, key->name, -1, "must be a string, not %s",
					 type_name(s));
	*out = config_setting_get_string(s);
	if (**out == '\0')
		return shoal_schema_fail(ctx, s, key->name, -1, "must not be empty");
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

static int store_path(const struct shoal_conf_key *key, const config_setting_t *s,
		      const char *text, void *base, struct shoal_conf_ctx *ctx)
{
	char **dst = field_of(base, key);

	*dst = resolve_path(ctx->dir, text);
	if (!*dst)
		return shoal_schema_fail(ctx, s, key->name, -1, "out of memory");
	return 0;
}

static int store_string(const struct shoal_conf_key *key, const config_setting_t *s,
			const char *text, void *base, struct shoal_conf_ctx *ctx)
{
	char **dst = field_of(base, key);

	*dst = text ? strdup(text) : NULL;
	if (text && !*dst)
		return shoal_schema_fail(ctx, s, key->name, -1, "out of memory");
	return 0;
}

static int parse_string(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
			struct shoal_conf_ctx *ctx)
{
	const char *text = NULL;
	const char *problem;

	if (shoal_schema_get_string(key, s, ctx, &text) < 0)
		return -1;
	problem = key->check ? key->check(text) : NULL;
	if (problem)
		return shoal_schema_fail(ctx, s, key->name, -1, "'%s' %s", text, problem);
	return store_string(key, s, text, base, ctx);
}

static int default_string(const struct shoal_conf_key *key, void *base, struct shoal_conf_ctx *ctx)
{
	return store_string(key, NULL, key->def_str, base, ctx);
}

static void dump_string(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	const char *value = *(char *const *)cfield_of(base, key);

	if (!value) {
		fprintf(out, "%*s# %s is unset\n", indent, "", key->name);
		return;
	}
	fprintf(out, "%*s%s = ", indent, "", key->name);
	shoal_schema_put_string(out, value);
	fputs(";\n", out);
}

static void release_string(const struct shoal_conf_key *key, void *base)
{
	char **value = field_of(base, key);

	free(*value);
	*value = NULL;
}

const struct shoal_conf_kind shoal_schema_string = {
	parse_string, default_string, dump_string, release_string
};

static int parse_path(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		      struct shoal_conf_ctx *ctx)
{
	const char *text = NULL;

	if (shoal_schema_get_string(key, s, ctx, &text) < 0)
		return -1;
	return store_path(key, s, text, base, ctx);
}

static int default_path(const struct shoal_conf_key *key, void *base, struct shoal_conf_ctx *ctx)
{
	if (!key->def_str)
		return store_string(key, NULL, NULL, base, ctx);
	return store_path(key, NULL, key->def_str, base, ctx);
}

const struct shoal_conf_kind shoal_schema_path = {
	parse_path, default_path, dump_string, release_string
};

/* A log target: a keyword ("stderr", "off") or a path. */
static int parse_log_target(const struct shoal_conf_key *key, const config_setting_t *s,
			    void *base, struct shoal_conf_ctx *ctx)
{
	const char *text = NULL;

	if (shoal_schema_get_string(key, s, ctx, &text) < 0)
		return -1;
	if (strcmp(text, key->keyword) == 0)
		return store_string(key, s, text, base, ctx);
	return store_path(key, s, text, base, ctx);
}

static int default_log_target(const struct shoal_conf_key *key, void *base,
			      struct shoal_conf_ctx *ctx)
{
	if (strcmp(key->def_str, key->keyword) == 0)
		return store_string(key, NULL, key->def_str, base, ctx);
	return store_path(key, NULL, key->def_str, base, ctx);
}

const struct shoal_conf_kind shoal_schema_log_target = {
	parse_log_target, default_log_target, dump_string, release_string
};

/* ---- log level ---- */

static int store_log_level(const struct shoal_conf_key *key, const config_setting_t *s,
			   const char *text, void *base, struct shoal_conf_ctx *ctx)
{
	char names[64] = "";
	size_t len = 0;

	if (shoal_log_level_parse(text, field_of(base, key)) == 0)
		return 0;
	for (int level = SHOAL_LOG_ERROR; level <= SHOAL_LOG_DEBUG && len < sizeof(names); level++)
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", level ? ", " : "",
					shoal_log_level_name((enum shoal_log_level)level));
	return shoal_schema_fail(ctx, s, key->name, -1, "must be one of %s", names);
}

static int parse_log_level(const struct shoal_conf_key *key, const config_setting_t *s,
			   void *base, struct shoal_conf_ctx *ctx)
{
	const char *text = NULL;

	if (shoal_schema_get_string(key, s, ctx, &text) < 0)
		return -1;
	return store_log_level(key, s, text, base, ctx);
}

static int default_log_level(const struct shoal_conf_key *key, void *base,
			     struct shoal_conf_ctx *ctx)
{
	return store_log_level(key, NULL, key->def_str, base, ctx);
}

static void dump_log_level(const struct shoal_conf_key *key, const void *base, FILE *out,
			   int indent)
{
	const enum shoal_log_level *level = cfield_of(base, key);

	fprintf(out, "%*s%s = ", indent, "", key->name);
	shoal_schema_put_string(out, shoal_log_level_name(*level));
	fputs(";\n", out);
}

const struct shoal_conf_kind shoal_schema_log_level = {
	parse_log_level, default_log_level, dump_log_level, NULL
};

/* ---- lists of strings: listen addresses, names ---- */

static int check_count(const struct shoal_conf_key *key, const config_setting_t *s, int n,
		       const struct shoal_conf_ctx *ctx)
{
	if (n >= key->min)
		return 0;
	if (key->min == 1)
		return shoal_schema_fail(ctx, s, key->name, -1, "must not be empty");
	return shoal_schema_fail(ctx, s, key->name, -1, "must have at least %lld entries",
				 key->min);
}

int shoal_schema_check_strings(const struct shoal_conf_key *key, const config_setting_t *s,
			       const struct shoal_conf_ctx *ctx)
{
	int n;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be an array of strings, not %s", type_name(s));
	n = config_setting_length(s);
	if (check_count(key, s, n, ctx) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return shoal_schema_fail(ctx, e, key->name, i, "must be a string, not %s",
						 type_name(e));
		if (config_setting_get_string(e)[0] == '\0')
			return shoal_schema_fail(ctx, e, key->name, i, "must not be empty");
	}
	return n;
}

static void dump_list_start(const struct shoal_conf_key *key, FILE *out, int indent)
{
	fprintf(out, "%*s%s = [", indent, "", key->name);
}

static void dump_list_item(FILE *out, size_t i, const char *text)
{
	fputs(i ? ", " : " ", out);
	shoal_schema_put_string(out, text);
}

/* Reads element i of a list of strings, e, into list[i]. */
typedef int (*read_elem_fn)(const struct shoal_conf_key *key, const config_setting_t *e,
			    int i, void *list, struct shoal_conf_ctx *ctx);

/* Reads a list of strings into n elements of size bytes, one read call each; the count
 * covers the elements read whole, for the release after an error. */
static int parse_strings(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
			 size_t size, read_elem_fn read, struct shoal_conf_ctx *ctx)
{
	size_t *count = count_of(base, key);
	int n = shoal_schema_check_strings(key, s, ctx);
	void *list;

	if (n <= 0)
		return n;
	list = calloc((size_t)n, size);
	if (!list)
		return shoal_schema_fail(ctx, s, key->name, -1, "out of memory");
	set_list(base, key, list);
	for (int i = 0; i < n; i++) {
		if (read(key, config_setting_get_elem(s, (unsigned int)i), i, list, ctx) < 0)
			return -1;
		(*count)++;
	}
	return 0;
}

static int read_addr(const struct shoal_conf_key *key, const config_setting_t *e, int i,
		     void *list, struct shoal_conf_ctx *ctx)
{
	struct shoal_addr *addrs = list;
	struct shoal_err why;

	if (shoal_addr_parse(config_setting_get_string(e), &addrs[i], &why) < 0)
		return shoal_schema_fail(ctx, e, key->name, i, "%s", why.msg);
	for (size_t j = 0; j < (size_t)i; j++)
		if (shoal_addr_equal(&addrs[j], &addrs[i]))
			return shoal_schema_fail(ctx, e, key->name, i,
						 "'%s' is listed twice (also at index %zu)",
						 config_setting_get_string(e), j);
	return 0;
}

static int parse_addrs(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		       struct shoal_conf_ctx *ctx)
{
	return parse_strings(key, s, base, sizeof(struct shoal_addr), read_addr, ctx);
}

static void dump_addrs(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	const struct shoal_addr *addrs = *(struct shoal_addr *const *)cfield_of(base, key);
	size_t n = ccount_of(base, key);

	dump_list_start(key, out, indent);
	for (size_t i = 0; i < n; i++)
		dump_list_item(out, i, addrs[i].text);
	fputs(" ];\n", out);
}

static void release_addrs(const struct shoal_conf_key *key, void *base)
{
	struct shoal_addr **addrs = field_of(base, key);

	free(*addrs);
	*addrs = NULL;
	*count_of(base, key) = 0;
}

const struct shoal_conf_kind shoal_schema_addrs = {
	parse_addrs, NULL, dump_addrs, release_addrs
};

static int read_name(const struct shoal_conf_key *key, const config_setting_t *e, int i,
		     void *list, struct shoal_conf_ctx *ctx)
{
	char **names = list;
	const char *text = config_setting_get_string(e);
	const char *problem = key->check(text);

	if (problem)
		return shoal_schema_fail(ctx, e, key->name, i, "'%s' %s", text, problem);
	names[i] = strdup(text);
	if (!names[i])
		return shoal_schema_fail(ctx, e, key->name, i, "out of memory");
	return 0;
}

static int parse_names(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		       struct shoal_conf_ctx *ctx)
{
	return parse_strings(key, s, base, sizeof(char *), read_name, ctx);
}

static int default_names(const struct shoal_conf_key *key, void *base,
			 struct shoal_conf_ctx *ctx)
{
	char ***names = field_of(base, key);

	if (!key->def_str)
		return 0;
	*names = calloc(1, sizeof(**names));
	if (*names)
		(*names)[0] = strdup(key->def_str);
	if (!*names || !(*names)[0])
		return shoal_schema_fail(ctx, NULL, key->name, -1, "out of memory");
	*count_of(base, key) = 1;
	return 0;
}

static void dump_names(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	char *const *names = *(char **const *)cfield_of(base, key);
	size_t n = ccount_of(base, key);

	dump_list_start(key, out, indent);
	for (size_t i = 0; i < n; i++)
		dump_list_item(out, i, names[i]);
	fputs(" ];\n", out);
}

static void release_names(const struct shoal_conf_key *key, void *base)
{
	char ***names = field_of(base, key);
	size_t *count = count_of(base, key);

	for (size_t i = 0; i < *count; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
	*count = 0;
}

const struct shoal_conf_kind shoal_schema_names = {
	parse_names, default_names, dump_names, release_names
};

/* ---- lists of groups, each read by the key table of its section ---- */

static void *group_at(void *groups, const struct shoal_conf_section *section, size_t i)
{
	return (char *)groups + i * section->size;
}

static int parse_groups(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
			struct shoal_conf_ctx *ctx)
{
	const struct shoal_conf_section *section = key->section;
	size_t len = strlen(ctx->where);
	void *groups;
	int n;

	if (!config_setting_is_list(s))
		return shoal_schema_fail(ctx, s, key->name, -1,
					 "must be a list of groups ( { ... } ), not %s",
					 type_name(s));
	n = config_setting_length(s);
	if (check_count(key, s, n, ctx) < 0)
		return -1;
	if (n == 0)
		return 0;
	groups = calloc((size_t)n, section->size);
	if (!groups)
		return shoal_schema_fail(ctx, s, key->name, -1, "out of memory");
	set_list(base, key, groups);
	*count_of(base, key) = (size_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		int rc;

		if (!config_setting_is_group(e))
			return shoal_schema_fail(ctx, e, key->name, i,
						 "must be a group { ... }, not %s", type_name(e));
		snprintf(ctx->where + len, sizeof(ctx->where) - len, "%s[%d].", key->name, i);
		rc = shoal_schema_parse(section->keys, section->nkeys, e,
					group_at(groups, section, (size_t)i), ctx);
		ctx->where[len] = '\0';
		if (rc < 0)
			return -1;
	}
	return section->finish ? section->finish(key, groups, (size_t)n, s, ctx) : 0;
}

/* An optional list of groups that is absent holds none. */
static int default_groups(const struct shoal_conf_key *key, void *base,
			  struct shoal_conf_ctx *ctx)
{
	(void)ctx;
	set_list(base, key, NULL);
	*count_of(base, key) = 0;
	return 0;
}

static void dump_groups(const struct shoal_conf_key *key, const void *base, FILE *out, int indent)
{
	const struct shoal_conf_section *section = key->section;
	void *groups = list_of(base, key);
	size_t n = ccount_of(base, key);

	fprintf(out, "%*s%s = (\n", indent, "", key->name);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%*s{\n", indent + 2, "");
		shoal_schema_dump(section->keys, section->nkeys, group_at(groups, section, i), out,
				  indent + 4);
		fprintf(out, "%*s}%s\n", indent + 2, "", i + 1 < n ? "," : "");
	}
	fprintf(out, "%*s);\n", indent, "");
}

static void release_groups(const struct shoal_conf_key *key, void *base)
{
	const struct shoal_conf_section *section = key->section;
	void *groups = list_of(base, key);
	size_t *count = count_of(base, key);

	for (size_t i = 0; i < *count; i++)
		shoal_schema_release(section->keys, section->nkeys, group_at(groups, section, i));
	free(groups);
	set_list(base, key, NULL);
	*count = 0;
}

const struct shoal_conf_kind shoal_schema_groups = {
	parse_groups, default_groups, dump_groups, release_groups
};
