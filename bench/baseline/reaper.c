/*
 * reaper.c - raw PID-1 reaper: the orphan-reaping baseline, and the init
 * of the benchmark's own PID namespace.
 *
 * Blocks the signals it handles and reads them from a signalfd (PID 1 gets
 * no default action from inside its namespace), starts PROGRAM, and on every
 * SIGCHLD reaps with waitpid(-1, WNOHANG) until nothing is left to reap.
 * SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are passed on to
 * PROGRAM. When PROGRAM is reaped, it exits with PROGRAM's status (128+signal
 * for a signal), which as PID 1 takes every other process of the namespace
 * with it.
 *
 *   reaper -- PROGRAM [ARGS...]
 */
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "../proc.h"

int
main(int argc, char **argv)
{
	static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
	sigset_t mask;
	pid_t main_pid;
	int argi = 1, sfd;

	if (argi < argc && strcmp(argv[argi], "--") == 0)
		argi++;
	if (argi >= argc) {
		fputs("usage: reaper -- PROGRAM [ARGS...]\n", stderr);
		return 64;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(&mask, forwarded[i]);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		return 70;
	main_pid = proc_spawn(&argv[argi], NULL);
	if (main_pid < 0) {
		fprintf(stderr, "reaper: %s: %s\n", argv[argi], strerror((int)-main_pid));
		return -main_pid == ENOENT ? 127 : 126;
	}
	for (;;) {
		struct signalfd_siginfo ssi;
		int status;
		pid_t pid;

		if (read(sfd, &ssi, sizeof ssi) != (ssize_t)sizeof ssi)
			continue;
		if (ssi.ssi_signo != SIGCHLD) {
			kill(main_pid, (int)ssi.ssi_signo);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == main_pid)
				return WIFEXITED(status) ? WEXITSTATUS(status)
							 : 128 + WTERMSIG(status);
	}
}
