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

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spec.h"

struct spawn_options {
	/* $NOTIFY_SOCKET for ready: notify workers (NULL: none). supd's own
	 * NOTIFY_SOCKET, LISTEN_* and WATCHDOG_* are never passed on. */
	const char *notify_socket;
	/* `supd -- PROGRAM` on a terminal: instead of a session of its own,
	 * the worker gets a process group of its own in supd's session and
	 * becomes the foreground process group of the terminal on stdin (the
	 * controlling terminal), so that job control works, as under tini. */
	bool take_terminal;
	/* A captured worker (output.c): the pipe ends that become its fds 1
	 * and 2. Without `capture`, it inherits supd's stdout and stderr. */
	bool capture;
	int stdout_fd, stderr_fd;
	/* `cgroup: true` (cgroup.c): the worker's cgroup.procs, open for
	 * writing; the child enters that cgroup first, before exec. */
	bool join_cgroup;
	int cgroup_procs_fd;
};

struct spawn_result {
	pid_t pid;
	int pidfd; /* close-on-exec; owned by the caller */
	/* ready: {fd: N}: the non-blocking read end of the pipe that is the
	 * worker's descriptor N, or -1; owned by the caller */
	int ready_fd;
};

/* Starts the worker described by spec (spec->type == NODE_WORKER). Returns 0
 * and fills *out, or a negative errno with a reason such as "exec:ENOENT",
 * "chdir:EACCES", "setuid:EPERM" or "fork:EAGAIN" in err. When the failure
 * happened in the child, the child has already been reaped. Never logs the
 * failure: the caller knows which child it was and reports err.
 *
 * err is "STAGE:ERRNAME". Stages in the parent: "spawn" (not a worker spec),
 * "env" (building the environment), "user" (a uid without a gid: the
 * loader always gives one, see credentials.c), "pipe", "fork" (clone3 or
 * fork), "pidfd" (pidfd_open after fork), "report" (unreadable error pipe).
 * The ids and groups come resolved in the spec: nothing here reads the user
 * or group database.
 * Stages in the child, in order: "cgroup" (entering its cgroup, with
 * join_cgroup), "signals", "setsid" (or "setpgid" and
 * "tcsetpgrp" with take_terminal), "stdio", "close_fds", "ready_fd",
 * "rlimit", "nice", "umask", "setgroups", "setgid", "setuid", "chdir",
 * "pdeathsig", "exec".
 *
 * argv[0] without a '/' is searched in the PATH of the worker's own
 * environment (supd's PATH unless the spec's env sets one; if neither has
 * one, EXEC_DEFAULT_PATH) by exec_search() (exec_path.h), like execvpe()
 * but with no /bin/sh retry on ENOEXEC.
 *
 * Must be called from the thread that runs the event loop (the worker's
 * parent-death signal is tied to the thread that created it) and never
 * concurrently with the reaper: a child that fails before exec is reaped
 * here with waitpid() on its pid.
 *
 * The environment block is built on the first start and cached in
 * spec->worker.envp_cache; it depends on supd's environment at that moment
 * and on opt->notify_socket, both constant for a supd run. */
int spawn_worker(struct child_spec *spec, const struct spawn_options *opt, struct spawn_result *out,
		 char *err, size_t errlen);

/* Starts a probe command (readiness or health, SPEC 7.2/7.3) as supd's
 * own child: supd's user and environment, stdin /dev/null, stdout and
 * stderr on output_fd, its own session, the same clean signal state and
 * parent-death signal as a worker. Returns 0 with *pid, or a negative
 * errno with the reason in err (a failed exec included). */
/* A probe's start (probe.c), prepared on the loop and run on the probe
 * spawner's thread (probe_spawner.c), so that supd neither sleeps in the
 * probe's exec (a vfork-style clone suspends only the spawner's thread) nor
 * pays for a copy of itself (a fork copies supd's page tables, then takes a
 * copy-on-write fault for every page supd writes while the copy lives).
 * The job holds copies of everything the child reads. */
struct spawn_job {
	struct spawn_job *next; /* the spawner's queues */
	void *owner;            /* the caller's; NULL once it gave up on the job */
	/* after spawn_job_run(): the probe's pid, or 0 with stage and err */
	pid_t pid;
	const char *stage;
	int err;
	struct spawn_job_data *data; /* spawn.c's */
};

/* argv is copied; stdin_fd must stay open until the job has run; the job
 * owns output_fd (the probe's stdout and stderr) and closes it once the
 * probe has its copy. NULL with err filled on failure. */
struct spawn_job *spawn_job_new(char *const *argv, int stdin_fd, int output_fd, char *err,
				size_t errlen);
/* Starts the probe, on the spawner's thread (or, where there is none, on
 * the loop's): one job at a time; it neither logs nor allocates. */
void spawn_job_run(struct spawn_job *job);
/* "stage:ERRNAME" of a failed job, as spawn_worker reports failures. */
void spawn_job_error(const struct spawn_job *job, char *err, size_t errlen);
void spawn_job_free(struct spawn_job *job);

/* Frees spec->worker.envp_cache (spec_free() frees it too: it is one
 * allocation). */
void spawn_forget_env(struct worker_spec *w);

/* How the child is created, in order of preference; each later method is
 * the fallback of the one before. */
enum spawn_method {
	SPAWN_VFORK,  /* clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD): no page tables copied */
	SPAWN_CLONE3, /* clone3(CLONE_PIDFD): a full fork that returns a pidfd */
	SPAWN_FORK,   /* fork() + pidfd_open(): where clone3 is refused */
};

/* Test hook: the first method to try (the later ones stay fallbacks). A
 * method that failed with ENOSYS, EINVAL or EPERM is not tried again. */
void spawn_set_method(enum spawn_method first);
/* The method the next spawn will use. */
enum spawn_method spawn_method(void);

#endif
