/* The TLS keys of the configuration file, private to src/config: a server's group
 * `tls = { certificate = "..."; key = "..."; }`, the top-level `tls_protocols`, and the check
 * that ties a server's tls group to its addresses with the tls flag. The files themselves are
 * loaded and checked by whoever makes contexts of them (the master, `shoal -t`). */
#ifndef SHOAL_CONFIG_TLS_CONF_H
#define SHOAL_CONFIG_TLS_CONF_H

#include "schema.h"
#include "shoal/config/config.h"

/* A key whose field is a struct shoal_server_tls_conf: a group with a certificate and a key,
 * both paths resolved against the file's directory and both required; absent, certificate
 * is NULL. Errors name "tls.certificate", "tls.key" or "tls". */
extern const struct shoal_conf_kind shoal_tls_conf_server;

/* A key whose field is a struct shoal_tls_protocols: a list of "TLSv1.2" and "TLSv1.3", the
 * range from the lowest to the highest named; absent, both. */
extern const struct shoal_conf_kind shoal_tls_conf_protocols;

/* tls_ciphers and tls_ciphersuites of cfg, read from root: each one OpenSSL takes, else
 * reported at its own line (not at the first server's tls group, whose context would
 * refuse it). Returns 0, or -1 once reported. */
int shoal_tls_conf_check_ciphers(const config_setting_t *root, const struct shoal_config *cfg,
				 const struct shoal_conf_ctx *ctx);

/* Server s, read from group e under ctx->where: an address with the tls flag needs a tls
 * group, and a tls group needs such an address (else it would be loaded for nothing, which
 * is more likely a forgotten flag). Returns 0, or -1 once reported. */
int shoal_tls_conf_check_server(const struct shoal_server_conf *s, const config_setting_t *e,
				const struct shoal_conf_ctx *ctx);

#endif
