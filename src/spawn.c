/*
 * spawn.c - starting one worker process.
 *
 * Owns everything between "the core wants this worker running" and "the exec
 * happened or failed": the worker's environment block (cached in its spec),
 * the vfork-style clone, clone3(CLONE_PIDFD) or fork() + pidfd_open(), the child-side setup
 * (signals, session, descriptors, credentials, cwd, parent-death signal,
 * PATH search) and the close-on-exec pipe that carries a failure back as
 * {stage, errno}.
 *
 * It must never wait for any process but the one it just created and that
 * failed before exec (that pid never reached the core), never log a worker's
 * failure (the caller reports it with the child's path), and never allocate
 * or take a lock in the child between fork and exec: everything the child
 * needs is prepared beforehand in a struct spawn_plan.
 *
 * Probes go through a struct spawn_job instead: prepared on the loop,
 * started on the probe spawner's thread (probe_spawner.c) with a stack of
 * their own, so spawn_job_run() never logs and touches nothing shared but
 * the atomic fallback flags below.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_path.h"
#include "log.h"
#include "spawn.h"

/* The exit code of a child that reported a failure; only spawn_worker()
 * ever sees it, since it reaps that child itself. */
#define SPAWN_CHILD_FAILED 127

/* The order of the child's steps. Credentials come before chdir (the
 * directory is entered with the worker's rights) and before the parent-death
 * signal, because the kernel clears that signal on every change of uid or
 * gid. */
enum spawn_stage {
	STAGE_CGROUP,
	STAGE_SIGNALS,
	STAGE_SETSID,
	STAGE_SETPGID,
	STAGE_TCSETPGRP,
	STAGE_STDIO,
	STAGE_CLOSE_FDS,
	STAGE_READY_FD,
	STAGE_RLIMIT,
	STAGE_NICE,
	STAGE_UMASK,
	STAGE_SETGROUPS,
	STAGE_SETGID,
	STAGE_SETUID,
	STAGE_CHDIR,
	STAGE_PDEATHSIG,
	STAGE_EXEC,
	STAGE_COUNT,
};

static const char *const stage_names[STAGE_COUNT] = {
	[STAGE_CGROUP] = "cgroup",       [STAGE_SIGNALS] = "signals",
	[STAGE_SETSID] = "setsid",       [STAGE_SETPGID] = "setpgid",
	[STAGE_TCSETPGRP] = "tcsetpgrp", [STAGE_STDIO] = "stdio",
	[STAGE_CLOSE_FDS] = "close_fds", [STAGE_READY_FD] = "ready_fd",
	[STAGE_RLIMIT] = "rlimit",       [STAGE_NICE] = "nice",
	[STAGE_UMASK] = "umask",         [STAGE_SETGROUPS] = "setgroups",
	[STAGE_SETGID] = "setgid",       [STAGE_SETUID] = "setuid",
	[STAGE_CHDIR] = "chdir",         [STAGE_PDEATHSIG] = "pdeathsig",
	[STAGE_EXEC] = "exec",
};

/* What the child writes to the error pipe; 8 bytes, so the write is atomic. */
struct spawn_report {
	int32_t stage;
	int32_t err;
};

/* Everything the child reads between fork and exec. */
struct spawn_plan {
	char *const *argv;
	char *const *envp;
	const char *search_path; /* NULL: exec argv[0] as it is */
	const char *cwd;
	pid_t parent;
	int report_fd;
	int stdout_fd, stderr_fd; /* -1: inherited */
	unsigned int max_fd;      /* for closing by hand on kernels without close_range */
	bool set_groups, set_gid, set_uid;
	bool take_terminal;
	const gid_t *groups;
	size_t ngroups;
	gid_t gid;
	uid_t uid;
	/* ready: {fd: N}: the write end of the readiness pipe becomes the
	 * worker's descriptor ready_fd_target (-1: none) */
	int ready_fd_source, ready_fd_target;
	const struct rlimit_spec *rlimits;
	size_t nrlimits;
	bool set_nice, set_umask;
	int nice;
	mode_t umask;
	/* the worker's cgroup.procs, written by the child to enter its
	 * cgroup before anything else (-1: stays in supd's) */
	int cgroup_fd;
	/* a probe's stdin, and its stdout and stderr (-1: inherited) */
	int stdin_fd, output_fd;
};

/* AddressSanitizer's runtime keeps locks and per-thread state that a child
 * sharing our memory would use while we are suspended in clone(): under
 * ASan such a child deadlocks. Sanitized builds create children with
 * clone3 instead (the vfork path is tested in the plain build). */
#if defined(__SANITIZE_ADDRESS__)
#define SPAWN_VFORK_SAFE false
#else
#define SPAWN_VFORK_SAFE true
#endif

/* Set once a method has failed with ENOSYS, EINVAL or EPERM (no kernel
 * support, or a seccomp filter): it would fail the same way every time.
 * Atomic: the probe spawner's thread (probe_spawner.c) spawns too. */
static _Atomic bool vfork_unavailable = !SPAWN_VFORK_SAFE;
static _Atomic bool clone3_unavailable;
static enum spawn_method first_method = SPAWN_VFORK;

/* The vfork-style child runs on this stack while the parent is suspended in
 * clone() until the exec: one child at a time, so one stack serves every
 * spawn. Only the pages the child touches are ever backed by memory. */
static char vfork_stack[256 * 1024] __attribute__((aligned(64)));
/* The same for the probe spawner's thread, which spawns at the same time. */
static char job_stack[256 * 1024] __attribute__((aligned(64)));

/* supd's own notification and socket-activation variables: they describe
 * supd, not its workers. */
static const char *const supd_private_env[] = {
	"NOTIFY_SOCKET",  "LISTEN_PID",   "LISTEN_FDS",
	"LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC",
};

void
spawn_set_method(enum spawn_method first)
{
	first_method = first;
}

enum spawn_method
spawn_method(void)
{
	if (first_method <= SPAWN_VFORK && !vfork_unavailable)
		return SPAWN_VFORK;
	if (first_method <= SPAWN_CLONE3 && !clone3_unavailable)
		return SPAWN_CLONE3;
	return SPAWN_FORK;
}

void
spawn_forget_env(struct worker_spec *w)
{
	if (!w->envp_cache)
		return;
	free(w->envp_cache);
	w->envp_cache = NULL;
}

static void
set_error(char *err, size_t errlen, const char *stage, int errnum)
{
	const char *name = strerrorname_np(errnum);

	if (!err || errlen == 0)
		return;
	if (name)
		snprintf(err, errlen, "%s:%s", stage, name);
	else
		snprintf(err, errlen, "%s:E%d", stage, errnum);
}

/* ---- the environment block ---- */

static size_t
env_name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (size_t)(eq - entry) : strlen(entry);
}

static bool
env_same_name(const char *a, const char *b)
{
	size_t n = env_name_len(a);

	return n == env_name_len(b) && memcmp(a, b, n) == 0;
}

static bool
env_is_supd_private(const char *entry)
{
	for (size_t i = 0; i < sizeof(supd_private_env) / sizeof(supd_private_env[0]); i++) {
		size_t n = strlen(supd_private_env[i]);
		if (env_name_len(entry) == n && memcmp(entry, supd_private_env[i], n) == 0)
			return true;
	}
	return false;
}

/* A NULL-terminated copy of environ's pointers without supd's private
 * entries (the strings are environ's); free() it. NULL on ENOMEM. */
static char **
env_without_supd_private(void)
{
	size_t n = 0;
	char **copy;

	for (char **e = environ; e && *e; e++)
		n++;
	copy = malloc((n + 1) * sizeof(*copy));
	if (!copy)
		return NULL;
	n = 0;
	for (char **e = environ; e && *e; e++)
		if (!env_is_supd_private(*e))
			copy[n++] = *e;
	copy[n] = NULL;
	return copy;
}

/* Whether entry is replaced by one of the spec's env entries from index
 * `from` on, or by the NOTIFY_SOCKET entry that a notify worker gets. */
static bool
env_overridden(const char *entry, const struct worker_spec *w, size_t from, bool adds_notify)
{
	for (size_t i = from; i < w->envc; i++)
		if (env_same_name(entry, w->env[i]))
			return true;
	return adds_notify && env_same_name(entry, "NOTIFY_SOCKET");
}

/* One allocation holds the pointer array and the strings, so that
 * spawn_forget_env() is a single free() and no entry depends on supd's
 * environ staying as it was. */
static int
env_build(struct worker_spec *w, const char *notify_socket)
{
	static const char notify_name[] = "NOTIFY_SOCKET=";
	bool adds_notify = w->ready == READY_NOTIFY && notify_socket;
	size_t count = 0, bytes = 0;
	char **block, *cursor;

	for (char **e = environ; e && *e; e++) {
		if (env_is_supd_private(*e) || env_overridden(*e, w, 0, adds_notify))
			continue;
		count++;
		bytes += strlen(*e) + 1;
	}
	for (size_t i = 0; i < w->envc; i++) {
		if (env_overridden(w->env[i], w, i + 1, adds_notify))
			continue;
		count++;
		bytes += strlen(w->env[i]) + 1;
	}
	if (adds_notify) {
		count++;
		bytes += sizeof(notify_name) + strlen(notify_socket);
	}

	block = malloc((count + 1) * sizeof(char *) + bytes);
	if (!block)
		return -ENOMEM;
	cursor = (char *)(block + count + 1);
	count = 0;
	for (char **e = environ; e && *e; e++) {
		if (env_is_supd_private(*e) || env_overridden(*e, w, 0, adds_notify))
			continue;
		block[count++] = cursor;
		cursor = stpcpy(cursor, *e) + 1;
	}
	for (size_t i = 0; i < w->envc; i++) {
		if (env_overridden(w->env[i], w, i + 1, adds_notify))
			continue;
		block[count++] = cursor;
		cursor = stpcpy(cursor, w->env[i]) + 1;
	}
	if (adds_notify) {
		block[count++] = cursor;
		cursor = stpcpy(stpcpy(cursor, notify_name), notify_socket) + 1;
	}
	block[count] = NULL;
	w->envp_cache = block;
	return 0;
}

/* ---- credentials ---- */

/* Fills the credential part of the plan from the ids the loader resolved
 * (credentials.c): no user or group database is read here, so a restart
 * never waits for NSS. Supplementary groups are set only when supd runs as
 * root (anyone else cannot change them, and a non-root supd may still
 * "switch" to its own uid and gid): the user's, or just the primary group. */
static int
creds_prepare(const struct worker_spec *w, struct spawn_plan *plan, gid_t *one_group)
{
	if (!w->has_uid && !w->has_gid)
		return 0;
	if (w->has_uid && !w->has_gid)
		return -ENOENT; /* no primary group to give it */
	plan->set_gid = true;
	plan->gid = w->gid;
	plan->set_uid = w->has_uid;
	plan->uid = w->uid;
	if (geteuid() != 0)
		return 0;
	plan->set_groups = true;
	if (w->ngroups) {
		plan->groups = w->groups;
		plan->ngroups = w->ngroups;
	} else {
		*one_group = w->gid;
		plan->groups = one_group;
		plan->ngroups = 1;
	}
	return 0;
}

/* ---- the child, between fork and exec: async-signal-safe calls only ---- */

static _Noreturn void
child_fail(const struct spawn_plan *plan, enum spawn_stage stage, int errnum)
{
	struct spawn_report report = {.stage = stage, .err = errnum};
	ssize_t n;

	/* a probe has no report pipe: its exit status 127 says it */
	do
		n = plan->report_fd >= 0 ? write(plan->report_fd, &report, sizeof(report)) : 0;
	while (n < 0 && errno == EINTR);
	_exit(SPAWN_CHILD_FAILED);
}

static void
child_close_fds(const struct spawn_plan *plan)
{
	/* Marked rather than closed: the exec closes them, error pipe
	 * included, and the pipe stays usable until then. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	if (errno != EINVAL && errno != ENOSYS)
		child_fail(plan, STAGE_CLOSE_FDS, errno);
	/* Kernels 5.9 and 5.10: close_range without CLOSE_RANGE_CLOEXEC
	 * (keeping one descriptor; with a readiness pipe, the loop below). */
	if (errno == EINVAL && plan->ready_fd_source < 0 && plan->report_fd >= 0) {
		unsigned int keep = (unsigned int)plan->report_fd;

		if ((keep <= 3 || close_range(3, keep - 1, 0) == 0) &&
		    close_range(keep < 3 ? 3 : keep + 1, ~0U, 0) == 0)
			return;
	}
	/* Older kernels: one close() per possible descriptor. */
	for (unsigned int fd = 3; fd < plan->max_fd; fd++)
		if ((int)fd != plan->report_fd && (int)fd != plan->ready_fd_source)
			close((int)fd);
}

static int
exec_attempt(const char *file, void *ctx)
{
	const struct spawn_plan *plan = ctx;

	execve(file, plan->argv, plan->envp);
	return errno;
}

/* exec_search()'s rules (those of execvpe()), with the search path chosen
 * by the parent. No shell fallback for ENOEXEC: a script needs its #!
 * line. */
static _Noreturn void
child_exec(const struct spawn_plan *plan)
{
	if (!plan->search_path) {
		execve(plan->argv[0], plan->argv, plan->envp);
		child_fail(plan, STAGE_EXEC, errno);
	}
	child_fail(plan, STAGE_EXEC,
		   exec_search(plan->argv[0], plan->search_path, exec_attempt, (void *)plan));
}

static _Noreturn void
child_run(const struct spawn_plan *plan)
{
	sigset_t none;

	/* First: whatever the worker does from here on, and what it starts,
	 * happens inside its cgroup. Never run outside it. */
	if (plan->cgroup_fd >= 0) {
		ssize_t n;

		do
			n = write(plan->cgroup_fd, "0", 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			child_fail(plan, STAGE_CGROUP, n < 0 ? errno : EIO);
	}

	/* The parent blocked every signal around the fork, so no inherited
	 * handler can run here before the dispositions are reset; only then
	 * is the mask emptied. The raw system call reaches glibc's two
	 * internal signals (32, 33) too, which sigaction() refuses: a parent
	 * that was itself started by posix_spawn() may have them ignored, and
	 * an ignored disposition survives exec. */
	for (int sig = 1; sig < NSIG; sig++) {
		struct {
			void *handler;
			unsigned long flags;
			void *restorer;
			uint64_t mask;
		} dfl = {.handler = SIG_DFL};
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask)) < 0 &&
		    errno != EINVAL)
			child_fail(plan, STAGE_SIGNALS, errno);
	}
	/* Before the mask is emptied: a background process group that takes
	 * the terminal would otherwise get SIGTTOU. */
	if (plan->take_terminal) {
		if (setpgid(0, 0) < 0)
			child_fail(plan, STAGE_SETPGID, errno);
		if (tcsetpgrp(STDIN_FILENO, getpid()) < 0)
			child_fail(plan, STAGE_TCSETPGRP, errno);
	} else if (setsid() < 0) {
		child_fail(plan, STAGE_SETSID, errno);
	}

	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(plan, STAGE_SIGNALS, errno);

	if ((plan->stdin_fd >= 0 && dup2(plan->stdin_fd, 0) < 0) ||
	    (plan->output_fd >= 0 &&
	     (dup2(plan->output_fd, 1) < 0 || dup2(plan->output_fd, 2) < 0)))
		child_fail(plan, STAGE_CLOSE_FDS, errno);
	/* A captured worker writes into supd's pipes (dup2 clears their
	 * close-on-exec flag on 1 and 2 only). */
	if (plan->stdout_fd >= 0 && dup2(plan->stdout_fd, STDOUT_FILENO) < 0)
		child_fail(plan, STAGE_STDIO, errno);
	if (plan->stderr_fd >= 0 && dup2(plan->stderr_fd, STDERR_FILENO) < 0)
		child_fail(plan, STAGE_STDIO, errno);

	child_close_fds(plan);

	if (plan->ready_fd_target >= 0) {
		/* dup2 leaves the new descriptor without close-on-exec; the
		 * same number needs the flag cleared by hand */
		if (plan->ready_fd_source == plan->ready_fd_target) {
			if (fcntl(plan->ready_fd_source, F_SETFD, 0) < 0)
				child_fail(plan, STAGE_READY_FD, errno);
		} else if (dup2(plan->ready_fd_source, plan->ready_fd_target) < 0) {
			child_fail(plan, STAGE_READY_FD, errno);
		}
	}
	/* Limits and priority before the user switch: raising a hard limit
	 * or lowering the nice value needs supd's privileges. */
	for (size_t i = 0; i < plan->nrlimits; i++) {
		const struct rlimit_spec *rl = &plan->rlimits[i];
		struct rlimit v = {
			.rlim_cur = rl->soft == SPEC_RLIM_INFINITY ? RLIM_INFINITY : rl->soft,
			.rlim_max = rl->hard == SPEC_RLIM_INFINITY ? RLIM_INFINITY : rl->hard,
		};
		if (setrlimit((__rlimit_resource_t)rl->resource, &v) < 0)
			child_fail(plan, STAGE_RLIMIT, errno);
	}
	if (plan->set_nice && setpriority(PRIO_PROCESS, 0, plan->nice) < 0)
		child_fail(plan, STAGE_NICE, errno);
	if (plan->set_umask)
		umask(plan->umask);

	/* Raw system calls: after a raw clone3 in a multithreaded process,
	 * glibc's wrappers would try to change the credentials of threads
	 * that exist only in the parent. */
	if (plan->set_groups && syscall(SYS_setgroups, plan->ngroups, plan->groups) < 0)
		child_fail(plan, STAGE_SETGROUPS, errno);
	if (plan->set_gid && syscall(SYS_setgid, plan->gid) < 0)
		child_fail(plan, STAGE_SETGID, errno);
	if (plan->set_uid && syscall(SYS_setuid, plan->uid) < 0)
		child_fail(plan, STAGE_SETUID, errno);

	if (plan->cwd && chdir(plan->cwd) < 0)
		child_fail(plan, STAGE_CHDIR, errno);

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(plan, STAGE_PDEATHSIG, errno);
	/* If supd died before the line above, the signal will never come:
	 * we have been reparented already. Nobody reads the pipe any more. */
	if (getppid() != plan->parent)
		_exit(SPAWN_CHILD_FAILED);

	child_exec(plan);
}

static int
vfork_entry(void *plan)
{
	child_run(plan);
}

/* ---- the parent ---- */

/* Returns the child's pid and its pidfd, or -1 with errno set and *stage
 * naming the step that failed. The child never returns from here. A
 * vfork-style child runs on stack_top; `quiet`: called off the loop's
 * thread, where nothing may log. */
static pid_t
start_child(const struct spawn_plan *plan, char *stack_top, bool quiet, int *pidfd,
	    const char **stage)
{
	pid_t pid;
	int fd = -1;

	*stage = "fork";
	if (spawn_method() == SPAWN_VFORK) {
		/* As posix_spawn does: the child shares our memory and we sleep
		 * until it has exec'd or failed, so nothing is copied. That is
		 * safe because the child only reads the plan, writes on its own
		 * stack, makes system calls and never returns; every signal is
		 * blocked meanwhile, so no handler of ours runs in it. */
		pid = clone(vfork_entry, stack_top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
			    (void *)plan, &fd);
		if (pid > 0) {
			*pidfd = fd;
			return pid;
		}
		if (errno != ENOSYS && errno != EINVAL && errno != EPERM)
			return -1;
		if (!quiet)
			log_debug("vfork-style clone failed (%s): using clone3 from now on",
				  strerrorname_np(errno));
		vfork_unavailable = true;
	}
	if (spawn_method() <= SPAWN_CLONE3 && !clone3_unavailable) {
		struct clone_args args = {
			.flags = CLONE_PIDFD,
			.pidfd = (uint64_t)(uintptr_t)&fd,
			.exit_signal = SIGCHLD,
		};

		pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
		if (pid == 0)
			child_run(plan);
		if (pid > 0) {
			*pidfd = fd;
			return pid;
		}
		if (errno != ENOSYS && errno != EPERM)
			return -1;
		if (!quiet)
			log_debug("clone3 failed (%s): using fork and pidfd_open from now on",
				  strerrorname_np(errno));
		clone3_unavailable = true;
	}

	pid = fork();
	if (pid == 0)
		child_run(plan);
	if (pid < 0)
		return -1;
	/* A pid cannot be reused before it is reaped, and only this function
	 * reaps it now, so the pidfd names our child. */
	fd = pidfd_open(pid, 0);
	if (fd < 0 && errno == ENOSYS) {
		/* Kernels before 5.3, some seccomp profiles and valgrind have
		 * no pidfds: the worker runs without one. Signals then go by
		 * pid, which is still safe because we are its only reaper. */
		*pidfd = -1;
		return pid;
	}
	if (fd < 0) {
		int saved = errno;

		*stage = "pidfd";
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		errno = saved;
		return -1;
	}
	*pidfd = fd;
	return pid;
}

static void close_ready_pipe(int fds[2]);
static int avoid_fd(int *fd, int avoid);

/* ready: {fd: N}: supd reads the non-blocking end; the worker's end is
 * never N itself in supd, so that no other descriptor of ours (the error
 * pipe) can land on N and be overwritten by the child's dup2. */
static int
ready_pipe_open(int target, int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0 || avoid_fd(&fds[0], target) < 0) {
		int r = -errno;
		close_ready_pipe(fds);
		return r;
	}
	return 0;
}

static void
close_ready_pipe(int fds[2])
{
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Moves *fd off the number `avoid` (keeping close-on-exec). */
static int
avoid_fd(int *fd, int avoid)
{
	int moved;

	if (*fd != avoid)
		return 0;
	moved = fcntl(*fd, F_DUPFD_CLOEXEC, avoid + 1);
	if (moved < 0)
		return -1;
	close(*fd);
	*fd = moved;
	return 0;
}

static unsigned int
fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > INT_MAX)
		return 65536;
	return (unsigned int)rl.rlim_cur;
}

/* Runs the plan: the child, and its report of a failure before exec. */
static int
plan_run(struct spawn_plan *plan, pid_t *pid_out, int *pidfd_out, char *err, size_t errlen)
{
	struct spawn_report report;
	sigset_t all, saved_mask;
	const char *stage;
	int pipefd[2], pidfd = -1, r;
	pid_t pid;
	ssize_t n;

	if (pipe2(pipefd, O_CLOEXEC) < 0 ||
	    (plan->ready_fd_target >= 0 && avoid_fd(&pipefd[1], plan->ready_fd_target) < 0)) {
		r = -errno;
		set_error(err, errlen, "pipe", -r);
		return r;
	}
	plan->report_fd = pipefd[1];

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved_mask);
	pid = start_child(plan, vfork_stack + sizeof(vfork_stack), false, &pidfd, &stage);
	r = pid < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		set_error(err, errlen, stage, -r);
		return r;
	}

	/* EOF: the exec closed the write end (or the child died before it
	 * could report, which the reaper will see like any other death). */
	do
		n = read(pipefd[0], &report, sizeof(report));
	while (n < 0 && errno == EINTR);
	r = n < 0 ? -errno : 0;
	close(pipefd[0]);
	if (n == 0) {
		*pid_out = pid;
		*pidfd_out = pidfd;
		return 0;
	}

	if (n == (ssize_t)sizeof(report)) {
		stage = report.stage >= 0 && report.stage < STAGE_COUNT ? stage_names[report.stage]
									: "child";
		r = report.err > 0 ? -report.err : -EIO;
	} else {
		/* Unreadable report: do not leave a half-set-up child running. */
		stage = "report";
		if (r == 0)
			r = -EIO;
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	}
	/* Safe: spawns run synchronously inside the event loop, so the
	 * SIGCHLD reaper (waitid(P_ALL)) cannot run concurrently and collect
	 * this pid first; and it never reached anyone else, so this is the
	 * only place that knows it. */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	close(pidfd);
	set_error(err, errlen, stage, -r);
	return r;
}

int
spawn_worker(struct child_spec *spec, const struct spawn_options *opt, struct spawn_result *out,
	     char *err, size_t errlen)
{
	struct worker_spec *w = &spec->worker;
	struct spawn_plan plan = {
		.stdin_fd = -1, .output_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .cgroup_fd = -1};
	gid_t one_group;
	struct worker_spec *envw;
	int pidfd = -1, r;
	int readyfd[2] = {-1, -1};
	pid_t pid = -1;

	out->ready_fd = -1;
	if (spec->type != NODE_WORKER || !w->argv || !w->argv[0]) {
		set_error(err, errlen, "spawn", EINVAL);
		return -EINVAL;
	}
	/* A dynamic child that adds no environment of its own shares its
	 * template's block: one copy for thousands of children. */
	envw = w->env_source ? w->env_source : w;
	if (!envw->envp_cache) {
		r = env_build(envw, opt ? opt->notify_socket : NULL);
		if (r < 0) {
			set_error(err, errlen, "env", -r);
			return r;
		}
	}

	plan.argv = w->argv;
	plan.envp = envw->envp_cache;
	if (w->argv[0][0] && !strchr(w->argv[0], '/')) {
		plan.search_path = exec_search_path(envw->envp_cache);
	}
	plan.cwd = w->cwd;
	plan.rlimits = w->rlimits;
	plan.nrlimits = w->nrlimits;
	plan.set_nice = w->nice != SPEC_NICE_UNSET;
	plan.nice = w->nice;
	plan.set_umask = w->umask != SPEC_UMASK_UNSET;
	plan.umask = w->umask;
	plan.ready_fd_source = -1;
	plan.ready_fd_target = -1;
	plan.take_terminal = opt && opt->take_terminal;
	plan.cgroup_fd = opt && opt->join_cgroup ? opt->cgroup_procs_fd : -1;
	plan.stdout_fd = opt && opt->capture ? opt->stdout_fd : -1;
	plan.stderr_fd = opt && opt->capture ? opt->stderr_fd : -1;
	plan.parent = getpid();
	plan.max_fd = fd_limit();
	r = creds_prepare(w, &plan, &one_group);
	if (r < 0) {
		set_error(err, errlen, "user", -r);
		return r;
	}

	if (w->ready == READY_FD) {
		r = ready_pipe_open(w->ready_fd, readyfd);
		if (r < 0) {
			set_error(err, errlen, "pipe", -r);
			return r;
		}
		plan.ready_fd_source = readyfd[1];
		plan.ready_fd_target = w->ready_fd;
	}
	r = plan_run(&plan, &pid, &pidfd, err, errlen);
	if (readyfd[1] >= 0) {
		close(readyfd[1]);
		readyfd[1] = -1;
	}
	if (r < 0) {
		close_ready_pipe(readyfd);
		return r;
	}
	out->pid = pid;
	out->pidfd = pidfd;
	out->ready_fd = readyfd[0];
	return 0;
}

/* ---- probe starts, run off the loop (probe_spawner.c) ---- */

struct spawn_job_data {
	struct spawn_plan plan;
	char **envp;
	int output_fd;
	/* argv's pointers, then its strings: the job's own copy, since the
	 * spec it came from may be freed (a reload) while the job waits */
	char *argv[];
};

struct spawn_job *
spawn_job_new(char *const *argv, int stdin_fd, int output_fd, char *err, size_t errlen)
{
	struct spawn_job *job;
	struct spawn_job_data *d;
	size_t argc = 0, text = 0;
	char *at;

	if (!argv || !argv[0] || !argv[0][0]) {
		set_error(err, errlen, "spawn", EINVAL);
		return NULL;
	}
	for (; argv[argc]; argc++)
		text += strlen(argv[argc]) + 1;
	job = calloc(1, sizeof(*job));
	d = malloc(sizeof(*d) + (argc + 1) * sizeof(char *) + text);
	if (!job || !d) {
		free(job);
		free(d);
		set_error(err, errlen, "spawn", ENOMEM);
		return NULL;
	}
	memset(&d->plan, 0, sizeof(d->plan));
	at = (char *)&d->argv[argc + 1];
	for (size_t i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;

		d->argv[i] = memcpy(at, argv[i], n);
		at += n;
	}
	d->argv[argc] = NULL;
	/* supd's environment without what describes supd itself: a check
	 * that calls sd_notify or looks for LISTEN_FDS must not take supd's
	 * for its own. (The strings stay environ's, which supd never
	 * changes after it started.) */
	d->envp = env_without_supd_private();
	if (!d->envp) {
		free(d);
		free(job);
		set_error(err, errlen, "spawn", ENOMEM);
		return NULL;
	}
	d->plan.argv = d->argv;
	d->plan.envp = d->envp;
	if (!strchr(d->argv[0], '/'))
		d->plan.search_path = exec_search_path(d->envp);
	d->plan.stdin_fd = stdin_fd;
	d->plan.output_fd = output_fd;
	d->plan.stdout_fd = d->plan.stderr_fd = d->plan.cgroup_fd = -1;
	d->plan.ready_fd_source = d->plan.ready_fd_target = -1;
	d->plan.parent = getpid();
	d->plan.max_fd = fd_limit();
	/* A probe that cannot be executed exits 127, which its result
	 * reports; no error pipe is needed. */
	d->plan.report_fd = -1;
	d->output_fd = output_fd;
	job->data = d;
	return job;
}

void
spawn_job_run(struct spawn_job *job)
{
	struct spawn_job_data *d = job->data;
	sigset_t all, saved_mask;
	int pidfd = -1;
	pid_t pid;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved_mask);
	pid = start_child(&d->plan, job_stack + sizeof(job_stack), true, &pidfd, &job->stage);
	job->err = pid < 0 ? errno : 0;
	pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	/* the probe holds its own copy now: our end's close lets its reader
	 * see end of file when the probe is gone */
	if (d->output_fd >= 0)
		close(d->output_fd);
	d->output_fd = -1;
	if (pidfd >= 0)
		close(pidfd);
	job->pid = pid > 0 ? pid : 0;
}

void
spawn_job_error(const struct spawn_job *job, char *err, size_t errlen)
{
	set_error(err, errlen, job->stage ? job->stage : "spawn", job->err ? job->err : EIO);
}

void
spawn_job_free(struct spawn_job *job)
{
	struct spawn_job_data *d;

	if (!job)
		return;
	d = job->data;
	if (d->output_fd >= 0)
		close(d->output_fd);
	free(d->envp);
	free(d);
	free(job);
}
