#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shoal/stats/export.h"
#include "shoal/stats/format.h"

static int write_exposition(FILE *f, const struct shoal_stats_view *view, struct shoal_err *err)
{
	struct shoal_stats_snapshot snap;
	int rc;

	if (shoal_stats_snapshot_init(&snap, view, err) < 0)
		return -1;
	rc = shoal_stats_snapshot(view, &snap, err);
	if (rc == 0 && shoal_stats_format_prometheus(f, &snap) < 0)
		rc = shoal_err_set(err, "write: %s", strerror(errno));
	shoal_stats_snapshot_free(&snap);
	return rc;
}

int shoal_stats_export(const struct shoal_stats_view *view, const char *path,
		       struct shoal_err *err)
{
	char tmp[4096];
	FILE *f;
	int rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return shoal_err_set(err, "stats_export path too long: %s", path);
	f = fopen(tmp, "we");
	if (!f)
		return shoal_err_set(err, "cannot write %s: %s", tmp, strerror(errno));
	rc = write_exposition(f, view, err);
	if (fclose(f) != 0 && rc == 0)
		rc = shoal_err_set(err, "cannot write %s: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, path) < 0)
		rc = shoal_err_set(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
	if (rc < 0)
		unlink(tmp);
	return rc;
}
