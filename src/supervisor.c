/*
 * supervisor.c - the OTP rules, applied to a tree of children.
 *
 * Owns the runtime tree (struct child / struct sup), the restart strategies,
 * restart intensity and escalation, the shutdown procedure, auto_shutdown,
 * dynamic supervisors and the supervisor side of the control requests. It
 * decides and never does: every effect goes through core->fx, time comes in
 * as now_ms, and nothing here blocks or makes a system call.
 *
 * How a supervisor works. Like an OTP supervisor process, each supervisor
 * does one thing at a time. Its `op` says what (starting its children, a
 * strategy restart, serving one control request, stopping); the operation
 * advances in sup_step(), which can be called at any time and simply moves
 * on from wherever the operation stands: it starts or stops the child at
 * `cursor`, and when that child cannot finish at once (a worker takes time
 * to exit, a `ready: notify` worker has not said READY=1 yet, a nested
 * supervisor is still starting or stopping) it sets `waiting` and returns.
 * The completion calls sup_step() again. An exit or a request that arrives
 * while the supervisor is busy waits in its mailbox, as a message would in
 * OTP, and is served when the operation is over.
 *
 * Failed restarts are not retried in a loop here: the retry is a message
 * (OTP's try_again_restart) that core_run() serves on the next turn of the
 * event loop, so signals, exits and clients are never starved.
 *
 * Memory: every struct child and struct sup is allocated when a child is
 * created (tree start, start_child), never on the exit-to-restart path:
 * exits, restarts, the mailbox and the pid index only relink pointers.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor_internal.h"

enum start_result {
	START_DONE,
	START_PENDING,
	START_FAILED,
};

static void sup_step(struct core *core, struct sup *s, uint64_t now);
static void sup_serve(struct core *core, struct sup *s, uint64_t now, bool allow_retry);
static void sup_begin_stop(struct core *core, struct sup *s, enum exit_reason reason, uint64_t now);
static enum start_result child_start(struct core *core, struct child *c, uint64_t now);
static bool child_stop(struct core *core, struct child *c, uint64_t now);
static void child_free(struct core *core, struct child *c);
static void handle_exit(struct core *core, struct sup *s, struct child *c, uint64_t now);
static void delay_start(struct core *core, struct sup *s, struct child *c, uint64_t now);
static void handle_request(struct core *core, struct sup *s, struct core_request *req,
			   uint64_t now);
static void deadline_passed(struct core *core, struct timer *t, uint64_t now,
			    const char *start_error);
static void step_reloading(struct core *core, struct sup *s, uint64_t now);
static void reload_serve(struct core *core, struct sup *s, uint64_t now);
static void reload_apply_stopped(struct core *core, struct sup *s);
static void reload_finish_part(struct core *core, struct sup *s);
static void reload_part_done(struct core *core);
static void retired_prune(struct sup *s);
static void reload_sup_fini(struct sup *s);
static bool reload_advance(struct core *core, uint64_t now);
static void reload_finish(struct core_reload *r, enum core_error error);
static struct child *find_child_by_id(struct core *core, struct sup *s, const char *id);

/* ---- small helpers ---- */

static bool
child_alive(const struct child *c)
{
	return c->state == CHILD_STARTING || c->state == CHILD_RUNNING ||
	       c->state == CHILD_STOPPING;
}

/* The child exited, but its supervisor has not served that exit yet: to the
 * supervisor it still runs, as an OTP child keeps its pid until the EXIT
 * message is handled (restart_child and delete_child answer `running`). */
static bool
child_exit_queued(const struct child *c)
{
	return c->exit_msg.queued;
}

static struct sup *
parent_sup(const struct child *c)
{
	return c->parent ? c->parent->sup : NULL;
}

static bool
sup_is_dynamic(const struct sup *s)
{
	return s->self->spec->type == NODE_DYNAMIC;
}

static void
emit(struct core *core, const struct core_event *ev)
{
	core->fx->event(core->ctx, ev);
}

static void
emit_simple(struct core *core, enum core_event_type type, const struct child *c, pid_t pid)
{
	struct core_event ev = {.type = type, .path = c->path, .pid = pid};

	emit(core, &ev);
}

/* The start time that backoff's reset_after is measured from. */
static void
mark_started(struct child *c, uint64_t now)
{
	c->started_at_ms = now;
	c->started_at_valid = true;
}

/* A deadline that the shell cannot arm (no memory for a time source) is
 * treated as already passed: the shutdown escalates to SIGKILL, the start
 * fails, at once and visibly (the events say so, the shell logs why). The
 * alternative, waiting without the limit the spec gave, could hang a
 * shutdown forever. */
static void
timer_arm(struct core *core, struct timer *t, uint64_t now, uint64_t delay_ms)
{
	t->deadline_ms = now + delay_ms;
	t->armed = true;
	if (core->fx->timer_arm(core->ctx, t) < 0)
		deadline_passed(core, t, now, "timer_failed");
}

static void
timer_disarm(struct core *core, struct timer *t)
{
	if (!t->armed)
		return;
	t->armed = false;
	core->fx->timer_disarm(core->ctx, t);
}

static void
msg_dequeue(struct sup *s, struct msg *m)
{
	if (!m->queued)
		return;
	TAILQ_REMOVE(&s->mailbox, m, link);
	m->queued = false;
}

static void
msg_enqueue(struct sup *s, struct msg *m)
{
	if (m->queued)
		return;
	m->queued = true;
	TAILQ_INSERT_TAIL(&s->mailbox, m, link);
}

static void
schedule_work(struct core *core, struct sup *s)
{
	if (s->on_work)
		return;
	s->on_work = true;
	TAILQ_INSERT_TAIL(&core->work, s, work_link);
	core->fx->wakeup(core->ctx);
}

static void
request_finish(struct core_request *req, enum core_error error)
{
	req->error = error;
	if (req->message[0] == '\0' && error != CORE_OK)
		snprintf(req->message, sizeof(req->message), "%s", core_error_name(error));
	if (req->done)
		req->done(req);
}

/* ---- creating and freeing nodes ---- */

/* The next automatic id of the dynamic supervisor at `path`. It lives in
 * the core, not in the node, so that numbers are never reused even when a
 * supervisor above is restarted and the node is built anew. */
static uint64_t *
dynamic_counter(struct core *core, const char *path)
{
	struct dynamic_counter *dc;

	for (dc = core->counters; dc; dc = dc->next)
		if (strcmp(dc->path, path) == 0)
			return &dc->next_id;
	dc = calloc(1, sizeof(*dc) + strlen(path) + 1);
	if (!dc)
		return NULL;
	strcpy(dc->path, path);
	dc->next_id = 1;
	dc->next = core->counters;
	core->counters = dc;
	return &dc->next_id;
}

static char *
make_path(const struct child *parent, const char *id)
{
	size_t n;
	char *path;

	if (!parent)
		return strdup("/");
	n = strlen(parent->path) + 1 + strlen(id) + 1;
	path = malloc(n);
	if (!path)
		return NULL;
	if (strcmp(parent->path, "/") == 0)
		snprintf(path, n, "/%s", id);
	else
		snprintf(path, n, "%s/%s", parent->path, id);
	return path;
}

static int sup_build_children(struct core *core, struct sup *s);

static struct child *
child_new(struct core *core, struct child *parent, struct child_spec *spec, bool owns_spec)
{
	struct child *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->spec = spec;
	c->owns_spec = owns_spec;
	c->parent = parent;
	c->id = spec->id ? spec->id : "";
	c->state = CHILD_DOWN;
	c->timer.owner_kind = TIMER_CHILD;
	c->exit_msg.kind = MSG_EXIT;
	c->retry_msg.kind = MSG_RETRY;
	c->reload_slot = -1;
	c->path = make_path(parent, c->id);
	if (!c->path)
		goto fail;
	if (spec_is_supervisor(spec)) {
		c->sup = calloc(1, sizeof(*c->sup));
		if (!c->sup)
			goto fail;
		c->sup->self = c;
		TAILQ_INIT(&c->sup->children);
		TAILQ_INIT(&c->sup->mailbox);
		c->sup->op = SUP_DOWN;
		c->sup->stop_timer.owner_kind = TIMER_SUP;
		c->sup->reload_msg.kind = MSG_RELOAD;
		if (spec->type == NODE_DYNAMIC) {
			c->sup->next_id = dynamic_counter(core, c->path);
			if (!c->sup->next_id)
				goto fail;
		}
		if (intensity_init(&c->sup->intensity, spec->sup.max_restarts,
				   spec->sup.max_seconds) < 0)
			goto fail;
	}
	index_add_path(&core->index, c);
	/* A static supervisor has its children from the start, stopped until
	 * it starts them: tree, which_children and get_childspec show what a
	 * start would run. */
	if (c->sup && sup_build_children(core, c->sup) < 0) {
		index_remove_path(&core->index, c);
		goto fail;
	}
	return c;
fail:
	if (c->sup)
		intensity_fini(&c->sup->intensity);
	free(c->sup);
	free(c->path);
	free(c);
	return NULL;
}

static void
sup_free_children(struct core *core, struct sup *s)
{
	struct child *c;

	while ((c = TAILQ_LAST(&s->children, child_list)))
		child_free(core, c);
}

static void
child_free(struct core *core, struct child *c)
{
	struct sup *p = parent_sup(c);

	if (c->sup) {
		struct msg *m;
		sup_free_children(core, c->sup);
		/* Whoever still waits on this supervisor gets an answer. */
		while ((m = TAILQ_FIRST(&c->sup->mailbox))) {
			msg_dequeue(c->sup, m);
			if (m->kind == MSG_REQUEST)
				request_finish(
					(struct core_request *)((char *)m -
								offsetof(struct core_request, msg)),
					CORE_E_SHUTDOWN);
		}
		if (c->sup->on_work)
			TAILQ_REMOVE(&core->work, c->sup, work_link);
		if (c->sup->stop_timer.handle)
			core->fx->timer_release(core->ctx, &c->sup->stop_timer);
		/* A part of a reload it had yet to apply refers to nothing now. */
		if (c->sup->reload_spec) {
			/* the root's is the whole new tree, which it owns */
			if (!c->parent)
				spec_free(c->sup->reload_spec);
			c->sup->reload_spec = NULL;
			reload_part_done(core);
		}
		if (c->sup->reload_cut)
			reload_part_done(core);
		reload_sup_fini(c->sup);
		intensity_fini(&c->sup->intensity);
		free(c->sup);
		c->sup = NULL;
	}
	if (p) {
		msg_dequeue(p, &c->exit_msg);
		msg_dequeue(p, &c->retry_msg);
		TAILQ_REMOVE(&p->children, c, sibling);
		p->nchildren--;
	}
	if (c->notify != NOTIFY_NONE)
		TAILQ_REMOVE(&core->notify, c, notify_link);
	if (c->pid)
		index_remove_pid(&core->index, c);
	index_remove_path(&core->index, c);
	if (c->timer.handle)
		core->fx->timer_release(core->ctx, &c->timer);
	if (core->fx->child_freed)
		core->fx->child_freed(core->ctx, c);
	free(c->path);
	if (c->owns_spec)
		spec_free(c->spec);
	free(c);
}

/* Puts a new child last in its supervisor's start order. */
static void
sup_append_child(struct sup *s, struct child *c)
{
	TAILQ_INSERT_TAIL(&s->children, c, sibling);
	s->nchildren++;
}

/* Builds the runtime children of a static supervisor from its spec, all
 * stopped. The specs are borrowed: a restarted supervisor starts again from
 * its original child list, as OTP's init/1 would return it. On ENOMEM none
 * is left, and the next start tries again (children_stale). */
static int
sup_build_children(struct core *core, struct sup *s)
{
	const struct sup_spec *ss = &s->self->spec->sup;

	sup_free_children(core, s);
	s->children_stale = false;
	if (s->self->spec->type != NODE_SUPERVISOR)
		return 0;
	for (size_t i = 0; i < ss->nchildren; i++) {
		struct child *c = child_new(core, s->self, ss->children[i], false);
		if (!c) {
			sup_free_children(core, s);
			s->children_stale = true;
			return -ENOMEM;
		}
		sup_append_child(s, c);
	}
	return 0;
}

/* ---- starting ---- */

static enum start_result
worker_start(struct core *core, struct child *c, uint64_t now)
{
	char err[sizeof(c->start_error)] = "";
	int r;

	c->kill_sent = false;
	c->stop_signal_sent = false;
	c->start_failing = false;
	c->pid = 0;
	r = core->fx->spawn(core->ctx, c, &c->pid, err, sizeof(err));
	if (r < 0 || c->pid <= 0) {
		struct core_event ev = {.type = EV_CHILD_START_FAILED, .path = c->path};
		snprintf(c->start_error, sizeof(c->start_error), "%s", err[0] ? err : "spawn");
		c->pid = 0;
		c->state = CHILD_DOWN;
		ev.error = c->start_error;
		emit(core, &ev);
		return START_FAILED;
	}
	index_add_pid(&core->index, c);
	c->start_seq = ++core->start_seq;
	c->started_ms = now;
	c->unhealthy = false;
	if (c->spec->worker.ready != READY_NONE) {
		/* notify, fd, exec, tcp: the shell calls core_child_ready();
		 * exit: the job's normal exit completes the start. */
		c->state = CHILD_STARTING;
		timer_arm(core, &c->timer, now, (uint64_t)c->spec->worker.start_timeout_ms);
		return START_PENDING;
	}
	c->state = CHILD_RUNNING;
	mark_started(c, now);
	emit_simple(core, EV_CHILD_STARTED, c, c->pid);
	return START_DONE;
}

static enum start_result
sup_start(struct core *core, struct child *c, uint64_t now)
{
	struct sup *s = c->sup;

	intensity_reset(&s->intensity);
	s->brutal = false;
	s->start_failed = false;
	s->exit_status = (struct exit_status){0};
	s->stop_reason = REASON_SHUTDOWN;
	s->waiting = false;
	s->failed = NULL;
	c->start_seq = ++core->start_seq;
	c->started_ms = now;
	c->state = CHILD_STARTING;
	emit_simple(core, EV_SUPERVISOR_STARTED, c, 0);
	if (s->children_stale && sup_build_children(core, s) < 0) {
		/* Nothing of this supervisor runs yet: fail its start. */
		struct core_event ev = {
			.type = EV_CHILD_START_FAILED, .path = c->path, .error = "nomem"};
		sup_free_children(core, s);
		emit(core, &ev);
		s->op = SUP_DOWN;
		c->state = CHILD_DOWN;
		return START_FAILED;
	}
	s->op = SUP_STARTING;
	s->cursor = TAILQ_FIRST(&s->children);
	sup_step(core, s, now);
	if (c->state == CHILD_RUNNING)
		return START_DONE;
	if (c->state == CHILD_DOWN)
		return START_FAILED;
	return START_PENDING;
}

static enum start_result
child_start(struct core *core, struct child *c, uint64_t now)
{
	struct sup *p = parent_sup(c);

	/* A new incarnation: an exit or a retry still queued for the old one
	 * no longer means anything (OTP ignores an EXIT from an old pid). */
	if (p) {
		msg_dequeue(p, &c->exit_msg);
		msg_dequeue(p, &c->retry_msg);
	}
	c->start_error[0] = '\0';
	if (c->sup)
		return sup_start(core, c, now);
	return worker_start(core, c, now);
}

/* ---- stopping ---- */

static void
worker_signal(struct core *core, struct child *c, int sig)
{
	struct core_event ev = {
		.type = EV_CHILD_STOPPING, .path = c->path, .pid = c->pid, .signal = sig};

	emit(core, &ev);
	if (sig == SIGKILL)
		c->kill_sent = true;
	else
		c->stop_signal_sent = true;
	core->fx->signal(core->ctx, c, sig);
}

/* SIGKILL a worker already told to stop: its child_stopping event was
 * emitted with the stop signal; shutdown_timeout says the rest. */
static void
worker_kill_quietly(struct core *core, struct child *c)
{
	c->kill_sent = true;
	core->fx->signal(core->ctx, c, SIGKILL);
}

/* SIGKILL every worker of the subtree at once: brutal_kill of a supervisor
 * node, or its shutdown time ran out. Every supervisor below is put into
 * its own shutdown too, so that none of them takes the deaths for crashes
 * and restarts what was just killed. */
static void
sup_kill_all(struct core *core, struct sup *s, uint64_t now)
{
	struct child *c;

	s->brutal = true;
	TAILQ_FOREACH(c, &s->children, sibling)
	{
		if (c->sup) {
			if (c->sup->op == SUP_DOWN)
				continue;
			sup_kill_all(core, c->sup, now);
			if (child_alive(c)) {
				c->state = CHILD_STOPPING;
				timer_disarm(core, &c->timer);
			}
			/* may finish at once; its parent hears of it later */
			sup_begin_stop(core, c->sup, REASON_SHUTDOWN, now);
		} else if (c->pid && !c->kill_sent) {
			timer_disarm(core, &c->timer);
			if (c->stop_signal_sent)
				worker_kill_quietly(core, c);
			else
				worker_signal(core, c, SIGKILL);
		}
	}
}

static void
cancel_delayed_start(struct core *core, struct child *c)
{
	if (!c->start_delayed)
		return;
	c->start_delayed = false;
	c->next_start_ms = 0;
	timer_disarm(core, &c->timer);
}

/* Starts the shutdown procedure for `c`. Returns true when c is already
 * down, false when its end will be reported later. */
static bool
child_stop(struct core *core, struct child *c, uint64_t now)
{
	struct sup *p = parent_sup(c);
	int64_t shutdown_ms = c->spec->shutdown_ms;
	bool brutal = shutdown_ms == SHUTDOWN_BRUTAL_KILL || (p && p->brutal);

	/* OTP's shutdown/1 flushes the child's EXIT from the mailbox (unlink_flush):
	 * an exit still queued is part of this termination, never a crash to
	 * restart afterwards. */
	if (p) {
		msg_dequeue(p, &c->retry_msg);
		msg_dequeue(p, &c->exit_msg);
	}
	if (c->state == CHILD_RESTARTING) {
		/* a pending retry or a start waiting for its backoff delay is
		 * cancelled: the child stays down */
		cancel_delayed_start(core, c);
		c->state = CHILD_DOWN;
	}
	if (c->state == CHILD_DOWN)
		return true;
	if (c->state == CHILD_STOPPING)
		return false;
	c->state = CHILD_STOPPING;
	timer_disarm(core, &c->timer);

	if (c->sup) {
		if (brutal)
			sup_kill_all(core, c->sup, now);
		else if (shutdown_ms >= 0)
			timer_arm(core, &c->timer, now, (uint64_t)shutdown_ms);
		sup_begin_stop(core, c->sup, REASON_SHUTDOWN, now);
		return c->state == CHILD_DOWN;
	}

	if (c->kill_sent)
		return false;
	if (brutal) {
		worker_signal(core, c, SIGKILL);
		return false;
	}
	worker_signal(core, c, c->spec->worker.stop_signal);
	/* A dynamic supervisor's children share one deadline (sup->stop_timer)
	 * when the whole supervisor stops; a single terminate_child arms the
	 * child's own. */
	if (shutdown_ms >= 0 && !(p && sup_is_dynamic(p) && p->op == SUP_STOPPING))
		timer_arm(core, &c->timer, now, (uint64_t)shutdown_ms);
	return false;
}

/* ---- nested supervisors report to their parent through a queue ----
 *
 * A nested supervisor finishes (started, stopped, gone by itself) deep
 * inside its own sup_step(). Telling its parent right there could let the
 * parent free it (a temporary child, a group restart) while its frames are
 * still on the stack. So the news waits on core->notify, and every entry
 * point drains that queue with core_flush() once nothing is on the stack.
 * A parent that was not waiting for the news (the child finished at once,
 * inside the parent's own call) simply ignores it.
 */
static void
notify_parent(struct core *core, struct child *c, enum notify_kind kind)
{
	if (c->notify != NOTIFY_NONE)
		TAILQ_REMOVE(&core->notify, c, notify_link);
	c->notify = kind;
	TAILQ_INSERT_TAIL(&core->notify, c, notify_link);
}

static void sup_child_started(struct core *core, struct child *c, uint64_t now);
static void sup_child_start_failed(struct core *core, struct child *c, uint64_t now);
static void sup_child_stopped(struct core *core, struct child *c, uint64_t now);
static void deliver_exit(struct core *core, struct sup *s, struct child *c, uint64_t now);

static void
core_flush(struct core *core, uint64_t now)
{
	struct child *c;

again:
	while ((c = TAILQ_FIRST(&core->notify))) {
		enum notify_kind kind = c->notify;
		TAILQ_REMOVE(&core->notify, c, notify_link);
		c->notify = NOTIFY_NONE;
		switch (kind) {
		case NOTIFY_STARTED:
			sup_child_started(core, c, now);
			break;
		case NOTIFY_START_FAILED:
			sup_child_start_failed(core, c, now);
			break;
		case NOTIFY_STOPPED:
			sup_child_stopped(core, c, now);
			break;
		case NOTIFY_EXITED:
			deliver_exit(core, parent_sup(c), c, now);
			break;
		case NOTIFY_NONE:
			break;
		}
	}
	/* A reload whose parts are all applied answers, and the next one
	 * begins, once nothing of the core is on the stack. */
	if (reload_advance(core, now))
		goto again;
}

/* ---- the operations ---- */

static void
sup_finish_op(struct core *core, struct sup *s, uint64_t now)
{
	s->op = SUP_IDLE;
	s->cursor = NULL;
	s->group_first = NULL;
	s->group_last = NULL;
	s->call = NULL;
	s->waiting = false;
	s->failed = NULL;
	s->done = NULL;
	s->delay_child = NULL;
	sup_serve(core, s, now, false);
}

/* The supervisor is gone: its children have all exited. */
static void
sup_finish_stop(struct core *core, struct sup *s, uint64_t now)
{
	struct child *self = s->self;
	struct core_event ev = {.type = EV_SUPERVISOR_STOPPED, .path = self->path};
	enum child_state was = self->state;
	bool start_failed = s->start_failed;

	timer_disarm(core, &s->stop_timer);
	/* A reload part that waited for the stop applies now: the rebuild
	 * below uses the new spec. */
	if (s->reload_spec)
		reload_apply_stopped(core, s);
	/* Its children go; a static one's come back from its spec, stopped,
	 * as its next start will run them (start_child additions are gone,
	 * deleted and temporary children are back). The root's are not
	 * needed any more: supd exits. */
	if (self->parent)
		sup_build_children(core, s);
	else
		sup_free_children(core, s);
	retired_prune(s);
	if (s->reload_cut) {
		s->reload_cut = false;
		reload_finish_part(core, s);
	}
	s->op = SUP_DOWN;
	s->cursor = NULL;
	s->call = NULL;
	s->waiting = false;
	self->state = CHILD_DOWN;
	timer_disarm(core, &self->timer);
	ev.reason = s->stop_reason;
	emit(core, &ev);

	if (!self->parent) {
		core->stopped = true;
		core->fx->stopped(core->ctx, core->exit_code);
		return;
	}
	if (was == CHILD_STOPPING) {
		notify_parent(core, self, NOTIFY_STOPPED);
		return;
	}
	if (start_failed) {
		struct core_event fev = {
			.type = EV_CHILD_START_FAILED, .path = self->path, .error = "shutdown"};
		snprintf(self->start_error, sizeof(self->start_error), "shutdown");
		emit(core, &fev);
		notify_parent(core, self, NOTIFY_START_FAILED);
		return;
	}
	/* It went by itself (restart limit or auto_shutdown): to its parent
	 * this is an exit with reason shutdown. */
	self->last_status = s->exit_status;
	self->last_reason = REASON_SHUTDOWN;
	notify_parent(core, self, NOTIFY_EXITED);
	(void)now;
}

static void
sup_begin_stop(struct core *core, struct sup *s, enum exit_reason reason, uint64_t now)
{
	struct child *c, *next;
	struct msg *m;

	if (s->op == SUP_STOPPING || s->op == SUP_DOWN)
		return;
	if (s->op == SUP_CALL && s->call) {
		struct core_request *req = s->call;
		s->call = NULL;
		request_finish(req, CORE_E_SHUTDOWN);
	}
	/* A reload cut short: what it applied stays; the part is over when
	 * the stop is (children it was removing still use the old specs). */
	if (s->op == SUP_RELOADING)
		s->reload_cut = true;
	s->op = SUP_STOPPING;
	s->stop_reason = reason;
	s->waiting = false;
	s->failed = NULL;
	s->done = NULL;
	s->delay_child = NULL;
	s->group_first = s->group_last = NULL;
	/* A stopping supervisor serves nothing more: drop queued exits and
	 * retries, answer queued requests. */
	while ((m = TAILQ_FIRST(&s->mailbox))) {
		msg_dequeue(s, m);
		if (m->kind == MSG_REQUEST)
			request_finish((struct core_request *)((char *)m -
							       offsetof(struct core_request, msg)),
				       CORE_E_SHUTDOWN);
	}
	if (s->on_work) {
		TAILQ_REMOVE(&core->work, s, work_link);
		s->on_work = false;
	}

	if (sup_is_dynamic(s)) {
		/* All at once, with one deadline per distinct shutdown value:
		 * every child comes from the template, so there is one. */
		int64_t shutdown_ms = s->self->spec->sup.template_spec->shutdown_ms;
		s->nstopping = 0;
		for (c = TAILQ_FIRST(&s->children); c; c = next) {
			next = TAILQ_NEXT(c, sibling);
			if (child_stop(core, c, now))
				child_free(core, c);
			else
				s->nstopping++;
		}
		if (s->nstopping == 0) {
			sup_finish_stop(core, s, now);
			return;
		}
		if (shutdown_ms >= 0 && !s->brutal)
			timer_arm(core, &s->stop_timer, now, (uint64_t)shutdown_ms);
		return;
	}
	s->cursor = TAILQ_LAST(&s->children, child_list);
	sup_step(core, s, now);
}

/* The child that the restart could not start: count the retry, and queue
 * it behind whatever already waits in the mailbox (OTP's try_again). */
static void
sup_restart_failed(struct core *core, struct sup *s, struct child *c, uint64_t now)
{
	c->state = CHILD_RESTARTING;
	s->op = SUP_IDLE;
	s->cursor = NULL;
	s->waiting = false;
	s->failed = NULL;
	s->done = NULL;
	s->delay_child = NULL;
	msg_enqueue(s, &c->retry_msg);
	schedule_work(core, s);
	sup_serve(core, s, now, false);
}

static void
step_starting(struct core *core, struct sup *s, uint64_t now)
{
	while (s->cursor) {
		struct child *c = s->cursor;
		enum start_result r;

		if (s->failed == c) {
			r = START_FAILED;
		} else if (c->state == CHILD_RUNNING || s->done == c) {
			r = START_DONE;
		} else if (c->state == CHILD_STARTING) {
			s->waiting = true;
			return;
		} else {
			r = child_start(core, c, now);
		}
		if (r == START_PENDING) {
			s->waiting = true;
			return;
		}
		if (r == START_FAILED) {
			/* No later child is started; the started ones are
			 * terminated in reverse order and this supervisor
			 * fails to start. */
			s->failed = NULL;
			s->start_failed = true;
			if (!s->self->parent)
				core->exit_code = 1;
			sup_begin_stop(core, s, REASON_SHUTDOWN, now);
			return;
		}
		s->cursor = TAILQ_NEXT(c, sibling);
	}
	s->self->state = CHILD_RUNNING;
	mark_started(s->self, now);
	if (!s->self->parent && core->fx->tree_started)
		core->fx->tree_started(core->ctx);
	sup_finish_op(core, s, now);
	if (s->self->parent)
		notify_parent(core, s->self, NOTIFY_STARTED);
}

static void
step_restarting(struct core *core, struct sup *s, uint64_t now)
{
	if (s->group_phase == GROUP_TERMINATE) {
		struct child *stop_at =
			s->group_first ? TAILQ_PREV(s->group_first, child_list, sibling) : NULL;
		while (s->cursor && s->cursor != stop_at) {
			struct child *c = s->cursor;
			if (child_alive(c) || c->state == CHILD_RESTARTING) {
				if (!child_stop(core, c, now)) {
					s->waiting = true;
					return;
				}
			}
			s->cursor = TAILQ_PREV(c, child_list, sibling);
			if (c->spec->restart == RESTART_TEMPORARY && c != s->group_first)
				child_free(core, c);
		}
		s->group_phase = GROUP_START;
		s->cursor = s->group_first ? s->group_first : TAILQ_FIRST(&s->children);
		if (s->delay_child) {
			/* the group is down: its start waits for the backoff
			 * delay of the child whose exit caused the restart */
			struct child *c = s->delay_child;
			s->delay_child = NULL;
			delay_start(core, s, c, now);
			return;
		}
	}
	while (s->cursor) {
		struct child *c = s->cursor;
		enum start_result r;

		if (s->failed == c) {
			r = START_FAILED;
		} else if (c->state == CHILD_RUNNING || s->done == c) {
			r = START_DONE;
		} else if (c->state == CHILD_STARTING) {
			r = START_PENDING;
		} else {
			/* every start a restart makes counts, bystanders of a
			 * group restart included */
			c->restarts++;
			r = child_start(core, c, now);
		}
		if (r == START_PENDING) {
			s->waiting = true;
			return;
		}
		if (r == START_FAILED) {
			sup_restart_failed(core, s, c, now);
			return;
		}
		if (c == s->group_last)
			break;
		s->cursor = TAILQ_NEXT(c, sibling);
	}
	sup_finish_op(core, s, now);
}

static void
step_stopping(struct core *core, struct sup *s, uint64_t now)
{
	if (sup_is_dynamic(s)) {
		if (s->nstopping == 0)
			sup_finish_stop(core, s, now);
		return;
	}
	while (s->cursor) {
		struct child *c = s->cursor;
		if (!child_stop(core, c, now)) {
			s->waiting = true;
			return;
		}
		s->cursor = TAILQ_PREV(c, child_list, sibling);
	}
	sup_finish_stop(core, s, now);
}

static void
call_reply_started(struct core *core, struct sup *s, struct core_request *req, struct child *c,
		   bool ok)
{
	if (ok) {
		req->pid = c->pid;
		req->child = c;
		snprintf(req->child_id, sizeof(req->child_id), "%s", c->id);
		request_finish(req, CORE_OK);
		return;
	}
	snprintf(req->message, sizeof(req->message), "%s",
		 c->start_error[0] ? c->start_error : "start failed");
	/* OTP discards the spec of a child that start_child could not start;
	 * restart_child keeps it. A dynamic id is not used up. */
	if (req->op == OP_START_CHILD) {
		if (sup_is_dynamic(s) && !req->id)
			(*s->next_id)--;
		child_free(core, c);
	}
	req->child = NULL;
	request_finish(req, CORE_E_START_FAILED);
}

static void
step_call(struct core *core, struct sup *s, uint64_t now)
{
	struct core_request *req = s->call;
	struct child *c = s->cursor;

	switch (req->op) {
	case OP_START_CHILD:
	case OP_RESTART_CHILD:
		if (s->failed == c) {
			s->failed = NULL;
			call_reply_started(core, s, req, c, false);
		} else if (c->state == CHILD_STARTING) {
			s->waiting = true;
			return;
		} else {
			call_reply_started(core, s, req, c,
					   c->state == CHILD_RUNNING || s->done == c);
		}
		break;
	case OP_TERMINATE_CHILD:
		if (!child_stop(core, c, now)) {
			s->waiting = true;
			return;
		}
		if (sup_is_dynamic(s) || c->spec->restart == RESTART_TEMPORARY)
			child_free(core, c);
		request_finish(req, CORE_OK);
		break;
	case OP_DELETE_CHILD:
		break;
	}
	sup_finish_op(core, s, now);
}

static void
sup_step(struct core *core, struct sup *s, uint64_t now)
{
	/* Completions may arrive while a step runs (a nested supervisor that
	 * starts or stops at once); run again instead of recursing. */
	if (s->stepping) {
		s->step_again = true;
		return;
	}
	s->stepping = true;
	do {
		s->step_again = false;
		if (s->waiting)
			break;
		switch (s->op) {
		case SUP_STARTING:
			step_starting(core, s, now);
			break;
		case SUP_RESTARTING:
			step_restarting(core, s, now);
			break;
		case SUP_CALL:
			step_call(core, s, now);
			break;
		case SUP_STOPPING:
			step_stopping(core, s, now);
			break;
		case SUP_RELOADING:
			step_reloading(core, s, now);
			break;
		case SUP_IDLE:
		case SUP_DOWN:
			break;
		}
	} while (s->step_again && s->op != SUP_DOWN);
	s->stepping = false;
}

/* ---- completions, reported to the parent of `c` ---- */

static bool
sup_awaits(const struct sup *s, const struct child *c)
{
	return s && s->waiting && s->cursor == c;
}

static void
sup_child_started(struct core *core, struct child *c, uint64_t now)
{
	struct sup *s = parent_sup(c);

	if (!sup_awaits(s, c))
		return;
	s->waiting = false;
	if (c->state == CHILD_DOWN)
		s->done = c; /* a `ready: exit` job that finished */
	sup_step(core, s, now);
}

static void
sup_child_start_failed(struct core *core, struct child *c, uint64_t now)
{
	struct sup *s = parent_sup(c);

	if (!sup_awaits(s, c))
		return;
	s->waiting = false;
	s->failed = c;
	sup_step(core, s, now);
}

static void
sup_child_stopped(struct core *core, struct child *c, uint64_t now)
{
	struct sup *s = parent_sup(c);

	if (s && sup_is_dynamic(s) && s->op == SUP_STOPPING) {
		child_free(core, c);
		if (--s->nstopping == 0)
			sup_finish_stop(core, s, now);
		return;
	}
	if (!sup_awaits(s, c))
		return;
	s->waiting = false;
	sup_step(core, s, now);
}

/* ---- exits the supervisor did not cause ---- */

static void
deliver_exit(struct core *core, struct sup *s, struct child *c, uint64_t now)
{
	if (s->op == SUP_STOPPING) {
		/* Going down anyway: never a restart. A dynamic supervisor
		 * counts it as one of the children it waits for. */
		if (sup_is_dynamic(s)) {
			child_free(core, c);
			if (--s->nstopping == 0)
				sup_finish_stop(core, s, now);
		}
		return;
	}
	if (s->op == SUP_IDLE && TAILQ_EMPTY(&s->mailbox) && !s->serving) {
		handle_exit(core, s, c, now);
		return;
	}
	msg_enqueue(s, &c->exit_msg);
	if (s->op == SUP_IDLE)
		sup_serve(core, s, now, false);
}

static bool
significant_left(const struct sup *s)
{
	const struct child *c;

	TAILQ_FOREACH(c, &s->children, sibling)
	{
		if (c->spec->significant && (child_alive(c) || c->state == CHILD_RESTARTING))
			return true;
	}
	return false;
}

static void
give_up(struct core *core, struct sup *s, uint64_t now)
{
	struct core_event ev = {.type = EV_RESTART_LIMIT,
				.path = s->self->path,
				.max_restarts = s->intensity.max_restarts,
				.max_seconds = s->intensity.max_seconds};

	emit(core, &ev);
	s->exit_status = (struct exit_status){.signaled = false, .value = 1};
	if (!s->self->parent)
		core->exit_code = 1;
	sup_begin_stop(core, s, REASON_SHUTDOWN, now);
}

/* Sets up a restart caused by c: the group of the strategy, in the phase
 * `phase` (GROUP_START skips terminating, for a start that waited). */
static void
restart_group(struct sup *s, struct child *c, enum group_phase phase)
{
	enum strategy strategy = s->self->spec->sup.strategy;

	s->op = SUP_RESTARTING;
	s->waiting = false;
	s->failed = NULL;
	s->done = NULL;
	s->delay_child = NULL;
	if (sup_is_dynamic(s) || strategy == STRATEGY_ONE_FOR_ONE) {
		s->group_first = c;
		s->group_last = c;
		s->group_phase = GROUP_START;
		s->cursor = c;
		return;
	}
	s->group_first = strategy == STRATEGY_REST_FOR_ONE ? c : NULL;
	s->group_last = NULL;
	s->group_phase = phase;
	if (phase == GROUP_TERMINATE)
		s->cursor = TAILQ_LAST(&s->children, child_list);
	else
		s->cursor = s->group_first ? s->group_first : TAILQ_FIRST(&s->children);
}

/* Backoff (SPEC 7.4): the delay of this restart decision. The first waits
 * min, each further one twice the last, up to max; a run of reset_after
 * since the last start resets it to min. 0 without backoff. */
static uint64_t
backoff_next(struct child *c, uint64_t now)
{
	const struct backoff_spec *b = &c->spec->backoff;
	uint64_t delay;

	if (b->min_ms <= 0)
		return 0;
	if (c->backoff_last_ms == 0 ||
	    (c->started_at_valid && now - c->started_at_ms >= (uint64_t)b->reset_after_ms))
		delay = (uint64_t)b->min_ms;
	else
		delay = c->backoff_last_ms * 2;
	if (delay > (uint64_t)b->max_ms)
		delay = (uint64_t)b->max_ms;
	if (delay < (uint64_t)b->min_ms)
		delay = (uint64_t)b->min_ms;
	c->backoff_last_ms = delay;
	/* reset_after counts from the next start, not from this one's */
	c->started_at_valid = false;
	return delay;
}

/* The restart of c waits: c is `restarting` until its timer fires, and the
 * supervisor serves its mailbox meanwhile. The decision was counted. */
static void
delay_start(struct core *core, struct sup *s, struct child *c, uint64_t now)
{
	struct core_event ev = {.type = EV_RESTART_DELAYED, .path = c->path};

	c->state = CHILD_RESTARTING;
	c->start_delayed = true;
	c->next_start_ms = now + c->backoff_last_ms;
	timer_arm(core, &c->timer, now, c->backoff_last_ms);
	ev.delay_ms = c->backoff_last_ms;
	emit(core, &ev);
	sup_finish_op(core, s, now);
}

/* Every restart decision, first try or retry, is recorded before the
 * restart is attempted, and may be the one that exceeds the intensity.
 * With backoff, only the start waits: the decision and its record are
 * made now, and a group is terminated now. */
static void
restart_decision(struct core *core, struct sup *s, struct child *c, uint64_t now)
{
	uint64_t delay;

	if (intensity_add(&s->intensity, now / 1000)) {
		give_up(core, s, now);
		return;
	}
	delay = backoff_next(c, now);
	restart_group(s, c, GROUP_TERMINATE);
	if (delay && s->group_phase == GROUP_START) {
		delay_start(core, s, c, now);
		return;
	}
	if (delay)
		s->delay_child = c;
	sup_step(core, s, now);
}

/* The backoff delay of c ran out: the restart it decided goes on. */
static void
resume_delayed_start(struct core *core, struct sup *s, struct child *c, uint64_t now)
{
	c->start_delayed = false;
	c->next_start_ms = 0;
	restart_group(s, c, GROUP_START);
	sup_step(core, s, now);
}

static void
handle_exit(struct core *core, struct sup *s, struct child *c, uint64_t now)
{
	enum restart_type restart = c->spec->restart;
	bool crash = c->last_reason == REASON_CRASH || c->last_reason == REASON_KILLED ||
		     c->last_reason == REASON_UNHEALTHY;
	bool restart_it = restart == RESTART_PERMANENT || (restart == RESTART_TRANSIENT && crash);

	if (!restart_it) {
		enum auto_shutdown as = s->self->spec->sup.auto_shutdown;
		bool fire = false;
		if (c->spec->significant && !sup_is_dynamic(s)) {
			fire = as == AUTO_SHUTDOWN_ANY_SIGNIFICANT ||
			       (as == AUTO_SHUTDOWN_ALL_SIGNIFICANT && !significant_left(s));
		}
		if (fire) {
			struct core_event ev = {.type = EV_AUTO_SHUTDOWN,
						.path = s->self->path,
						.trigger = c->path};
			emit(core, &ev);
			s->exit_status = c->last_status;
			if (!s->self->parent)
				core->exit_code = exit_status_code(c->last_status);
		}
		if (restart == RESTART_TEMPORARY || sup_is_dynamic(s))
			child_free(core, c);
		if (fire)
			sup_begin_stop(core, s, REASON_SHUTDOWN, now);
		return;
	}
	restart_decision(core, s, c, now);
}

static void
handle_retry(struct core *core, struct sup *s, struct child *c, uint64_t now)
{
	/* one_for_all restarts the whole group again; rest_for_one goes on
	 * from the child that failed; one_for_one retries that child. */
	if (c->state != CHILD_RESTARTING)
		return;
	if (c->start_delayed)
		resume_delayed_start(core, s, c, now);
	else
		restart_decision(core, s, c, now);
}

static void
sup_serve(struct core *core, struct sup *s, uint64_t now, bool allow_retry)
{
	struct msg *m;

	if (s->serving)
		return;
	s->serving = true;
	while (s->op == SUP_IDLE && (m = TAILQ_FIRST(&s->mailbox))) {
		if (m->kind == MSG_RETRY && !allow_retry) {
			schedule_work(core, s);
			break;
		}
		msg_dequeue(s, m);
		switch (m->kind) {
		case MSG_EXIT: {
			struct child *c =
				(struct child *)((char *)m - offsetof(struct child, exit_msg));
			handle_exit(core, s, c, now);
			break;
		}
		case MSG_RETRY: {
			struct child *c =
				(struct child *)((char *)m - offsetof(struct child, retry_msg));
			allow_retry = false;
			handle_retry(core, s, c, now);
			break;
		}
		case MSG_RELOAD:
			reload_serve(core, s, now);
			break;
		case MSG_REQUEST:
			handle_request(core, s,
				       (struct core_request *)((char *)m -
							       offsetof(struct core_request, msg)),
				       now);
			break;
		}
	}
	s->serving = false;
}

/* ---- control requests ---- */

struct child *
sup_find_child(const struct sup *s, const char *id)
{
	struct child *c;

	TAILQ_FOREACH(c, &s->children, sibling)
	{
		if (strcmp(c->id, id) == 0)
			return c;
	}
	return NULL;
}

static struct child *
find_child_by_id(struct core *core, struct sup *s, const char *id)
{
	char path[CHILD_PATH_MAX];
	int n;

	/* Dynamic supervisors may hold thousands of children: use the index.
	 * A path that does not fit names no valid child; a truncated one
	 * could name a sibling. */
	if (strcmp(s->self->path, "/") == 0)
		n = snprintf(path, sizeof(path), "/%s", id);
	else
		n = snprintf(path, sizeof(path), "%s/%s", s->self->path, id);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	return index_find_path(&core->index, path);
}

/* Appends copies of add[0..nadd) to the NULL-terminated vector *v of *n. */
static int
strv_append(char ***v, size_t *n, const char *const *add, size_t nadd)
{
	char **grown;

	if (!nadd)
		return 0;
	grown = realloc(*v, (*n + nadd + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	*v = grown;
	for (size_t i = 0; i < nadd; i++) {
		grown[*n] = strdup(add[i]);
		if (!grown[*n])
			return -1;
		grown[++*n] = NULL;
	}
	return 0;
}

static struct child_spec *
dynamic_spec(const struct child_spec *tmpl, const char *id, const struct core_request *req)
{
	struct child_spec *spec = spec_clone(tmpl);
	struct worker_spec *w;

	if (!spec)
		return NULL;
	spec->id = strdup(id);
	if (!spec->id)
		goto fail;
	w = &spec->worker;
	if (strv_append(&w->argv, &w->argc, req->args, req->nargs) < 0 ||
	    strv_append(&w->env, &w->envc, req->env, req->nenv) < 0)
		goto fail;
	/* Without env of its own, the child's environment is its template's:
	 * share the template's block instead of building a copy per child. */
	if (!req->nenv)
		w->env_source = (struct worker_spec *)&tmpl->worker;
	return spec;
fail:
	spec_free(spec);
	return NULL;
}

static void
start_child_call(struct core *core, struct sup *s, struct core_request *req, struct child *c,
		 uint64_t now)
{
	enum start_result r;

	s->op = SUP_CALL;
	s->call = req;
	s->cursor = c;
	s->waiting = false;
	s->failed = NULL;
	s->done = NULL;
	r = child_start(core, c, now);
	if (r == START_FAILED)
		s->failed = c;
	sup_step(core, s, now);
}

static void
request_start_dynamic(struct core *core, struct sup *s, struct core_request *req, uint64_t now)
{
	const struct sup_spec *ss = &s->self->spec->sup;
	char auto_id[24];
	const char *id = req->id;
	struct child_spec *spec;
	struct child *c;

	if (ss->max_children != SPEC_UNLIMITED && s->nchildren >= ss->max_children) {
		request_finish(req, CORE_E_MAX_CHILDREN);
		return;
	}
	if (id) {
		if (!spec_id_valid(id)) {
			request_finish(req, CORE_E_INVALID);
			return;
		}
		if (find_child_by_id(core, s, id)) {
			snprintf(req->child_id, sizeof(req->child_id), "%s", id);
			request_finish(req, CORE_E_ALREADY_STARTED);
			return;
		}
	} else {
		/* Numbers are never reused; skip any that a caller took as
		 * an explicit id. */
		do {
			snprintf(auto_id, sizeof(auto_id), "%llu",
				 (unsigned long long)(*s->next_id)++);
		} while (find_child_by_id(core, s, auto_id));
		id = auto_id;
	}
	spec = dynamic_spec(ss->template_spec, id, req);
	c = spec ? child_new(core, s->self, spec, true) : NULL;
	if (!c) {
		spec_free(spec);
		if (!req->id)
			(*s->next_id)--;
		request_finish(req, CORE_E_NOMEM);
		return;
	}
	sup_append_child(s, c);
	start_child_call(core, s, req, c, now);
}

static void
request_start_static(struct core *core, struct sup *s, struct core_request *req, uint64_t now)
{
	struct child_spec *spec = req->spec;
	const struct sup_spec *ss = &s->self->spec->sup;
	struct child *c;

	req->spec = NULL; /* ours from here on */
	if (!spec || !spec_id_valid(spec->id) ||
	    (spec->significant &&
	     (spec->restart == RESTART_PERMANENT || ss->auto_shutdown == AUTO_SHUTDOWN_NEVER))) {
		spec_free(spec);
		request_finish(req, CORE_E_INVALID);
		return;
	}
	c = sup_find_child(s, spec->id);
	if (c) {
		snprintf(req->child_id, sizeof(req->child_id), "%s", spec->id);
		spec_free(spec);
		request_finish(req, child_alive(c) || c->state == CHILD_RESTARTING ||
						    child_exit_queued(c)
					    ? CORE_E_ALREADY_STARTED
					    : CORE_E_ALREADY_PRESENT);
		return;
	}
	c = child_new(core, s->self, spec, true);
	if (!c) {
		spec_free(spec);
		request_finish(req, CORE_E_NOMEM);
		return;
	}
	sup_append_child(s, c);
	start_child_call(core, s, req, c, now);
}

static void
handle_request(struct core *core, struct sup *s, struct core_request *req, uint64_t now)
{
	bool dynamic = sup_is_dynamic(s);
	struct child *c;

	if (req->op == OP_START_CHILD) {
		if (dynamic)
			request_start_dynamic(core, s, req, now);
		else
			request_start_static(core, s, req, now);
		return;
	}
	if ((req->op == OP_RESTART_CHILD || req->op == OP_DELETE_CHILD) && dynamic) {
		request_finish(req, CORE_E_NOT_SUPPORTED);
		return;
	}
	c = req->id ? find_child_by_id(core, s, req->id) : NULL;
	if (!c || c->parent != s->self) {
		request_finish(req, CORE_E_NOT_FOUND);
		return;
	}
	switch (req->op) {
	case OP_TERMINATE_CHILD:
		s->op = SUP_CALL;
		s->call = req;
		s->cursor = c;
		s->waiting = false;
		s->failed = NULL;
		sup_step(core, s, now);
		return;
	case OP_RESTART_CHILD:
		if (c->state == CHILD_RESTARTING) {
			request_finish(req, CORE_E_RESTARTING);
			return;
		}
		if (c->state != CHILD_DOWN || child_exit_queued(c)) {
			request_finish(req, CORE_E_RUNNING);
			return;
		}
		start_child_call(core, s, req, c, now);
		return;
	case OP_DELETE_CHILD:
		if (c->state == CHILD_RESTARTING) {
			request_finish(req, CORE_E_RESTARTING);
			return;
		}
		if (c->state != CHILD_DOWN || child_exit_queued(c)) {
			request_finish(req, CORE_E_RUNNING);
			return;
		}
		child_free(core, c);
		request_finish(req, CORE_OK);
		return;
	case OP_START_CHILD:
		break;
	}
}

static void
on_submit(struct core *core, struct core_request *req, uint64_t now)
{
	struct sup *s = req->target ? req->target->sup : NULL;

	req->error = CORE_OK;
	req->pid = 0;
	req->child = NULL;
	req->child_id[0] = '\0';
	req->message[0] = '\0';
	req->msg.kind = MSG_REQUEST;
	req->msg.queued = false;
	if (!s) {
		if (req->op == OP_START_CHILD) {
			spec_free(req->spec);
			req->spec = NULL;
		}
		request_finish(req, CORE_E_NOT_FOUND);
		return;
	}
	if (s->op == SUP_STOPPING || s->op == SUP_DOWN || core->shutting_down) {
		if (req->op == OP_START_CHILD) {
			spec_free(req->spec);
			req->spec = NULL;
		}
		request_finish(req, CORE_E_SHUTDOWN);
		return;
	}
	if (s->op == SUP_IDLE && TAILQ_EMPTY(&s->mailbox) && !s->serving) {
		handle_request(core, s, req, now);
		return;
	}
	msg_enqueue(s, &req->msg);
}

/* ---- reload (SPEC 7.5) ----
 *
 * The new tree comes whole, checked by the loader. Each supervisor applies
 * its own level of it as one operation (SUP_RELOADING), served from its
 * mailbox like any message, so that it never runs in the middle of a
 * restart, a call or a shutdown: children are matched by id, the removed
 * and changed ones are terminated last-first, the list is put in the
 * file's order (new nodes for added and changed children), and those are
 * started first-first. A nested supervisor of the same kind is not changed
 * at its parent: it gets its own part, queued when the parent's begins.
 *
 * Specs: runtime children borrow their spec from their supervisor's spec
 * node. An unchanged worker keeps its spec object (which spawn.c caches its
 * environment in): it moves into the new tree, and the equal new one into
 * the old tree's slot. The old tree is freed when every part is applied:
 * by then no node refers to it (a supervisor that stops or is down applies
 * its part when it is rebuilt; a freed one has nothing to apply).
 */

struct reload_lists {
	char **ids[4]; /* added, removed, changed, failed */
	size_t n[4];
	size_t cap;
	bool changed; /* flags, order or a template changed */
};

enum {
	LIST_ADDED,
	LIST_REMOVED,
	LIST_CHANGED,
	LIST_FAILED
};

static const struct output_spec no_output = {.mode = OUTPUT_UNSET};

static struct reload_lists *
lists_new(size_t cap)
{
	struct reload_lists *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->cap = cap ? cap : 1;
	for (int i = 0; i < 4; i++) {
		l->ids[i] = calloc(l->cap, sizeof(char *));
		if (!l->ids[i]) {
			for (int j = 0; j < i; j++)
				free(l->ids[j]);
			free(l);
			return NULL;
		}
	}
	return l;
}

static void
lists_free(struct reload_lists *l)
{
	if (!l)
		return;
	for (int i = 0; i < 4; i++) {
		for (size_t k = 0; k < l->n[i]; k++)
			free(l->ids[i][k]);
		free(l->ids[i]);
	}
	free(l);
}

/* A list without memory for an id loses that id, not the reload. */
static void
lists_add(struct reload_lists *l, int which, const char *id)
{
	if (!l || l->n[which] >= l->cap)
		return;
	l->ids[which][l->n[which]] = strdup(id);
	if (l->ids[which][l->n[which]])
		l->n[which]++;
}

/* The output that applies below c, from the specs its node has now. */
static const struct output_spec *
output_below(const struct child *c)
{
	for (; c; c = c->parent)
		if (c->spec->output.mode != OUTPUT_UNSET)
			return &c->spec->output;
	return &no_output;
}

static const struct output_spec *
output_of(const struct child_spec *spec, const struct output_spec *inherited)
{
	return spec->output.mode != OUTPUT_UNSET ? &spec->output : inherited;
}

/* The keys a supervisor node has as its parent's child. */
static bool
node_keys_equal(const struct child_spec *a, const struct child_spec *b)
{
	return a->restart == b->restart && a->shutdown_ms == b->shutdown_ms &&
	       a->significant == b->significant && a->backoff.min_ms == b->backoff.min_ms &&
	       a->backoff.max_ms == b->backoff.max_ms &&
	       a->backoff.reset_after_ms == b->backoff.reset_after_ms &&
	       spec_output_equal(&a->output, &b->output);
}

/* Old templates are kept while a running dynamic child still borrows its
 * environment block (env_source); the others go. */
static void
retired_prune(struct sup *s)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->nretired; i++) {
		struct child_spec *t = s->retired[i];
		bool used = false;
		struct child *c;
		TAILQ_FOREACH(c, &s->children, sibling)
		{
			if (!c->sup && c->spec->worker.env_source == &t->worker) {
				used = true;
				break;
			}
		}
		if (used)
			s->retired[kept++] = t;
		else
			spec_free(t);
	}
	s->nretired = kept;
	if (!kept) {
		free(s->retired);
		s->retired = NULL;
	}
}

static void
retire_template(struct sup *s, struct child_spec *tmpl)
{
	struct child_spec **grown = realloc(s->retired, (s->nretired + 1) * sizeof(*grown));
	struct child *c;

	if (grown) {
		s->retired = grown;
		s->retired[s->nretired++] = tmpl;
		retired_prune(s);
		return;
	}
	/* No room to keep it: the children build their own block. */
	TAILQ_FOREACH(c, &s->children, sibling)
	{
		if (!c->sup && c->spec->worker.env_source == &tmpl->worker)
			c->spec->worker.env_source = NULL;
	}
	spec_free(tmpl);
}

/* The supervisor's node takes its new spec: flags in place, a dynamic
 * template swapped (equal: the old object stays, children borrow from it)
 * or retired. */
static void
reload_take_spec(struct core *core, struct sup *s, struct child_spec *new,
		 const struct output_spec *old_out, const struct output_spec *new_out)
{
	struct child *self = s->self;
	struct child_spec *old = self->spec;
	struct reload_lists *l = s->lists;

	if (l && (!spec_sup_flags_equal(old, new) || !node_keys_equal(old, new)))
		l->changed = true;
	if (old->sup.max_restarts != new->sup.max_restarts ||
	    old->sup.max_seconds != new->sup.max_seconds) {
		struct intensity in = {0};
		if (intensity_init(&in, new->sup.max_restarts, new->sup.max_seconds) == 0) {
			intensity_fini(&s->intensity);
			s->intensity = in;
		}
	}
	if (new->type == NODE_DYNAMIC && old->sup.template_spec &&new->sup.template_spec) {
		struct child_spec *t = old->sup.template_spec;
		if (spec_equal_in(t, new->sup.template_spec, old_out, new_out)) {
			old->sup.template_spec = new->sup.template_spec;
			new->sup.template_spec = t;
		} else {
			old->sup.template_spec = NULL;
			retire_template(s, t);
			if (l)
				l->changed = true;
		}
	}
	if (!self->parent) {
		core->reload->old_root = old;
	} else if (self->owns_spec) {
		s->reload_old = old;
		self->owns_spec = false;
	}
	self->spec = new;
	self->id = new->id ? new->id : "";
}

/* Matches the children of s with the new spec by id: each gets its fate,
 * the lists get their ids, unchanged workers swap their spec objects. */
static void
reload_diff(struct core *core, struct sup *s, struct child_spec *new,
	    const struct output_spec *old_out, const struct output_spec *new_out)
{
	struct child_spec *old = s->self->spec;
	struct reload_lists *l = s->lists;
	struct child *c, *kept;

	TAILQ_FOREACH(c, &s->children, sibling)
	{
		c->fate = FATE_REMOVE;
		c->reload_slot = -1;
	}
	for (size_t j = 0; old->type == NODE_SUPERVISOR && j < old->sup.nchildren; j++) {
		c = find_child_by_id(core, s, old->sup.children[j]->id);
		if (c && c->parent == s->self && c->spec == old->sup.children[j])
			c->reload_slot = (long)j;
	}
	kept = TAILQ_FIRST(&s->children);
	for (size_t i = 0; i < new->sup.nchildren; i++) {
		struct child_spec *ns = new->sup.children[i];
		c = find_child_by_id(core, s, ns->id);
		if (!c || c->parent != s->self) {
			lists_add(l, LIST_ADDED, ns->id);
			continue;
		}
		if (c->spec->type != ns->type) {
			c->fate = FATE_CHANGE;
		} else if (spec_is_supervisor(ns)) {
			c->fate = FATE_NESTED;
		} else if ((c->reload_slot >= 0 || c->owns_spec) &&
			   spec_equal_in(c->spec, ns, old_out, new_out)) {
			struct child_spec *o = c->spec;
			c->fate = FATE_NONE;
			new->sup.children[i] = o;
			if (c->reload_slot >= 0) {
				old->sup.children[c->reload_slot] = ns;
			} else {
				spec_free(ns);
				c->owns_spec = false;
			}
		} else {
			c->fate = FATE_CHANGE;
		}
		if (c->fate == FATE_CHANGE) {
			lists_add(l, LIST_CHANGED, c->id);
			continue;
		}
		/* the kept children, in the file's order: same as before? */
		while (kept && (kept->fate == FATE_REMOVE || kept->fate == FATE_CHANGE))
			kept = TAILQ_NEXT(kept, sibling);
		if (l && kept != c)
			l->changed = true;
		if (kept == c)
			kept = TAILQ_NEXT(kept, sibling);
	}
	TAILQ_FOREACH(c, &s->children, sibling)
	{
		if (c->fate == FATE_REMOVE)
			lists_add(l, LIST_REMOVED, c->id);
	}
}

/* A supervisor node is freed: what it kept for reloads goes too. */
static void
reload_sup_fini(struct sup *s)
{
	lists_free(s->lists);
	s->lists = NULL;
	spec_free(s->reload_old);
	s->reload_old = NULL;
	for (size_t i = 0; i < s->nretired; i++)
		spec_free(s->retired[i]);
	free(s->retired);
	s->retired = NULL;
	s->nretired = 0;
}

static void
reload_part_done(struct core *core)
{
	if (core->reload && core->reload->pending)
		core->reload->pending--;
}

/* The part of s is applied: its event (when something changed there). */
static void
reload_finish_part(struct core *core, struct sup *s)
{
	struct reload_lists *l = s->lists;
	struct child *c;

	s->lists = NULL;
	TAILQ_FOREACH(c, &s->children, sibling)
	c->fate = FATE_NONE;
	if (l && (l->changed || l->n[LIST_ADDED] || l->n[LIST_REMOVED] || l->n[LIST_CHANGED])) {
		struct core_event ev = {
			.type = EV_RELOADED,
			.path = s->self->path,
			.added = (const char *const *)l->ids[LIST_ADDED],
			.nadded = l->n[LIST_ADDED],
			.removed = (const char *const *)l->ids[LIST_REMOVED],
			.nremoved = l->n[LIST_REMOVED],
			.changed = (const char *const *)l->ids[LIST_CHANGED],
			.nchanged = l->n[LIST_CHANGED],
			.failed = (const char *const *)l->ids[LIST_FAILED],
			.nfailed = l->n[LIST_FAILED],
		};
		emit(core, &ev);
		if (core->reload && core->reload->applied)
			core->reload->applied(core->reload, &ev);
	}
	lists_free(l);
	spec_free(s->reload_old);
	s->reload_old = NULL;
	reload_part_done(core);
}

static size_t
lists_cap(const struct sup *s, const struct child_spec *new)
{
	return s->nchildren + (new->type == NODE_SUPERVISOR ? new->sup.nchildren : 0);
}

/* The part of a supervisor that is not running (down, or its stop just
 * finished): nothing to terminate or start; its children are rebuilt from
 * the new spec by the caller. */
static void
reload_apply_stopped(struct core *core, struct sup *s)
{
	struct child_spec *new = s->reload_spec;
	const struct output_spec *old_out = output_of(s->self->spec, &s->reload_inherited);
	const struct output_spec *new_out =
		output_of(new, s->self->parent ? output_below(s->self->parent) : &no_output);

	s->reload_spec = NULL;
	msg_dequeue(s, &s->reload_msg);
	s->lists = lists_new(lists_cap(s, new));
	if (new->type == NODE_SUPERVISOR)
		reload_diff(core, s, new, old_out, new_out);
	reload_take_spec(core, s, new, old_out, new_out);
	reload_finish_part(core, s);
}

/* Queues the part of s: new is its node in the new tree, inherited the
 * output that applied above it in the old one. */
static void
reload_queue_part(struct core *core, struct sup *s, struct child_spec *new,
		  const struct output_spec *inherited)
{
	core->reload->pending++;
	s->reload_spec = new;
	s->reload_inherited = *inherited;
	switch (s->op) {
	case SUP_DOWN:
		reload_apply_stopped(core, s);
		if (s->self->parent)
			sup_build_children(core, s);
		return;
	case SUP_STOPPING:
		return; /* applied when its stop is over (sup_finish_stop) */
	default:
		msg_enqueue(s, &s->reload_msg);
		if (s->op == SUP_IDLE)
			schedule_work(core, s);
		return;
	}
}

/* The part of s, served from its mailbox: s is idle. */
static void
reload_serve(struct core *core, struct sup *s, uint64_t now)
{
	struct child_spec *new = s->reload_spec;
	const struct output_spec *old_out = output_of(s->self->spec, &s->reload_inherited);
	const struct output_spec *new_out =
		output_of(new, s->self->parent ? output_below(s->self->parent) : &no_output);
	struct output_spec below_old = *old_out;
	struct child *c;

	s->reload_spec = NULL;
	s->lists = lists_new(lists_cap(s, new));
	if (new->type == NODE_DYNAMIC) {
		/* running children keep running; new ones use the new template */
		reload_take_spec(core, s, new, old_out, new_out);
		reload_finish_part(core, s);
		return;
	}
	reload_diff(core, s, new, old_out, new_out);
	reload_take_spec(core, s, new, old_out, new_out);
	TAILQ_FOREACH(c, &s->children, sibling)
	{
		if (c->fate == FATE_NESTED) {
			size_t i;
			for (i = 0; i < new->sup.nchildren; i++)
				if (strcmp(new->sup.children[i]->id, c->id) == 0)
					break;
			reload_queue_part(core, c->sup, new->sup.children[i], &below_old);
		}
	}
	s->op = SUP_RELOADING;
	s->group_phase = GROUP_TERMINATE;
	s->cursor = TAILQ_LAST(&s->children, child_list);
	s->waiting = false;
	s->failed = NULL;
	s->done = NULL;
	sup_step(core, s, now);
}

/* Between terminating and starting: the children in the file's order, new
 * nodes for the added and changed ones (to be started). */
static void
reload_reorder(struct core *core, struct sup *s)
{
	const struct sup_spec *ss = &s->self->spec->sup;
	struct child_list order = TAILQ_HEAD_INITIALIZER(order);
	struct child *c;

	for (size_t i = 0; i < ss->nchildren; i++) {
		c = find_child_by_id(core, s, ss->children[i]->id);
		if (c && c->parent == s->self) {
			TAILQ_REMOVE(&s->children, c, sibling);
		} else {
			c = child_new(core, s->self, ss->children[i], false);
			if (!c) {
				lists_add(s->lists, LIST_FAILED, ss->children[i]->id);
				continue;
			}
			c->fate = FATE_START;
		}
		TAILQ_INSERT_TAIL(&order, c, sibling);
	}
	TAILQ_CONCAT(&order, &s->children, sibling);
	TAILQ_CONCAT(&s->children, &order, sibling);
	s->nchildren = 0;
	TAILQ_FOREACH(c, &s->children, sibling)
	s->nchildren++;
}

static void
step_reloading(struct core *core, struct sup *s, uint64_t now)
{
	if (s->group_phase == GROUP_TERMINATE) {
		while (s->cursor) {
			struct child *c = s->cursor;
			if (c->fate == FATE_REMOVE || c->fate == FATE_CHANGE) {
				if (!child_stop(core, c, now)) {
					s->waiting = true;
					return;
				}
				s->cursor = TAILQ_PREV(c, child_list, sibling);
				child_free(core, c);
				continue;
			}
			s->cursor = TAILQ_PREV(c, child_list, sibling);
		}
		reload_reorder(core, s);
		s->group_phase = GROUP_START;
		s->cursor = TAILQ_FIRST(&s->children);
	}
	while (s->cursor) {
		struct child *c = s->cursor;
		if (c->fate == FATE_START) {
			enum start_result r;
			if (s->failed == c)
				r = START_FAILED;
			else if (c->state == CHILD_RUNNING || s->done == c)
				r = START_DONE;
			else if (c->state == CHILD_STARTING)
				r = START_PENDING;
			else
				r = child_start(core, c, now);
			if (r == START_PENDING) {
				s->waiting = true;
				return;
			}
			/* A child the reload cannot start stays stopped (its
			 * spec kept, like a failed start_child's would not be:
			 * the file says it belongs here); restart_child or the
			 * next reload starts it. */
			if (r == START_FAILED)
				lists_add(s->lists, LIST_FAILED, c->id);
			s->failed = NULL;
		}
		c->fate = FATE_NONE;
		s->cursor = TAILQ_NEXT(c, sibling);
	}
	reload_finish_part(core, s);
	sup_finish_op(core, s, now);
}

static void
reload_begin(struct core *core, struct core_reload *r, uint64_t now)
{
	struct sup *root = core->root->sup;
	struct child_spec *spec = r->root_spec;

	r->root_spec = NULL;
	core->reload = r;
	reload_queue_part(core, root, spec, &no_output);
	if (root->op == SUP_IDLE)
		sup_serve(core, root, now, false);
}

static void
reload_finish(struct core_reload *r, enum core_error error)
{
	spec_free(r->root_spec);
	r->root_spec = NULL;
	spec_free(r->old_root);
	r->old_root = NULL;
	r->error = error;
	if (error != CORE_OK && !r->message[0])
		snprintf(r->message, sizeof(r->message), "%s",
			 error == CORE_E_SHUTDOWN ? "supd is shutting down"
						  : core_error_name(error));
	if (r->done)
		r->done(r);
}

/* The reload whose parts are all applied is over; the next one begins. */
static bool
reload_advance(struct core *core, uint64_t now)
{
	struct core_reload *r = core->reload;

	if (!r || r->pending)
		return false;
	core->reload = NULL;
	reload_finish(r, core->shutting_down || core->stopped ? CORE_E_SHUTDOWN : CORE_OK);
	while ((r = core->reload_queue)) {
		core->reload_queue = r->next;
		if (!core->reload_queue)
			core->reload_last = NULL;
		if (core->shutting_down || core->stopped) {
			reload_finish(r, CORE_E_SHUTDOWN);
			continue;
		}
		reload_begin(core, r, now);
		break;
	}
	return true;
}

static void
on_reload(struct core *core, struct core_reload *r, uint64_t now)
{
	r->error = CORE_OK;
	r->message[0] = '\0';
	r->next = NULL;
	r->old_root = NULL;
	r->pending = 0;
	if (!r->root_spec || r->root_spec->type != NODE_SUPERVISOR) {
		reload_finish(r, CORE_E_INVALID);
		return;
	}
	if (core->shutting_down || core->stopped) {
		reload_finish(r, CORE_E_SHUTDOWN);
		return;
	}
	if (core->reload) {
		if (core->reload_last)
			core->reload_last->next = r;
		else
			core->reload_queue = r;
		core->reload_last = r;
		return;
	}
	reload_begin(core, r, now);
}

/* ---- entry points ---- */

struct core *
core_new(struct child_spec *root_spec, const struct core_effects *fx, void *ctx)
{
	struct core *core = calloc(1, sizeof(*core));

	if (!core || index_init(&core->index) < 0) {
		free(core);
		spec_free(root_spec);
		return NULL;
	}
	core->fx = fx;
	core->ctx = ctx;
	TAILQ_INIT(&core->work);
	TAILQ_INIT(&core->notify);
	core->root = child_new(core, NULL, root_spec, true);
	if (!core->root) {
		spec_free(root_spec);
		index_fini(&core->index);
		free(core);
		return NULL;
	}
	return core;
}

void
core_free(struct core *core)
{
	if (!core)
		return;
	child_free(core, core->root);
	/* Reloads still pending end without being applied. */
	if (core->reload) {
		core->reload->pending = 0;
		reload_finish(core->reload, CORE_E_SHUTDOWN);
	}
	while (core->reload_queue) {
		struct core_reload *r = core->reload_queue;
		core->reload_queue = r->next;
		reload_finish(r, CORE_E_SHUTDOWN);
	}
	index_fini(&core->index);
	while (core->counters) {
		struct dynamic_counter *dc = core->counters;
		core->counters = dc->next;
		free(dc);
	}
	free(core);
}

void
core_start(struct core *core, uint64_t now)
{
	core->exit_code = 0;
	if (sup_start(core, core->root, now) == START_FAILED && !core->stopped) {
		core->stopped = true;
		core->fx->stopped(core->ctx, 1);
	}
	core_flush(core, now);
}

void
core_shutdown(struct core *core, uint64_t now)
{
	struct sup *root = core->root->sup;

	if (core->shutting_down || core->stopped)
		return;
	core->shutting_down = true;
	if (root->op == SUP_STOPPING || root->op == SUP_DOWN)
		return;
	core->exit_code = 0;
	sup_begin_stop(core, root, REASON_NORMAL, now);
	core_flush(core, now);
}

static void
on_child_exited(struct core *core, struct child *c, struct exit_status st, uint64_t now)
{
	struct core_event ev = {
		.type = EV_CHILD_EXITED, .path = c->path, .pid = c->pid, .status = st};
	enum child_state was = c->state;
	struct sup *s = parent_sup(c);

	index_remove_pid(&core->index, c);
	timer_disarm(core, &c->timer);
	c->last_status = st;
	c->has_exited = true;
	c->last_reason = core_exit_reason(c, st);
	ev.reason = c->last_reason;
	c->pid = 0;
	c->state = CHILD_DOWN;
	emit(core, &ev);

	if (was == CHILD_STARTING && c->spec->worker.ready == READY_EXIT &&
	    c->last_reason == REASON_NORMAL) {
		/* A one-shot job that did its work: started, and not running,
		 * like an OTP child whose start returned `ignore`. */
		sup_child_started(core, c, now);
		return;
	}
	if (was == CHILD_STARTING || (was == CHILD_STOPPING && c->start_failing)) {
		/* It never became ready: the start failed. */
		if (!c->start_failing) {
			struct core_event fev = {.type = EV_CHILD_START_FAILED, .path = c->path};
			if (c->spec->worker.ready != READY_EXIT)
				snprintf(c->start_error, sizeof(c->start_error), "exited");
			else if (st.signaled)
				snprintf(c->start_error, sizeof(c->start_error), "signal:%s",
					 signal_name(st.value) ? signal_name(st.value) : "?");
			else
				snprintf(c->start_error, sizeof(c->start_error), "exit:%d",
					 st.value);
			fev.error = c->start_error;
			emit(core, &fev);
		}
		c->start_failing = false;
		if (s && s->op == SUP_STOPPING) {
			sup_child_stopped(core, c, now);
			return;
		}
		sup_child_start_failed(core, c, now);
		return;
	}
	if (was == CHILD_STOPPING) {
		sup_child_stopped(core, c, now);
		return;
	}
	deliver_exit(core, s, c, now);
}

static void
on_child_ready(struct core *core, struct child *c, uint64_t now)
{
	/* a one-shot job is started by its exit, not by a notification */
	if (c->sup || c->state != CHILD_STARTING || c->spec->worker.ready == READY_EXIT)
		return;
	timer_disarm(core, &c->timer);
	c->state = CHILD_RUNNING;
	mark_started(c, now);
	emit_simple(core, EV_CHILD_STARTED, c, c->pid);
	sup_child_started(core, c, now);
}

static void
on_timer_fired(struct core *core, struct timer *t, uint64_t now)
{
	deadline_passed(core, t, now, "ready_timeout");
}

/* The deadline t is over (it fired, or could not be armed): a start that
 * waited for readiness fails with `start_error`, a shutdown escalates. */
static void
deadline_passed(struct core *core, struct timer *t, uint64_t now, const char *start_error)
{
	if (!t->armed)
		return;
	t->armed = false;
	if (t->owner_kind == TIMER_SUP) {
		/* A dynamic supervisor's shared shutdown deadline. */
		struct sup *s = (struct sup *)((char *)t - offsetof(struct sup, stop_timer));
		struct child *c;
		TAILQ_FOREACH(c, &s->children, sibling)
		{
			if (c->pid && !c->kill_sent) {
				emit_simple(core, EV_SHUTDOWN_TIMEOUT, c, c->pid);
				worker_kill_quietly(core, c);
			} else if (c->sup && c->sup->op != SUP_DOWN) {
				sup_kill_all(core, c->sup, now);
			}
		}
		return;
	}

	struct child *c = (struct child *)((char *)t - offsetof(struct child, timer));
	if (c->state == CHILD_RESTARTING && c->start_delayed) {
		/* The backoff delay is over: the start takes its turn in the
		 * mailbox, as a retry would (it is not counted again). */
		struct sup *p = parent_sup(c);
		msg_enqueue(p, &c->retry_msg);
		if (p->op == SUP_IDLE)
			sup_serve(core, p, now, true);
		return;
	}
	if (c->state == CHILD_STARTING && !c->sup) {
		struct core_event ev = {
			.type = EV_CHILD_START_FAILED, .path = c->path, .error = start_error};
		snprintf(c->start_error, sizeof(c->start_error), "%s", start_error);
		emit(core, &ev);
		c->start_failing = true;
		c->state = CHILD_STOPPING;
		worker_signal(core, c, SIGKILL);
		return;
	}
	if (c->state != CHILD_STOPPING)
		return;
	emit_simple(core, EV_SHUTDOWN_TIMEOUT, c, c->pid);
	if (c->sup)
		sup_kill_all(core, c->sup, now);
	else if (!c->kill_sent)
		worker_kill_quietly(core, c);
}

bool
core_run(struct core *core, uint64_t now)
{
	TAILQ_HEAD(, sup) batch = TAILQ_HEAD_INITIALIZER(batch);
	struct sup *s;

	/* Serve only what is queued now: a retry that fails again queues a
	 * new retry for the next turn of the loop. */
	TAILQ_CONCAT(&batch, &core->work, work_link);
	while ((s = TAILQ_FIRST(&batch))) {
		TAILQ_REMOVE(&batch, s, work_link);
		s->on_work = false;
		sup_serve(core, s, now, true);
	}
	core_flush(core, now);
	return !TAILQ_EMPTY(&core->work);
}

struct child *
core_find_path(const struct core *core, const char *path)
{
	return index_find_path(&core->index, path);
}

/* ---- names and small rules ---- */

enum exit_reason
core_exit_reason(const struct child *c, struct exit_status st)
{
	const struct exit_set *normal = &c->spec->worker.normal_exit;

	if (c->unhealthy)
		return REASON_UNHEALTHY;
	if (c->kill_sent)
		return REASON_KILLED;
	if (c->state == CHILD_STOPPING)
		return REASON_SHUTDOWN;
	if (st.signaled ? exit_set_has_signal(normal, st.value)
			: exit_set_has_code(normal, st.value))
		return REASON_NORMAL;
	return REASON_CRASH;
}

int
exit_status_code(struct exit_status st)
{
	return st.signaled ? 128 + st.value : st.value;
}

const char *
exit_reason_name(enum exit_reason r)
{
	switch (r) {
	case REASON_NORMAL:
		return "normal";
	case REASON_SHUTDOWN:
		return "shutdown";
	case REASON_KILLED:
		return "killed";
	case REASON_CRASH:
		return "crash";
	case REASON_UNHEALTHY:
		return "unhealthy";
	}
	return "?";
}

const char *
child_state_name(enum child_state s)
{
	switch (s) {
	case CHILD_DOWN:
		return "stopped";
	case CHILD_STARTING:
		return "starting";
	case CHILD_RUNNING:
		return "running";
	case CHILD_STOPPING:
		return "stopping";
	case CHILD_RESTARTING:
		return "restarting";
	}
	return "?";
}

const char *
core_error_name(enum core_error e)
{
	switch (e) {
	case CORE_OK:
		return "ok";
	case CORE_E_NOT_FOUND:
		return "not_found";
	case CORE_E_RUNNING:
		return "running";
	case CORE_E_RESTARTING:
		return "restarting";
	case CORE_E_NOT_SUPPORTED:
		return "not_supported";
	case CORE_E_ALREADY_STARTED:
		return "already_started";
	case CORE_E_ALREADY_PRESENT:
		return "already_present";
	case CORE_E_MAX_CHILDREN:
		return "max_children";
	case CORE_E_START_FAILED:
		return "start_failed";
	case CORE_E_SHUTDOWN:
		return "shutting_down";
	case CORE_E_NOMEM:
		return "no_memory";
	case CORE_E_INVALID:
		return "invalid";
	}
	return "?";
}

void
core_child_exited(struct core *core, struct child *c, struct exit_status st, uint64_t now)
{
	on_child_exited(core, c, st, now);
	core_flush(core, now);
}

void
core_child_ready(struct core *core, struct child *c, uint64_t now)
{
	on_child_ready(core, c, now);
	core_flush(core, now);
}

void
core_child_unhealthy(struct core *core, struct child *c, const char *output, uint64_t now)
{
	struct core_event ev = {
		.type = EV_CHILD_UNHEALTHY, .path = c->path, .pid = c->pid, .output = output};

	(void)now;
	if (c->sup || c->state != CHILD_RUNNING || c->unhealthy || c->pid <= 0)
		return;
	emit(core, &ev);
	/* Its exit is a crash (reason unhealthy): the strategy and the
	 * intensity apply when it is reaped, as to any crash. */
	c->unhealthy = true;
	core->fx->signal(core->ctx, c, SIGKILL);
}

void
core_timer_fired(struct core *core, struct timer *t, uint64_t now)
{
	on_timer_fired(core, t, now);
	core_flush(core, now);
}

void
core_submit(struct core *core, struct core_request *req, uint64_t now)
{
	on_submit(core, req, now);
	core_flush(core, now);
}

void
core_reload(struct core *core, struct core_reload *r, uint64_t now)
{
	on_reload(core, r, now);
	core_flush(core, now);
}

/* ---- read-only accessors (supervisor.h) ---- */

bool
core_shutting_down(const struct core *core)
{
	return core->shutting_down;
}

struct child *
core_root(const struct core *core)
{
	return core->root;
}

struct child *
core_find_pid(const struct core *core, pid_t pid)
{
	return index_find_pid(&core->index, pid);
}

const char *
node_path(const struct child *c)
{
	return c->path;
}

const char *
node_id(const struct child *c)
{
	return c->id;
}

struct child_spec *
node_spec(const struct child *c)
{
	return c->spec;
}

pid_t
node_pid(const struct child *c)
{
	return c->pid;
}

enum child_state
node_state(const struct child *c)
{
	return c->state;
}

unsigned
node_restarts(const struct child *c)
{
	return c->restarts;
}

uint64_t
node_started_ms(const struct child *c)
{
	if (c->sup)
		return c->state == CHILD_DOWN ? 0 : c->started_ms;
	return c->pid > 0 ? c->started_ms : 0;
}

bool
node_last_exit(const struct child *c, struct exit_status *st)
{
	if (c->sup || !c->has_exited)
		return false;
	*st = c->last_status;
	return true;
}

uint32_t
node_intensity_count(const struct child *c, uint64_t now_ms)
{
	return c->sup ? intensity_count(&c->sup->intensity, now_ms / 1000) : 0;
}

uint64_t
node_start_seq(const struct child *c)
{
	return c->start_seq;
}

struct child *
node_parent(const struct child *c)
{
	return c->parent;
}

bool
node_start_delayed(const struct child *c, uint64_t *at_ms)
{
	*at_ms = c->next_start_ms;
	return c->start_delayed;
}

void *
node_probe(const struct child *c)
{
	return c->probe;
}

void
node_set_probe(struct child *c, void *probe)
{
	c->probe = probe;
}

bool
node_is_supervisor(const struct child *c)
{
	return c->sup != NULL;
}

struct child *
node_first_child(const struct child *c)
{
	return c->sup ? TAILQ_FIRST(&c->sup->children) : NULL;
}

struct child *
node_next_sibling(const struct child *c)
{
	return TAILQ_NEXT(c, sibling);
}

size_t
node_nchildren(const struct child *c)
{
	return c->sup ? c->sup->nchildren : 0;
}

struct child *
node_find_child(const struct child *c, const char *id)
{
	return c->sup ? sup_find_child(c->sup, id) : NULL;
}

void *
node_output(const struct child *c)
{
	return c->output;
}

void
node_set_output(struct child *c, void *output)
{
	c->output = output;
}
