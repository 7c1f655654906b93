/* A load client of the tests' own (test_limit.py): THREADS keep-alive connections from SOURCE
 * to 127.0.0.1:PORT, each sending GET PATH as fast as the answers come for SECONDS, then one
 * line per status seen: "STATUS COUNT". Python threads cannot send fast enough for a limit's
 * exactness to show: a rate zone with no burst loses what a late request is late by.
 * usage: limit_load PORT SOURCE THREADS SECONDS PATH */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STATUSES 600

struct job {
	struct sockaddr_in to, from;
	const char *path;
	double until;
	unsigned long counts[STATUSES];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int job_connect(const struct job *j)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0 || bind(fd, (const struct sockaddr *)&j->from, sizeof(j->from)) < 0 ||
	    connect(fd, (const struct sockaddr *)&j->to, sizeof(j->to)) < 0) {
		perror("limit_load: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Reads one response whole; its status, or -1 when the connection ended. */
static int job_response(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	char *end = NULL, *cl;
	long body;
	ssize_t n;

	while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
		if (len == cap || (n = read(fd, buf + len, cap - len)) <= 0)
			return -1;
		len += (size_t)n;
	}
	cl = strcasestr(buf, "\r\ncontent-length:");
	body = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
	for (long have = (long)(len - (size_t)(end + 4 - buf)); have < body; have += n)
		if ((n = read(fd, buf, cap)) <= 0)
			return -1;
	return atoi(buf + 9);
}

static void *job_run(void *arg)
{
	struct job *j = arg;
	char req[512], buf[65536];
	int fd = job_connect(j), len, status;

	len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", j->path);
	while (now_s() < j->until) {
		status = write(fd, req, (size_t)len) == len ? job_response(fd, buf, sizeof(buf)) : -1;
		if (status < 0) {
			close(fd);
			fd = job_connect(j);
			continue;
		}
		if (status > 0 && status < STATUSES)
			j->counts[status]++;
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 3 ? atoi(argv[3]) : 0;
	struct job *jobs = threads > 0 ? calloc((size_t)threads, sizeof(*jobs)) : NULL;
	pthread_t *ids = threads > 0 ? calloc((size_t)threads, sizeof(*ids)) : NULL;
	double until;

	if (argc != 6 || !jobs || !ids) {
		fprintf(stderr, "usage: limit_load PORT SOURCE THREADS SECONDS PATH\n");
		return 2;
	}
	until = now_s() + atof(argv[4]);
	for (int i = 0; i < threads; i++) {
		jobs[i].to = (struct sockaddr_in){ .sin_family = AF_INET,
						   .sin_port = htons((uint16_t)atoi(argv[1])),
						   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		jobs[i].from = (struct sockaddr_in){ .sin_family = AF_INET };
		inet_pton(AF_INET, argv[2], &jobs[i].from.sin_addr);
		jobs[i].path = argv[5];
		jobs[i].until = until;
		pthread_create(&ids[i], NULL, job_run, &jobs[i]);
	}
	for (int s = 0; s < STATUSES; s++) {
		unsigned long total = 0;
		if (s == 0)
			for (int i = 0; i < threads; i++)
				pthread_join(ids[i], NULL);
		for (int i = 0; i < threads; i++)
			total += jobs[i].counts[s];
		if (total)
			printf("%d %lu\n", s, total);
	}
	free(jobs);
	free(ids);
	return 0;
}
