/*
 * probe.c - readiness probes and health checks (SPEC 7.2, 7.3).
 *
 * Owns, per worker, the one probe that may be running for it: the read end
 * of its `ready: {fd: N}` pipe, a readiness attempt (`exec` or `tcp`) while
 * it is starting, or a health check while it is running. An exec probe is
 * a child process of supd in a session of its own, with its output in a
 * pipe, started off the loop by the probe spawner's thread
 * (probe_spawner.c): its pid arrives a moment after the attempt began. A
 * tcp probe is a non-blocking connect. Each attempt has a deadline
 * (an sd-event time source) and is killed or closed when it runs out, so a
 * probe that hangs costs nothing but its own process. The reaper hands
 * probe pids here (probes_reaped) before it looks for workers.
 *
 * The core decides what a result means: a readiness success is
 * core_child_ready(), a run of failed health checks core_child_unhealthy().
 * Checks run only while the worker is running: the core's events end them
 * when it starts stopping or exits (probes_event).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"
#include "probe_spawner.h"
#include "spawn.h"

/* A readiness attempt gets this long before it is abandoned and tried
 * again (it never outlives the worker's start_timeout). */
#define PROBE_READY_ATTEMPT_MS 1000
#define PROBE_OUTPUT_MAX       200
#define PROBE_PID_BUCKETS      1024
/* Below everything else of the loop: with 1,000 checks a second, probe
 * deadlines and output must not delay a reap, a signal, a core deadline or
 * a client (sd-event dispatches one source at a time, oldest first within
 * a priority). */
#define PROBE_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)

enum probe_kind {
	PROBE_NONE,
	PROBE_READY, /* the worker is starting */
	PROBE_HEALTH,
};

struct probe {
	struct probes *owner;
	struct child *child;
	enum probe_kind kind;
	const struct probe_spec *spec;

	int ready_fd; /* ready: {fd}: our end of the worker's pipe */
	sd_event_source *ready_io;

	sd_event_source *timer; /* next attempt, or the running attempt's deadline */
	bool attempt_running;
	struct spawn_job *job; /* an exec probe on its way: no pid yet */
	pid_t pid;             /* a running exec probe */
	struct probe *pid_next;
	bool timed_out;
	int out_fd; /* its stdout and stderr */
	sd_event_source *out_io;
	int sock; /* a running tcp probe */
	sd_event_source *sock_io;

	unsigned failures;
	char output[PROBE_OUTPUT_MAX + 1];
	size_t output_len;
};

struct probes {
	sd_event *event;
	struct core **core;
	uint64_t (*now_ms)(void *);
	void *now_ctx;
	struct probe *by_pid[PROBE_PID_BUCKETS];
	struct probe_spawner *spawner;
	sd_event_source *spawned_io;
	int null_fd; /* every exec probe's stdin */
};

static uint64_t
now_ms(struct probes *ps)
{
	return ps->now_ms(ps->now_ctx);
}

static struct probe **
pid_bucket(struct probes *ps, pid_t pid)
{
	return &ps->by_pid[(unsigned)pid % PROBE_PID_BUCKETS];
}

static void
pid_unlink(struct probe *p)
{
	struct probe **at = pid_bucket(p->owner, p->pid);

	for (; *at; at = &(*at)->pid_next) {
		if (*at == p) {
			*at = p->pid_next;
			break;
		}
	}
	p->pid_next = NULL;
}

static void
source_drop(sd_event_source **s)
{
	*s = sd_event_source_disable_unref(*s);
}

static void
fd_drop(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Kills an exec probe nobody waits for any more, and keeps its pid known
 * so that the reaper does not take it for an orphan; with no owner, its
 * result is dropped. */
static void
ghost_add(struct probes *ps, pid_t pid)
{
	struct probe *ghost = calloc(1, sizeof(*ghost));

	kill(-pid, SIGKILL);
	if (ghost) {
		ghost->owner = ps;
		ghost->pid = pid;
		ghost->ready_fd = ghost->out_fd = ghost->sock = -1;
		ghost->pid_next = *pid_bucket(ps, pid);
		*pid_bucket(ps, pid) = ghost;
	}
}

/* Ends the running attempt: its process is killed (and reaped later, by
 * pid, as a probe that nobody waits for), its socket closed. */
static void
attempt_abandon(struct probe *p)
{
	if (p->job) {
		/* still on its way: killed when it comes back (spawned_take) */
		p->job->owner = NULL;
		p->job = NULL;
	}
	if (p->pid > 0) {
		pid_unlink(p);
		ghost_add(p->owner, p->pid);
		p->pid = 0;
	}
	source_drop(&p->out_io);
	fd_drop(&p->out_fd);
	source_drop(&p->sock_io);
	fd_drop(&p->sock);
	p->attempt_running = false;
	p->timed_out = false;
}

static void
probe_stop(struct probe *p)
{
	attempt_abandon(p);
	source_drop(&p->timer);
	p->kind = PROBE_NONE;
	p->spec = NULL;
	p->failures = 0;
}

static void
ready_fd_close(struct probe *p)
{
	source_drop(&p->ready_io);
	fd_drop(&p->ready_fd);
}

static struct probe *
probe_get(struct probes *ps, struct child *c)
{
	struct probe *p = node_probe(c);

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->owner = ps;
	p->child = c;
	p->ready_fd = p->out_fd = p->sock = -1;
	node_set_probe(c, p);
	return p;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void
timer_at(struct probe *p, uint64_t deadline_ms)
{
	int r;

	if (p->timer) {
		r = sd_event_source_set_time(p->timer, deadline_ms * 1000);
		if (r >= 0)
			r = sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
	} else {
		r = sd_event_add_time(p->owner->event, &p->timer, CLOCK_MONOTONIC,
				      deadline_ms * 1000, 1, on_timer, p);
		if (r >= 0)
			r = sd_event_source_set_priority(p->timer, PROBE_PRIORITY);
	}
	if (r < 0) {
		errno = -r;
		log_warn("%s: cannot arm a probe deadline", node_path(p->child));
	}
}

static void
output_add(struct probe *p, const char *buf, size_t n)
{
	size_t room = PROBE_OUTPUT_MAX - p->output_len;

	if (n > room)
		n = room;
	memcpy(p->output + p->output_len, buf, n);
	p->output_len += n;
	p->output[p->output_len] = '\0';
}

static void
output_set(struct probe *p, const char *text)
{
	p->output_len = 0;
	p->output[0] = '\0';
	output_add(p, text, strlen(text));
}

/* The result of one attempt. */
static void
attempt_done(struct probe *p, bool ok)
{
	struct probes *ps = p->owner;
	struct child *c = p->child;
	uint64_t now = now_ms(ps);

	attempt_abandon(p);
	if (p->kind == PROBE_READY) {
		if (ok) {
			probe_stop(p);
			core_child_ready(*ps->core, c, now);
			return;
		}
		timer_at(p, now + (uint64_t)p->spec->interval_ms);
		return;
	}
	if (p->kind != PROBE_HEALTH)
		return;
	if (ok) {
		p->failures = 0;
	} else if (++p->failures >= p->spec->retries) {
		char output[PROBE_OUTPUT_MAX + 1];
		/* the core kills it; its events end this probe */
		memcpy(output, p->output, p->output_len + 1);
		probe_stop(p);
		core_child_unhealthy(*ps->core, c, output, now);
		return;
	}
	timer_at(p, now + (uint64_t)p->spec->interval_ms);
}

/* ---- exec probes ---- */

static int
on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct probe *p = userdata;
	char buf[512];
	ssize_t n;

	(void)s;
	(void)revents;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		output_add(p, buf, (size_t)n);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		source_drop(&p->out_io);
		fd_drop(&p->out_fd);
	}
	return 0;
}

static int
exec_start(struct probe *p)
{
	struct probes *ps = p->owner;
	struct spawn_job *job;
	char err[48];
	int pipefd[2], r;

	if (!ps->spawner) {
		output_set(p, "spawn:ENOMEM");
		return -ENOMEM;
	}
	if (ps->null_fd < 0) {
		ps->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (ps->null_fd < 0) {
			r = -errno;
			output_set(p, "stdin: cannot open /dev/null");
			return r;
		}
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	/* the job owns the write end from here */
	job = spawn_job_new(p->spec->argv, ps->null_fd, pipefd[1], err, sizeof(err));
	if (!job) {
		close(pipefd[1]);
		close(pipefd[0]);
		output_set(p, err);
		return -ENOMEM;
	}
	r = probe_spawner_submit(ps->spawner, job);
	if (r < 0) {
		spawn_job_free(job);
		close(pipefd[0]);
		output_set(p, "spawn: supd is stopping"); /* the only refusal */
		return r;
	}
	job->owner = p;
	p->job = job;
	p->out_fd = pipefd[0];
	/* its deadline is armed when the spawner has started it (spawned) */
	if (sd_event_add_io(p->owner->event, &p->out_io, p->out_fd, EPOLLIN, on_output, p) < 0)
		fd_drop(&p->out_fd);
	else
		sd_event_source_set_priority(p->out_io, PROBE_PRIORITY);
	return 0;
}

static int64_t
attempt_limit_ms(const struct probe *p)
{
	return p->kind == PROBE_HEALTH ? p->spec->timeout_ms : PROBE_READY_ATTEMPT_MS;
}

/* A job back from the spawner's thread: the probe's pid becomes known, and
 * its timeout starts. (From its start, not from the request: a check
 * queued behind others has not used any of its time.) */
static void
spawned(struct probes *ps, struct spawn_job *job)
{
	struct probe *p = job->owner;
	char err[48];

	if (!p) {
		/* its attempt was abandoned meanwhile */
		if (job->pid > 0)
			ghost_add(ps, job->pid);
		spawn_job_free(job);
		return;
	}
	p->job = NULL;
	if (job->pid > 0) {
		p->pid = job->pid;
		p->pid_next = *pid_bucket(ps, p->pid);
		*pid_bucket(ps, p->pid) = p;
		spawn_job_free(job);
		timer_at(p, now_ms(ps) + (uint64_t)attempt_limit_ms(p));
		return;
	}
	spawn_job_error(job, err, sizeof(err));
	spawn_job_free(job);
	output_set(p, err);
	attempt_done(p, false);
}

/* `settle`: also the job in flight (the reaper's case: a pid it cannot
 * place may be a probe whose job is not back yet). */
static void
spawned_take(struct probes *ps, bool settle)
{
	struct spawn_job *job = probe_spawner_take(ps->spawner, settle);

	while (job) {
		struct spawn_job *next = job->next;

		spawned(ps, job);
		job = next;
	}
}

static int
on_spawned(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	spawned_take(userdata, false);
	return 0;
}

static struct probe *
probe_by_pid(struct probes *ps, pid_t pid)
{
	struct probe *p;

	for (p = *pid_bucket(ps, pid); p; p = p->pid_next)
		if (p->pid == pid)
			return p;
	return NULL;
}

bool
probes_reaped(struct probes *ps, pid_t pid, int code, bool signaled)
{
	struct probe *p;
	char text[64];

	p = probe_by_pid(ps, pid);
	if (!p && ps->spawner) {
		/* the jobs already back first: waiting for the one in flight
		 * is needed only when the probe is that one */
		spawned_take(ps, false);
		p = probe_by_pid(ps, pid);
		if (!p) {
			spawned_take(ps, true);
			p = probe_by_pid(ps, pid);
		}
	}
	if (!p)
		return false;
	pid_unlink(p);
	if (!p->child) { /* abandoned */
		free(p);
		return true;
	}
	p->pid = 0;
	if (p->out_fd >= 0) /* what is left in the pipe */
		on_output(NULL, p->out_fd, 0, p);
	if (p->timed_out) {
		snprintf(text, sizeof(text), "timed out after %lld ms",
			 (long long)p->spec->timeout_ms);
		output_set(p, text);
	} else if (signaled && p->output_len == 0) {
		snprintf(text, sizeof(text), "killed by %s",
			 signal_name(code) ? signal_name(code) : "a signal");
		output_set(p, text);
	} else if (!signaled && code == 127 && p->output_len == 0) {
		output_set(p, "cannot execute the probe");
	}
	attempt_done(p, !signaled && code == 0 && !p->timed_out);
	return true;
}

/* ---- tcp probes ---- */

static void
connect_result(struct probe *p, int err)
{
	char text[80];

	if (err == 0) {
		output_set(p, "");
		attempt_done(p, true);
		return;
	}
	snprintf(text, sizeof(text), "connect %s: %s", p->spec->address,
		 strerrorname_np(err) ? strerrorname_np(err) : "error");
	output_set(p, text);
	attempt_done(p, false);
}

static int
on_connect(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct probe *p = userdata;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)s;
	(void)revents;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	connect_result(p, err);
	return 0;
}

static int
tcp_start(struct probe *p)
{
	const struct sockaddr *sa = (const struct sockaddr *)p->spec->sockaddr;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	p->sock = fd;
	if (connect(fd, sa, p->spec->sockaddr_len) == 0) {
		connect_result(p, 0);
		return 0;
	}
	if (errno != EINPROGRESS && errno != EAGAIN) {
		connect_result(p, errno);
		return 0;
	}
	if (sd_event_add_io(p->owner->event, &p->sock_io, fd, EPOLLOUT, on_connect, p) < 0)
		return -ENOMEM;
	sd_event_source_set_priority(p->sock_io, PROBE_PRIORITY);
	return 1;
}

/* ---- attempts ---- */

static void
attempt_start(struct probe *p)
{
	uint64_t now = now_ms(p->owner);
	int r;

	p->output_len = 0;
	p->output[0] = '\0';
	p->attempt_running = true;
	p->timed_out = false;
	if (p->spec->argv) {
		r = exec_start(p);
		if (r == 0) /* on its way: its deadline comes with its pid */
			return;
	} else {
		r = tcp_start(p);
		if (r == 0) /* finished at once; its result is handled */
			return;
	}
	if (r < 0) {
		if (p->output_len == 0)
			output_set(p, strerrorname_np(-r) ? strerrorname_np(-r) : "error");
		attempt_done(p, false);
		return;
	}
	timer_at(p, now + (uint64_t)attempt_limit_ms(p));
}

static int
on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct probe *p = userdata;

	(void)s;
	(void)usec;
	if (p->kind == PROBE_NONE)
		return 0;
	if (p->kind == PROBE_HEALTH && core_shutting_down(*p->owner->core)) {
		/* the tree is going down: no check would change anything,
		 * and each would delay the ordered shutdown */
		probe_stop(p);
		return 0;
	}
	if (!p->attempt_running) {
		attempt_start(p);
		return 0;
	}
	/* the attempt's deadline */
	if (p->pid > 0) {
		/* killed; the reaper reports it as timed out */
		p->timed_out = true;
		kill(-p->pid, SIGKILL);
		return 0;
	}
	output_set(p, "timed out");
	attempt_done(p, false);
	return 0;
}

static int
on_ready_fd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct probe *p = userdata;
	struct probes *ps = p->owner;
	char buf[256];
	ssize_t n;

	(void)s;
	(void)revents;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (memchr(buf, '\n', (size_t)n)) {
			struct child *c = p->child;
			ready_fd_close(p);
			core_child_ready(*ps->core, c, now_ms(ps));
			return 0;
		}
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		ready_fd_close(p); /* it closed it without a line: the deadline decides */
	return 0;
}

void
probes_spawned(struct probes *ps, struct child *c, int ready_fd)
{
	const struct worker_spec *w = &node_spec(c)->worker;
	struct probe *p;

	if (ready_fd < 0 && w->ready != READY_EXEC && w->ready != READY_TCP)
		return;
	p = probe_get(ps, c);
	if (!p) {
		/* the start deadline will fail it */
		log_warnx("%s: no memory for its readiness probe", node_path(c));
		if (ready_fd >= 0)
			close(ready_fd);
		return;
	}
	probe_stop(p);
	ready_fd_close(p);
	if (ready_fd >= 0) {
		p->ready_fd = ready_fd;
		if (sd_event_add_io(ps->event, &p->ready_io, ready_fd, EPOLLIN, on_ready_fd, p) <
		    0) {
			log_warnx("%s: cannot watch its readiness descriptor", node_path(c));
			ready_fd_close(p);
		}
		return;
	}
	p->kind = PROBE_READY;
	p->spec = &w->ready_probe;
	/* the first attempt from the loop: the core has not yet marked the
	 * worker as starting, and an attempt can succeed at once */
	timer_at(p, now_ms(ps));
}

static void
health_begin(struct probes *ps, struct child *c)
{
	struct probe *p = probe_get(ps, c);
	uint64_t half;

	if (!p) {
		log_warnx("%s: no memory for its health checks", node_path(c));
		return;
	}

	probe_stop(p);
	p->kind = PROBE_HEALTH;
	p->spec = &node_spec(c)->worker.health;
	/* The first check comes between half an interval and an interval
	 * after the start, spread by the pid: workers started together (a
	 * tree, a group restart) are not all checked in the same instant. */
	half = (uint64_t)p->spec->interval_ms / 2;
	timer_at(p, now_ms(ps) + (uint64_t)p->spec->interval_ms - half +
			    ((uint64_t)node_pid(c) * 2654435761u) % (half + 1));
}

void
probes_event(struct probes *ps, struct child *c, const struct core_event *ev)
{
	struct probe *p = node_probe(c);

	switch (ev->type) {
	case EV_CHILD_STARTED:
		if (p) {
			probe_stop(p);
			ready_fd_close(p);
		}
		if (node_spec(c)->worker.has_health)
			health_begin(ps, c);
		break;
	case EV_CHILD_STOPPING:
	case EV_CHILD_EXITED:
	case EV_CHILD_START_FAILED:
	case EV_CHILD_UNHEALTHY:
		if (p) {
			probe_stop(p);
			ready_fd_close(p);
		}
		break;
	default:
		break;
	}
}

void
probes_forget(struct probes *ps, struct child *c)
{
	struct probe *p = node_probe(c);

	(void)ps;
	if (!p)
		return;
	probe_stop(p);
	ready_fd_close(p);
	node_set_probe(c, NULL);
	free(p);
}

struct probes *
probes_new(sd_event *event, struct core **core, uint64_t (*now)(void *), void *now_ctx)
{
	struct probes *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	ps->event = event;
	ps->core = core;
	ps->now_ms = now;
	ps->now_ctx = now_ctx;
	ps->null_fd = -1;
	/* without it, every exec probe fails (and says why); the rest of
	 * supd does not depend on it */
	ps->spawner = probe_spawner_new(true);
	if (ps->spawner && sd_event_add_io(event, &ps->spawned_io, probe_spawner_fd(ps->spawner),
					   EPOLLIN, on_spawned, ps) < 0) {
		probe_spawner_free(ps->spawner);
		ps->spawner = NULL;
	}
	if (!ps->spawner)
		log_warnx("no thread for exec probes: every exec probe will fail");
	else
		sd_event_source_set_priority(ps->spawned_io, PROBE_PRIORITY);
	return ps;
}

/* The spawner's thread joined, the jobs it still held are settled: a probe
 * that started is killed (and, with `reap`, waited for) like the rest. */
static void
spawner_end(struct probes *ps, bool reap)
{
	struct spawn_job *job;

	if (!ps->spawner)
		return;
	job = probe_spawner_stop(ps->spawner);
	while (job) {
		struct spawn_job *next = job->next;
		struct probe *p = job->owner;
		siginfo_t si;

		if (p)
			p->job = NULL;
		if (job->pid > 0) {
			kill(-job->pid, SIGKILL);
			while (reap && waitid(P_PID, (id_t)job->pid, &si, WEXITED) < 0 &&
			       errno == EINTR)
				;
		}
		spawn_job_free(job);
		job = next;
	}
	source_drop(&ps->spawned_io);
	probe_spawner_free(ps->spawner);
	ps->spawner = NULL;
}

void
probes_end_all(struct probes *ps)
{
	if (!ps)
		return;
	spawner_end(ps, true);
	for (size_t i = 0; i < PROBE_PID_BUCKETS; i++) {
		while (ps->by_pid[i]) {
			struct probe *p = ps->by_pid[i];
			siginfo_t si;

			ps->by_pid[i] = p->pid_next;
			p->pid_next = NULL;
			/* The kill of an abandoned attempt may still be on its
			 * way: wait for the death, not only for what has
			 * already exited (the loop's last reap). */
			kill(-p->pid, SIGKILL);
			while (waitid(P_PID, (id_t)p->pid, &si, WEXITED) < 0 && errno == EINTR)
				;
			p->pid = 0;
			if (!p->child)
				free(p);
		}
	}
}

void
probes_free(struct probes *ps)
{
	if (!ps)
		return;
	spawner_end(ps, false);
	fd_drop(&ps->null_fd);
	for (size_t i = 0; i < PROBE_PID_BUCKETS; i++) {
		while (ps->by_pid[i]) {
			struct probe *p = ps->by_pid[i];
			ps->by_pid[i] = p->pid_next;
			if (!p->child) {
				free(p);
			} else {
				/* a live probe's owner frees it (probes_forget) */
				p->pid_next = NULL;
			}
		}
	}
	free(ps);
}
