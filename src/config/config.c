#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "limit_zones.h"
#include "location.h"
#include "schema.h"
#include "server.h"
#include "tls_conf.h"
#include "upstream.h"
#include "shoal/base/util.h"
#include "shoal/config/config.h"
#include "shoal/http/parser.h"
#include "shoal/net/acl.h"
#include "shoal/state/state.h"

/* ---- workers: a count or "auto" ---- */

static int online_cpus(const struct shoal_conf_key *key)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < key->min)
		return (int)key->min;
	return n > key->max ? (int)key->max : (int)n;
}

static int default_workers(const struct shoal_conf_key *key, void *base,
			   struct shoal_conf_ctx *ctx)
{
	struct shoal_config *cfg = base;

	(void)ctx;
	cfg->workers = online_cpus(key);
	cfg->workers_auto = true;
	return 0;
}

static int parse_workers(const struct shoal_conf_key *key, const config_setting_t *s, void *base,
			 struct shoal_conf_ctx *ctx)
{
	struct shoal_config *cfg = base;
	long long v;

	if (config_setting_type(s) == CONFIG_TYPE_STRING &&
	    strcmp(config_setting_get_string(s), "auto") == 0)
		return default_workers(key, base, ctx);
	if (shoal_schema_is_integer(s)) {
		v = config_setting_get_int64(s);
		if (v >= key->min && v <= key->max) {
			cfg->workers = (int)v;
			cfg->workers_auto = false;
			return 0;
		}
	}
	return shoal_schema_fail(ctx, s, key->name, -1,
				 "must be an integer from %lld to %lld or \"auto\"", key->min,
				 key->max);
}

static void dump_workers(const struct shoal_conf_key *key, const void *base, FILE *out,
			 int indent)
{
	const struct shoal_config *cfg = base;

	fprintf(out, "%*s%s = %d;%s\n", indent, "", key->name, cfg->workers,
		cfg->workers_auto ? "  # auto" : "");
}

static const struct shoal_conf_kind kind_workers = {
	parse_workers, default_workers, dump_workers, NULL
};

/* ---- checks of single values ---- */

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

/* ---- the schema of the file ---- */

#define TOP_KEY(f, k, ...) \
	{ .name = #f, .kind = &(k), .offset = offsetof(struct shoal_config, f), __VA_ARGS__ }

static const struct shoal_conf_key top_keys[] = {
	TOP_KEY(workers, kind_workers, .min = 1, .max = 1024),
	TOP_KEY(user, shoal_schema_string, .def_str = NULL),
	TOP_KEY(allow_root, shoal_schema_bool, .def_int = 0),
	TOP_KEY(group, shoal_schema_string, .def_str = NULL),
	TOP_KEY(pid_file, shoal_schema_path, .def_str = "shoal.pid"),
	TOP_KEY(error_log, shoal_schema_log_target, .def_str = "stderr", .keyword = "stderr"),
	TOP_KEY(access_log, shoal_schema_log_target, .def_str = "off", .keyword = "off"),
	TOP_KEY(log_level, shoal_schema_log_level, .def_str = "info"),
	TOP_KEY(shutdown_timeout, shoal_schema_int, .min = 0, .max = 3600, .def_int = 30),
	TOP_KEY(worker_timeout, shoal_schema_int, .min = 0, .max = 3600, .def_int = 30),
	TOP_KEY(stop_delay, shoal_schema_int, .min = 0, .max = 3600, .def_int = 0),
	TOP_KEY(health_path, shoal_schema_string, .def_str = NULL, .check = check_url_path),
	TOP_KEY(stats_file, shoal_schema_path, .def_str = "/dev/shm/shoal.stats"),
	TOP_KEY(state_file, shoal_schema_path, .def_str = SHOAL_STATE_DEFAULT_PATH),
	TOP_KEY(stats_export, shoal_schema_log_target, .def_str = "off", .keyword = "off"),
	TOP_KEY(stats_interval, shoal_schema_int, .min = 1, .max = 3600, .def_int = 15),
	TOP_KEY(status_path, shoal_schema_string, .def_str = NULL, .check = check_url_path),
	TOP_KEY(status_allow, shoal_schema_names,
		.count_offset = offsetof(struct shoal_config, nstatus_allow), .check = check_acl),
	TOP_KEY(limit_allow, shoal_schema_names,
		.count_offset = offsetof(struct shoal_config, nlimit_allow), .check = check_acl),
	TOP_KEY(max_connections, shoal_schema_int, .min = 1, .max = 1000000, .def_int = 10000),
	TOP_KEY(header_timeout, shoal_schema_int, .min = 1, .max = 3600, .def_int = 10),
	TOP_KEY(keepalive_timeout, shoal_schema_int, .min = 0, .max = 3600, .def_int = 75),
	TOP_KEY(send_timeout, shoal_schema_int, .min = 1, .max = 3600, .def_int = 60),
	{ .name = "proxy_protocol_timeout", .kind = &shoal_schema_duration,
	  .offset = offsetof(struct shoal_config, proxy_protocol_timeout_ms), .min = 1,
	  .max = 3600000, .def_int = 5000 },
	TOP_KEY(max_keepalive_requests, shoal_schema_int, .min = 1, .max = 10000000,
		.def_int = 10000),
	TOP_KEY(max_header_size, shoal_schema_int, .min = 1024, .max = 1048576, .def_int = 8192),
	TOP_KEY(max_headers, shoal_schema_int, .min = 1, .max = SHOAL_HTTP_MAX_HEADERS,
		.def_int = 100),
	TOP_KEY(max_body_size, shoal_schema_int, .min = 0, .max = INT_MAX, .def_int = 1048576),
	TOP_KEY(server_tokens, shoal_schema_bool, .def_int = 1),
	TOP_KEY(types, shoal_schema_names, .count_offset = offsetof(struct shoal_config, ntypes),
		.check = check_type_line),
	TOP_KEY(default_type, shoal_schema_string, .def_str = "application/octet-stream",
		.check = check_media_type),
	TOP_KEY(cache_max_file_size, shoal_schema_int, .min = 0, .max = 16777216, .def_int = 65536),
	TOP_KEY(cache_max_size, shoal_schema_int, .min = 0, .max = INT_MAX, .def_int = 67108864),
	TOP_KEY(cache_revalidate, shoal_schema_int, .min = 0, .max = 3600, .def_int = 1),
	TOP_KEY(cache_max_open_files, shoal_schema_int, .min = 0, .max = 65536, .def_int = 256),
	TOP_KEY(proxy_buffer_size, shoal_schema_int, .min = 4096, .max = 16777216,
		.def_int = 65536),
	TOP_KEY(tls_protocols, shoal_tls_conf_protocols, .min = 1),
	TOP_KEY(tls_ciphers, shoal_schema_string, .def_str = NULL),
	TOP_KEY(tls_ciphersuites, shoal_schema_string, .def_str = NULL),
	TOP_KEY(tls_prefer_server_ciphers, shoal_schema_bool, .def_int = 1),
	TOP_KEY(tls_ticket_rotate, shoal_schema_int, .min = 60, .max = 86400, .def_int = 3600),
	/* Before servers, so that a dump lists the zones and groups before the locations naming
	 * them. */
	TOP_KEY(limit_zones, shoal_schema_groups,
		.count_offset = offsetof(struct shoal_config, nlimit_zones),
		.section = &shoal_limit_zones_section),
	TOP_KEY(upstreams, shoal_schema_groups,
		.count_offset = offsetof(struct shoal_config, nupstreams),
		.section = &shoal_upstream_section),
	TOP_KEY(servers, shoal_schema_groups,
		.count_offset = offsetof(struct shoal_config, nservers), .min = 1, .required = true,
		.section = &shoal_server_section),
};

/* ---- loading ---- */

static int check_user_group(const config_setting_t *root, const struct shoal_config *cfg,
			    const struct shoal_conf_ctx *ctx)
{
	if (cfg->group && !cfg->user)
		return shoal_schema_fail(ctx, config_setting_get_member(root, "group"), "group", -1,
					 "group requires user");
	return 0;
}

static int read_config(config_t *lc, FILE *fp, struct shoal_config *cfg,
		       struct shoal_conf_ctx *ctx)
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
	if (shoal_schema_parse(top_keys, ARRAY_LEN(top_keys), root, cfg, ctx) < 0 ||
	    shoal_location_resolve(cfg, root, ctx) < 0)
		return -1;
	if (check_user_group(root, cfg, ctx) < 0)
		return -1;
	return shoal_tls_conf_check_ciphers(root, cfg, ctx);
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
	struct shoal_conf_ctx ctx = { .err = err };
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
	shoal_schema_release(top_keys, ARRAY_LEN(top_keys), cfg);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

void shoal_config_dump(const struct shoal_config *cfg, FILE *out)
{
	fputs("# effective configuration of ", out);
	shoal_schema_put_string(out, cfg->path ? cfg->path : "");
	fputc('\n', out);
	shoal_schema_dump(top_keys, ARRAY_LEN(top_keys), cfg, out, 0);
}
