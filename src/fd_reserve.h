/*
 * fd_reserve.h - the descriptors supd keeps for supervision.
 *
 * Spawning a worker takes a few descriptors at once (the exec error pipe, a
 * pidfd, output pipes); clients of the control socket and of the metrics
 * listener must never take them. Both servers refuse a connection whose
 * descriptor is at or above the same ceiling.
 */
#ifndef SUPD_FD_RESERVE_H
#define SUPD_FD_RESERVE_H

/* The reserve is a quarter of RLIMIT_NOFILE, at least FD_RESERVE_MIN. */
#define FD_RESERVE_MIN 16

/* The ceiling client descriptors must stay below (0: no room for any), or
 * -1 when the limit is unknown or too large to matter. *limit and *reserve
 * say how it was computed (for messages). */
int fd_reserve_ceiling(long *limit, long *reserve);

#endif
