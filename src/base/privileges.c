#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "shoal/base/privileges.h"

int shoal_privileges_drop(bool drop, uid_t uid, gid_t gid, struct shoal_err *err)
{
	if (drop) {
		if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			return shoal_err_set(err, "cannot drop privileges to uid %d gid %d: %s",
					     (int)uid, (int)gid, strerror(errno));
		if (uid != 0 && setuid(0) == 0)
			return shoal_err_set(err, "privileges could be regained after dropping them");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return shoal_err_set(err, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return 0;
}
