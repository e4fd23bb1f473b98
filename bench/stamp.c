/*
 * stamp.c - the child every benchmark supervises.
 *
 * The first thing it does is read CLOCK_MONOTONIC and append a START record
 * (stamp.h) to its stamp file, so "the replacement runs" is measured by the
 * replacement itself. It is linked statically to keep exec cheap and equal
 * for every supervisor. Then it holds: it waits for a signal forever and
 * dies of the default action, or, in ignore-term mode, records each SIGTERM
 * it receives and keeps running until SIGKILL; in exit mode it exits with
 * code 1 right after its record (a worker that crashes at once, for the
 * soak). It never forks and never reads its input.
 *
 *   stamp [FILE [hold|ignore-term|exit [TAG]]]
 *
 * $STAMP_FILE and $STAMP_MODE, when set, take the place of FILE and the
 * mode: s6 and runit exec a run file (a symlink to this program) with
 * arguments of their own choosing (s6-supervise passes the service name).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stamp.h"

static int term_fd = -1;

static void
on_term(int sig)
{
	int saved = errno;

	(void)sig;
	stamp_write(term_fd, stamp_now(), STAMP_TERM, 0);
	errno = saved;
}

int
main(int argc, char **argv)
{
	int64_t started = stamp_now();
	const char *path = getenv("STAMP_FILE");
	const char *mode = getenv("STAMP_MODE");
	unsigned tag = 0;
	int fd;

	if (!path) {
		path = argc > 1 ? argv[1] : NULL;
		mode = argc > 2 ? argv[2] : NULL;
		tag = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 0;
	}
	if (!path) {
		fputs("usage: stamp FILE [hold|ignore-term|exit [TAG]]\n", stderr);
		return 64;
	}
	if (!mode)
		mode = "hold";
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || stamp_write(fd, started, STAMP_START, tag) < 0) {
		perror(path);
		return 1;
	}
	if (strcmp(mode, "ignore-term") == 0) {
		struct sigaction sa = {.sa_handler = on_term, .sa_flags = SA_RESTART};

		term_fd = fd;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
	} else if (strcmp(mode, "hold") == 0) {
		close(fd);
	} else if (strcmp(mode, "exit") == 0) {
		return 1;
	} else {
		fprintf(stderr, "stamp: unknown mode %s\n", mode);
		return 64;
	}
	for (;;)
		pause();
}
