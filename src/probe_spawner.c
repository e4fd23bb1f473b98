/*
 * probe_spawner.c - the thread that starts exec probes.
 *
 * Owns one thread, started with the first probe and joined at supd's end,
 * and the two queues between it and the loop: jobs to run, and jobs run.
 * The loop prepares a job (spawn.c), queues it and goes on; the thread
 * starts the probe with a vfork-style clone, which suspends only the
 * thread until the exec, and hands the job back through an eventfd the
 * loop watches.
 *
 * Why a thread: with 1,000 health checks a second, a probe forked from
 * the loop cost supd 0.7 ms of CPU each (its page tables copied, then a
 * copy-on-write fault and a TLB shootdown for each page supd wrote while
 * the copy lived), and a probe vforked from the loop made supd sleep in
 * every exec: on a loaded machine the child waits for a CPU, and so did
 * every restart behind it (bench/results/SERVICES.md).
 *
 * The probes are children of supd's process like any other, so the loop's
 * reaper collects them. Its one race with this thread: a probe that exits
 * before its job is back. probe_spawner_take(settle) waits for the job in
 * flight, so the reaper can always learn a probe's pid before it decides
 * the pid is an orphan's.
 *
 * The thread touches nothing of supd but these queues and the jobs in
 * them; it never logs, and every signal stays blocked in it (supd takes
 * signals through a signalfd on the loop's thread).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "probe_spawner.h"
#include "spawn.h"

struct probe_spawner {
	pthread_mutex_t lock;
	pthread_cond_t work;    /* the thread waits for jobs */
	pthread_cond_t settled; /* the loop waits for the job in flight */
	struct spawn_job *queue, **queue_tail;
	struct spawn_job *done, **done_tail;
	/* jobs taken from the queue, and jobs run, since the start */
	unsigned long long taken, run;
	bool quit, started, stopped;
	/* no thread (none could be created, or a test asked): jobs run on
	 * the caller's thread, which then sleeps in each exec */
	bool inline_only;
	pthread_t thread;
	int done_fd;
};

static void *
spawner_main(void *arg)
{
	struct probe_spawner *sp = arg;

	pthread_mutex_lock(&sp->lock);
	for (;;) {
		struct spawn_job *job;

		while (!sp->queue && !sp->quit)
			pthread_cond_wait(&sp->work, &sp->lock);
		if (sp->quit)
			break;
		job = sp->queue;
		sp->queue = job->next;
		if (!sp->queue)
			sp->queue_tail = &sp->queue;
		job->next = NULL;
		sp->taken++;
		pthread_mutex_unlock(&sp->lock);

		spawn_job_run(job);

		pthread_mutex_lock(&sp->lock);
		sp->run++;
		*sp->done_tail = job;
		sp->done_tail = &job->next;
		pthread_cond_broadcast(&sp->settled);
		/* cannot fail short of 2^64 - 1 unread wakeups */
		(void)eventfd_write(sp->done_fd, 1);
	}
	pthread_mutex_unlock(&sp->lock);
	return NULL;
}

struct probe_spawner *
probe_spawner_new(bool threaded)
{
	struct probe_spawner *sp = calloc(1, sizeof(*sp));

	if (!sp)
		return NULL;
	sp->inline_only = !threaded;
	sp->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sp->done_fd < 0) {
		free(sp);
		return NULL;
	}
	pthread_mutex_init(&sp->lock, NULL);
	pthread_cond_init(&sp->work, NULL);
	pthread_cond_init(&sp->settled, NULL);
	sp->queue_tail = &sp->queue;
	sp->done_tail = &sp->done;
	return sp;
}

int
probe_spawner_fd(const struct probe_spawner *sp)
{
	return sp->done_fd;
}

static int
spawner_start(struct probe_spawner *sp)
{
	sigset_t all, saved;
	int r;

	/* the thread inherits this mask: no signal is ever delivered to it */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	r = pthread_create(&sp->thread, NULL, spawner_main, sp);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (r != 0)
		return -r;
	sp->started = true;
	return 0;
}

/* Without a thread: the job runs here, and is back at the next take. */
static void
run_inline(struct probe_spawner *sp, struct spawn_job *job)
{
	spawn_job_run(job);
	pthread_mutex_lock(&sp->lock);
	sp->taken++;
	sp->run++;
	*sp->done_tail = job;
	sp->done_tail = &job->next;
	(void)eventfd_write(sp->done_fd, 1);
	pthread_mutex_unlock(&sp->lock);
}

int
probe_spawner_submit(struct probe_spawner *sp, struct spawn_job *job)
{
	if (sp->stopped)
		return -ECANCELED;
	job->next = NULL;
	if (!sp->started && !sp->inline_only) {
		int r = spawner_start(sp);

		if (r < 0) {
			/* a seccomp profile or a task limit: probes still run,
			 * at the old cost of a sleep in each exec */
			errno = -r;
			log_warn("cannot start the probe spawner's thread: probes start on the "
				 "loop");
			sp->inline_only = true;
		}
	}
	if (sp->inline_only) {
		run_inline(sp, job);
		return 0;
	}
	pthread_mutex_lock(&sp->lock);
	*sp->queue_tail = job;
	sp->queue_tail = &job->next;
	pthread_cond_signal(&sp->work);
	pthread_mutex_unlock(&sp->lock);
	return 0;
}

struct spawn_job *
probe_spawner_take(struct probe_spawner *sp, bool settle)
{
	struct spawn_job *jobs;
	eventfd_t ignored;

	if (!sp->started && !sp->inline_only)
		return NULL;
	pthread_mutex_lock(&sp->lock);
	/* Only for the job in flight now: the thread takes the next one as
	 * soon as it is done, and waiting for it to be idle could last as
	 * long as the whole queue. */
	for (unsigned long long in_flight = sp->taken; settle && sp->run < in_flight;)
		pthread_cond_wait(&sp->settled, &sp->lock);
	jobs = sp->done;
	sp->done = NULL;
	sp->done_tail = &sp->done;
	/* under the lock: a later job's wakeup is not read away */
	(void)eventfd_read(sp->done_fd, &ignored);
	pthread_mutex_unlock(&sp->lock);
	return jobs;
}

struct spawn_job *
probe_spawner_stop(struct probe_spawner *sp)
{
	struct spawn_job *never_run;

	sp->stopped = true;
	if (sp->started) {
		pthread_mutex_lock(&sp->lock);
		sp->quit = true;
		pthread_cond_signal(&sp->work);
		pthread_mutex_unlock(&sp->lock);
		/* at most the job in flight finishes: one clone, until its exec */
		pthread_join(sp->thread, NULL);
		sp->started = false;
	}
	never_run = sp->queue;
	sp->queue = NULL;
	sp->queue_tail = &sp->queue;
	for (struct spawn_job *job = never_run; job; job = job->next) {
		job->pid = 0;
		job->stage = "spawn";
		job->err = ECANCELED;
	}
	/* the jobs run, then the ones that never will */
	*sp->done_tail = never_run;
	never_run = sp->done;
	sp->done = NULL;
	sp->done_tail = &sp->done;
	return never_run;
}

void
probe_spawner_free(struct probe_spawner *sp)
{
	struct spawn_job *left;

	if (!sp)
		return;
	left = probe_spawner_stop(sp);
	while (left) {
		struct spawn_job *next = left->next;

		spawn_job_free(left);
		left = next;
	}
	close(sp->done_fd);
	pthread_cond_destroy(&sp->settled);
	pthread_cond_destroy(&sp->work);
	pthread_mutex_destroy(&sp->lock);
	free(sp);
}
