#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "shoal/base/util.h"
#include "shoal/tls/conn.h"
#include "shoal/tls/out.h"

/* The largest record TLS carries (SSL3_RT_MAX_PLAIN_LENGTH): what writev gathers up to. */
#define RECORD 16384

/* OpenSSL's reasons, by failure class; anything else is SHOAL_TLS_FAIL_OTHER. */
static const int PROTOCOL_REASONS[] = {
	SSL_R_NO_SHARED_CIPHER, SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_NO_PROTOCOLS_AVAILABLE,
	SSL_R_VERSION_TOO_LOW, SSL_R_VERSION_TOO_HIGH, SSL_R_NO_SHARED_GROUPS,
	SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM, SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS,
	SSL_R_NO_APPLICATION_PROTOCOL, SSL_R_INAPPROPRIATE_FALLBACK,
	SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY,
	SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL, SSL_R_TLSV1_ALERT_INAPPROPRIATE_FALLBACK,
	SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, SSL_R_UNSUPPORTED_SSL_VERSION,
};
static const int CERTIFICATE_REASONS[] = {
	SSL_R_CERTIFICATE_VERIFY_FAILED, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE,
	SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE, SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED,
	SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED, SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN,
	SSL_R_TLSV1_ALERT_UNKNOWN_CA, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED,
};
static const int GARBAGE_REASONS[] = {
	SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST, SSL_R_WRONG_VERSION_NUMBER,
	SSL_R_UNKNOWN_PROTOCOL, SSL_R_UNEXPECTED_MESSAGE, SSL_R_UNEXPECTED_RECORD,
	SSL_R_PACKET_LENGTH_TOO_LONG, SSL_R_RECORD_LENGTH_MISMATCH, SSL_R_LENGTH_MISMATCH,
	SSL_R_LENGTH_TOO_SHORT, SSL_R_BAD_PACKET_LENGTH, SSL_R_BAD_PACKET, SSL_R_BAD_LENGTH,
	SSL_R_BAD_RECORD_TYPE, SSL_R_BAD_HANDSHAKE_LENGTH, SSL_R_ENCRYPTED_LENGTH_TOO_LONG,
	SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC, SSL_R_EXCESSIVE_MESSAGE_SIZE,
	SSL_R_BAD_EXTENSION, SSL_R_TLSV1_ALERT_DECODE_ERROR, SSL_R_SSLV3_ALERT_UNEXPECTED_MESSAGE,
};

static const struct shoal_transport_ops tls_ops;

static struct shoal_tls_conn *conn_of(struct shoal_transport *t)
{
	return container_of(t, struct shoal_tls_conn, transport);
}

static bool listed(const int *reasons, size_t n, int reason)
{
	for (size_t i = 0; i < n; i++)
		if (reasons[i] == reason)
			return true;
	return false;
}

/* The class of a failed handshake, from SSL_get_error's answer and the queued reason. */
static enum shoal_tls_fail classify(int ssl_error)
{
	unsigned long e = ERR_peek_error();
	int reason = ERR_GET_REASON(e);

	if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN)
		return SHOAL_TLS_FAIL_CLOSED;
	if (ssl_error != SSL_ERROR_SSL || ERR_GET_LIB(e) != ERR_LIB_SSL)
		return SHOAL_TLS_FAIL_OTHER;
	if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return SHOAL_TLS_FAIL_CLOSED;
	if (listed(PROTOCOL_REASONS, ARRAY_LEN(PROTOCOL_REASONS), reason))
		return SHOAL_TLS_FAIL_PROTOCOL;
	if (listed(CERTIFICATE_REASONS, ARRAY_LEN(CERTIFICATE_REASONS), reason))
		return SHOAL_TLS_FAIL_CERTIFICATE;
	if (listed(GARBAGE_REASONS, ARRAY_LEN(GARBAGE_REASONS), reason))
		return SHOAL_TLS_FAIL_GARBAGE;
	return SHOAL_TLS_FAIL_OTHER;
}

const char *shoal_tls_conn_fail_name(enum shoal_tls_fail fail)
{
	switch (fail) {
	case SHOAL_TLS_FAIL_NONE:
		break;
	case SHOAL_TLS_FAIL_PROTOCOL:
		return "protocol";
	case SHOAL_TLS_FAIL_CERTIFICATE:
		return "certificate";
	case SHOAL_TLS_FAIL_GARBAGE:
		return "garbage";
	case SHOAL_TLS_FAIL_CLOSED:
		return "closed";
	case SHOAL_TLS_FAIL_TIMEOUT:
		return "timeout";
	case SHOAL_TLS_FAIL_OTHER:
		return "other";
	}
	return "none";
}

/* A verification error says more than "certificate verify failed", its queued reason. */
static const char *failure_reason(const SSL *ssl, int ssl_error)
{
	long verify = SSL_get_verify_result(ssl);

	if (verify != X509_V_OK)
		return X509_verify_cert_error_string(verify);
	if (ssl_error != SSL_ERROR_SSL)
		return NULL;
	return ERR_reason_error_string(ERR_peek_error());
}

static void established(struct shoal_tls_conn *c)
{
	int v = SSL_version(c->ssl);

	c->established = true;
	c->resumed = SSL_session_reused(c->ssl) == 1;
	c->version = v == TLS1_3_VERSION ? SHOAL_TLS_1_3
		     : v == TLS1_2_VERSION ? SHOAL_TLS_1_2 : SHOAL_TLS_VERSION_NONE;
	c->ktls_send = BIO_get_ktls_send(SSL_get_wbio(c->ssl));
}

/* The handshake waits for direction d: whatever the caller meant to do waits for it too. */
static enum shoal_tls_step handshake_waits(struct shoal_tls_conn *c, enum shoal_transport_dir d)
{
	c->waits[SHOAL_TRANSPORT_READ] = c->waits[SHOAL_TRANSPORT_WRITE] = d;
	return d == SHOAL_TRANSPORT_READ ? SHOAL_TLS_NEED_READ : SHOAL_TLS_NEED_WRITE;
}

/* What held bytes that could not go (shoal_tls_out_flush failed) mean for the handshake. */
static enum shoal_tls_step held_failed(struct shoal_tls_conn *c)
{
	if (errno == EAGAIN)
		return handshake_waits(c, SHOAL_TRANSPORT_WRITE);
	c->fail = SHOAL_TLS_FAIL_CLOSED;
	c->reason = NULL;
	return SHOAL_TLS_ERROR;
}

void shoal_tls_conn_read_follows(struct shoal_tls_conn *c)
{
	c->drained_fresh = true;
}

enum shoal_tls_step shoal_tls_conn_handshake(struct shoal_tls_conn *c)
{
	int r, e;

	if (c->established)
		return SHOAL_TLS_DONE;
	if (c->fail != SHOAL_TLS_FAIL_NONE)
		return SHOAL_TLS_ERROR;
	/* A flight the socket had no room for goes before the next step. */
	if (shoal_tls_out_flush(c) < 0)
		return held_failed(c);
	/* Unknown until this step reads: the request that came with the client's last handshake
	 * record is then read without a read(2) that could only say EAGAIN. */
	c->drained = false;
	c->holding = true;
	r = SSL_do_handshake(c->ssl);
	c->holding = false;
	if (r == 1) {
		/* TLS 1.3's ticket waits for the first answer; TLS 1.2's last flight (our
		 * Finished, which the client waits for) goes now. */
		if (SSL_version(c->ssl) != TLS1_3_VERSION && shoal_tls_out_flush(c) < 0)
			return held_failed(c);
		established(c);
		return SHOAL_TLS_DONE;
	}
	e = SSL_get_error(c->ssl, r);
	/* The step's flight goes before the wait. */
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		enum shoal_transport_dir d = e == SSL_ERROR_WANT_READ ? SHOAL_TRANSPORT_READ
								      : SHOAL_TRANSPORT_WRITE;

		if (shoal_tls_out_flush(c) < 0)
			return held_failed(c);
		return handshake_waits(c, d);
	}
	c->fail = classify(e);
	c->reason = failure_reason(c->ssl, e);
	ERR_clear_error();
	shoal_tls_out_flush(c); /* the alert, as far as the socket takes it */
	return SHOAL_TLS_ERROR;
}

/* Whether an operation may go on: the handshake is over and the stream not broken, else
 * false with errno set (EAGAIN while the handshake waits). */
static bool ready(struct shoal_tls_conn *c)
{
	enum shoal_tls_step step;

	if (c->established && !c->broken)
		return true;
	if (c->broken) {
		errno = c->broken;
		return false;
	}
	step = shoal_tls_conn_handshake(c);
	if (step == SHOAL_TLS_DONE)
		return true;
	if (step == SHOAL_TLS_ERROR)
		errno = c->fail == SHOAL_TLS_FAIL_CLOSED ? ECONNRESET : EPROTO;
	else
		errno = EAGAIN;
	return false;
}

/* After an SSL call in direction dir failed: -1 with errno, or done (> 0) when this call
 * moved bytes already, the error then due on the next call. A read's end of stream is 0. */
static ssize_t io_failed(struct shoal_tls_conn *c, enum shoal_transport_dir dir, size_t done)
{
	int saved = errno, code;

	switch (SSL_get_error(c->ssl, 0)) {
	case SSL_ERROR_WANT_READ:
		c->waits[dir] = SHOAL_TRANSPORT_READ;
		code = EAGAIN;
		break;
	case SSL_ERROR_WANT_WRITE:
		c->waits[dir] = SHOAL_TRANSPORT_WRITE;
		code = EAGAIN;
		break;
	case SSL_ERROR_ZERO_RETURN:
		if (dir == SHOAL_TRANSPORT_READ)
			return (ssize_t)done;
		code = EPIPE;
		break;
	case SSL_ERROR_SYSCALL:
		code = saved ? saved : dir == SHOAL_TRANSPORT_READ ? ECONNRESET : EPIPE;
		break;
	default:
		code = EPROTO;
	}
	if (code != EAGAIN) {
		ERR_clear_error();
		if (done)
			c->broken = code;
	}
	if (done)
		return (ssize_t)done;
	errno = code;
	return -1;
}

static ssize_t tls_read(struct shoal_transport *t, void *buf, size_t len)
{
	struct shoal_tls_conn *c = conn_of(t);
	size_t got = 0;

	if (!ready(c))
		return -1;
	if (!c->drained_fresh)
		c->drained = false;
	c->drained_fresh = false;
	while (got < len) {
		size_t n;

		if (!SSL_read_ex(c->ssl, (char *)buf + got, len - got, &n))
			return io_failed(c, SHOAL_TRANSPORT_READ, got);
		got += n;
		/* The socket was found empty and OpenSSL holds nothing: another read(2) would
		 * only say EAGAIN, and the next bytes raise an event. */
		if (c->drained && !SSL_has_pending(c->ssl))
			break;
	}
	return (ssize_t)got;
}

/* Where writev stands in the caller's pieces. */
struct cursor {
	const struct iovec *iov;
	int cnt;
	int i;      /* the piece */
	size_t off; /* bytes of it taken */
};

static void skip_empty(struct cursor *at)
{
	while (at->i < at->cnt && at->off == at->iov[at->i].iov_len) {
		at->i++;
		at->off = 0;
	}
}

static void advance(struct cursor *at, size_t n)
{
	while (n > 0) {
		size_t left = at->iov[at->i].iov_len - at->off;

		if (n < left) {
			at->off += n;
			return;
		}
		n -= left;
		at->i++;
		at->off = 0;
	}
}

/* The next record's bytes, at most cap, from the piece at the cursor (not empty): in place
 * when that piece has cap bytes or is the last, else gathered into stage. */
static size_t gather(const struct cursor *at, size_t cap, char *stage, const void **p)
{
	const struct iovec *v = &at->iov[at->i];
	size_t left = v->iov_len - at->off, n = 0, off = at->off;

	if (left >= cap || at->i + 1 == at->cnt) {
		*p = (const char *)v->iov_base + at->off;
		return left < cap ? left : cap;
	}
	for (int i = at->i; i < at->cnt && n < cap; i++, off = 0) {
		size_t k = at->iov[i].iov_len - off;

		if (k > cap - n)
			k = cap - n;
		memcpy(stage + n, (const char *)at->iov[i].iov_base + off, k);
		n += k;
	}
	*p = stage;
	return n;
}

/* A record committed before EAGAIN is made again from the same bytes of the caller's new
 * offer (OpenSSL sends the ciphertext it holds, and checks the length). */
static ssize_t write_records(struct shoal_tls_conn *c, const struct iovec *iov, int iovcnt)
{
	struct cursor at = { iov, iovcnt, 0, 0 };
	char stage[RECORD];
	size_t total = 0;

	for (skip_empty(&at); at.i < at.cnt; skip_empty(&at)) {
		const void *p;
		size_t n = gather(&at, c->committed ? c->committed : RECORD, stage, &p), w;

		if (n < c->committed) {
			errno = EINVAL; /* fewer bytes than the record under way */
			return -1;
		}
		if (!SSL_write_ex(c->ssl, p, n, &w)) {
			c->committed = n;
			return io_failed(c, SHOAL_TRANSPORT_WRITE, total);
		}
		c->committed = 0;
		total += w;
		advance(&at, w);
	}
	return (ssize_t)total;
}

/* more holds the last partial segment of these records back for what follows (MSG_MORE,
 * through shoal/tls/out.h); a write OpenSSL makes on its own later (a key update) does not. */
static ssize_t tls_writev(struct shoal_transport *t, const struct iovec *iov, int iovcnt,
			  bool more)
{
	struct shoal_tls_conn *c = conn_of(t);
	ssize_t n;

	if (!ready(c))
		return -1;
	c->more = more;
	n = write_records(c, iov, iovcnt);
	c->more = false;
	return n;
}

static ssize_t tls_sendfile(struct shoal_transport *t, int file_fd, off_t *off, size_t len)
{
	struct shoal_tls_conn *c = conn_of(t);
	ossl_ssize_t n;

	if (!c->ktls_send) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (!ready(c))
		return -1;
	n = SSL_sendfile(c->ssl, file_fd, *off, len, 0);
	if (n < 0)
		return io_failed(c, SHOAL_TRANSPORT_WRITE, 0);
	*off += n;
	return n;
}

/* Once: a second SSL_shutdown would wait for the peer's. */
int shoal_tls_conn_close_notify(struct shoal_tls_conn *c)
{
	if (c->established && !c->broken && !c->shut) {
		c->more = true; /* the close or shutdown right after sends it, with its FIN */
		if (SSL_shutdown(c->ssl) < 0)
			return (int)io_failed(c, SHOAL_TRANSPORT_WRITE, 0);
		c->shut = true;
	}
	return 0;
}

/* close_notify goes first. */
static int tls_shutdown_write(struct shoal_transport *t)
{
	if (shoal_tls_conn_close_notify(conn_of(t)) < 0)
		return -1;
	return shutdown(t->fd, SHUT_WR);
}

static enum shoal_transport_dir tls_waits_for(struct shoal_transport *t,
					      enum shoal_transport_dir dir)
{
	return conn_of(t)->waits[dir];
}

static bool tls_pending(struct shoal_transport *t)
{
	SSL *ssl = conn_of(t)->ssl;

	return SSL_has_pending(ssl) == 1 || (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN);
}

static void tls_close(struct shoal_transport *t)
{
	struct shoal_tls_conn *c = conn_of(t);

	/* Freed without its close_notify, a connection's session would be marked unfit to
	 * resume, and a client's session slot holds it. An established connection is closed as
	 * if said; one that failed had its session struck by OpenSSL at the fatal alert. */
	if (c->ssl && c->established)
		SSL_set_shutdown(c->ssl, SSL_get_shutdown(c->ssl) | SSL_SENT_SHUTDOWN);
	shoal_tls_out_flush(c);
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(t->fd);
}

static const struct shoal_transport_ops tls_ops = {
	.read = tls_read,
	.writev = tls_writev,
	.sendfile = tls_sendfile,
	.cork = shoal_transport_tcp_cork,
	.shutdown_write = tls_shutdown_write,
	.waits_for = tls_waits_for,
	.pending = tls_pending,
	.close = tls_close,
};

/* Notes whether each read(2) left the socket empty, and spares the read(2) that could only
 * say EAGAIN: the socket is edge-triggered, so bytes that came after a read that emptied it
 * raise an event, and every operation forgets drained when it starts (it may follow one).
 * The handshake's read after its flight, and a TLS read after a short one, cost no system
 * call: one read(2) per request, as for TCP. */
static long on_bio(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
		   int ret, size_t *processed)
{
	struct shoal_tls_conn *c = (struct shoal_tls_conn *)BIO_get_callback_arg(b);

	(void)argp;
	(void)argi;
	(void)argl;
	if (oper == BIO_CB_READ && c->drained) {
		BIO_clear_retry_flags(b);
		BIO_set_retry_read(b);
		return -1;
	}
	if (oper == (BIO_CB_READ | BIO_CB_RETURN))
		c->drained = ret <= 0 || !processed || *processed < len;
	return ret;
}

/* out: the method of the BIO to write through (shoal/tls/out.h); NULL, or a context with
 * kernel TLS: OpenSSL's socket BIO. */
static int attach(struct shoal_tls_conn *c, SSL *ssl, int fd, struct bio_method_st *out,
		  struct shoal_err *err)
{
	BIO *bio;
	bool own_out;

	*c = (struct shoal_tls_conn){
		.transport = { .ops = &tls_ops, .fd = fd },
		.waits = { SHOAL_TRANSPORT_READ, SHOAL_TRANSPORT_WRITE },
	};
	if (!ssl)
		return -1;
	own_out = out && !(SSL_get_options(ssl) & SSL_OP_ENABLE_KTLS);
	c->ssl = ssl;
	if (own_out ? SSL_set_rfd(ssl, fd) != 1 || shoal_tls_out_attach(c, out) < 0
		    : SSL_set_fd(ssl, fd) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		c->ssl = NULL;
		return shoal_err_set(err, "tls: out of memory");
	}
	bio = SSL_get_rbio(ssl);
	BIO_set_callback_ex(bio, on_bio);
	BIO_set_callback_arg(bio, (char *)c);
	return 0;
}

int shoal_tls_conn_accept(struct shoal_tls_conn *c, const struct shoal_tls_context_set *set,
			  int fd, struct shoal_err *err)
{
	return attach(c, shoal_tls_context_set_ssl(set, err), fd, shoal_tls_context_set_out(set),
		      err);
}

int shoal_tls_conn_connect(struct shoal_tls_conn *c, struct ssl_ctx_st *client,
			   const char *host, struct shoal_tls_session_slot *slot, int fd,
			   struct shoal_err *err)
{
	return attach(c, shoal_tls_context_client_ssl(client, host, slot, err), fd, NULL, err);
}
