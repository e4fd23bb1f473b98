/*
 * respawn.c - raw baseline for restart latency and idle cost.
 *
 * The least a supervisor can do to keep N children running: one epoll set
 * holding a pidfd per child and a signalfd; when a pidfd becomes readable the
 * child is reaped with waitid(P_PIDFD) and a replacement is spawned at once.
 * No timers, no logging, no bookkeeping, so it sleeps in epoll_wait when
 * nothing dies. On SIGTERM/SIGINT it SIGKILLs its children, reaps them and
 * exits 0. It never touches a process it did not spawn.
 *
 *   respawn [-n N] -- PROGRAM [ARGS...]
 */
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "../proc.h"

struct slot {
	pid_t pid;
	int pidfd;
};

static int
start_slot(int ep, struct slot *s, unsigned idx, char *const argv[])
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = idx};
	pid_t pid = proc_spawn(argv, &s->pidfd);

	if (pid < 0) {
		fprintf(stderr, "respawn: spawn %s: %s\n", argv[0], strerror((int)-pid));
		return (int)pid;
	}
	s->pid = pid;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s->pidfd, &ev) < 0)
		return -errno;
	return 0;
}

static void
stop_all(struct slot *slots, unsigned n)
{
	siginfo_t si;

	for (unsigned i = 0; i < n; i++)
		if (slots[i].pidfd >= 0)
			proc_pidfd_signal(slots[i].pidfd, SIGKILL);
	for (unsigned i = 0; i < n; i++)
		if (slots[i].pidfd >= 0)
			waitid(P_PIDFD, (id_t)slots[i].pidfd, &si, WEXITED);
}

int
main(int argc, char **argv)
{
	unsigned n = 1, sig_idx;
	struct slot *slots;
	sigset_t mask;
	int ep, sfd, argi = 1;

	if (argc > 2 && strcmp(argv[1], "-n") == 0) {
		n = (unsigned)strtoul(argv[2], NULL, 10);
		argi = 3;
	}
	if (argi < argc && strcmp(argv[argi], "--") == 0)
		argi++;
	if (argi >= argc || n == 0) {
		fputs("usage: respawn [-n N] -- PROGRAM [ARGS...]\n", stderr);
		return 64;
	}
	proc_die_with_parent();
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	slots = calloc(n, sizeof *slots);
	if (sfd < 0 || ep < 0 || !slots)
		return 70;
	sig_idx = n;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd,
		      &(struct epoll_event){.events = EPOLLIN, .data.u32 = sig_idx}) < 0)
		return 70;
	for (unsigned i = 0; i < n; i++)
		slots[i].pidfd = -1;
	for (unsigned i = 0; i < n; i++)
		if (start_slot(ep, &slots[i], i, &argv[argi]) < 0) {
			stop_all(slots, n);
			return 1;
		}
	for (;;) {
		struct epoll_event evs[64];
		int k = epoll_wait(ep, evs, 64, -1);

		for (int e = 0; e < k; e++) {
			unsigned i = evs[e].data.u32;
			siginfo_t si;

			if (i == sig_idx) {
				stop_all(slots, n);
				return 0;
			}
			waitid(P_PIDFD, (id_t)slots[i].pidfd, &si, WEXITED);
			close(slots[i].pidfd);
			slots[i].pidfd = -1;
			if (start_slot(ep, &slots[i], i, &argv[argi]) < 0) {
				stop_all(slots, n);
				return 1;
			}
		}
	}
}
