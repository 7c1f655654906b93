#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shoal/handler/metrics.h"
#include "shoal/state/format.h"
#include "shoal/state/limit_format.h"
#include "shoal/stats/format.h"

int shoal_metrics_prometheus(FILE *out, const struct shoal_stats_snapshot *snap,
			     const struct shoal_state *state, uint64_t now_ms)
{
	int rc = shoal_stats_format_prometheus(out, snap);

	if (state) {
		shoal_state_format_prometheus(out, state, now_ms);
		shoal_state_limit_format_prometheus(out, state);
	}
	return rc < 0 || ferror(out) ? -1 : 0;
}

static int metrics_write(FILE *f, const struct shoal_stats_view *view,
			 const struct shoal_state *state, uint64_t now_ms, struct shoal_err *err)
{
	struct shoal_stats_snapshot snap;
	int rc;

	if (shoal_stats_snapshot_init(&snap, view, err) < 0)
		return -1;
	rc = shoal_stats_snapshot(view, &snap, err);
	if (rc == 0 && shoal_metrics_prometheus(f, &snap, state, now_ms) < 0)
		rc = shoal_err_set(err, "write: %s", strerror(errno));
	shoal_stats_snapshot_free(&snap);
	return rc;
}

int shoal_metrics_export(const char *path, const struct shoal_stats_view *view,
			 const struct shoal_state *state, uint64_t now_ms, struct shoal_err *err)
{
	char tmp[4096];
	FILE *f;
	int rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return shoal_err_set(err, "stats_export path too long: %s", path);
	f = fopen(tmp, "we");
	if (!f)
		return shoal_err_set(err, "cannot write %s: %s", tmp, strerror(errno));
	rc = metrics_write(f, view, state, now_ms, err);
	if (fclose(f) != 0 && rc == 0)
		rc = shoal_err_set(err, "cannot write %s: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, path) < 0)
		rc = shoal_err_set(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
	if (rc < 0)
		unlink(tmp);
	return rc;
}
