/* The table-driven reading of the configuration file, private to src/config.
 *
 * A group of the file is described by a table of its keys: each names the kind of its value
 * (how it is read, defaulted, printed and freed) and where the value lives in the struct the
 * group is read into. The walkers here apply such a table; the kinds every section uses are
 * here too. A section owns its table and its checks: the top level in config.c, the server
 * groups in server.c, each list of groups registered as a struct shoal_conf_section.
 *
 * Every error names the file, the line and the key path, as in
 * "/etc/shoal.conf:12: servers[0].index[1]: must not be empty", and is reported once, into the
 * shoal_err of the context; the functions then return -1. */
#ifndef SHOAL_CONFIG_SCHEMA_H
#define SHOAL_CONFIG_SCHEMA_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "shoal/base/error.h"

/* What the reading of one file carries from group to group. */
struct shoal_conf_ctx {
	const char *file; /* absolute path of the config file */
	char *dir;        /* base of relative paths: the config file's directory */
	char where[64];   /* key path prefix of the group being read: "" or "servers[3]." */
	struct shoal_err *err;
};

struct shoal_conf_key;

/* How one type of value is read, defaulted, printed and freed. */
struct shoal_conf_kind {
	int (*parse)(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
		     struct shoal_conf_ctx *ctx);
	int (*set_default)(const struct shoal_conf_key *key, void *base,
			   struct shoal_conf_ctx *ctx);
	void (*dump)(const struct shoal_conf_key *key, const void *base, FILE *out, int indent);
	void (*release)(const struct shoal_conf_key *key, void *base); /* NULL: owns no memory */
};

/* A list of groups of one shape, such as the servers: the table of a group's keys, and what
 * is checked across the groups once all are read. */
struct shoal_conf_section {
	const struct shoal_conf_key *keys;
	size_t nkeys;
	size_t size; /* of the struct one group is read into */
	/* NULL, or called once every group of list (the setting of key) is read into the n
	 * structs at groups: fills in what is derived from the settings, checks what no single
	 * key can. Returns 0, or -1 once it has reported through shoal_schema_fail. */
	int (*finish)(const struct shoal_conf_key *key, void *groups, size_t n,
		      const config_setting_t *list, struct shoal_conf_ctx *ctx);
};

/* One line of a schema table: a key of a group and where its value lives in the struct. */
struct shoal_conf_key {
	const char *name;
	const struct shoal_conf_kind *kind;
	size_t offset;       /* of the value in the struct the table describes */
	size_t count_offset; /* lists: of the size_t element count */
	long long min, max;  /* integers: the range; lists: min is the least number of elements */
	long long def_int;
	const char *def_str;
	const char *keyword; /* log targets: the word kept as is rather than taken as a path */
	/* name lists: NULL if an element is acceptable, else what is wrong with it */
	const char *(*check)(const char *text);
	const struct shoal_conf_section *section; /* lists of groups: what each group holds */
	bool required;
};

/* The kinds of values. int: an int in [min, max]. bool. duration: seconds, an integer or a
 * float ("2", "0.5"), into an int of milliseconds in [min, max] (min >= 0), rounded to the
 * millisecond; def_int is in milliseconds too, and the dump prints seconds. string: a
 * non-empty string, NULL by default unless def_str; check, if set, vets it. path: a string
 * resolved against the file's directory; NULL by default unless def_str. log_target: keyword
 * as is, else a path. log_level: an enum shoal_log_level by its name. names: a char ** of
 * non-empty strings and its count, each vetted by check; def_str, if set, is the one default
 * element. addrs: a struct shoal_addr * of distinct listen addresses and its count. groups: a
 * list of groups described by section, into an array of section->size structs and its count;
 * absent, it holds none. Lists have at least min elements. addrs have no default: their keys
 * are required. */
extern const struct shoal_conf_kind shoal_schema_int;
extern const struct shoal_conf_kind shoal_schema_bool;
extern const struct shoal_conf_kind shoal_schema_duration;
extern const struct shoal_conf_kind shoal_schema_string;
extern const struct shoal_conf_kind shoal_schema_path;
extern const struct shoal_conf_kind shoal_schema_log_target;
extern const struct shoal_conf_kind shoal_schema_log_level;
extern const struct shoal_conf_kind shoal_schema_names;
extern const struct shoal_conf_kind shoal_schema_addrs;
extern const struct shoal_conf_kind shoal_schema_groups;

/* Reads group into base by the table keys: fails on a key the table does not name or a
 * required key that is missing; a key that is absent gets its default. On error, base may
 * hold values read so far: shoal_schema_release frees them. */
int shoal_schema_parse(const struct shoal_conf_key *keys, size_t nkeys,
		       const config_setting_t *group, void *base, struct shoal_conf_ctx *ctx);

/* Prints every key of the table as a loadable line, indented by indent spaces. */
void shoal_schema_dump(const struct shoal_conf_key *keys, size_t nkeys, const void *base,
		       FILE *out, int indent);

/* Frees what the values of the table own in base, which a parse, even a failed one, left. */
void shoal_schema_release(const struct shoal_conf_key *keys, size_t nkeys, void *base);

/* Reports a problem with the key name (element index, if >= 0) at setting s, or at the file
 * alone if s is NULL or has no line, under the key path of ctx. Returns -1. */
int shoal_schema_fail(const struct shoal_conf_ctx *ctx, const config_setting_t *s,
		      const char *name, int index, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Points *out at the text of s, a string that must not be empty; fails, naming key, on any
 * other type of value. The text lives as long as the libconfig tree s belongs to. */
int shoal_schema_get_string(const struct shoal_conf_key *key, const config_setting_t *s,
			    const struct shoal_conf_ctx *ctx, const char **out);

/* Checks that s is an array or list of at least key->min non-empty strings (naming key, and
 * the element at fault); returns their number, or -1. */
int shoal_schema_check_strings(const struct shoal_conf_key *key, const config_setting_t *s,
			       const struct shoal_conf_ctx *ctx);

/* Whether s holds an integer, of either width. */
bool shoal_schema_is_integer(const config_setting_t *s);

/* Writes s as a libconfig string literal, so that any path survives a reload. */
void shoal_schema_put_string(FILE *out, const char *s);

#endif
