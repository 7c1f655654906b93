/* The BIO a server connection writes through, in place of OpenSSL's socket BIO. What the
 * step that ends a TLS 1.3 handshake writes (the session ticket, after the client's
 * Finished) is held back and leaves with the connection's next write, its first answer, in
 * one send(2): a system call and a TCP segment fewer per connection. A connection that
 * resumed and asked for one answer took four writes (flight, ticket, answer, close_notify)
 * and takes three. Everything else goes to the socket at once, as through the socket BIO,
 * behind what is held; a connection closed before it wrote again sends the held bytes as it
 * closes, as far as the socket takes them (a ticket lost costs the client one resumption).
 * Not with kernel TLS: OpenSSL sets that up on its own socket BIO. */
#ifndef SHOAL_TLS_OUT_H
#define SHOAL_TLS_OUT_H

struct bio_method_st; /* OpenSSL's BIO_METHOD */
struct shoal_tls_conn;

/* The method, one per listener's set of contexts (shoal_tls_context_set_new makes it); NULL
 * when memory runs out. */
struct bio_method_st *shoal_tls_out_method_new(void);
void shoal_tls_out_method_free(struct bio_method_st *method);

/* c's SSL writes through a new BIO of method from now on. 0, or -1 (out of memory: the SSL
 * keeps the BIO it had). */
int shoal_tls_out_attach(struct shoal_tls_conn *c, struct bio_method_st *method);

/* Sends what c holds. 0: nothing is held any more; -1 with errno: EAGAIN when the socket
 * took only part (the rest waits for room), another errno when the stream is broken. */
int shoal_tls_out_flush(struct shoal_tls_conn *c);

#endif
