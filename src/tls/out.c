#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "shoal/tls/conn.h"
#include "shoal/tls/out.h"

/* The held bytes go first, in the same call as buf when there is one. Returns what the
 * socket took of buf (0 when it took only held bytes), or -1 with errno. send(2) rather
 * than write(2), as for plain TCP (shoal/net/transport.c). */
static ssize_t out_send(struct shoal_tls_conn *c, const void *buf, size_t len)
{
	struct iovec v[2] = { { c->held, c->nheld }, { (void *)buf, len } };
	struct msghdr msg = { .msg_iov = v, .msg_iovlen = len ? 2 : 1 };
	int flags = MSG_NOSIGNAL | (c->more ? MSG_MORE : 0);
	ssize_t n;

	if (!c->nheld)
		return send(c->transport.fd, buf, len, flags);
	n = sendmsg(c->transport.fd, &msg, flags);
	if (n < 0)
		return n;
	if ((size_t)n < c->nheld) {
		memmove(c->held, c->held + n, c->nheld - (size_t)n);
		c->nheld -= (uint16_t)n;
		return 0;
	}
	n -= c->nheld;
	c->nheld = 0;
	return n;
}

static int out_write(BIO *b, const char *buf, size_t len, size_t *written)
{
	struct shoal_tls_conn *c = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (c->holding && len <= sizeof(c->held) - c->nheld) {
		memcpy(c->held + c->nheld, buf, len);
		c->nheld += (uint16_t)len;
		*written = len;
		return 1;
	}
	n = out_send(c, buf, len);
	if (n > 0) {
		*written = (size_t)n;
		return 1;
	}
	/* Nothing of buf taken: the socket is full (held bytes may have gone), or broken. */
	if (n == 0 || errno == EAGAIN || errno == EINTR)
		BIO_set_retry_write(b);
	return 0;
}

/* A source and sink: flushing has nothing to do (every write reaches the socket or is held
 * on purpose), and anything else asked of a BIO is not known here. */
static long out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH;
}

struct bio_method_st *shoal_tls_out_method_new(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "shoal tls out");

	if (m && (!BIO_meth_set_write_ex(m, out_write) || !BIO_meth_set_ctrl(m, out_ctrl))) {
		BIO_meth_free(m);
		m = NULL;
	}
	return m;
}

void shoal_tls_out_method_free(struct bio_method_st *method)
{
	BIO_meth_free(method);
}

int shoal_tls_out_attach(struct shoal_tls_conn *c, struct bio_method_st *method)
{
	BIO *b = BIO_new(method);

	if (!b)
		return -1;
	BIO_set_data(b, c);
	BIO_set_init(b, 1);
	SSL_set0_wbio(c->ssl, b);
	return 0;
}

int shoal_tls_out_flush(struct shoal_tls_conn *c)
{
	ssize_t n;

	if (!c->nheld)
		return 0;
	do
		n = out_send(c, NULL, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (c->nheld) { /* the socket took only part */
		errno = EAGAIN;
		return -1;
	}
	return 0;
}
