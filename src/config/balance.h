/* The keys of an upstream group that are not plain values: how it spreads requests
 * (balance, hash_key, hash_balance_factor) and the response statuses that count as failures
 * (fail_status). Each is a kind of struct shoal_conf_key for the table of a struct
 * shoal_upstream_conf, the base every function of a kind is given. Private to src/config. */
#ifndef SHOAL_CONFIG_BALANCE_H
#define SHOAL_CONFIG_BALANCE_H

#include "schema.h"

/* `balance`: the name of an enum shoal_balance ("round_robin", "least_conn", "random",
 * "hash") into policy.balance; round_robin by default. The key's offset is unused. */
extern const struct shoal_conf_kind shoal_balance_algorithm;

/* `hash_key`: "client_ip", "uri", "header:NAME" or "cookie:NAME", NAME a token (RFC 9110;
 * a cookie name is one too, RFC 6265), into policy.hash_key and policy.hash_name (a copy of
 * NAME, else NULL); client_ip by default. Set in a group whose balance is not "hash", it
 * fails: its key must come after balance's in the table. Printed for a hash group only, so
 * that a dump loads again. The key's offset is unused. */
extern const struct shoal_conf_kind shoal_balance_hash_key;

/* `hash_balance_factor`: an int at the key's offset, 0 or in [min, max]; def_int when
 * absent. Fails and prints as hash_key does outside a hash group. */
extern const struct shoal_conf_kind shoal_balance_hash_factor;

/* A list of distinct statuses: an int * at the key's offset and its size_t count at
 * count_offset, each in [min, max], in the file's order; absent, none. */
extern const struct shoal_conf_kind shoal_balance_statuses;

#endif
