#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/config/config.h"
#include "shoal/master/master.h"
#include "shoal/master/pidfile.h"
#include "shoal/master/upgrade.h"

#ifndef SHOAL_VERSION
#define SHOAL_VERSION "unknown"
#endif
#ifndef SHOAL_DEFAULT_CONFIG
#define SHOAL_DEFAULT_CONFIG "/etc/shoal/shoal.conf"
#endif

/* How long `--daemon` waits for the first workers to serve before reporting failure. */
#define DAEMON_START_TIMEOUT_MS 30000

enum action { ACTION_RUN, ACTION_TEST, ACTION_DUMP, ACTION_SIGNAL };

struct cli {
	const char *config;
	enum action action;
	int signal;
	const char *signal_name;
	bool daemon;
};

static const struct {
	const char *name;
	int signo;
} signal_words[] = {
	{ "stop", SIGTERM },    { "quit", SIGQUIT }, { "reload", SIGHUP },
	{ "reopen", SIGUSR1 },  { "upgrade", SIGUSR2 },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: shoal [-c FILE] [-t] [-T] [-s stop|quit|reload|reopen|upgrade] [--daemon] [-V] [-h]\n"
		"  -c, --config FILE   configuration file (default " SHOAL_DEFAULT_CONFIG ")\n"
		"  -t, --test          check the configuration and exit\n"
		"  -T, --dump          check it and print the effective configuration\n"
		"  -s, --signal WORD   send stop, quit, reload, reopen or upgrade to the running master\n"
		"      --daemon        detach from the terminal (default: stay in the foreground)\n"
		"  -V, --version       print the version\n"
		"  -h, --help          print this help\n");
}

static int parse_signal(struct cli *cli, const char *word)
{
	for (size_t i = 0; i < sizeof(signal_words) / sizeof(signal_words[0]); i++) {
		if (strcmp(word, signal_words[i].name) == 0) {
			cli->signal = signal_words[i].signo;
			cli->signal_name = word;
			return 0;
		}
	}
	fprintf(stderr, "shoal: -s takes stop, quit, reload, reopen or upgrade, not '%s'\n", word);
	return -1;
}

/* Returns -1 on a usage error, 1 when the command line was fully handled (help, version). */
static int parse_args(int argc, char **argv, struct cli *cli)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' }, { "test", no_argument, NULL, 't' },
		{ "dump", no_argument, NULL, 'T' },         { "signal", required_argument, NULL, 's' },
		{ "daemon", no_argument, NULL, 'd' },       { "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:tTs:Vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': cli->config = optarg; break;
		case 't': cli->action = ACTION_TEST; break;
		case 'T': cli->action = ACTION_DUMP; break;
		case 'd': cli->daemon = true; break;
		case 's':
			cli->action = ACTION_SIGNAL;
			if (parse_signal(cli, optarg) < 0)
				return -1;
			break;
		case 'V': printf("shoal %s\n", SHOAL_VERSION); return 1;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "shoal: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

static int check_config(const struct cli *cli)
{
	struct shoal_config cfg;
	struct shoal_err err;

	if (shoal_master_check(cli->config, &cfg, stderr, &err) < 0) {
		fprintf(stderr, "shoal: %s\n", err.msg);
		fprintf(stderr, "shoal: configuration file %s test failed\n", cli->config);
		return 1;
	}
	if (cli->action == ACTION_DUMP)
		shoal_config_dump(&cfg, stdout);
	else
		fprintf(stderr, "shoal: configuration file %s test is successful\n", cfg.path);
	shoal_config_free(&cfg);
	return 0;
}

static int send_signal(const struct cli *cli)
{
	struct shoal_config cfg;
	struct shoal_err err;
	pid_t pid;

	if (shoal_config_load(&cfg, cli->config, &err) < 0) {
		fprintf(stderr, "shoal: %s\n", err.msg);
		return 1;
	}
	pid = shoal_pidfile_owner(cfg.pid_file, &err);
	shoal_config_free(&cfg);
	if (pid < 0) {
		fprintf(stderr, "shoal: %s\n", err.msg);
		return 1;
	}
	if (kill(pid, cli->signal) < 0) {
		fprintf(stderr, "shoal: cannot signal master %d: %s\n", (int)pid, strerror(errno));
		return 1;
	}
	fprintf(stderr, "shoal: sent %s to master %d\n", cli->signal_name, (int)pid);
	return 0;
}

/* The parent of a daemon waits for the daemon's word that its workers serve, so that its
 * own exit status tells whether the start worked. */
static int daemon_parent_wait(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char byte;

	if (poll(&pfd, 1, DAEMON_START_TIMEOUT_MS) == 1 && read(fd, &byte, 1) == 1 && byte == 'R')
		return 0;
	fprintf(stderr, "shoal: the daemon did not start serving; see the error log\n");
	return 1;
}

/* Returns -1 in the parent processes (with their exit status in *status), or the write end
 * of the start-up pipe in the daemon. */
static int daemonize(int *status)
{
	int pipefd[2];
	pid_t pid;
	int null;

	if (pipe2(pipefd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		fprintf(stderr, "shoal: cannot daemonize: %s\n", strerror(errno));
		*status = 1;
		return -1;
	}
	if (pid > 0) {
		close(pipefd[1]);
		*status = daemon_parent_wait(pipefd[0]);
		return -1;
	}
	close(pipefd[0]);
	setsid();
	if (chdir("/") < 0)
		fprintf(stderr, "shoal: chdir /: %s\n", strerror(errno));
	if (fork() != 0)
		_exit(0); /* not a session leader: the daemon can never acquire a terminal */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	return pipefd[1];
}

static int run(const struct cli *cli)
{
	struct shoal_master_options opts = { .config_path = cli->config, .ready_fd = -1 };
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct shoal_err err;
	int status = 0;

	/* The path, read now: once a package replaces the binary, /proc/self/exe names the
	 * deleted old file, and an upgrade must execute the new one. */
	exe[n > 0 ? n : 0] = '\0';
	opts.exe = exe;
	/* A new master started by a binary upgrade is detached already, like the old one. */
	if (cli->daemon && !getenv(SHOAL_UPGRADE_SOCKETS_ENV)) {
		opts.ready_fd = daemonize(&status);
		if (opts.ready_fd < 0)
			return status;
	}
	if (shoal_master_run(&opts, &err) < 0) {
		fprintf(stderr, "shoal: %s\n", err.msg);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli = { .config = SHOAL_DEFAULT_CONFIG, .action = ACTION_RUN };
	char config_path[PATH_MAX];
	int rc = parse_args(argc, argv, &cli);

	if (rc != 0)
		return rc < 0 ? 2 : 0;
	/* The master re-reads its file on reload after a daemon's chdir: keep it absolute. */
	if (realpath(cli.config, config_path))
		cli.config = config_path;
	switch (cli.action) {
	case ACTION_TEST:
	case ACTION_DUMP:
		return check_config(&cli);
	case ACTION_SIGNAL:
		return send_signal(&cli);
	case ACTION_RUN:
		break;
	}
	return run(&cli);
}
