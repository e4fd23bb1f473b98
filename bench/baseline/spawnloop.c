/*
 * spawnloop.c - raw baseline for dynamic spawn throughput.
 *
 * Appends a T0 record to the stamp file, then starts N copies of the child
 * with back-to-back posix_spawn calls and nothing else: no pidfd, no table
 * beyond the pid array, no reply to write. The harness takes "all N run" from
 * the children's own START records. Then it holds them until SIGTERM/SIGINT,
 * SIGKILLs and reaps them, and exits 0.
 *
 *   spawnloop FILE N -- PROGRAM [ARGS...]
 */
#include <string.h>
#include <sys/wait.h>

#include "../proc.h"
#include "../stamp.h"

int
main(int argc, char **argv)
{
	sigset_t mask;
	unsigned n, started = 0;
	pid_t *pids;
	int sig, argi = 3, rc = 0;

	if (argc < 4) {
		fputs("usage: spawnloop FILE N -- PROGRAM [ARGS...]\n", stderr);
		return 64;
	}
	n = (unsigned)strtoul(argv[2], NULL, 10);
	if (strcmp(argv[argi], "--") == 0)
		argi++;
	if (argi >= argc || n == 0)
		return 64;
	proc_die_with_parent();
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	pids = calloc(n, sizeof *pids);
	if (!pids)
		return 70;
	if (stamp_append(argv[1], stamp_now(), STAMP_T0, 0) < 0)
		return 1;
	for (; started < n; started++) {
		pid_t pid = proc_spawn(&argv[argi], NULL);

		if (pid < 0) {
			fprintf(stderr, "spawnloop: spawn %u: %s\n", started, strerror((int)-pid));
			rc = 1;
			break;
		}
		pids[started] = pid;
	}
	if (rc == 0)
		sigwait(&mask, &sig);
	for (unsigned i = 0; i < started; i++)
		kill(pids[i], SIGKILL);
	for (unsigned i = 0; i < started; i++)
		waitpid(pids[i], NULL, 0);
	return rc;
}
