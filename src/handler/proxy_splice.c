#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "proxy_int.h"
#include "shoal/base/clock.h"
#include "shoal/base/util.h"
#include "shoal/net/recvq.h"

/* Splicing moves the socket's pages into a pipe and from it into the other socket: the
 * body is never copied into shoal's memory and back. It needs plain TCP at both ends (a TLS
 * transport has to see the bytes): a tls group's bodies are copied. */

bool shoal_proxy_splice_wanted(const struct shoal_proxy_exchange *x)
{
	const struct px_response *rs = &x->rs;

	/* Splice moves the sockets' own bytes: a TLS peer's must be decrypted or encrypted on
	 * the way, and bytes the loop read ahead must be taken first (then the loop stops
	 * reading ahead for the connection: shoal_proxy_splice_pump). */
	return !x->group->tls && !x->client->tls && rs->head_done && !rs->done &&
	       !shoal_recvq_holds(&x->uc->ev) &&
	       rs->body == SHOAL_HTTP_BODY_LENGTH &&
	       (rs->pipe[0] >= 0 || (rs->left >= PX_SPLICE_MIN && rs->length <= PX_SPLICE_MAX));
}

/* A pipe of the environment's, or a new one as large as the window, so that the body in
 * flight is bounded as it is when copied. */
static int splice_pipe(struct shoal_proxy_exchange *x)
{
	struct shoal_proxy_env *env = x->env;
	int *p = x->rs.pipe;

	if (p[0] >= 0)
		return 0;
	if (env->npipes) {
		env->npipes--;
		p[0] = env->pipes[env->npipes][0];
		p[1] = env->pipes[env->npipes][1];
		return 0;
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
		p[0] = p[1] = -1;
		return -1;
	}
	fcntl(p[0], F_SETPIPE_SZ, (int)env->window);
	return 0;
}

void shoal_proxy_splice_release(struct shoal_proxy_exchange *x)
{
	struct shoal_proxy_env *env = x->env;
	int *p = x->rs.pipe;

	if (p[0] < 0)
		return;
	if (x->rs.pipe_len == 0 && env->npipes < ARRAY_LEN(env->pipes)) {
		env->pipes[env->npipes][0] = p[0];
		env->pipes[env->npipes][1] = p[1];
		env->npipes++;
	} else {
		close(p[0]);
		close(p[1]);
	}
	p[0] = p[1] = -1;
	x->rs.pipe_len = 0;
}

void shoal_proxy_splice_free(struct shoal_proxy_env *env)
{
	while (env->npipes) {
		env->npipes--;
		close(env->pipes[env->npipes][0]);
		close(env->pipes[env->npipes][1]);
	}
}

/* Empties the pipe into the client's socket. */
static enum px_stop splice_out(struct shoal_proxy_exchange *x)
{
	struct px_response *rs = &x->rs;

	while (rs->pipe_len) {
		unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (rs->left ? SPLICE_F_MORE : 0);
		ssize_t n;

		if (!x->cl_writable)
			return PX_WAIT;
		n = splice(rs->pipe[0], NULL, x->client->fd, NULL, rs->pipe_len, flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			x->cl_writable = false;
			return PX_WAIT;
		}
		if (n <= 0)
			return PX_CLIENT_GONE;
		rs->pipe_len -= (uint32_t)n;
		rs->body_bytes += (uint64_t)n;
		x->client_queued += (uint64_t)n;
	}
	return PX_DONE;
}

/* Fills the empty pipe from the upstream's socket, at most what the body has left. */
static enum px_stop splice_in(struct shoal_proxy_exchange *x)
{
	struct px_response *rs = &x->rs;
	size_t want = rs->left < x->env->window ? (size_t)rs->left : x->env->window;
	ssize_t n;

	if (!x->up_readable)
		return PX_WAIT;
	do
		n = splice(x->uc->ev.fd, NULL, rs->pipe[1], NULL, want,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) {
		x->up_readable = false;
		return PX_WAIT;
	}
	if (n < 0) {
		x->up_errno = errno;
		return PX_UP_BROKEN;
	}
	if (n == 0)
		return PX_UP_CLOSED;
	rs->pipe_len += (uint32_t)n;
	rs->left -= (uint64_t)n;
	rs->bytes_in += (uint64_t)n;
	return PX_DONE;
}

enum px_stop shoal_proxy_splice_pump(struct shoal_proxy_exchange *x)
{
	struct px_response *rs = &x->rs;

	if (splice_pipe(x) < 0) {
		x->up_errno = errno;
		return PX_UP_BROKEN;
	}
	shoal_recvq_take_part(&x->uc->ev, false);
	for (;;) {
		enum px_stop s = splice_out(x);

		if (s != PX_DONE)
			return s;
		if (rs->left == 0) {
			rs->done = true;
			return PX_DONE;
		}
		if ((s = splice_in(x)) != PX_DONE)
			return s;
	}
}
