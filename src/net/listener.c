#include <linux/filter.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "shoal/net/listener.h"

int shoal_listener_open(const struct shoal_addr *addr, int backlog, struct shoal_err *err)
{
	int family = addr->ss.ss_family;
	int one = 1;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return shoal_err_set(err, "socket for %s: %s", addr->text, strerror(errno));
	/* TCP_NODELAY is inherited by accepted sockets: set once here, not once per connection.
	 * Responses leave in whole writes; Nagle would only hold back the tail of large ones.
	 * TCP_DEFER_ACCEPT (1 s) hands over a connection once its first bytes have arrived, so
	 * that the worker can read it at once instead of waiting for an event. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one)) < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
		shoal_err_set(err, "setsockopt on %s: %s", addr->text, strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
		shoal_err_set(err, "cannot bind %s: %s", addr->text, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, backlog) < 0) {
		shoal_err_set(err, "cannot listen on %s: %s", addr->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int shoal_listener_probe(const struct shoal_addr *addr, struct shoal_err *err)
{
	int one = 1;
	int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0)
		return shoal_err_set(err, "socket for %s: %s", addr->text, strerror(errno));
	if (addr->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0)
		rc = shoal_err_set(err, "cannot bind %s: %s", addr->text,
				   errno == EADDRINUSE ? "address already in use by another process"
						       : strerror(errno));
	close(fd);
	return rc;
}

int shoal_listener_set_backlog(int fd, int backlog, struct shoal_err *err)
{
	if (listen(fd, backlog) < 0)
		return shoal_err_set(err, "listen: %s", strerror(errno));
	return 0;
}

int shoal_listener_steer(int fd, unsigned active, struct shoal_err *err)
{
	/* A classic BPF program: A = random; A %= active; return A. TCP needs no flow affinity
	 * here: the handshake's later packets find their request socket without this choice.
	 * It can only pick by place. An eBPF program with a socket array would pick by socket,
	 * but loading one takes CAP_BPF, which shoal must do without. */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_RANDOM)),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, active ? active : 1),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0)
		return shoal_err_set(err, "SO_ATTACH_REUSEPORT_CBPF: %s", strerror(errno));
	return 0;
}
