/*
 * fd_reserve.c - the one rule for the descriptors kept free for
 * supervision, shared by the control socket and the metrics listener.
 */
#include <limits.h>
#include <sys/resource.h>

#include "fd_reserve.h"

int
fd_reserve_ceiling(long *limit, long *reserve)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > INT_MAX)
		return -1;
	*limit = (long)rl.rlim_cur;
	*reserve = *limit / 4 > FD_RESERVE_MIN ? *limit / 4 : FD_RESERVE_MIN;
	return *limit > *reserve ? (int)(*limit - *reserve) : 0;
}
