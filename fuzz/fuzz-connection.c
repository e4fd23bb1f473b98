/*
 * fuzz-connection.c - libFuzzer target for a whole control connection.
 *
 * Input: the bytes a client sends on the control socket. The real server
 * (control_server.c, connection.c, ops.c, views.c, proto.c, events.c) runs
 * on a real sd-event loop and accepts
 * the client on a real Unix socket; behind it runs the real core
 * (supervisor.c) on a fixed tree. Only the world is fake, as in the unit
 * tests: spawning hands out pids, signals kill them (on the next quiet turn),
 * timers fire when the loop has nothing else to do, and time moves only then.
 * So one input always takes the same path.
 *
 * The client writes the input and shuts down its side; the loop runs until
 * nothing moves, the client hangs up (its links terminate their children),
 * and the tree is shut down as on SIGTERM; then everything is freed, so that
 * LeakSanitizer sees what a connection leaves behind. Every line the server
 * writes must be a JSON object with "ok" or "event". A tree that does not
 * stop is a finding.
 *
 * The fake world is the control server's host (struct control_host): the
 * loop, the core, the fake clock and `stop`; loop.c is not used.
 *
 * Workers behave by the words in their argv: "crash" exits with code 1 as
 * soon as it runs, "fail" cannot be spawned (exec:ENOENT), "stubborn"
 * ignores its stop signal (unless its shutdown is infinity, where a real
 * worker would hang the tree forever), and a `ready: notify` worker sends
 * READY=1 unless "silent".
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "control.h"
#include "events.h"
#include "log.h"
#include "supervisor.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The tree behind the socket: every kind of node, some workers that fail. */
static const char tree_yaml[] =
	"max_restarts: 50\n"
	"max_seconds: 5\n"
	"children:\n"
	"  - id: web\n"
	"    type: supervisor\n"
	"    strategy: one_for_all\n"
	"    children:\n"
	"      - {id: a, start: [a]}\n"
	"      - {id: b, start: [stubborn], shutdown: 100}\n"
	"      - {id: n, start: [n], ready: notify, start_timeout: 500}\n"
	"  - id: chain\n"
	"    type: supervisor\n"
	"    strategy: rest_for_one\n"
	"    auto_shutdown: any_significant\n"
	"    restart: transient\n"
	"    children:\n"
	"      - {id: x, start: [x], restart: transient, significant: true}\n"
	"      - {id: y, start: [y], shutdown: brutal_kill}\n"
	"  - id: pool\n"
	"    type: dynamic\n"
	"    max_children: 20\n"
	"    template: {start: [job], restart: transient, shutdown: 200}\n"
	"  - id: perm\n"
	"    type: dynamic\n"
	"    template: {start: [job], restart: permanent, shutdown: infinity}\n"
	"  - {id: solo, start: [solo], restart: temporary}\n";

#define FIRST_PID   5000000 /* above any pid_max: pidfd_open on it finds nothing */
#define MAX_TURNS   200000
#define MAX_PENDING 4096

enum pending_kind {
	PENDING_EXIT,
	PENDING_READY,
};

struct pending {
	enum pending_kind kind;
	pid_t pid;
	struct exit_status status;
};

struct loop {
	sd_event *event;
	sd_event_source *defer;
	struct core *core;
	uint64_t now;
	pid_t next_pid;
	bool stop_requested;
	bool stopped;
	struct timer **timers;
	size_t ntimers, timers_cap;
	struct pending pending[MAX_PENDING];
	size_t npending;
};

static uint64_t
host_now_ms(void *ctx)
{
	struct loop *loop = ctx;

	return loop->now;
}

static void
host_request_stop(void *ctx)
{
	struct loop *loop = ctx;

	if (loop->stop_requested)
		return;
	loop->stop_requested = true;
	core_shutdown(loop->core, loop->now);
}

/* ---- the fake world ---- */

static bool
argv_has(const struct child *c, const char *word)
{
	const struct child_spec *spec = node_spec(c);

	for (size_t i = 0; i < spec->worker.argc; i++)
		if (strstr(spec->worker.argv[i], word))
			return true;
	return false;
}

static void
pend(struct loop *loop, enum pending_kind kind, pid_t pid, struct exit_status st)
{
	if (loop->npending == MAX_PENDING) {
		fprintf(stderr, "more than %d pending process events\n", MAX_PENDING);
		abort();
	}
	loop->pending[loop->npending++] = (struct pending){kind, pid, st};
}

static int
fx_spawn(void *ctx, struct child *c, pid_t *pid, char *err, size_t errlen)
{
	struct loop *loop = ctx;

	if (argv_has(c, "fail")) {
		snprintf(err, errlen, "exec:ENOENT");
		return -ENOENT;
	}
	*pid = loop->next_pid++;
	if (argv_has(c, "crash"))
		pend(loop, PENDING_EXIT, *pid, (struct exit_status){false, 1});
	else if (node_spec(c)->worker.ready == READY_NOTIFY && !argv_has(c, "silent"))
		pend(loop, PENDING_READY, *pid, (struct exit_status){0});
	return 0;
}

static void
fx_signal(void *ctx, struct child *c, int sig)
{
	struct loop *loop = ctx;
	pid_t pid = node_pid(c);

	if (pid <= 0 || sig == 0)
		return;
	if (sig != SIGKILL && argv_has(c, "stubborn") &&
	    node_spec(c)->shutdown_ms != SHUTDOWN_INFINITY)
		return;
	pend(loop, PENDING_EXIT, pid, (struct exit_status){true, sig});
}

static void
fx_timer_arm(void *ctx, struct timer *t)
{
	struct loop *loop = ctx;

	if (t->handle)
		return; /* already listed; the deadline is read when it fires */
	if (loop->ntimers == loop->timers_cap) {
		size_t cap = loop->timers_cap ? loop->timers_cap * 2 : 16;
		struct timer **v = realloc(loop->timers, cap * sizeof(*v));

		if (!v)
			abort();
		loop->timers = v;
		loop->timers_cap = cap;
	}
	loop->timers[loop->ntimers++] = t;
	t->handle = loop;
}

static void
fx_timer_disarm(void *ctx, struct timer *t)
{
	struct loop *loop = ctx;

	for (size_t i = 0; i < loop->ntimers; i++) {
		if (loop->timers[i] == t) {
			loop->timers[i] = loop->timers[--loop->ntimers];
			break;
		}
	}
	t->handle = NULL;
}

static void
fx_event(void *ctx, const struct core_event *ev)
{
	(void)ctx;
	events_emit(ev);
}

static void
fx_stopped(void *ctx, int exit_code)
{
	struct loop *loop = ctx;

	(void)exit_code;
	loop->stopped = true;
}

static void
fx_wakeup(void *ctx)
{
	struct loop *loop = ctx;

	sd_event_source_set_enabled(loop->defer, SD_EVENT_ONESHOT);
}

static const struct core_effects fake_effects = {
	.spawn = fx_spawn,
	.signal = fx_signal,
	.timer_arm = fx_timer_arm,
	.timer_disarm = fx_timer_disarm,
	.timer_release = fx_timer_disarm,
	.event = fx_event,
	.stopped = fx_stopped,
	.wakeup = fx_wakeup,
};

static int
on_defer(sd_event_source *s, void *userdata)
{
	struct loop *loop = userdata;

	if (core_run(loop->core, loop->now))
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

/* The world moves once the loop is quiet: first the processes (exits and
 * READY=1, in the order they were caused), else the earliest deadline.
 * Returns false when nothing is left to happen. */
static bool
world_step(struct loop *loop)
{
	struct timer *t;
	size_t first = 0;

	if (loop->npending > 0) {
		struct pending p = loop->pending[0];
		struct child *c;

		memmove(loop->pending, loop->pending + 1,
			--loop->npending * sizeof(loop->pending[0]));
		c = core_find_pid(loop->core, p.pid);
		if (!c || node_pid(c) != p.pid)
			return true; /* already gone (killed twice) */
		if (p.kind == PENDING_READY)
			core_child_ready(loop->core, c, loop->now);
		else
			core_child_exited(loop->core, c, p.status, loop->now);
		return true;
	}
	if (loop->ntimers == 0)
		return false;
	for (size_t i = 1; i < loop->ntimers; i++)
		if (loop->timers[i]->deadline_ms < loop->timers[first]->deadline_ms)
			first = i;
	t = loop->timers[first];
	loop->timers[first] = loop->timers[--loop->ntimers];
	t->handle = NULL;
	if (t->deadline_ms > loop->now)
		loop->now = t->deadline_ms;
	core_timer_fired(loop->core, t, loop->now);
	return true;
}

/* ---- the client ---- */

struct client {
	int fd;
	bool eof;
	char buf[1 << 16];
	size_t len;
};

static void
check_line(const char *line, size_t len)
{
	json_error_t jerr;
	json_t *v = json_loadb(line, len, 0, &jerr);

	if (!json_is_object(v) || !(json_object_get(v, "ok") || json_object_get(v, "event"))) {
		fprintf(stderr, "the server wrote a line that is not a reply or an event: %.*s\n",
			(int)len, line);
		abort();
	}
	json_decref(v);
}

/* Reads and checks what the server wrote, line by line. */
static void
client_read(struct client *cl)
{
	for (;;) {
		ssize_t n;
		char *nl;

		if (cl->len == sizeof(cl->buf)) {
			fprintf(stderr, "the server wrote a line longer than %zu bytes\n",
				sizeof(cl->buf));
			abort();
		}
		n = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			cl->eof = true;
			break;
		}
		if (n < 0)
			break;
		cl->len += (size_t)n;
		while ((nl = memchr(cl->buf, '\n', cl->len))) {
			size_t l = (size_t)(nl - cl->buf);

			check_line(cl->buf, l);
			memmove(cl->buf, nl + 1, cl->len - l - 1);
			cl->len -= l + 1;
		}
	}
}

/* Runs the loop and the world until nothing moves (or the tree is gone). */
static void
run(struct loop *loop, struct client *cl)
{
	for (int turn = 0; turn < MAX_TURNS; turn++) {
		int r = sd_event_run(loop->event, 0);

		if (r < 0) {
			fprintf(stderr, "sd_event_run: %s\n", strerror(-r));
			abort();
		}
		if (cl && cl->fd >= 0 && !cl->eof)
			client_read(cl);
		if (r > 0)
			continue;
		if (loop->stopped || !world_step(loop))
			return;
	}
	fprintf(stderr, "no rest after %d turns\n", MAX_TURNS);
	abort();
}

static int
listen_socket(struct sockaddr_un *sa, socklen_t *salen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	/* Autobind: the kernel picks a free abstract name. */
	*salen = sizeof(sa_family_t);
	sa->sun_family = AF_UNIX;
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, *salen) < 0 || listen(fd, 8) < 0) {
		perror("listen socket");
		abort();
	}
	*salen = sizeof(*sa);
	if (getsockname(fd, (struct sockaddr *)sa, salen) < 0)
		abort();
	return fd;
}

/* The tree, loaded once; every input runs on a fresh copy of its root. */
static struct config *tree;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	log_init("fuzz-connection", LOG_LEVEL_ERROR);
	signal(SIGPIPE, SIG_IGN);
	/* No host checks: the fake world runs programs that do not exist. */
	if (config_load_buffer(tree_yaml, sizeof(tree_yaml) - 1, "fuzz.yaml", NULL, &tree, err,
			       sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct loop loop = {.now = 1000, .next_pid = FIRST_PID};
	static struct client cl;
	struct control *ctl = NULL;
	struct control_host host;
	struct sockaddr_un sa = {0};
	struct child_spec *root = spec_clone(tree->root);
	socklen_t salen;
	size_t off = 0;
	int lfd;

	if (!root || sd_event_new(&loop.event) < 0 ||
	    sd_event_add_defer(loop.event, &loop.defer, on_defer, &loop) < 0 ||
	    sd_event_source_set_enabled(loop.defer, SD_EVENT_OFF) < 0)
		abort();
	loop.core = core_new(root, &fake_effects, &loop);
	if (!loop.core)
		abort();
	lfd = listen_socket(&sa, &salen);
	host = (struct control_host){.event = loop.event,
				     .core = loop.core,
				     .now_ms = host_now_ms,
				     .request_stop = host_request_stop,
				     .ctx = &loop};
	if (control_new(&ctl, &host, &tree->control, NULL, lfd) < 0)
		abort();
	core_start(loop.core, loop.now);
	run(&loop, NULL);

	cl.len = 0;
	cl.eof = false;
	cl.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (cl.fd < 0 || connect(cl.fd, (struct sockaddr *)&sa, salen) < 0)
		abort();
	/* The whole input, then EOF; the loop runs whenever the socket is full. */
	while (off < size) {
		ssize_t n = send(cl.fd, data + off, size - off, MSG_NOSIGNAL);

		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			break; /* the server hung up (line_too_long) */
		else if (sd_event_run(loop.event, 0) < 0)
			abort();
		client_read(&cl);
		if (cl.eof)
			break;
	}
	shutdown(cl.fd, SHUT_WR);
	run(&loop, &cl);

	/* The client goes away: its links terminate what it started. */
	close(cl.fd);
	cl.fd = -1;
	run(&loop, NULL);

	/* SIGTERM: the whole tree stops. */
	host_request_stop(&loop);
	run(&loop, NULL);
	if (!loop.stopped) {
		fprintf(stderr, "the tree did not stop\n");
		abort();
	}

	control_free(ctl);
	core_free(loop.core);
	free(loop.timers);
	sd_event_source_disable_unref(loop.defer);
	sd_event_unref(loop.event);
	return 0;
}
