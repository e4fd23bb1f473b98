/*
 * recorder.c - a fake world for the supervision core (see recorder.h).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recorder.h"

static void rec_logf(struct recorder *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
rec_logf(struct recorder *r, const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;

	/* Allocated, not a fixed buffer: paths of a maximal tree are 4,160
	 * bytes, and a truncated line could pass for a shorter path. */
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (line && r->nlog < REC_MAX_LOG)
		r->log[r->nlog++] = line;
	else
		free(line);
}

static int
fx_spawn(void *ctx, struct child *c, pid_t *pid, char *err, size_t errlen)
{
	struct recorder *r = ctx;

	for (size_t i = 0; i < r->nfail; i++) {
		if (strcmp(r->fail[i].path, c->path) != 0 || r->fail[i].remaining == 0)
			continue;
		if (r->fail[i].remaining > 0)
			r->fail[i].remaining--;
		snprintf(err, errlen, "%s", r->fail[i].error);
		return -2;
	}
	*pid = r->next_pid++;
	return 0;
}

/* A signal reaches the fake process: it is in the trace, and it is what
 * decides whether (and how) the process dies in rec_exit_signalled(). */
static void
fx_signal(void *ctx, struct child *c, int sig)
{
	struct recorder *r = ctx;

	rec_logf(r, "signal %s %s", c->path, signal_name(sig));
	if (c->pid <= 0)
		return;
	if (r->nsent == r->sent_cap) {
		r->sent_cap = r->sent_cap ? r->sent_cap * 2 : 64;
		r->sent = realloc(r->sent, r->sent_cap * sizeof(*r->sent));
	}
	r->sent[r->nsent].pid = c->pid;
	r->sent[r->nsent].sig = sig;
	r->nsent++;
}

static int
fx_timer_arm(void *ctx, struct timer *t)
{
	struct recorder *r = ctx;

	if (r->fail_timer_arms != 0) {
		if (r->fail_timer_arms > 0)
			r->fail_timer_arms--;
		rec_logf(r, "timer_arm_failed");
		return -12; /* ENOMEM */
	}
	for (size_t i = 0; i < r->ntimers; i++)
		if (r->timers[i] == t)
			return 0;
	if (r->ntimers < REC_MAX_TIMERS)
		r->timers[r->ntimers++] = t;
	t->handle = r;
	return 0;
}

static void
fx_timer_disarm(void *ctx, struct timer *t)
{
	struct recorder *r = ctx;

	for (size_t i = 0; i < r->ntimers; i++) {
		if (r->timers[i] == t) {
			r->timers[i] = r->timers[--r->ntimers];
			return;
		}
	}
}

static void
fx_timer_release(void *ctx, struct timer *t)
{
	fx_timer_disarm(ctx, t);
	t->handle = NULL;
}

static const char *
status_text(struct exit_status st, char *buf, size_t len)
{
	if (st.signaled)
		snprintf(buf, len, "%s", signal_name(st.value));
	else
		snprintf(buf, len, "%d", st.value);
	return buf;
}

static void
fx_event(void *ctx, const struct core_event *ev)
{
	struct recorder *r = ctx;
	char st[32];

	switch (ev->type) {
	case EV_SUPERVISOR_STARTED:
		rec_logf(r, "supervisor_started %s", ev->path);
		break;
	case EV_CHILD_STARTED:
		rec_logf(r, "child_started %s", ev->path);
		break;
	case EV_CHILD_START_FAILED:
		rec_logf(r, "child_start_failed %s %s", ev->path, ev->error);
		break;
	case EV_CHILD_STOPPING:
		rec_logf(r, "child_stopping %s %s", ev->path, signal_name(ev->signal));
		break;
	case EV_SHUTDOWN_TIMEOUT:
		rec_logf(r, "shutdown_timeout %s", ev->path);
		break;
	case EV_CHILD_EXITED:
		rec_logf(r, "child_exited %s %s %s", ev->path, exit_reason_name(ev->reason),
			 status_text(ev->status, st, sizeof(st)));
		break;
	case EV_SUPERVISOR_STOPPED:
		rec_logf(r, "supervisor_stopped %s %s", ev->path, exit_reason_name(ev->reason));
		break;
	case EV_RESTART_LIMIT:
		rec_logf(r, "restart_limit %s", ev->path);
		break;
	case EV_AUTO_SHUTDOWN:
		rec_logf(r, "auto_shutdown %s %s", ev->path, ev->trigger);
		break;
	case EV_RESTART_DELAYED:
		rec_logf(r, "restart_delayed %s %llu", ev->path, (unsigned long long)ev->delay_ms);
		break;
	case EV_CHILD_UNHEALTHY:
		rec_logf(r, "child_unhealthy %s %s", ev->path, ev->output ? ev->output : "");
		break;
	case EV_RELOADED: {
		char lists[1024] = "";
		const char *const *ids[] = {ev->added, ev->removed, ev->changed, ev->failed};
		size_t counts[] = {ev->nadded, ev->nremoved, ev->nchanged, ev->nfailed};
		const char *names[] = {"added", "removed", "changed", "failed"};
		for (size_t l = 0; l < 4; l++) {
			if (!counts[l] && l == 3)
				continue;
			size_t n = strlen(lists);
			snprintf(lists + n, sizeof(lists) - n, " %s=", names[l]);
			for (size_t i = 0; i < counts[l]; i++) {
				n = strlen(lists);
				snprintf(lists + n, sizeof(lists) - n, "%s%s", i ? "," : "",
					 ids[l][i]);
			}
		}
		rec_logf(r, "reloaded %s%s", ev->path, lists);
		break;
	}
	case EV_ORPHAN_REAPED:
	case EV_SUPD_EXITING:
	case EV_OUTPUT_DROPPED:
	case EV_RELOAD_FAILED:
		break;
	}
}

static void
fx_child_freed(void *ctx, struct child *c)
{
	struct recorder *r = ctx;

	(void)c;
	r->freed++;
}

static void
fx_stopped(void *ctx, int exit_code)
{
	struct recorder *r = ctx;

	r->stopped = true;
	r->exit_code = exit_code;
	rec_logf(r, "stopped %d", exit_code);
}

static void
fx_wakeup(void *ctx)
{
	struct recorder *r = ctx;

	r->wakeups++;
}

static void
fx_tree_started(void *ctx)
{
	struct recorder *r = ctx;

	r->tree_started = true;
}

const struct core_effects recorder_effects = {
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

void
rec_init(struct recorder *r, struct child_spec *root)
{
	memset(r, 0, sizeof(*r));
	r->next_pid = 1000;
	r->core = core_new(root, &recorder_effects, r);
	if (r->core)
		core_start(r->core, r->now);
}

void
rec_clear(struct recorder *r)
{
	for (size_t i = 0; i < r->nlog; i++)
		free(r->log[i]);
	r->nlog = 0;
}

void
rec_fini(struct recorder *r)
{
	core_free(r->core);
	rec_clear(r);
	free(r->sent);
	r->sent = NULL;
	r->nsent = r->sent_cap = 0;
}

void
rec_fail_spawn(struct recorder *r, const char *path, int times, const char *error)
{
	if (r->nfail >= REC_MAX_FAIL)
		return;
	snprintf(r->fail[r->nfail].path, sizeof(r->fail[r->nfail].path), "%s", path);
	snprintf(r->fail[r->nfail].error, sizeof(r->fail[r->nfail].error), "%s", error);
	r->fail[r->nfail].remaining = times;
	r->nfail++;
}

struct child *
rec_find(struct recorder *r, const char *path)
{
	return core_find_path(r->core, path);
}

pid_t
rec_pid(struct recorder *r, const char *path)
{
	struct child *c = rec_find(r, path);

	return c ? c->pid : -1;
}

const char *
rec_state(struct recorder *r, const char *path)
{
	struct child *c = rec_find(r, path);

	return c ? child_state_name(c->state) : "absent";
}

void
rec_exit(struct recorder *r, const char *path, int code)
{
	struct child *c = rec_find(r, path);

	if (c && c->pid)
		core_child_exited(r->core, c, (struct exit_status){.value = code}, r->now);
}

void
rec_signal_exit(struct recorder *r, const char *path, int sig)
{
	struct child *c = rec_find(r, path);

	if (c && c->pid)
		core_child_exited(r->core, c, (struct exit_status){.signaled = true, .value = sig},
				  r->now);
}

void
rec_ignore_signal(struct recorder *r, const char *path, int sig)
{
	if (r->nignore >= REC_MAX_IGNORE)
		return;
	snprintf(r->ignore[r->nignore].path, sizeof(r->ignore[r->nignore].path), "%s", path);
	r->ignore[r->nignore].sig = sig;
	r->nignore++;
}

static bool
ignores(const struct recorder *r, const struct child *c, int sig)
{
	if (sig == SIGKILL)
		return false;
	for (size_t i = 0; i < r->nignore; i++)
		if (r->ignore[i].sig == sig && strcmp(r->ignore[i].path, c->path) == 0)
			return true;
	return false;
}

/* The live worker with this pid, if the fake process still exists. */
static struct child *
live_worker(struct recorder *r, pid_t pid)
{
	struct child *c = index_find_pid(&r->core->index, pid);

	return c && c->pid == pid && !c->sup ? c : NULL;
}

void
rec_exit_signalled(struct recorder *r)
{
	/* One death at a time, in the order the fatal signals were sent:
	 * each exit may change the tree and send more signals. */
	while (!r->stopped) {
		struct child *victim = NULL;
		int sig = 0;

		for (size_t i = 0; i < r->nsent && !victim; i++) {
			struct child *c = live_worker(r, r->sent[i].pid);
			if (!c || ignores(r, c, r->sent[i].sig))
				continue;
			victim = c;
			sig = r->sent[i].sig;
		}
		if (!victim)
			break;
		/* As in the kernel, a pending SIGKILL wins over any other signal. */
		for (size_t i = 0; i < r->nsent; i++)
			if (r->sent[i].pid == victim->pid && r->sent[i].sig == SIGKILL)
				sig = SIGKILL;
		core_child_exited(r->core, victim,
				  (struct exit_status){.signaled = true, .value = sig}, r->now);
	}
}

void
rec_advance(struct recorder *r, uint64_t now)
{
	for (;;) {
		struct timer *next = NULL;
		for (size_t i = 0; i < r->ntimers; i++)
			if (!next || r->timers[i]->deadline_ms < next->deadline_ms)
				next = r->timers[i];
		if (!next || next->deadline_ms > now)
			break;
		fx_timer_disarm(r, next);
		r->now = next->deadline_ms;
		core_timer_fired(r->core, next, r->now);
	}
	r->now = now;
}

void
rec_run(struct recorder *r)
{
	int guard = 10000;

	while (guard-- > 0 && core_run(r->core, r->now))
		;
}

const char *
rec_log(struct recorder *r)
{
	static char buf[1 << 20];
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->nlog && n < sizeof(buf) - 1; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "\n" : "", r->log[i]);
	return buf;
}

bool
rec_log_has_sequence(struct recorder *r, const char *lines)
{
	char *copy = strdup(lines), *save = NULL;
	size_t at = 0;
	bool ok = true;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		while (at < r->nlog && strcmp(r->log[at], line) != 0)
			at++;
		if (at == r->nlog) {
			ok = false;
			break;
		}
		at++;
	}
	free(copy);
	return ok;
}

size_t
rec_log_count(struct recorder *r, const char *line)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nlog; i++)
		n += strcmp(r->log[i], line) == 0;
	return n;
}

/* ---- spec builders ---- */

struct child_spec *
w_spec(const char *id, enum restart_type restart)
{
	struct child_spec *s = spec_new(NODE_WORKER);

	s->id = strdup(id);
	s->restart = restart;
	s->worker.argv = calloc(2, sizeof(char *));
	s->worker.argv[0] = strdup("/bin/true");
	s->worker.argc = 1;
	return s;
}

static void
add_children(struct child_spec *s, va_list ap)
{
	struct child_spec *c;

	while ((c = va_arg(ap, struct child_spec *))) {
		s->sup.children =
			realloc(s->sup.children, (s->sup.nchildren + 1) * sizeof(*s->sup.children));
		s->sup.children[s->sup.nchildren++] = c;
	}
}

struct child_spec *
sup_spec(const char *id, enum strategy strategy, ...)
{
	struct child_spec *s = spec_new(NODE_SUPERVISOR);
	va_list ap;

	s->id = strdup(id);
	s->sup.strategy = strategy;
	va_start(ap, strategy);
	add_children(s, ap);
	va_end(ap);
	return s;
}

struct child_spec *
root_spec(enum strategy strategy, uint32_t max_restarts, uint32_t max_seconds, ...)
{
	struct child_spec *s = spec_new(NODE_SUPERVISOR);
	va_list ap;

	s->sup.strategy = strategy;
	s->sup.max_restarts = max_restarts;
	s->sup.max_seconds = max_seconds;
	va_start(ap, max_seconds);
	add_children(s, ap);
	va_end(ap);
	return s;
}

struct child_spec *
dyn_spec(const char *id, enum restart_type template_restart, int64_t template_shutdown_ms)
{
	struct child_spec *s = spec_new(NODE_DYNAMIC);

	s->id = strdup(id);
	s->sup.template_spec = w_spec("template", template_restart);
	free(s->sup.template_spec->id);
	s->sup.template_spec->id = NULL;
	s->sup.template_spec->shutdown_ms = template_shutdown_ms;
	return s;
}
