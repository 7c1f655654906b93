/* shoalctl: reads the live statistics a running shoal publishes (the file:
 * shoal/stats/stats.h) and the shared state (shoal/state/state.h: upstream servers, limit
 * zones), and changes an upstream server's admin state and weight in the latter. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "shoal/base/clock.h"
#include "shoal/state/format.h"
#include "shoal/state/limit_format.h"
#include "shoal/state/state.h"
#include "shoal/state/upstream.h"
#include "shoal/stats/stats.h"
#include "shoal/stats/format.h"

#define EXIT_USAGE 2
/* Lines of the top screen that are not worker rows. */
#define TOP_FIXED_LINES 12
/* How often top looks for a stats file recreated by a restarted master. */
#define TOP_FOLLOW_MS 1000
/* The weight `shoalctl upstream ... weight N` may set. */
#define ADMIN_WEIGHT_MAX 1000
/* The top keys `shoalctl limits` shows per zone by default, and at most (-n). */
#define LIMITS_KEYS_DEFAULT 10
#define LIMITS_KEYS_MAX 1000

enum output { OUTPUT_TEXT, OUTPUT_JSON, OUTPUT_PROMETHEUS };
enum action { ACTION_DRAIN, ACTION_UP, ACTION_DOWN, ACTION_WEIGHT };

struct ctl {
	const char *path;
	const char *state_path;
	const char *command;
	const char *group, *server; /* upstream: the server to change, and how */
	enum action action;
	uint32_t weight; /* ACTION_WEIGHT: 0 for the configured weight */
	enum output output;
	long count;   /* top: refreshes before exiting, 0: until told to quit */
	long keys;    /* limits: top keys per zone */
	double delay; /* top: seconds between refreshes */
};

struct top {
	const struct ctl *ctl;
	struct shoal_stats_view view;
	struct shoal_stats_snapshot prev, cur;
	bool have_prev;
	double *rates;       /* req/s per worker of cur, room for its capacity */
	unsigned max_rows;   /* worker rows that fit the terminal, 0: all */
	uint64_t next_follow_ms;
	int sigfd;
	bool keyboard;     /* stdin is still worth watching for 'q' */
	bool raw_terminal; /* saved holds the settings to restore */
	struct termios saved;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: shoalctl [-f FILE] COMMAND [OPTIONS]\n"
		"  -f, --file FILE          statistics file (default " SHOAL_STATS_DEFAULT_PATH ")\n"
		"  --state FILE             state file (default " SHOAL_STATE_DEFAULT_PATH ")\n"
		"  -h, --help               print this help\n"
		"commands:\n"
		"  stats [--json | --prometheus]   totals and per-worker counters\n"
		"  workers                         one line per worker process\n"
		"  upstreams [--json | --prometheus]  one line per upstream server, with its state\n"
		"  upstream GROUP SERVER drain | undrain | up | down | weight N|default\n"
		"                                  change a server's admin state or weight live\n"
		"  limits [--json | --prometheus] [-n KEYS]\n"
		"                                  limit zones, their counters and top refused keys\n"
		"  top [-n COUNT] [-d SECONDS]     live view; q or Ctrl-C quits\n"
		"exit status: 0 ok, 1 statistics or state unreadable or no such server,\n"
		"             2 usage error\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "shoalctl: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	usage(stderr);
	return -1;
}

static int parse_number(struct ctl *ctl, int opt, const char *arg)
{
	char *end;

	errno = 0;
	if (opt == 'n' && strcmp(ctl->command, "limits") == 0) {
		ctl->keys = strtol(arg, &end, 10);
		if (errno || *end || end == arg || ctl->keys < 0 || ctl->keys > LIMITS_KEYS_MAX)
			return usage_error("-n takes 0 to %d keys, not '%s'", LIMITS_KEYS_MAX, arg);
		return 0;
	}
	if (opt == 'n') {
		ctl->count = strtol(arg, &end, 10);
		if (errno || *end || end == arg || ctl->count < 1)
			return usage_error("-n takes a positive count, not '%s'", arg);
		return 0;
	}
	ctl->delay = strtod(arg, &end);
	if (errno || *end || end == arg || !(ctl->delay >= 0.01 && ctl->delay <= 86400))
		return usage_error("-d takes seconds between 0.01 and 86400, not '%s'", arg);
	return 0;
}

static int parse_weight(struct ctl *ctl, const char *arg)
{
	char *end;
	long weight;

	ctl->action = ACTION_WEIGHT;
	if (strcmp(arg, "default") == 0) {
		ctl->weight = 0;
		return 0;
	}
	errno = 0;
	weight = strtol(arg, &end, 10);
	if (errno || *end || end == arg || weight < 0 || weight > ADMIN_WEIGHT_MAX)
		return usage_error("weight takes 1 to %d, or 0 or default for the configured one, "
				   "not '%s'", ADMIN_WEIGHT_MAX, arg);
	ctl->weight = (uint32_t)weight;
	return 0;
}

/* The arguments of `upstream`: GROUP SERVER ACTION, and N after weight. */
static int parse_upstream_args(int argc, char **argv, struct ctl *ctl)
{
	int want = argc >= 3 && strcmp(argv[2], "weight") == 0 ? 4 : 3;
	const char *action;

	if (argc < want)
		return usage_error("upstream takes GROUP SERVER ACTION%s",
				   want == 4 ? " and a weight" : "");
	if (argc > want)
		return usage_error("unexpected argument '%s'", argv[want]);
	ctl->group = argv[0];
	ctl->server = argv[1];
	action = argv[2];
	if (want == 4)
		return parse_weight(ctl, argv[3]);
	if (strcmp(action, "drain") == 0)
		ctl->action = ACTION_DRAIN;
	else if (strcmp(action, "undrain") == 0 || strcmp(action, "up") == 0)
		ctl->action = ACTION_UP;
	else if (strcmp(action, "down") == 0)
		ctl->action = ACTION_DOWN;
	else
		return usage_error("unknown action '%s' (drain, undrain, up, down, weight N)", action);
	return 0;
}

/* Parses the options of the command at argv[0]; -f and --state are accepted there too. */
static int parse_command(int argc, char **argv, struct ctl *ctl)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' }, { "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' }, { "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	bool limits = strcmp(ctl->command, "limits") == 0;
	bool stats = strcmp(ctl->command, "stats") == 0 || strcmp(ctl->command, "upstreams") == 0 ||
		     limits;
	bool top = strcmp(ctl->command, "top") == 0;
	bool upstream = strcmp(ctl->command, "upstream") == 0;
	const char *optstring = top ? "+f:n:d:" : limits ? "+f:n:" : "+f:";
	int opt;

	if (!stats && !top && !upstream && strcmp(ctl->command, "workers") != 0)
		return usage_error("unknown command '%s'", ctl->command);
	optind = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		if (opt == 'f') {
			ctl->path = optarg;
		} else if (opt == 's') {
			ctl->state_path = optarg;
		} else if ((opt == 'j' || opt == 'p') && stats) {
			if (ctl->output != OUTPUT_TEXT)
				return usage_error("--json and --prometheus exclude each other");
			ctl->output = opt == 'j' ? OUTPUT_JSON : OUTPUT_PROMETHEUS;
		} else if ((opt == 'n' && limits) || ((opt == 'n' || opt == 'd') && top)) {
			if (parse_number(ctl, opt, optarg) < 0)
				return -1;
		} else {
			return usage_error("bad option for '%s'", ctl->command);
		}
	}
	if (upstream)
		return parse_upstream_args(argc - optind, argv + optind, ctl);
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Returns -1 on a usage error, 1 when help was printed. */
static int parse_args(int argc, char **argv, struct ctl *ctl)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
		{ "state", required_argument, NULL, 's' }, { NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "+f:h", longopts, NULL)) != -1) {
		if (opt == 'f') {
			ctl->path = optarg;
		} else if (opt == 's') {
			ctl->state_path = optarg;
		} else if (opt == 'h') {
			usage(stdout);
			return 1;
		} else {
			usage(stderr);
			return -1;
		}
	}
	if (optind >= argc)
		return usage_error("no command given");
	ctl->command = argv[optind];
	return parse_command(argc - optind, argv + optind, ctl);
}

static int open_stats(const struct ctl *ctl, struct shoal_stats_view *view,
		      struct shoal_stats_snapshot *snap)
{
	struct shoal_err err;

	if (shoal_stats_open_read(view, ctl->path, &err) < 0) {
		fprintf(stderr, "shoalctl: %s\n", err.msg);
		return -1;
	}
	if (shoal_stats_snapshot_init(snap, view, &err) < 0) {
		fprintf(stderr, "shoalctl: %s\n", err.msg);
		shoal_stats_view_close(view);
		return -1;
	}
	return 0;
}

static int take_snapshot(const struct shoal_stats_view *view, struct shoal_stats_snapshot *snap)
{
	struct shoal_err err;

	if (shoal_stats_snapshot(view, snap, &err) < 0) {
		fprintf(stderr, "shoalctl: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* Each upstream server's row gets its entry of the state file, or dashes without one. */
struct state_columns {
	const struct shoal_state *st; /* NULL: no state file */
	uint64_t now_ms;
};

static const struct shoal_state_upstream *state_entry(const struct shoal_stats_upstream_stat *u,
						      const struct state_columns *c)
{
	return c->st ? shoal_state_upstream_find(c->st, u->upstream, u->server) : NULL;
}

static void state_cells(FILE *out, const struct shoal_stats_upstream_stat *u, void *ctx)
{
	const struct state_columns *c = ctx;

	shoal_state_format_cells(out, state_entry(u, c), c->now_ms);
}

static void state_json(FILE *out, const struct shoal_stats_upstream_stat *u, void *ctx)
{
	const struct state_columns *c = ctx;

	shoal_state_format_json(out, state_entry(u, c), c->now_ms);
}

/* No state file is no error (a shoal without upstreams, or an older one); a file that is
 * there but unreadable is said. */
static bool open_state(const struct ctl *ctl, struct shoal_state *st)
{
	struct shoal_err err;

	if (shoal_state_open(st, ctl->state_path, false, &err) == 0)
		return true;
	if (errno != ENOENT)
		fprintf(stderr, "shoalctl: %s\n", err.msg);
	return false;
}

static int print_upstreams(const struct ctl *ctl, const struct shoal_stats_snapshot *snap)
{
	struct shoal_state st;
	struct state_columns c = { .now_ms = shoal_clock_mono_ms() };
	const struct shoal_stats_upstream_columns cols = {
		.heading = shoal_state_format_heading, .cells = state_cells, .json = state_json,
		.ctx = &c,
	};
	int rc;

	if (open_state(ctl, &st))
		c.st = &st;
	if (ctl->output == OUTPUT_JSON) {
		rc = shoal_stats_format_upstreams_json_with(stdout, snap, &cols);
	} else if (ctl->output == OUTPUT_PROMETHEUS) {
		rc = shoal_stats_format_upstreams_prometheus(stdout, snap);
		if (c.st)
			shoal_state_format_prometheus(stdout, c.st, c.now_ms);
		rc = rc < 0 || ferror(stdout) ? -1 : 0;
	} else {
		rc = shoal_stats_format_upstreams_with(stdout, snap, &cols);
	}
	if (c.st)
		shoal_state_close(&st, false);
	return rc;
}

/* The whole exposition, as the server serves it at status_path and writes it to
 * stats_export (shoal/handler/metrics.h, which this program may not include): the stats
 * file's series, then the state file's, when there is one. */
static int print_prometheus(const struct ctl *ctl, const struct shoal_stats_snapshot *snap)
{
	struct shoal_state st;
	int rc = shoal_stats_format_prometheus(stdout, snap);

	if (open_state(ctl, &st)) {
		shoal_state_format_prometheus(stdout, &st, shoal_clock_mono_ms());
		shoal_state_limit_format_prometheus(stdout, &st);
		shoal_state_close(&st, false);
	}
	return rc < 0 || ferror(stdout) ? -1 : 0;
}

static int print_once(const struct ctl *ctl)
{
	struct shoal_stats_view view;
	struct shoal_stats_snapshot snap;
	int rc = -1;

	if (open_stats(ctl, &view, &snap) < 0)
		return EXIT_FAILURE;
	if (take_snapshot(&view, &snap) == 0) {
		if (strcmp(ctl->command, "workers") == 0)
			rc = shoal_stats_format_workers(stdout, &snap, NULL, 0);
		else if (strcmp(ctl->command, "upstreams") == 0)
			rc = print_upstreams(ctl, &snap);
		else if (ctl->output == OUTPUT_JSON)
			rc = shoal_stats_format_json(stdout, &snap);
		else if (ctl->output == OUTPUT_PROMETHEUS)
			rc = print_prometheus(ctl, &snap);
		else
			rc = shoal_stats_format_text(stdout, &snap);
		if (fflush(stdout) != 0 || rc < 0) {
			fprintf(stderr, "shoalctl: cannot write the output: %s\n", strerror(errno));
			rc = -1;
		}
	}
	shoal_stats_snapshot_free(&snap);
	shoal_stats_view_close(&view);
	return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static unsigned top_max_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row <= TOP_FIXED_LINES + 1)
		return 0;
	return ws.ws_row - TOP_FIXED_LINES;
}

/* Ctrl-C arrives on a descriptor, so the terminal is restored on every way out. */
static int top_setup(struct top *t)
{
	sigset_t set;
	struct termios raw;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (t->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fprintf(stderr, "shoalctl: signalfd: %s\n", strerror(errno));
		return -1;
	}
	t->keyboard = true;
	t->max_rows = top_max_rows();
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		raw = t->saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		t->raw_terminal = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	fputs("\x1b[?25l", stdout);
	return 0;
}

static void top_teardown(struct top *t)
{
	fputs("\x1b[?25h", stdout);
	fflush(stdout);
	if (t->raw_terminal)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	if (t->sigfd >= 0)
		close(t->sigfd);
	free(t->rates);
	shoal_stats_snapshot_free(&t->prev);
	shoal_stats_snapshot_free(&t->cur);
	shoal_stats_view_close(&t->view);
}

/* Returns true if the signal asks top to quit; a resized terminal only changes the rows. */
static bool top_read_signal(struct top *t)
{
	struct signalfd_siginfo info;
	bool quit = false;

	while (read(t->sigfd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
		if (info.ssi_signo == SIGWINCH)
			t->max_rows = top_max_rows();
		else
			quit = true;
	}
	return quit;
}

/* Returns true if the user asked to quit. */
static bool top_read_key(struct top *t)
{
	char keys[32];
	ssize_t n = read(STDIN_FILENO, keys, sizeof(keys));

	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			t->keyboard = false;
		return false;
	}
	return memchr(keys, 'q', (size_t)n) || memchr(keys, 'Q', (size_t)n);
}

/* Sleeps for the refresh delay; returns true if the user asked to quit meanwhile. */
static bool top_wait(struct top *t)
{
	long total_ms = (long)(t->ctl->delay * 1000);
	uint64_t start = shoal_clock_mono_ms();

	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = t->sigfd, .events = POLLIN },
			{ .fd = t->keyboard ? STDIN_FILENO : -1, .events = POLLIN },
		};
		long elapsed;

		elapsed = (long)(shoal_clock_mono_ms() - start);
		if (elapsed >= total_ms)
			return false;
		if (poll(fds, 2, (int)(total_ms - elapsed)) < 0 && errno != EINTR)
			return true;
		if (fds[0].revents && top_read_signal(t))
			return true;
		if (fds[1].revents && top_read_key(t))
			return true;
	}
}

/* The previous sample of the same worker process, if any. */
static const struct shoal_stats_worker *top_prev_worker(const struct top *t,
							const struct shoal_stats_worker *w)
{
	for (unsigned i = 0; t->have_prev && i < t->prev.nworkers; i++) {
		const struct shoal_stats_worker *p = &t->prev.workers[i];
		if (p->index == w->index && p->start_ms == w->start_ms && p->pid == w->pid)
			return p;
	}
	return NULL;
}

static double rate(uint64_t before, uint64_t after, uint64_t ms)
{
	return after > before && ms ? (double)(after - before) * 1000 / (double)ms : 0;
}

static void top_rates(const struct top *t, double *worker_rates)
{
	uint64_t ms = t->have_prev ? t->cur.taken_ms - t->prev.taken_ms : 0;
	const uint64_t *a = t->prev.totals, *b = t->cur.totals;
	char sent[32];

	for (unsigned i = 0; i < t->cur.nworkers; i++) {
		const struct shoal_stats_worker *w = &t->cur.workers[i];
		const struct shoal_stats_worker *p = top_prev_worker(t, w);
		worker_rates[i] = p ? rate(p->counters[SHOAL_STATS_REQUESTS],
					   w->counters[SHOAL_STATS_REQUESTS], ms) : 0;
	}
	shoal_stats_format_bytes(sent, sizeof(sent),
				 (uint64_t)rate(a[SHOAL_STATS_BYTES_OUT], b[SHOAL_STATS_BYTES_OUT], ms));
	printf("rates         %.1f req/s, %.1f conn/s, %s/s sent\n",
	       rate(a[SHOAL_STATS_REQUESTS], b[SHOAL_STATS_REQUESTS], ms),
	       rate(a[SHOAL_STATS_CONN_ACCEPTED], b[SHOAL_STATS_CONN_ACCEPTED], ms), sent);
}

static int top_render(struct top *t)
{
	time_t now = (time_t)(t->cur.taken_ms / 1000);
	struct tm tm;
	char clock[16];

	localtime_r(&now, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	printf("\x1b[H\x1b[2Jshoal top - %s, every %gs, %s (q quits)\n", clock, t->ctl->delay,
	       t->ctl->path);
	shoal_stats_format_summary(stdout, &t->cur);
	top_rates(t, t->rates);
	putchar('\n');
	shoal_stats_format_workers(stdout, &t->cur, t->rates, t->max_rows);
	return fflush(stdout) == 0 ? 0 : -1;
}

/* Room for a second snapshot and the rates of the file's capacity; cur is already sized. */
static int top_alloc(struct top *t)
{
	free(t->rates);
	t->rates = calloc(t->cur.capacity, sizeof(*t->rates));
	if (!t->rates || shoal_stats_snapshot_init(&t->prev, &t->view, NULL) < 0) {
		fprintf(stderr, "shoalctl: out of memory\n");
		return -1;
	}
	return 0;
}

/* A restarted master replaces the file: follow it, starting the rates afresh. Looked for
 * once a second whatever the refresh, as each look is a system call. */
static int top_follow_file(struct top *t)
{
	uint64_t now = shoal_clock_unix_ms();
	struct stat sb;

	if (now < t->next_follow_ms)
		return 0;
	t->next_follow_ms = now + TOP_FOLLOW_MS;
	if (stat(t->ctl->path, &sb) == 0 && sb.st_dev == t->view.dev && sb.st_ino == t->view.ino)
		return 0;
	shoal_stats_snapshot_free(&t->prev);
	shoal_stats_snapshot_free(&t->cur);
	shoal_stats_view_close(&t->view);
	t->have_prev = false;
	if (open_stats(t->ctl, &t->view, &t->cur) < 0)
		return -1;
	return top_alloc(t);
}

static int top_loop(struct top *t)
{
	for (long i = 0; t->ctl->count == 0 || i < t->ctl->count; i++) {
		struct shoal_stats_snapshot swap;

		if (i > 0 && top_wait(t))
			return 0;
		if (top_follow_file(t) < 0 || take_snapshot(&t->view, &t->cur) < 0 ||
		    top_render(t) < 0)
			return -1;
		swap = t->prev;
		t->prev = t->cur;
		t->cur = swap;
		t->have_prev = true;
	}
	return 0;
}

static int run_top(const struct ctl *ctl)
{
	struct top t = { .ctl = ctl, .sigfd = -1 };
	int rc = -1;

	if (open_stats(ctl, &t.view, &t.cur) < 0)
		return EXIT_FAILURE;
	t.next_follow_ms = shoal_clock_unix_ms() + TOP_FOLLOW_MS;
	if (top_alloc(&t) == 0 && top_setup(&t) == 0)
		rc = top_loop(&t);
	top_teardown(&t);
	return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Says which of the two names is unknown: the group, or the server in it. */
static void upstream_not_found(const struct ctl *ctl, const struct shoal_state *st)
{
	char group[SHOAL_STATE_UPSTREAM_TEXT] = { 0 };
	unsigned n = shoal_state_upstream_count(st);
	bool known = false;

	memcpy(group, ctl->group, strnlen(ctl->group, sizeof(group) - 1));
	for (unsigned i = 0; i < n && !known; i++)
		known = memcmp(shoal_state_upstream_at(st, i)->upstream, group, sizeof(group)) == 0;
	if (known)
		fprintf(stderr, "shoalctl: upstream '%s' has no server '%s'\n", ctl->group,
			ctl->server);
	else
		fprintf(stderr, "shoalctl: no upstream group '%s' in %s\n", ctl->group,
			ctl->state_path);
}

/* Workers read each field on their own: a server brought back up gets its slow start from
 * usable_since_ms, stored before the admin state that makes it usable. */
static void apply_action(const struct ctl *ctl, struct shoal_state_upstream *e)
{
	switch (ctl->action) {
	case ACTION_DRAIN:
		atomic_store(&e->admin, SHOAL_STATE_ADMIN_DRAIN);
		break;
	case ACTION_DOWN:
		atomic_store(&e->admin, SHOAL_STATE_ADMIN_DOWN);
		break;
	case ACTION_UP:
		if (atomic_load(&e->admin) == SHOAL_STATE_ADMIN_UP)
			break;
		atomic_store(&e->usable_since_ms, shoal_clock_mono_ms());
		atomic_store(&e->admin, SHOAL_STATE_ADMIN_UP);
		break;
	case ACTION_WEIGHT:
		atomic_store(&e->weight, ctl->weight);
		break;
	}
}

static int run_upstream(const struct ctl *ctl)
{
	struct shoal_state st;
	struct shoal_state_upstream *e;
	struct shoal_err err;
	char status[32];

	if (shoal_state_open(&st, ctl->state_path, true, &err) < 0) {
		fprintf(stderr, "shoalctl: %s\n", err.msg);
		return EXIT_FAILURE;
	}
	e = shoal_state_upstream_find(&st, ctl->group, ctl->server);
	/* A group's queue is no server to drain. */
	if (!e || shoal_state_upstream_is_queue(e)) {
		upstream_not_found(ctl, &st);
		shoal_state_close(&st, false);
		return EXIT_FAILURE;
	}
	apply_action(ctl, e);
	shoal_state_format_status(status, sizeof(status), e, shoal_clock_mono_ms());
	printf("upstream %s server %s: %s, weight ", ctl->group, ctl->server, status);
	if (atomic_load(&e->weight))
		printf("%u\n", (unsigned)atomic_load(&e->weight));
	else
		printf("configured\n");
	shoal_state_close(&st, false);
	return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The zones and the top keys of each in the format asked for. */
static void print_limits(const struct ctl *ctl, const struct shoal_state *st,
			 struct shoal_state_limit_top *top)
{
	if (ctl->output == OUTPUT_JSON)
		shoal_state_limit_format_json(stdout, st, top, (size_t)ctl->keys);
	else if (ctl->output == OUTPUT_PROMETHEUS)
		shoal_state_limit_format_prometheus(stdout, st);
	else
		shoal_state_limit_format_text(stdout, st, top, (size_t)ctl->keys);
}

/* No state file is no error (no shoal running, or one of another state_file): an empty
 * list, and the reason in the table. */
static void print_no_limits(const struct ctl *ctl)
{
	if (ctl->output == OUTPUT_JSON)
		printf("{\"zones\": []}\n");
	else if (ctl->output == OUTPUT_TEXT)
		printf("no limit zones: no state file %s\n", ctl->state_path);
}

/* The zones live in the state file alone: no statistics file is needed. */
static int run_limits(const struct ctl *ctl)
{
	struct shoal_state st;
	struct shoal_state_limit_top *top = NULL;
	struct shoal_err err;
	int rc = EXIT_SUCCESS;

	if (shoal_state_open(&st, ctl->state_path, false, &err) < 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "shoalctl: %s\n", err.msg);
			return EXIT_FAILURE;
		}
		print_no_limits(ctl);
	} else {
		/* One more than asked: calloc of nothing (-n 0) may return NULL. */
		top = calloc((size_t)ctl->keys + 1, sizeof(*top));
		if (top)
			print_limits(ctl, &st, top);
		else
			fprintf(stderr, "shoalctl: out of memory\n");
		rc = top ? EXIT_SUCCESS : EXIT_FAILURE;
		free(top);
		shoal_state_close(&st, false);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "shoalctl: cannot write the output: %s\n", strerror(errno));
		rc = EXIT_FAILURE;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl ctl = {
		.path = SHOAL_STATS_DEFAULT_PATH, .state_path = SHOAL_STATE_DEFAULT_PATH, .delay = 1,
		.keys = LIMITS_KEYS_DEFAULT,
	};
	int rc = parse_args(argc, argv, &ctl);

	if (rc != 0)
		return rc < 0 ? EXIT_USAGE : EXIT_SUCCESS;
	if (strcmp(ctl.command, "top") == 0)
		return run_top(&ctl);
	if (strcmp(ctl.command, "upstream") == 0)
		return run_upstream(&ctl);
	if (strcmp(ctl.command, "limits") == 0)
		return run_limits(&ctl);
	return print_once(&ctl);
}
