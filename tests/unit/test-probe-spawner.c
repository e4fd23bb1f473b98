/*
 * test-probe-spawner.c - the probe spawner's thread against real processes.
 *
 * Jobs (spawn_job_new) go through probe_spawner_submit() and come back from
 * probe_spawner_take() with the probe's pid; the probe's output reaches its
 * pipe, which is at end of file once the probe is gone (the job closed its
 * copy of the write end); the probes are children of this process that a
 * waitid(P_ALL) on the main thread reaps, as supd's reaper does; the job
 * owns its argv; stop() accounts for every job. Each case runs with every
 * way of creating a process (vfork-style clone, clone3, fork). Waits are
 * polls with deadlines.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "probe_spawner.h"
#include "spawn.h"

#define DEADLINE_MS 10000

static const enum spawn_method methods[] = {SPAWN_VFORK, SPAWN_CLONE3, SPAWN_FORK};

static void
restore_method(void)
{
	spawn_set_method(SPAWN_VFORK);
}

TestSuite(probe_spawner, .fini = restore_method);

static int null_fd = -1;

static struct spawn_job *
job_for(char *const *argv, int *out_read)
{
	int p[2];
	char err[48];
	struct spawn_job *job;

	if (null_fd < 0)
		null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	job = spawn_job_new(argv, null_fd, p[1], err, sizeof(err));
	cr_assert(job, "spawn_job_new: %s", err);
	*out_read = p[0];
	return job;
}

/* Every job submitted so far, back from the thread (settled). */
static struct spawn_job *
take_all(struct probe_spawner *sp, size_t n)
{
	struct spawn_job *all = NULL, **tail = &all;
	size_t got = 0;

	for (int waited = 0; got < n; waited += 10) {
		struct pollfd pfd = {.fd = probe_spawner_fd(sp), .events = POLLIN};
		struct spawn_job *jobs;

		cr_assert(waited < DEADLINE_MS, "only %zu of %zu jobs came back", got, n);
		poll(&pfd, 1, 10);
		jobs = probe_spawner_take(sp, false);
		*tail = jobs;
		for (; *tail; tail = &(*tail)->next)
			got++;
	}
	return all;
}

static int
reap(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	cr_assert(waitid(P_PID, (id_t)pid, &si, WEXITED) == 0, "waitid %d: %s", (int)pid,
		  strerror(errno));
	return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

static size_t
read_all(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;

	/* blocking: end of file comes when the probe and the job have both
	 * closed the write end */
	while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

Test(probe_spawner, output_exit_status_and_end_of_file)
{
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
		struct probe_spawner *sp = probe_spawner_new(true);
		struct spawn_job *job;
		char buf[64];
		int rd;

		spawn_set_method(methods[m]);
		cr_assert(sp);
		job = job_for(argv, &rd);
		cr_assert(probe_spawner_submit(sp, job) == 0);
		cr_assert(take_all(sp, 1) == job);
		cr_assert(job->pid > 0, "method %zu: %s", m, strerror(job->err));
		read_all(rd, buf, sizeof(buf));
		cr_assert_str_eq(buf, "out\nerr\n", "method %zu", m);
		cr_assert_eq(reap(job->pid), 3);
		close(rd);
		spawn_job_free(job);
		probe_spawner_free(sp);
	}
}

Test(probe_spawner, many_jobs_in_order_reaped_by_p_all_on_the_main_thread)
{
	enum {
		N = 50
	};

	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		char *argv[] = {"/bin/true", NULL};
		struct probe_spawner *sp = probe_spawner_new(true);
		struct spawn_job *jobs[N], *back;
		int rd[N];
		size_t i = 0, reaped = 0;

		spawn_set_method(methods[m]);
		for (i = 0; i < N; i++) {
			jobs[i] = job_for(argv, &rd[i]);
			cr_assert(probe_spawner_submit(sp, jobs[i]) == 0);
		}
		back = take_all(sp, N);
		for (i = 0; back; back = back->next, i++) {
			cr_assert(back == jobs[i], "jobs come back in the order submitted");
			cr_assert(back->pid > 0);
		}
		/* supd's reaper: any child of the process, whichever thread
		 * created it */
		while (reaped < N) {
			siginfo_t si;
			bool ours = false;

			memset(&si, 0, sizeof(si));
			cr_assert(waitid(P_ALL, 0, &si, WEXITED) == 0, "%s", strerror(errno));
			for (i = 0; i < N; i++)
				ours |= jobs[i]->pid == si.si_pid;
			cr_assert(ours, "reaped %d, not one of the probes", (int)si.si_pid);
			cr_assert_eq(si.si_status, 0);
			reaped++;
		}
		for (i = 0; i < N; i++) {
			char buf[8];

			cr_assert_eq(read_all(rd[i], buf, sizeof(buf)), 0);
			close(rd[i]);
			spawn_job_free(jobs[i]);
		}
		probe_spawner_free(sp);
	}
}

Test(probe_spawner, without_a_thread_a_job_runs_at_submit)
{
	/* where no thread can be created: the same jobs, run by the caller */
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		char *argv[] = {"/bin/sh", "-c", "echo inline; exit 4", NULL};
		struct probe_spawner *sp = probe_spawner_new(false);
		struct pollfd pfd;
		struct spawn_job *job;
		char buf[32];
		int rd;

		spawn_set_method(methods[m]);
		cr_assert(sp);
		job = job_for(argv, &rd);
		cr_assert(probe_spawner_submit(sp, job) == 0);
		pfd = (struct pollfd){.fd = probe_spawner_fd(sp), .events = POLLIN};
		cr_assert_eq(poll(&pfd, 1, 0), 1, "method %zu: back before submit returned", m);
		cr_assert(probe_spawner_take(sp, false) == job && job->pid > 0);
		cr_assert_eq(poll(&pfd, 1, 0), 0, "the wakeup was read with the job");
		read_all(rd, buf, sizeof(buf));
		cr_assert_str_eq(buf, "inline\n");
		cr_assert_eq(reap(job->pid), 4);
		close(rd);
		spawn_job_free(job);
		job = job_for(argv, &rd);
		cr_assert(probe_spawner_stop(sp) == NULL);
		cr_assert_eq(probe_spawner_submit(sp, job), -ECANCELED);
		spawn_job_free(job);
		close(rd);
		probe_spawner_free(sp);
	}
}

Test(probe_spawner, a_job_owns_its_argv)
{
	char *text = strdup("echo copied");
	char *argv[] = {"/bin/sh", "-c", text, NULL};
	struct probe_spawner *sp = probe_spawner_new(true);
	struct spawn_job *job;
	char buf[32];
	int rd;

	job = job_for(argv, &rd);
	/* what the spec held is gone before the thread runs the job */
	memset(text, 'x', strlen(text));
	free(text);
	cr_assert(probe_spawner_submit(sp, job) == 0);
	cr_assert(take_all(sp, 1) == job && job->pid > 0);
	read_all(rd, buf, sizeof(buf));
	cr_assert_str_eq(buf, "copied\n");
	cr_assert_eq(reap(job->pid), 0);
	close(rd);
	spawn_job_free(job);
	probe_spawner_free(sp);
}

Test(probe_spawner, a_program_that_cannot_run_exits_127)
{
	char *argv[] = {"/nonexistent/probe", NULL};
	struct probe_spawner *sp = probe_spawner_new(true);
	struct spawn_job *job;
	char buf[8];
	int rd;

	job = job_for(argv, &rd);
	cr_assert(probe_spawner_submit(sp, job) == 0);
	cr_assert(take_all(sp, 1) == job && job->pid > 0);
	cr_assert_eq(reap(job->pid), 127);
	read_all(rd, buf, sizeof(buf));
	close(rd);
	spawn_job_free(job);
	probe_spawner_free(sp);
}

Test(probe_spawner, stop_accounts_for_every_job)
{
	enum {
		N = 200
	};
	char *argv[] = {"/bin/true", NULL};
	struct probe_spawner *sp = probe_spawner_new(true);
	struct spawn_job *job, *left;
	size_t run = 0, cancelled = 0;
	int rd[N];

	for (size_t i = 0; i < N; i++) {
		job = job_for(argv, &rd[i]);
		cr_assert(probe_spawner_submit(sp, job) == 0);
	}
	left = probe_spawner_stop(sp);
	for (job = left; job; job = job->next) {
		if (job->pid > 0) {
			int status = reap(job->pid);

			run++;
			/* the thread is gone: its probes' parent-death signal
			 * may have come first (supd kills them there anyway) */
			cr_assert(status == 0 || status == 128 + SIGKILL, "status %d", status);
		} else {
			cr_assert_eq(job->err, ECANCELED);
			cancelled++;
		}
	}
	cr_assert_eq(run + cancelled, N, "%zu run + %zu cancelled", run, cancelled);
	job = job_for(argv, &rd[0]);
	cr_assert_eq(probe_spawner_submit(sp, job), -ECANCELED, "no job after stop");
	spawn_job_free(job);
	while (left) {
		job = left->next;
		spawn_job_free(left);
		left = job;
	}
	for (size_t i = 0; i < N; i++)
		close(rd[i]);
	probe_spawner_free(sp);
}

Test(probe_spawner, settle_waits_for_the_job_in_flight)
{
	/* Whatever the moment of the take, a job that left the queue is
	 * back once take(settle) returns: the reaper's guarantee. */
	char *argv[] = {"/bin/true", NULL};
	struct probe_spawner *sp = probe_spawner_new(true);

	for (int round = 0; round < 200; round++) {
		struct spawn_job *job, *back;
		siginfo_t si;
		int rd;

		job = job_for(argv, &rd);
		cr_assert(probe_spawner_submit(sp, job) == 0);
		/* the probe exits: its pid is now a zombie of ours (ECHILD:
		 * the thread has not created it yet) */
		for (int waited = 0;; waited++) {
			memset(&si, 0, sizeof(si));
			if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) == 0)
				break;
			cr_assert(errno == ECHILD && waited < DEADLINE_MS, "%s", strerror(errno));
			usleep(1000); /* a deadline poll */
		}
		back = probe_spawner_take(sp, true);
		cr_assert(back == job && !back->next && back->pid == si.si_pid,
			  "round %d: the exited probe's job is back", round);
		cr_assert_eq(reap(job->pid), 0);
		close(rd);
		spawn_job_free(job);
	}
	probe_spawner_free(sp);
}
