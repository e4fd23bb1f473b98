/*
 * killtimeout.c - raw baseline for the kill-timeout error.
 *
 * Keeps one child running. Each SIGUSR1 asks it to stop the child the way a
 * supervisor with `shutdown: MS` does: SIGTERM, a timerfd armed for MS
 * milliseconds, SIGKILL when it fires (unless the child died first), reap,
 * then start a new child for the next round. The harness measures from the
 * child's own SIGTERM record to the moment its pidfd reports the death, the
 * same way it measures supd. SIGTERM/SIGINT: kill the child, reap, exit 0.
 *
 *   killtimeout MS -- PROGRAM [ARGS...]
 */
#include <poll.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include "../proc.h"

static int
stop_child(int pidfd, int tfd, long ms)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}};
	struct pollfd pfd[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = tfd, .events = POLLIN}};
	siginfo_t si;

	if (proc_pidfd_signal(pidfd, SIGTERM) < 0)
		return -errno;
	timerfd_settime(tfd, 0, &its, NULL);
	while (poll(pfd, 2, -1) < 0)
		if (errno != EINTR)
			return -errno;
	if (pfd[1].revents & POLLIN)
		proc_pidfd_signal(pidfd, SIGKILL);
	timerfd_settime(tfd, 0, &(struct itimerspec){0}, NULL);
	return waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 ? -errno : 0;
}

int
main(int argc, char **argv)
{
	sigset_t mask;
	long ms;
	int argi = 2, sfd, tfd, pidfd = -1;

	if (argc < 3) {
		fputs("usage: killtimeout MS -- PROGRAM [ARGS...]\n", stderr);
		return 64;
	}
	ms = strtol(argv[1], NULL, 10);
	if (strcmp(argv[argi], "--") == 0)
		argi++;
	if (argi >= argc || ms <= 0)
		return 64;
	proc_die_with_parent();
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (sfd < 0 || tfd < 0)
		return 70;
	for (;;) {
		struct signalfd_siginfo ssi;
		pid_t pid = proc_spawn(&argv[argi], &pidfd);
		siginfo_t si;

		if (pid < 0) {
			fprintf(stderr, "killtimeout: spawn: %s\n", strerror((int)-pid));
			return 1;
		}
		if (read(sfd, &ssi, sizeof ssi) != (ssize_t)sizeof ssi)
			ssi.ssi_signo = SIGTERM;
		if (ssi.ssi_signo != SIGUSR1) {
			proc_pidfd_signal(pidfd, SIGKILL);
			waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
			return 0;
		}
		if (stop_child(pidfd, tfd, ms) < 0)
			return 1;
		close(pidfd);
	}
}
