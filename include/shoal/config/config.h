/* The configuration file (libconfig syntax): loading, validation, the effective values. */
#ifndef SHOAL_CONFIG_CONFIG_H
#define SHOAL_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "shoal/base/error.h"
#include "shoal/net/addr.h"
#include "shoal/base/log.h"
#include "shoal/tls/context.h"

/* A place of the site's URL space served its own way: by an upstream group, or from a root
 * of its own. The location whose path is the longest prefix of the request's path wins. */
struct shoal_location_conf {
	char *path;       /* a prefix of request paths, starting with '/' */
	char *proxy;      /* the name of an upstream group; NULL: static files */
	size_t upstream;  /* with proxy: its index in the config's upstreams, set at load */
	char *root;       /* without proxy: absolute; NULL: the server's root */
	unsigned root_line; /* where root is set, for errors found when it is opened */
	char *proxy_host; /* the Host sent upstream; NULL: the client's own */
	bool x_forwarded; /* append X-Forwarded-For, set X-Forwarded-Proto and -Host */
	bool forwarded;   /* append Forwarded (RFC 7239) */
	char **limit;     /* names of limit_zones that apply to its requests */
	size_t nlimit;
	size_t *limit_zone; /* their indexes in the config's limit_zones, set at load */
};

/* What a listen address may carry after it ("*:80 proxy_protocol"). Servers that share an
 * address agree on its flags. */
enum shoal_listen_flag {
	/* Every connection opens with a PROXY protocol header (v1 or v2), from a peer in
	 * proxy_protocol_from; its source is the client. */
	SHOAL_LISTEN_PROXY_PROTOCOL = 1u << 0,
	/* Connections speak TLS (after the PROXY protocol header, with both flags): every server
	 * on the address brings its certificate (tls), and the name the client asks for (SNI)
	 * picks it. */
	SHOAL_LISTEN_TLS = 1u << 1,
};

/* A server's `tls = { certificate = "..."; key = "..."; }`. */
struct shoal_server_tls_conf {
	char *certificate; /* absolute, PEM: the leaf, then its chain; NULL: no tls group */
	char *key;         /* absolute, PEM: the leaf's private key */
	unsigned line;     /* where the group is, for errors found when the files are loaded */
};

/* `tls_protocols`: the range of versions offered, both ends included. */
struct shoal_tls_protocols {
	enum shoal_tls_version min, max;
};

struct shoal_server_conf {
	struct shoal_addr *listen;
	unsigned *listen_flags; /* SHOAL_LISTEN_* of each of listen */
	size_t nlisten;
	int backlog;
	char *root; /* absolute */
	unsigned root_line; /* where root is set, for errors found when it is opened */
	char **index;
	size_t nindex;
	char **server_names; /* exact names and "*.suffix" wildcards, any case */
	size_t nserver_names;
	bool default_server;  /* answers requests for unknown hosts on its addresses */
	char **error_pages;   /* "CODE... /path": pages under root served with those statuses */
	size_t nerror_pages;
	bool follow_symlinks; /* false: no symlink is followed beneath root */
	bool autoindex;       /* list directories that have no index file */
	struct shoal_location_conf *locations; /* in file order */
	size_t nlocations;
	/* Peers that may send a PROXY protocol header (status_allow's syntax); required, and the
	 * same in every server, on an address with proxy_protocol. */
	char **proxy_protocol_from;
	size_t nproxy_protocol_from;
	char **real_ip_from;  /* peers (status_allow's syntax) whose real_ip_header is believed */
	size_t nreal_ip_from;
	char *real_ip_header; /* "X-Forwarded-For" or "Forwarded", any case */
	struct shoal_server_tls_conf tls; /* required when an address has the tls flag */
	bool https_redirect; /* requests on its plain addresses get 308 to https:// */
};

/* One server of an upstream group. */
struct shoal_upstream_server_conf {
	struct shoal_addr address; /* numeric: "127.0.0.1:9001", "[::1]:9002"; for a name, the
				    * first address it had at load */
	char *host;                /* a name (resolve): the address as written,
				    * "app.internal:9001"; NULL: numeric */
	struct shoal_addr *resolved; /* with host: every address the name had at load, in the
				      * order getaddrinfo gave them (address is the first) */
	size_t nresolved;
	int weight;                /* its share of requests under weighted algorithms, >= 1 */
	bool backup;               /* takes requests only when no primary server is usable */
	bool down;                 /* out by configuration: never takes a request nor a check */
	bool resolve;              /* address may be a host name, looked up again every
				    * resolve_interval by the checker */
	int max_conns;             /* requests in flight there over every worker; 0: no bound */
};

/* What names s in logs, the stats, the state file and shoalctl: a name as written, since
 * its addresses change; else the canonical address. */
static inline const char *shoal_config_server_label(const struct shoal_upstream_server_conf *s)
{
	return s->host ? s->host : s->address.text;
}

/* How a group spreads requests over its servers (`balance`). */
enum shoal_balance {
	SHOAL_BALANCE_ROUND_ROBIN = 0, /* smooth weighted round robin, the default */
	SHOAL_BALANCE_LEAST_CONN,      /* power of two choices on the shared in-flight counts */
	SHOAL_BALANCE_RANDOM,          /* two weighted random choices, the less loaded wins */
	SHOAL_BALANCE_HASH,            /* consistent hash ring on hash_key */
};

/* What `balance = "hash"` hashes (`hash_key`). */
enum shoal_hash_key {
	SHOAL_HASH_CLIENT_IP = 0, /* "client_ip" */
	SHOAL_HASH_URI,           /* "uri": the request target as received */
	SHOAL_HASH_HEADER,        /* "header:NAME" */
	SHOAL_HASH_COOKIE,        /* "cookie:NAME" */
};

enum shoal_check_type {
	SHOAL_CHECK_NONE = 0, /* no active checks: health is passive only */
	SHOAL_CHECK_TCP,      /* a connection that opens is up */
	SHOAL_CHECK_HTTP,     /* a GET of path answered with a status in [status_min, status_max] */
};

/* Active health checks of a group's servers (`health_check = { ... }`). */
struct shoal_health_check_conf {
	enum shoal_check_type type;
	char *path;       /* http: the request target, default "/" */
	char *host;       /* http: the Host sent; NULL: the server's address */
	int interval_ms;  /* between two probes of one server, default 2 s */
	int timeout_ms;   /* a probe with no answer after this fails, default 1 s */
	int rise;         /* consecutive successes that bring a down server up, default 2 */
	int fall;         /* consecutive failures that take an up server down, default 3 */
	int status_min;   /* http: the statuses that pass, default 200 .. 399 */
	int status_max;
};

/* Retries, passive health and the balancing of a group; defaults in shoal.conf(5). */
struct shoal_upstream_policy {
	enum shoal_balance balance;
	enum shoal_hash_key hash_key;
	char *hash_name;          /* HEADER, COOKIE: the field or cookie name; else NULL */
	int hash_balance_factor;  /* hash: a server takes at most this percent of the mean
				   * in-flight load (bounded load); 0: unbounded */
	int max_fails;            /* failures within fail_timeout that eject a server; 0: never */
	int fail_timeout_ms;      /* that window, and the first ejection's length */
	int max_ejection_percent; /* at most this share of a group is ejected at once (at least
				   * one server may always be) */
	int *fail_status;         /* response statuses that count as failures and are retried */
	size_t nfail_status;
	int panic_threshold;      /* percent: with fewer usable primaries, use them all */
	int slow_start_ms;        /* a server back in service ramps its weight over this; 0: off */
	int retries;              /* tries after the first */
	int retry_timeout_ms;     /* no retry starts later than this after the first try; 0: any */
	bool retry_non_idempotent; /* retry POST and the like after a timeout, reset or status */
	int stall_timeout_ms;     /* a server with tries waiting and no answer to any worker for
				   * this long is ejected, and those tries go elsewhere; 0: off */
};

/* A group of upstream servers that locations forward requests to. */
struct shoal_upstream_conf {
	char *name;
	struct shoal_upstream_server_conf *servers;
	size_t nservers;
	int keepalive;         /* idle connections kept per worker and server; 0: none */
	int connect_timeout_ms;
	int send_timeout_ms;   /* the upstream takes no request bytes for this long */
	int read_timeout_ms;   /* the upstream sends no response bytes for this long */
	int tunnel_timeout_ms; /* an upgraded connection (WebSocket) idle both ways */
	int queue;             /* requests that may wait for a server below its max_conns, over
				* every worker; beyond: 503 at once */
	int queue_timeout_ms;  /* a request waits at most this long in the queue, then 503 */
	int resolve_interval_ms; /* between two lookups of a server's name (resolve) */
	int send_proxy_protocol; /* 1 or 2: the PROXY protocol header of that version opens
				  * every new connection to a server; 0: none */
	bool tls;              /* the servers speak HTTPS: connections to them are TLS */
	char *tls_ca;          /* tls: the CAs (PEM) that sign the servers' certificates;
				* NULL: the system's store */
	char *tls_server_name; /* tls: the name sent (SNI) and verified; NULL: each server's
				* own, its host name or else its address */
	bool tls_verify;       /* tls: certificates are verified (false: tests only) */
	struct shoal_upstream_policy policy;
	struct shoal_health_check_conf health_check;
};

/* What a limit zone counts by (`key`): one or more parts joined by "+". */
enum shoal_limit_part_kind {
	SHOAL_LIMIT_KEY_CLIENT_IP = 0, /* "client_ip" */
	SHOAL_LIMIT_KEY_URI,           /* "uri": the request target as received */
	SHOAL_LIMIT_KEY_HEADER,        /* "header:NAME" */
};

struct shoal_limit_key_part {
	enum shoal_limit_part_kind kind;
	char *name; /* HEADER: the field name; else NULL */
};

/* A zone of `limit_zones`: a rate zone (rate > 0: GCRA, requests per second with burst) or a
 * concurrency zone (conn > 0: requests in flight per key). Its table lives in the state file,
 * shared by every worker and kept across reloads while name, key, kind and size stay. */
struct shoal_limit_zone_conf {
	char *name;
	char *key;        /* as written, e.g. "client_ip+header:X-Api-Key" */
	struct shoal_limit_key_part *parts;
	size_t nparts;
	double rate;      /* requests per second; 0 in a concurrency zone */
	int burst;        /* requests beyond the rate let through at once */
	int conn;         /* concurrency zone: requests in flight per key; 0 in a rate zone */
	int size;         /* keys the zone holds */
	bool dry_run;     /* count and log what would be refused, refuse nothing */
};

struct shoal_config {
	char *path; /* absolute path of the file this was read from */
	int workers;       /* resolved count, >= 1 */
	bool workers_auto; /* "auto": online CPUs at load time */
	char *user;        /* NULL: no privilege drop */
	char *group;       /* NULL: the user's primary group */
	bool allow_root;   /* workers may serve as root when the master runs as root without user */
	char *pid_file;    /* absolute */
	char *error_log;   /* "stderr" or an absolute path */
	char *access_log;  /* "off" or an absolute path */
	enum shoal_log_level log_level;
	int shutdown_timeout; /* seconds */
	int worker_timeout;   /* seconds without a heartbeat before a worker is killed; 0: never */
	int stop_delay;       /* seconds a graceful stop keeps accepting before closing listeners */
	char *health_path;    /* NULL: none; else 200 while serving, 503 while stopping */
	char *stats_file;     /* absolute */
	char *state_file;     /* absolute: the shared upstream state (and later limit zones) */
	char *stats_export;   /* "off" or where the master writes the Prometheus exposition */
	int stats_interval;   /* seconds between two exports */
	char *status_path;    /* NULL: no status endpoint */
	char **status_allow;  /* clients allowed to read it; none listed: loopback only */
	size_t nstatus_allow;
	struct shoal_limit_zone_conf *limit_zones;
	size_t nlimit_zones;
	char **limit_allow;   /* clients no limit zone applies to (status_allow's syntax) */
	size_t nlimit_allow;
	int max_connections;  /* per worker */
	int header_timeout;   /* seconds to receive a whole request head */
	int keepalive_timeout; /* seconds an idle keep-alive connection is kept */
	int send_timeout;      /* seconds a response may wait for the client to read */
	int proxy_protocol_timeout_ms; /* for a PROXY protocol header, from the accept */
	int max_keepalive_requests;
	int max_header_size; /* bytes of request line plus headers */
	int max_headers;     /* header fields in a request; beyond: 431 */
	int max_body_size;   /* request body bytes a worker reads (and discards) before 413 */
	char **types;        /* "type/subtype ext ...": added to or replacing /etc/mime.types */
	size_t ntypes;
	char *default_type;  /* for extensions no type names */
	bool server_tokens;  /* the Server header names the version */
	int cache_max_file_size; /* files up to this size are kept in memory; 0: no cache */
	int cache_max_size;      /* bytes of cached files per worker */
	int cache_revalidate;    /* seconds a cached file is trusted before it is checked again */
	int cache_max_open_files; /* larger files kept open per worker; 0: none */
	int proxy_buffer_size;   /* bytes of each proxied exchange's window, per direction */
	struct shoal_tls_protocols tls_protocols;
	char *tls_ciphers;       /* TLS 1.2 cipher list (OpenSSL's syntax); NULL: OpenSSL's */
	char *tls_ciphersuites;  /* TLS 1.3 suites, ':' between; NULL: OpenSSL's */
	bool tls_prefer_server_ciphers;
	int tls_ticket_rotate;   /* seconds between two new session ticket keys */
	struct shoal_upstream_conf *upstreams;
	size_t nupstreams;
	struct shoal_server_conf *servers;
	size_t nservers;
};

/* Reads and validates path. Relative paths inside resolve against the file's directory. On
 * error, err names the file, the line and the key, and cfg holds nothing to free. */
int shoal_config_load(struct shoal_config *cfg, const char *path, struct shoal_err *err);
void shoal_config_free(struct shoal_config *cfg);

/* Prints the effective configuration, every default filled in, as a loadable config file. */
void shoal_config_dump(const struct shoal_config *cfg, FILE *out);

#endif
