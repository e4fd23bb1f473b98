/*
 * killwait.c - raw baseline for shutdown.
 *
 * Starts N children, waits until all N have stamped the file (so each one
 * really runs and has its SIGTERM disposition in place), lets them settle,
 * then times the stop:
 *   par: SIGTERM to every child through its pidfd, then reap all of them;
 *   seq: in reverse start order, SIGTERM one child and reap it before the
 *        next (what a static OTP supervisor must do).
 * Prints the elapsed nanoseconds on stdout and exits 0. Every child it
 * started is gone when it exits, on failure too (SIGKILL, then reap).
 *
 *   killwait FILE N par|seq -- PROGRAM [ARGS...]
 */
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../proc.h"
#include "../stamp.h"

static int
wait_for_stamps(const char *path, unsigned n, int64_t deadline)
{
	struct timespec tick = {.tv_nsec = 1000000};
	struct stat st;

	while (stamp_now() < deadline) {
		if (stat(path, &st) == 0 && (size_t)st.st_size >= n * sizeof(struct stamp_rec))
			return 0;
		nanosleep(&tick, NULL);
	}
	return -ETIMEDOUT;
}

int
main(int argc, char **argv)
{
	struct timespec settle = {.tv_nsec = 100000000};
	unsigned n, started = 0;
	int *pidfds, argi = 4, seq;
	int64_t t0, t1;
	siginfo_t si;

	if (argc < 5) {
		fputs("usage: killwait FILE N par|seq -- PROGRAM [ARGS...]\n", stderr);
		return 64;
	}
	n = (unsigned)strtoul(argv[2], NULL, 10);
	seq = strcmp(argv[3], "seq") == 0;
	if (strcmp(argv[argi], "--") == 0)
		argi++;
	if (argi >= argc || n == 0)
		return 64;
	proc_die_with_parent();
	pidfds = calloc(n, sizeof *pidfds);
	if (!pidfds)
		return 70;
	for (; started < n; started++) {
		pid_t pid = proc_spawn(&argv[argi], &pidfds[started]);

		if (pid < 0) {
			fprintf(stderr, "killwait: spawn: %s\n", strerror((int)-pid));
			goto fail;
		}
	}
	if (wait_for_stamps(argv[1], n, stamp_now() + 60 * 1000000000LL) < 0) {
		fputs("killwait: children did not all start\n", stderr);
		goto fail;
	}
	nanosleep(&settle, NULL);
	t0 = stamp_now();
	if (seq) {
		for (unsigned i = n; i-- > 0;) {
			proc_pidfd_signal(pidfds[i], SIGTERM);
			waitid(P_PIDFD, (id_t)pidfds[i], &si, WEXITED);
		}
	} else {
		for (unsigned i = 0; i < n; i++)
			proc_pidfd_signal(pidfds[i], SIGTERM);
		for (unsigned i = 0; i < n; i++)
			waitid(P_ALL, 0, &si, WEXITED);
	}
	t1 = stamp_now();
	printf("%lld\n", (long long)(t1 - t0));
	return 0;
fail:
	for (unsigned i = 0; i < started; i++)
		proc_pidfd_signal(pidfds[i], SIGKILL);
	for (unsigned i = 0; i < started; i++)
		waitid(P_PIDFD, (id_t)pidfds[i], &si, WEXITED);
	return 1;
}
