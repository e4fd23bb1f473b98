/*
 * orphans.c - makes N orphans that exit at the same instant.
 *
 * Run as the supervised child of the PID 1 under test. An intermediate
 * process forks N children that block reading a pipe, then exits: the N
 * become orphans and are re-parented to PID 1. Only this process holds the
 * pipe's write end. It appends ARMED (tag = N), waits 300 ms so PID 1 is
 * idle again, appends RELEASE with the time it is about to close the write
 * end, and closes it: every orphan reads EOF and exits at once, and PID 1 has
 * N zombies to reap. Then it waits for a signal forever (so a tini-style init
 * does not exit) and dies of it. If it dies early, the orphans see EOF and
 * exit anyway: nothing outlives it for long.
 *
 *   orphans FILE N
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "stamp.h"

static void
make_orphans(int rd, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		pid_t pid = fork();
		char c;

		if (pid < 0) {
			perror("orphans: fork");
			_exit(1);
		}
		if (pid == 0) {
			while (read(rd, &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
	}
	_exit(0);
}

int
main(int argc, char **argv)
{
	struct timespec settle = {.tv_nsec = 300000000};
	unsigned n;
	int rel[2], status;
	pid_t mid;

	if (argc != 3) {
		fputs("usage: orphans FILE N\n", stderr);
		return 64;
	}
	n = (unsigned)strtoul(argv[2], NULL, 10);
	if (pipe(rel) < 0)
		return 70;
	mid = fork();
	if (mid < 0)
		return 70;
	if (mid == 0) {
		close(rel[1]);
		make_orphans(rel[0], n);
	}
	close(rel[0]);
	if (waitpid(mid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	stamp_append(argv[1], stamp_now(), STAMP_ARMED, n);
	nanosleep(&settle, NULL);
	stamp_append(argv[1], stamp_now(), STAMP_RELEASE, n);
	close(rel[1]);
	for (;;)
		pause();
}
