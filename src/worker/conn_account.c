#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "shoal/base/clock.h"
#include "shoal/net/addr.h"
#include "shoal/stats/stats.h"
#include "shoal/worker/conn.h"
#include "shoal/worker/conn_account.h"

void shoal_conn_account(struct shoal_conn *c, const struct shoal_http_request *req,
			uint8_t family, const uint8_t *addr, size_t bytes_in, size_t bytes_out,
			const struct shoal_handler_result *up)
{
	struct shoal_conn_env *env = c->origin->env;
	struct shoal_out *out = &c->io->out;
	char client[INET6_ADDRSTRLEN] = "-";
	struct shoal_access_entry e = {
		.client = client, .req = req, .status = out->last_status, .body_bytes = out->last_body,
	};

	if (up && up->upstream) {
		e.upstream = up->upstream;
		e.upstream_status = up->upstream_status;
		e.upstream_us = up->upstream_us;
	}
	if (env->handler->stats)
		shoal_stats_request_done(env->handler->stats, out->last_status, bytes_in, bytes_out,
					 shoal_clock_mono_us() - c->io->read_us);
	if (!shoal_access_log_enabled(env->access_log))
		return;
	if (!shoal_addr_format_ip(family, addr, client, sizeof(client)))
		strcpy(client, "-");
	shoal_access_log_write(env->access_log, env->handler->date.sec, &e);
}
