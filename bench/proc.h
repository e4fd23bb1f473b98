/*
 * proc.h - process helpers shared by the raw baselines and the driver.
 *
 * Spawning goes through posix_spawn (glibc uses CLONE_VM|CLONE_VFORK, the
 * cheapest start there is) with the signal mask emptied, then pidfd_open: the child cannot be
 * reaped before we hold its pidfd because only we reap it. Nothing here reaps or signals a process
 * it did not spawn.
 */
#ifndef SUPD_BENCH_PROC_H
#define SUPD_BENCH_PROC_H

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static inline int
proc_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static inline int
proc_pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Spawns argv with a clean signal state. Returns the pid (and *pidfd when
 * pidfd is not NULL), or -errno. */
static inline pid_t
proc_spawn(char *const argv[], int *pidfd)
{
	posix_spawnattr_t attr;
	sigset_t none;
	pid_t pid;
	int r;

	/* The callers install no signal handlers (they block signals and read
	 * a signalfd), so emptying the mask is all a child needs; resetting
	 * every disposition would cost 64 sigaction calls per spawn. */
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setsigmask(&attr, &none);
	r = posix_spawn(&pid, argv[0], NULL, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	if (r != 0)
		return -r;
	if (pidfd) {
		*pidfd = proc_pidfd_open(pid);
		if (*pidfd < 0) {
			r = -errno;
			kill(pid, SIGKILL);
			return r;
		}
	}
	return pid;
}

/* A baseline must not outlive the harness that started it. */
static inline void
proc_die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
}

#endif
