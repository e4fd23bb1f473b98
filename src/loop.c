/*
 * loop.c - the sd-event shell around the supervision core.
 *
 * Owns the sd_event loop and everything that turns the world into core
 * calls and core decisions into the world:
 *   - signals: SIGTERM/SIGINT shut the tree down, SIGHUP reopens the files
 *     supd writes and reloads the config file (reload.c, SPEC 7.5), SIGCHLD
 *     runs the reaper, forwarded signals go to every running worker;
 *   - the reaper: the one and only waitid() caller after start. It reaps
 *     every zombie, ours and orphans alike, and finds the child behind a pid
 *     in O(1) through the core's index. No sd-event child source is ever
 *     registered: a P_ALL reaper next to them breaks sd_event_run with
 *     -ECHILD (shared/notes/platform.md section 3). supd holds no pidfd per
 *     worker: as the only reaper, it can signal by pid without racing pid
 *     reuse, and N descriptors would slow every later spawn;
 *   - deadlines: one sd-event time source per armed core timer, accuracy
 *     1 us (the default 250 ms slack would ruin shutdown timeouts);
 *   - restart retries: the core's deferred work runs from an eventfd, one
 *     turn per loop iteration, behind whatever else is pending (on_wake);
 *   - $NOTIFY_SOCKET for `ready: notify` workers (an abstract datagram
 *     socket with SO_PASSCRED, so the sender's pid is the kernel's word);
 *   - readiness probes and health checks, through probe.c (whose probe
 *     processes the reaper hands over);
 *   - sd_notify towards systemd, and the control socket's lifetime;
 *   - `supd -- PROGRAM` as tini does it: SIGTERM/SIGINT become PROGRAM's
 *     stop signal, PROGRAM's status becomes supd's, and PROGRAM gets the
 *     terminal;
 *   - as PID 1, the end of the namespace: what is left after the tree gets
 *     SIGTERM, 2 s, then SIGKILL (SPEC 7.7);
 *   - with `cgroup: true` (cgroup.c): the worker's cgroup made ready before
 *     each spawn, cgroup.kill with every SIGKILL the core sends a worker and
 *     when a worker has exited (SPEC 7.7).
 *
 * Nothing here polls: without events, deadlines or clients, supd sleeps in
 * epoll_wait until the next one.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "config.h"
#include "control.h"
#include "events.h"
#include "log.h"
#include "loop.h"
#include "metrics_http.h"
#include "output.h"
#include "probe.h"
#include "reload.h"
#include "spawn.h"
#include "supervisor.h"
#include "writer.h"

struct loop {
	sd_event *event;
	struct core *core;
	struct control *control;
	struct metrics_http *metrics_http; /* metrics: {listen: ...} */
	struct probes *probes;
	/* The core's deferred work (restart retries) is a message the loop
	 * sends itself: a count on this eventfd, read back through epoll like
	 * any other input (see on_wake). */
	int wake_fd;
	sd_event_source *wake;
	sd_event_source *notify_source;
	char notify_path[64];
	uint64_t forward_signals; /* bit sig-1 */
	uint64_t started_us;
	bool stopping;
	int exit_code;
	bool tree_started;
	bool root_gone; /* fx_stopped: the root supervisor is gone */
	bool exec_failure_status;
	char first_start_error[48]; /* the first start failure before the tree started */
	uint64_t core_now_ms;       /* the `now` last given to the core */

	/* `supd -- PROGRAM` (SPEC section 4): a drop-in for tini. */
	bool dashdash;
	bool program_exited;
	struct exit_status program_status; /* PROGRAM's last exit */
	bool hand_terminal; /* stdin is our controlling terminal and we are its foreground */
	char exit_why[320]; /* why supd exits, for its last log line */
	bool exit_expected; /* the why is an orderly outcome (stop, auto_shutdown) */
};

/* The one child of `supd -- PROGRAM`. */
#define DASHDASH_PATH "/main"

/* As PID 1, how long processes left in the namespace get after SIGTERM. */
#define PID1_TEARDOWN_GRACE_MS 2000

static uint64_t
clock_ms_rounded_up(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec + 999999) / 1000000;
}

/* Now, in milliseconds rounded up, as given to the core: a deadline
 * computed from it is never early. Read fresh rather than sd_event_now()'s
 * iteration timestamp, which lags behind the moment a stop signal is
 * actually sent. The value is remembered so that fx_timer_arm() can tell
 * how stale the core's `now` has become by the time it arms a deadline. */
static uint64_t
mono_ms(struct loop *loop)
{
	loop->core_now_ms = clock_ms_rounded_up();
	return loop->core_now_ms;
}

static uint64_t
probe_now(void *ctx)
{
	(void)ctx;
	return clock_ms_rounded_up();
}

/* ---- effects: what the core asks for ---- */

static int
fx_spawn(void *ctx, struct child *c, pid_t *pid, char *err, size_t errlen)
{
	struct loop *loop = ctx;
	struct spawn_options opt = {
		.notify_socket = loop->notify_path[0] ? loop->notify_path : NULL,
		.take_terminal = loop->hand_terminal && strcmp(node_path(c), DASHDASH_PATH) == 0,
	};
	struct spawn_result res;
	int r = output_prepare(c, &opt.stdout_fd, &opt.stderr_fd, err, errlen);

	if (r < 0)
		return r;
	opt.capture = opt.stdout_fd >= 0;
	if (cgroup_active()) {
		r = cgroup_prepare(node_path(c), &node_spec(c)->worker, &opt.cgroup_procs_fd, err,
				   errlen);
		if (r < 0) {
			output_abort(c);
			return r;
		}
		opt.join_cgroup = true;
	}
	r = spawn_worker(node_spec(c), &opt, &res, err, errlen);
	if (opt.join_cgroup)
		close(opt.cgroup_procs_fd);
	if (r < 0) {
		/* the failed child was reaped by spawn_worker, not by
		 * reap_all: its cgroup goes here */
		if (opt.join_cgroup)
			cgroup_worker_gone(node_path(c));
		output_abort(c);
		return r;
	}
	output_started(c);
	/* supd keeps no descriptor per worker: N open pidfds would make every
	 * later spawn copy (and exec close) an N-entry file table. Signals go
	 * by pid, which cannot be reused while we have not reaped it. */
	if (res.pidfd >= 0)
		close(res.pidfd);
	*pid = res.pid;
	probes_spawned(loop->probes, c, res.ready_fd);
	return 0;
}

static void
fx_signal(void *ctx, struct child *c, int sig)
{
	pid_t pid = node_pid(c);
	int r;

	(void)ctx;
	if (pid <= 0)
		return;
	/* The worker is not reaped yet (we are the only reaper), so its pid,
	 * which is also its process group id after setsid(), cannot have been
	 * reused. */
	r = kill(node_spec(c)->worker.kill_group ? -pid : pid, sig);
	if (r < 0 && errno != ESRCH)
		log_warn("%s: cannot send %s to pid %d", node_path(c), signal_name(sig), pid);
	/* brutal_kill, a shutdown time run out, an unhealthy worker: with
	 * cgroup: true, nothing the worker started escapes it. */
	if (sig == SIGKILL)
		cgroup_kill(node_path(c));
}

struct timer_source {
	sd_event_source *source;
	struct loop *loop;
	struct timer *timer;
};

static int
on_timer_source(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct timer_source *ts = userdata;

	(void)s;
	(void)usec;
	core_timer_fired(ts->loop->core, ts->timer, mono_ms(ts->loop));
	return 0;
}

static int
fx_timer_arm(void *ctx, struct timer *t)
{
	struct loop *loop = ctx;
	struct timer_source *ts = t->handle;
	uint64_t usec = t->deadline_ms * 1000, fresh = clock_ms_rounded_up();
	int r;

	/* The core measured the deadline from the `now` of its entry point;
	 * the stop signal it precedes went out later than that (a slow turn,
	 * valgrind). A shutdown time counts from the signal: shift the
	 * deadline by the time that has passed, so a SIGKILL is never early. */
	if (fresh > loop->core_now_ms)
		usec += (fresh - loop->core_now_ms) * 1000;

	if (!ts) {
		ts = calloc(1, sizeof(*ts));
		if (!ts) {
			r = -ENOMEM;
			goto fail;
		}
		ts->loop = loop;
		ts->timer = t;
		r = sd_event_add_time(loop->event, &ts->source, CLOCK_MONOTONIC, usec, 1,
				      on_timer_source, ts);
		if (r < 0) {
			free(ts);
			goto fail;
		}
		t->handle = ts;
		return 0;
	}
	r = sd_event_source_set_time(ts->source, usec);
	if (r >= 0)
		r = sd_event_source_set_enabled(ts->source, SD_EVENT_ONESHOT);
	if (r >= 0)
		return 0;
fail:
	/* The core treats the deadline as passed at once (a shutdown goes
	 * straight to SIGKILL, a readiness wait fails): say why. */
	errno = -r;
	log_warn("cannot arm a deadline, acting as if it had passed");
	return r;
}

static void
fx_timer_disarm(void *ctx, struct timer *t)
{
	struct timer_source *ts = t->handle;

	(void)ctx;
	if (ts)
		sd_event_source_set_enabled(ts->source, SD_EVENT_OFF);
}

static void
fx_timer_release(void *ctx, struct timer *t)
{
	struct timer_source *ts = t->handle;

	(void)ctx;
	if (!ts)
		return;
	sd_event_source_disable_unref(ts->source);
	free(ts);
	t->handle = NULL;
}

/* Remembers the first reason the tree is ending, for the last log line. */
static void note_exit_why(struct loop *loop, bool expected, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
note_exit_why(struct loop *loop, bool expected, const char *fmt, ...)
{
	va_list ap;

	if (loop->exit_why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(loop->exit_why, sizeof(loop->exit_why), fmt, ap);
	va_end(ap);
	loop->exit_expected = expected;
}

static void
fx_event(void *ctx, const struct core_event *ev)
{
	struct loop *loop = ctx;
	struct core_event named = *ev;
	struct child *c;

	if (ev->type == EV_CHILD_START_FAILED) {
		if (!loop->tree_started && !loop->first_start_error[0])
			snprintf(loop->first_start_error, sizeof(loop->first_start_error), "%s",
				 ev->error);
		/* "exec:ENOENT" alone does not say which program was missing. */
		c = loop->core ? core_find_path(loop->core, ev->path) : NULL;
		if (c && !node_is_supervisor(c) && node_spec(c)->worker.argv)
			named.program = node_spec(c)->worker.argv[0];
		if (!loop->tree_started)
			note_exit_why(loop, false, "%s failed to start (%s)", ev->path, ev->error);
	}
	if (ev->type == EV_RESTART_LIMIT && strcmp(ev->path, "/") == 0)
		note_exit_why(loop, false, "the root supervisor reached its restart limit");
	if (ev->type == EV_AUTO_SHUTDOWN && strcmp(ev->path, "/") == 0)
		note_exit_why(loop, true, "%s exited (auto_shutdown)", ev->trigger);
	if (loop->dashdash && ev->type == EV_CHILD_EXITED && strcmp(ev->path, DASHDASH_PATH) == 0) {
		loop->program_exited = true;
		loop->program_status = ev->status;
	}
	events_emit(&named);
	switch (ev->type) {
	case EV_CHILD_STARTED:
	case EV_CHILD_STOPPING:
	case EV_CHILD_EXITED:
	case EV_CHILD_START_FAILED:
	case EV_CHILD_UNHEALTHY:
		/* readiness probes end, health checks begin or end */
		c = loop->core ? core_find_path(loop->core, ev->path) : NULL;
		if (c && !node_is_supervisor(c) &&
		    (node_probe(c) || node_spec(c)->worker.has_health))
			probes_event(loop->probes, c, ev);
		break;
	default:
		break;
	}
}

static void
fx_child_freed(void *ctx, struct child *c)
{
	struct loop *loop = ctx;

	probes_forget(loop->probes, c);
	output_child_freed(c);
}

static void
fx_stopped(void *ctx, int exit_code)
{
	struct loop *loop = ctx;

	loop->exit_code = exit_code;
	loop->root_gone = true;
	sd_event_exit(loop->event, exit_code);
}

static void
wake_soon(struct loop *loop)
{
	/* Cannot fail short of a counter overflow (2^64 - 1 wakeups unread). */
	if (eventfd_write(loop->wake_fd, 1) < 0)
		log_warn("cannot schedule a restart retry");
}

static void
fx_wakeup(void *ctx)
{
	wake_soon(ctx);
}

static void
fx_tree_started(void *ctx)
{
	struct loop *loop = ctx;

	loop->tree_started = true;
	sd_notify(0, "READY=1\nSTATUS=supervision tree started");
}

static const struct core_effects loop_effects = {
	.spawn = fx_spawn,
	.signal = fx_signal,
	.timer_arm = fx_timer_arm,
	.timer_disarm = fx_timer_disarm,
	.timer_release = fx_timer_release,
	.event = fx_event,
	.child_freed = fx_child_freed,
	.stopped = fx_stopped,
	.wakeup = fx_wakeup,
	.tree_started = fx_tree_started,
};

/* ---- event sources ---- */

/* Restart retries, one turn of them per loop iteration. Like OTP's
 * try_again_restart, a retry waits behind everything already pending: the
 * eventfd becomes readable in some iteration, and sd-event dispatches the
 * sources pending since earlier iterations first (signals, exits, deadlines,
 * clients), then this one; a retry that fails again writes the eventfd
 * anew and so queues behind whatever arrived meanwhile. (An sd-event defer
 * source cannot do this: it stays pending with the iteration it was first
 * enabled in, so it always looks oldest, and re-enabling it from its own
 * callback starved every other source.) */
static int
on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct loop *loop = userdata;
	eventfd_t count;

	(void)s;
	(void)revents;
	if (eventfd_read(fd, &count) < 0 && errno != EAGAIN)
		log_warn("restart retries: eventfd");
	if (core_run(loop->core, mono_ms(loop)))
		wake_soon(loop);
	return 0;
}

static void
reap_all(struct loop *loop)
{
	for (;;) {
		siginfo_t si;
		struct exit_status st;
		struct child *c;

		/* Peek first: while the exited process is a zombie, its pid
		 * (and so its process group id) cannot be reused. */
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				log_warn("waitid");
			return;
		}
		if (si.si_pid == 0)
			return;
		c = core_find_pid(loop->core, si.si_pid);
		/* A worker that supd was terminating takes what is left of its
		 * process group with it (the stop was meant for the group). A
		 * worker that exited by itself does not: a daemon's child that
		 * has not yet called setsid() would otherwise die or live by
		 * chance. Containment that cannot race is cgroup's job. */
		if (c && node_spec(c)->worker.kill_group && node_state(c) == CHILD_STOPPING)
			kill(-si.si_pid, SIGKILL);
		while (waitid(P_PID, (id_t)si.si_pid, &si, WEXITED) < 0 && errno == EINTR)
			;
		st.signaled = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
		st.value = si.si_status;
		if (c) {
			/* cgroup: true: what it left behind dies with it, even
			 * after setsid(), before a restart reuses its cgroup. */
			cgroup_worker_gone(node_path(c));
			/* Its last lines go out before its exit is handled. */
			output_exited(c);
			core_child_exited(loop->core, c, st, mono_ms(loop));
		} else if (!c && probes_reaped(loop->probes, si.si_pid, st.value, st.signaled)) {
			continue;
		} else {
			struct core_event ev = {.type = EV_ORPHAN_REAPED,
						.path = "/",
						.pid = si.si_pid,
						.status = st};
			events_emit(&ev);
		}
	}
}

static int
on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)s;
	(void)si;
	reap_all(userdata);
	return 0;
}

static int loop_reopen_files(void);

/* `--` mode: the stop signal is the one supd received, forwarded as itself
 * (SIGINT stays SIGINT), and later ones go straight to PROGRAM's group, as
 * tini forwards every signal; --shutdown (the spec's shutdown time) still
 * ends in SIGKILL. */
static void
dashdash_stop(struct loop *loop, int sig)
{
	struct child *c = core_find_path(loop->core, DASHDASH_PATH);

	if (loop->stopping) {
		if (c && !node_is_supervisor(c) && node_pid(c) > 0)
			fx_signal(loop, c, sig);
		return;
	}
	if (c && !node_is_supervisor(c))
		node_spec(c)->worker.stop_signal = sig;
	loop->stopping = true;
	log_info("%s: stopping %s", signal_name(sig), DASHDASH_PATH);
	core_shutdown(loop->core, mono_ms(loop));
}

static void
request_stop(struct loop *loop, int sig)
{
	if (loop->dashdash) {
		dashdash_stop(loop, sig);
		return;
	}
	if (loop->stopping) {
		log_info("already shutting down");
		return;
	}
	loop->stopping = true;
	log_info("shutting down");
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
	core_shutdown(loop->core, mono_ms(loop));
}

/* Orderly shutdown of the tree (SIGTERM, or the control op `stop`). */
static void
loop_request_stop(struct loop *loop)
{
	note_exit_why(loop, true, "asked to stop");
	request_stop(loop, SIGTERM);
}

static void
forward_signal(struct loop *loop, struct child *c, int sig)
{
	struct child *x;

	if (!node_is_supervisor(c)) {
		const struct worker_spec *w = &node_spec(c)->worker;
		uint64_t list = w->has_forward_signals ? w->forward_signals : loop->forward_signals;
		enum child_state state = node_state(c);

		/* In `--` mode PROGRAM gets every signal, also while stopping. */
		if (node_pid(c) > 0 &&
		    (state == CHILD_RUNNING || state == CHILD_STARTING ||
		     (loop->dashdash && state == CHILD_STOPPING)) &&
		    (list & (UINT64_C(1) << (sig - 1))))
			fx_signal(loop, c, sig);
		return;
	}
	for (x = node_first_child(c); x; x = node_next_sibling(x))
		forward_signal(loop, x, sig);
}

static int
on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct loop *loop = userdata;
	int sig = (int)si->ssi_signo;

	(void)s;
	if (loop->forward_signals & (UINT64_C(1) << (sig - 1))) {
		log_debug("forwarding %s", signal_name(sig));
		forward_signal(loop, core_root(loop->core), sig);
		return 0;
	}
	/* Workers with a forward_signals list of their own get the signals
	 * it names, whatever supd itself does with them. */
	if (sig != SIGCHLD)
		forward_signal(loop, core_root(loop->core), sig);
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		note_exit_why(loop, true, "stopped by %s", signal_name(sig));
		request_stop(loop, sig);
		break;
	case SIGHUP:
		/* logrotate's move-and-signal, and the reload of SPEC 7.5
		 * (queued behind one still being applied). */
		loop_reopen_files();
		if (loop->dashdash)
			break; /* `--` mode: PROGRAM got it; there is no file */
		reload_start(NULL, NULL);
		break;
	default:
		log_info("%s ignored (not in forward_signals)",
			 signal_name(sig) ? signal_name(sig) : "signal");
		break;
	}
	return 0;
}

static bool
notify_says_ready(char *text)
{
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strcmp(line, "READY=1") == 0)
			return true;
	return false;
}

/* The worker that READY=1 from pid is about: the worker's own process
 * (notify_access: main), or with notify_access: all any process of its
 * process group (a script that runs systemd-notify). A refusal is logged,
 * naming the worker the sender belongs to: otherwise the worker fails with
 * ready_timeout and nobody knows why. */
static struct child *
notify_sender(struct loop *loop, pid_t pid)
{
	struct child *c = core_find_pid(loop->core, pid);

	if (!c) {
		pid_t pgid = getpgid(pid);
		struct child *leader = pgid > 0 ? core_find_pid(loop->core, pgid) : NULL;
		if (leader && node_spec(leader)->worker.notify_access == NOTIFY_ACCESS_ALL) {
			c = leader;
		} else if (leader) {
			log_warnx("%s: READY=1 from pid %d refused: not the worker's own process "
				  "(pid %d; notify_access: main)",
				  node_path(leader), (int)pid, (int)node_pid(leader));
			return NULL;
		} else {
			log_warnx("READY=1 from pid %d refused: not a worker's process", (int)pid);
			return NULL;
		}
	}
	if (node_spec(c)->worker.ready != READY_NOTIFY) {
		log_warnx("%s: READY=1 ignored: the worker is not `ready: notify`", node_path(c));
		return NULL;
	}
	return c;
}

static int
on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct loop *loop = userdata;

	(void)s;
	(void)revents;
	for (;;) {
		char buf[4096];
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(struct ucred))];
		} control;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
		struct msghdr msg = {.msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = &control,
				     .msg_controllen = sizeof(control)};
		struct ucred *cred = NULL;
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0)
			return 0;
		buf[n] = '\0';
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS)
				cred = (struct ucred *)CMSG_DATA(cm);
			else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				/* nobody asked for fds: close them */
				int *fds = (int *)CMSG_DATA(cm);
				size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (size_t i = 0; i < nfds; i++)
					close(fds[i]);
			}
		}
		if (!notify_says_ready(buf))
			continue;
		if (!cred) {
			log_warnx("READY=1 without sender credentials refused");
			continue;
		}
		struct child *c = notify_sender(loop, cred->pid);
		if (c)
			core_child_ready(loop->core, c, mono_ms(loop));
	}
}

static int
open_notify_socket(struct loop *loop)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int one = 1, fd, r;
	socklen_t len;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* An abstract address: nothing to clean up on disk, and private to
	 * this network namespace. */
	snprintf(loop->notify_path, sizeof(loop->notify_path), "@supd-notify-%d-%llu",
		 (int)getpid(), (unsigned long long)loop->started_us);
	snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "%s", loop->notify_path + 1);
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(loop->notify_path + 1);
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		r = -errno;
		close(fd);
		loop->notify_path[0] = '\0';
		return r;
	}
	r = sd_event_add_io(loop->event, &loop->notify_source, fd, EPOLLIN, on_notify, loop);
	if (r < 0) {
		close(fd);
		loop->notify_path[0] = '\0';
		return r;
	}
	sd_event_source_set_io_fd_own(loop->notify_source, true);
	return 0;
}

/* ---- supd's own output ---- */

static int
loop_reopen_files(void)
{
	int r = writer_reopen_all();

	if (r < 0)
		log_warnx("reopening output files: %s", strerror(-r));
	return r;
}

static void
on_output_dropped(struct writer *w, uint64_t lines)
{
	struct core_event ev = {
		.type = EV_OUTPUT_DROPPED, .path = "/", .lines = lines, .output = writer_name(w)};

	events_emit(&ev);
}

/* From now on, writers that cannot write wait for EPOLLOUT in this loop. */
static void
output_attach(struct loop *loop)
{
	writer_set_drop_hook(on_output_dropped);
	writer_attach_all(loop->event);
	output_init(loop->event);
}

static void
output_detach(void)
{
	output_shutdown();
	writer_attach_all(NULL);
}

/* Fault signals are about supd itself and keep their default action;
 * SIGPIPE is ignored (we write to sockets and pipes whose readers vanish);
 * SIGKILL and SIGSTOP cannot be caught. */
static bool
signal_left_alone(int sig)
{
	switch (sig) {
	case SIGKILL:
	case SIGSTOP:
	case SIGPIPE:
	case SIGSEGV:
	case SIGBUS:
	case SIGFPE:
	case SIGILL:
	case SIGABRT:
	case SIGTRAP:
	case SIGSYS:
		return true;
	default:
		/* glibc keeps 32 and 33 for itself */
		return sig > SIGSYS && sig < SIGRTMIN;
	}
}

/* Every other signal is read through the loop, so that none can kill or
 * stop supd (and with it the tree): SIGTERM/SIGINT shut down, SIGHUP
 * reloads, SIGCHLD reaps, forwarded ones go to the workers, and the rest
 * are logged and ignored. They must be blocked before sd-event can own
 * them (-EBUSY otherwise); workers get a clean mask back in spawn.c. */
static int
setup_signals(struct loop *loop)
{
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	for (int sig = 1; sig <= SIGRTMAX && sig <= 64; sig++)
		if (!signal_left_alone(sig))
			sigaddset(&mask, sig);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);

	for (int sig = 1; sig <= SIGRTMAX && sig <= 64; sig++) {
		if (signal_left_alone(sig))
			continue;
		r = sd_event_add_signal(loop->event, NULL, sig,
					sig == SIGCHLD ? on_sigchld : on_signal, loop);
		if (r < 0)
			return r;
	}
	return 0;
}

/* What the control server needs of the loop (control.h). */
static uint64_t
host_now_ms(void *ctx)
{
	return mono_ms(ctx);
}

static void
host_request_stop(void *ctx)
{
	loop_request_stop(ctx);
}

static void
host_signal(void *ctx, struct child *c, int sig)
{
	log_info("%s: sending %s (control request)", node_path(c), signal_name(sig));
	fx_signal(ctx, c, sig);
}

static void
host_set_forward_signals(void *ctx, uint64_t set)
{
	struct loop *loop = ctx;

	loop->forward_signals = set;
}

static int
host_reopen(void *ctx)
{
	(void)ctx;
	return loop_reopen_files();
}

int
loop_new(struct loop **out, struct config *cfg, const struct loop_options *opt)
{
	struct loop *loop = calloc(1, sizeof(*loop));
	struct child_spec *root;
	int r;

	if (!loop)
		return -ENOMEM;
	loop->forward_signals = cfg->forward_signals;
	loop->exec_failure_status = opt->exec_failure_status;
	loop->dashdash = opt->dashdash;
	/* Like tini: PROGRAM becomes the foreground process group of the
	 * terminal, so that an interactive program has job control. Only when
	 * supd itself was in the foreground: a background supd must not steal
	 * the terminal from the shell that started it. */
	loop->hand_terminal =
		opt->dashdash && isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();

	r = sd_event_default(&loop->event);
	if (r < 0) {
		log_error("cannot create the event loop: %s", strerror(-r));
		goto fail;
	}
	sd_event_now(loop->event, CLOCK_MONOTONIC, &loop->started_us);
	output_attach(loop);

	/* As PID 1 every orphan is ours by birthright; otherwise ask for them,
	 * so that a worker's double-forked daemon is reaped here too. */
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become a child subreaper");

	r = setup_signals(loop);
	if (r < 0) {
		log_error("cannot set up signals: %s", strerror(-r));
		goto fail;
	}
	loop->probes = probes_new(loop->event, &loop->core, probe_now, loop);
	if (!loop->probes) {
		r = -ENOMEM;
		goto fail;
	}
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		r = -errno;
		log_error("cannot create an eventfd: %s", strerror(-r));
		goto fail;
	}
	r = sd_event_add_io(loop->event, &loop->wake, loop->wake_fd, EPOLLIN, on_wake, loop);
	if (r < 0) {
		close(loop->wake_fd);
		loop->wake_fd = -1;
		log_error("cannot watch the eventfd: %s", strerror(-r));
		goto fail;
	}
	sd_event_source_set_io_fd_own(loop->wake, true);
	/* Under systemd with WatchdogSec=, ping it from the loop. */
	sd_event_set_watchdog(loop->event, true);

	/* Always: a worker with ready: notify may also arrive later, through
	 * start_child. */
	r = open_notify_socket(loop);
	if (r < 0) {
		log_error("cannot open the notification socket: %s", strerror(-r));
		goto fail;
	}

	if (opt->events_path || cfg->events_path) {
		const char *path = opt->events_path ? opt->events_path : cfg->events_path;
		r = events_open(path, cfg->events_max_size, cfg->events_keep);
		if (r < 0) {
			log_error("cannot open events file %s: %s", path, strerror(-r));
			goto fail;
		}
	}

	root = config_take_root(cfg);
	loop->core = core_new(root, &loop_effects, loop);
	if (!loop->core) {
		r = -ENOMEM;
		log_error("cannot build the supervision tree: out of memory");
		goto fail;
	}

	struct reload_host rh = {.core = loop->core,
				 .file = opt->dashdash ? NULL : cfg->file,
				 .socket_overridden = opt->socket_path != NULL,
				 .events_overridden = opt->events_path != NULL,
				 .now_ms = host_now_ms,
				 .set_forward_signals = host_set_forward_signals,
				 .ctx = loop};
	r = reload_init(&rh, cfg);
	if (r < 0) {
		log_error("cannot set up reloads: %s", strerror(-r));
		goto fail;
	}

	if (!opt->no_control) {
		char buf[108];
		const char *path =
			control_socket_path(opt->socket_path, &cfg->control, buf, sizeof(buf));
		int listen_fd = -1;
		/* Socket activation: systemd hands us the listening socket. */
		if (sd_listen_fds(1) == 1)
			listen_fd = SD_LISTEN_FDS_START;
		if (!path && listen_fd < 0) {
			r = -EINVAL;
			log_error("no control socket path: set control.socket or -s, "
				  "or XDG_RUNTIME_DIR");
			goto fail;
		}
		struct control_host host = {.event = loop->event,
					    .core = loop->core,
					    .now_ms = host_now_ms,
					    .request_stop = host_request_stop,
					    .signal = host_signal,
					    .reopen = host_reopen,
					    .ctx = loop};
		r = control_new(&loop->control, &host, &cfg->control, path, listen_fd);
		if (r < 0)
			goto fail;
	}
	if (cfg->metrics_listen) {
		struct metrics_http_host host = {.event = loop->event,
						 .core = loop->core,
						 .now_ms = host_now_ms,
						 .ctx = loop};
		/* An address the config names but this machine cannot listen
		 * on is a configuration error (exit 78), found before any
		 * child runs. */
		if (metrics_http_new(&loop->metrics_http, &host, cfg->metrics_listen) < 0) {
			r = LOOP_CONFIG_ERROR;
			goto fail;
		}
	}
	*out = loop;
	return 0;
fail:
	loop_free(loop);
	return r < 0 ? r : -EINVAL;
}

/* Reaps whatever has exited, orphans as events; true when no process but
 * supd is left in its PID namespace. Only for PID 1, after the tree. */
static bool
namespace_empty(struct loop *loop)
{
	reap_all(loop);
	/* As PID 1, kill(-1) reaches every other process of the namespace. */
	return kill(-1, 0) < 0 && errno == ESRCH;
}

/* Waits until the namespace is empty or deadline_ms (monotonic) passes,
 * reaping as processes go. SIGCHLD is blocked (the loop read it through a
 * signalfd), so it can be waited for here without a handler. */
static bool
namespace_wait_empty(struct loop *loop, uint64_t deadline_ms)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while (!namespace_empty(loop)) {
		uint64_t now = clock_ms_rounded_up();
		struct timespec wait;

		if (now >= deadline_ms)
			return false;
		/* Also wakes up regularly: a process whose parent is still
		 * alive ends without a SIGCHLD for us. */
		wait.tv_sec = 0;
		wait.tv_nsec = (long)((deadline_ms - now < 50 ? deadline_ms - now : 50) * 1000000);
		sigtimedwait(&chld, NULL, &wait);
	}
	return true;
}

/* SPEC 7.7: as PID 1, once the tree is down, what is left in the
 * namespace (daemons that left their worker's process group, their
 * children) is asked to stop, then killed, before the kernel would kill it
 * without warning when PID 1 exits. */
static void
pid1_teardown(struct loop *loop)
{
	if (getpid() != 1 || namespace_empty(loop))
		return;
	log_info("stopping the processes left in the namespace");
	kill(-1, SIGTERM);
	kill(-1, SIGCONT); /* a stopped process could not act on SIGTERM */
	if (namespace_wait_empty(loop, clock_ms_rounded_up() + PID1_TEARDOWN_GRACE_MS))
		return;
	log_warnx("processes left after %d ms: sending SIGKILL", PID1_TEARDOWN_GRACE_MS);
	kill(-1, SIGKILL);
	namespace_wait_empty(loop, clock_ms_rounded_up() + PID1_TEARDOWN_GRACE_MS);
}

/* supd's last line at the default level: with what status it exits and
 * why. An exit that is not an orderly outcome is an error. */
static void
log_exit_line(struct loop *loop, int status)
{
	const char *why = loop->exit_why[0] ? loop->exit_why : "the tree stopped";

	if (status == 0 || loop->exit_expected)
		log_info("exiting with status %d: %s", status, why);
	else
		log_error("exiting with status %d: %s", status, why);
}

int
loop_run(struct loop *loop)
{
	struct core_event ev = {.type = EV_SUPD_EXITING, .path = "/"};
	int r;

	core_start(loop->core, mono_ms(loop));
	if (loop->root_gone) {
		r = loop->exit_code;
	} else {
		r = sd_event_loop(loop->event);
		if (r < 0) {
			/* The loop itself broke: an internal error. Whatever
			 * still runs is killed by the parent-death signal. */
			log_error("event loop failed: %s", strerror(-r));
			r = 70;
		}
	}
	/* Probes never outlive supd (a hung one was only sent SIGKILL), and
	 * orphans that exited in the last moments are reaped too. */
	probes_end_all(loop->probes);
	reap_all(loop);
	pid1_teardown(loop);
	if (loop->exec_failure_status && r == 1 && !loop->tree_started &&
	    strncmp(loop->first_start_error, "exec:", 5) == 0) {
		/* `supd -- PROGRAM`: a program that could not be executed at
		 * all is reported like a shell does (127 not found, 126 found
		 * but not runnable). */
		r = strcmp(loop->first_start_error, "exec:ENOENT") == 0 ? 127 : 126;
		log_error("cannot execute the program: %s", loop->first_start_error);
	}
	/* `--` mode: stopped on request, supd still exits with PROGRAM's
	 * status (143 after the forwarded SIGTERM), as tini does. */
	if (loop->dashdash && loop->stopping && r == 0 && loop->program_exited)
		r = exit_status_code(loop->program_status);
	/* The terminal goes back to supd's process group, which had it: the
	 * shell (or script) that started supd reads from it next. */
	if (loop->hand_terminal && tcgetpgrp(STDIN_FILENO) != getpgrp())
		tcsetpgrp(STDIN_FILENO, getpgrp());
	log_exit_line(loop, r);
	ev.exit_code = r;
	events_emit(&ev);
	return r;
}

void
loop_free(struct loop *loop)
{
	if (!loop)
		return;
	control_free(loop->control);
	metrics_http_free(loop->metrics_http);
	core_free(loop->core);
	reload_fini();
	probes_free(loop->probes);
	sd_event_source_disable_unref(loop->notify_source);
	sd_event_source_disable_unref(loop->wake);
	output_detach();
	cgroup_shutdown();
	sd_event_unref(loop->event);
	events_close();
	free(loop);
}
