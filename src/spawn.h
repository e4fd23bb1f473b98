/*
 * spawn.h - starting one worker process.
 *
 * The child gets a clean process: empty signal mask and default
 * dispositions, its own session and process group, no file descriptors but
 * 0, 1 and 2, the spec's env / cwd / user / group, and a parent-death signal
 * (SIGKILL) so that it cannot outlive supd. A failure between fork and exec
 * is reported back through a close-on-exec pipe as a stage and an errno, so
 * spawn_worker() returns only once the exec has happened or failed.
 */
#ifndef SUPD_SPAWN_H
#define SUPD_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "spec.h"

struct spawn_options {
	/* $NOTIFY_SOCKET for ready: notify workers (NULL: none). supd's own
	 * NOTIFY_SOCKET, LISTEN_* and WATCHDOG_* are never passed on. */
	const char *notify_socket;
};

struct spawn_result {
	pid_t pid;
	int pidfd; /* close-on-exec; owned by the caller */
};

/* Starts the worker described by spec (spec->type == NODE_WORKER). Returns 0
 * and fills *out, or a negative errno with a reason such as "exec:ENOENT",
 * "chdir:EACCES", "setuid:EPERM" or "fork:EAGAIN" in err. When the failure
 * happened in the child, the child has already been reaped. */
int spawn_worker(struct child_spec *spec, const struct spawn_options *opt,
		 struct spawn_result *out, char *err, size_t errlen);

/* Frees spec->worker.envp_cache (spec_free() calls it). */
void spawn_forget_env(struct worker_spec *w);

#endif
