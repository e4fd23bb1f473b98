/*
 * ops.c - the operations of the control socket (SPEC section 6 and 7.9).
 *
 * One function per op, listed in `op_table`: adding an op is a function
 * and a line there (and its name in proto.c). The ops that go through a
 * supervisor's mailbox (start/terminate/restart/delete_child) are handed to
 * the core with core_submit() and answered from the request's done
 * callback; the others read the tree through supervisor.h's accessors and
 * answer at once (views.c builds the JSON).
 *
 * Also owns what a connection holds beyond its bytes: its role (who may do
 * what), its event subscription, its monitors (indexed by ref and by path,
 * at most OPS_MONITORS_MAX each) and its links to dynamic children.
 *
 * It must never re-enter the core from inside it: the event listener and a
 * request's done callback only queue output and mark work; link
 * terminations run from ops_run_deferred() at the top of the loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/queue.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "connection.h"
#include "grammar.h"
#include "log.h"
#include "metrics.h"
#include "ops.h"
#include "output.h"
#include "proto.h"
#include "reload.h"
#include "supervisor.h"
#include "views.h"

#define LINKS_PRUNE_INITIAL  64
#define MONITOR_BUCKETS_INIT 64

/* A dynamic child started with link: true, terminated when its connection
 * closes. The supervisor node is identified by its path and the start_seq
 * of its current incarnation, so that a restarted (emptied, renumbered)
 * dynamic supervisor never loses a child to a stale link. The link holds
 * across restarts of the child itself: it is the child's id that goes. */
struct link {
	LIST_ENTRY(link) entry;
	uint64_t sup_seq;
	char id[SPEC_ID_MAX + 1];
	char sup[];
};
LIST_HEAD(link_list, link);

struct session;

struct monitor {
	LIST_ENTRY(monitor) by_session;
	struct monitor *ref_next;  /* hash chain by ref */
	struct monitor *path_next; /* hash chain by path */
	struct session *session;
	uint64_t ref;
	bool supervisor; /* a supervisor node (else the worker process `pid`) */
	pid_t pid;
	char path[];
};
LIST_HEAD(monitor_list, monitor);

/* Every live monitor of every connection, by ref and by path: an exit
 * looks at the monitors of its path only, demonitor at one ref. */
struct monitor_index {
	struct monitor **by_ref, **by_path;
	size_t nbuckets, count;
};

struct ctl_request;

/* What ops keeps per connection (conn_session()). */
struct session {
	struct ops *ops;
	struct conn *conn;
	enum ops_role role;
	/* The request being served; the connection is busy meanwhile. */
	struct ctl_request *busy;
	bool subscribed;
	TAILQ_ENTRY(session) sub_entry;
	struct monitor_list monitors;
	size_t nmonitors;
	struct link_list links;
	size_t nlinks, links_prune_at;
	struct log_follow *follow; /* logs with follow: true */
};
TAILQ_HEAD(session_list, session);

struct ctl_request {
	struct core_request core;
	struct ops *ops;         /* NULL once ops is gone */
	struct session *session; /* NULL when nobody waits for the reply */
	LIST_ENTRY(ctl_request) entry;
	struct proto_request req;    /* owns the strings core.id/args/env point at */
	struct link *link;           /* start_child with link: true, allocated ahead */
	struct reload_client reload; /* the op reload */
	char id[SPEC_ID_MAX + 1];    /* link terminations */
};
LIST_HEAD(request_list, ctl_request);

struct ops {
	struct ops_host host;
	uint64_t started_ms;
	struct request_list requests;
	struct link_list unlinks; /* links whose connection went before the start finished */
	struct session_list subscribers;
	struct monitor_index monitors;
	uint64_t next_ref;
};

static void request_done(struct core_request *cr);

static uint64_t
now_ms(const struct ops *ops)
{
	return ops->host.now_ms(ops->host.ctx);
}

static void
ops_wake(struct ops *ops)
{
	if (ops->host.wake)
		ops->host.wake(ops->host.ctx);
}

/* ---- the monitor index ---- */

static size_t
hash_ref(uint64_t ref, size_t n)
{
	return (size_t)((ref * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (n - 1);
}

static size_t
hash_path(const char *path, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h & (n - 1);
}

/* Doubles the buckets when the load passes 1; when memory is short the
 * chains just grow longer. */
static void
monitor_index_grow(struct monitor_index *ix)
{
	size_t n = ix->nbuckets ? ix->nbuckets * 2 : MONITOR_BUCKETS_INIT;
	struct monitor **by_ref = calloc(n, sizeof(*by_ref));
	struct monitor **by_path = calloc(n, sizeof(*by_path));
	struct monitor *m, *next;

	if (!by_ref || !by_path) {
		free(by_ref);
		free(by_path);
		return;
	}
	for (size_t i = 0; i < ix->nbuckets; i++) {
		for (m = ix->by_ref[i]; m; m = next) {
			next = m->ref_next;
			m->ref_next = by_ref[hash_ref(m->ref, n)];
			by_ref[hash_ref(m->ref, n)] = m;
		}
		for (m = ix->by_path[i]; m; m = next) {
			next = m->path_next;
			m->path_next = by_path[hash_path(m->path, n)];
			by_path[hash_path(m->path, n)] = m;
		}
	}
	free(ix->by_ref);
	free(ix->by_path);
	ix->by_ref = by_ref;
	ix->by_path = by_path;
	ix->nbuckets = n;
}

/* Returns -1 when there is no bucket array at all (ENOMEM). */
static int
monitor_index_add(struct monitor_index *ix, struct monitor *m)
{
	size_t b;

	if (ix->count >= ix->nbuckets)
		monitor_index_grow(ix);
	if (!ix->nbuckets)
		return -1;
	b = hash_ref(m->ref, ix->nbuckets);
	m->ref_next = ix->by_ref[b];
	ix->by_ref[b] = m;
	b = hash_path(m->path, ix->nbuckets);
	m->path_next = ix->by_path[b];
	ix->by_path[b] = m;
	ix->count++;
	return 0;
}

static void
monitor_index_remove(struct monitor_index *ix, struct monitor *m)
{
	struct monitor **pp;

	for (pp = &ix->by_ref[hash_ref(m->ref, ix->nbuckets)]; *pp; pp = &(*pp)->ref_next)
		if (*pp == m) {
			*pp = m->ref_next;
			break;
		}
	for (pp = &ix->by_path[hash_path(m->path, ix->nbuckets)]; *pp; pp = &(*pp)->path_next)
		if (*pp == m) {
			*pp = m->path_next;
			break;
		}
	ix->count--;
}

static struct monitor *
monitor_index_find(const struct monitor_index *ix, uint64_t ref)
{
	struct monitor *m;

	if (!ix->nbuckets)
		return NULL;
	for (m = ix->by_ref[hash_ref(ref, ix->nbuckets)]; m; m = m->ref_next)
		if (m->ref == ref)
			return m;
	return NULL;
}

static void
monitor_free(struct ops *ops, struct monitor *m)
{
	monitor_index_remove(&ops->monitors, m);
	LIST_REMOVE(m, by_session);
	m->session->nmonitors--;
	free(m);
}

static void
monitors_on_event(struct ops *ops, const struct core_event *ev)
{
	struct monitor_index *ix = &ops->monitors;
	bool exited = ev->type == EV_CHILD_EXITED;
	struct monitor *m, *next;

	if (!ev->path || (!exited && ev->type != EV_SUPERVISOR_STOPPED) || !ix->count)
		return;
	for (m = ix->by_path[hash_path(ev->path, ix->nbuckets)]; m; m = next) {
		next = m->path_next;
		if (strcmp(m->path, ev->path) != 0)
			continue;
		if (exited && !m->supervisor && m->pid == ev->pid)
			conn_send(m->session->conn,
				  proto_down_json(m->ref, m->path, m->pid,
						  exit_reason_name(ev->reason), &ev->status),
				  NULL, -1);
		else if (!exited && m->supervisor)
			conn_send(m->session->conn,
				  proto_down_json(m->ref, m->path, m->pid,
						  exit_reason_name(ev->reason), NULL),
				  NULL, -1);
		else
			continue;
		monitor_free(ops, m);
	}
}

void
ops_on_event(struct ops *ops, const struct core_event *ev, const char *line, size_t len)
{
	struct session *s;

	if (line && len > 0)
		TAILQ_FOREACH(s, &ops->subscribers, sub_entry)
	conn_enqueue(s->conn, line, len, -1);
	monitors_on_event(ops, ev);
}

/* ---- links ---- */

static struct child *
link_target(struct ops *ops, const struct link *link)
{
	struct child *s = core_find_path(ops->host.core, link->sup);

	if (s && node_is_supervisor(s) && node_start_seq(s) == link->sup_seq &&
	    node_find_child(s, link->id))
		return s;
	return NULL;
}

/* Terminates a linked child; nobody waits for the reply. Top of the loop
 * only (it enters the core). */
static void
link_terminate(struct ops *ops, const struct link *link)
{
	struct ctl_request *r;
	struct child *sup = link_target(ops, link);

	if (!sup)
		return;
	r = calloc(1, sizeof(*r));
	if (!r) {
		log_warnx("control: out of memory; linked child %s/%s is left running", link->sup,
			  link->id);
		return;
	}
	r->ops = ops;
	snprintf(r->id, sizeof(r->id), "%s", link->id);
	r->core.op = OP_TERMINATE_CHILD;
	r->core.target = sup;
	r->core.id = r->id;
	r->core.done = request_done;
	r->core.owner = r;
	LIST_INSERT_HEAD(&ops->requests, r, entry);
	core_submit(ops->host.core, &r->core, now_ms(ops));
}

/* Forgets links whose child is gone, so that a long-lived connection that
 * starts many temporary children does not accumulate them. */
static void
session_prune_links(struct session *s)
{
	struct link *link, *next;

	for (link = LIST_FIRST(&s->links); link; link = next) {
		next = LIST_NEXT(link, entry);
		if (!link_target(s->ops, link)) {
			LIST_REMOVE(link, entry);
			free(link);
			s->nlinks--;
		}
	}
	s->links_prune_at =
		s->nlinks * 2 > LINKS_PRUNE_INITIAL ? s->nlinks * 2 : LINKS_PRUNE_INITIAL;
}

bool
ops_run_deferred(struct ops *ops)
{
	struct link *link;

	while ((link = LIST_FIRST(&ops->unlinks))) {
		LIST_REMOVE(link, entry);
		link_terminate(ops, link);
		free(link);
	}
	return !LIST_EMPTY(&ops->unlinks);
}

/* ---- requests ---- */

static void
request_free(struct ctl_request *r)
{
	free(r->link);
	proto_request_fini(&r->req);
	free(r);
}

static json_t *
core_error_reply(const struct ctl_request *r)
{
	const struct core_request *cr = &r->core;
	const char *name = proto_core_error_name(cr->error);
	const char *id = cr->id ? cr->id : r->req.id;
	const char *sup = r->req.sup ? r->req.sup : "";

	/* The core's own text is its error's name; say more when we can. */
	if (cr->message[0] && strcmp(cr->message, core_error_name(cr->error)) != 0)
		return proto_error(name, "%s", cr->message);
	switch (cr->error) {
	case CORE_E_NOT_FOUND:
		return proto_error(name, "no child '%s' in %s", id ? id : "", sup);
	case CORE_E_RUNNING:
		return proto_error(name, "child '%s' is running", id ? id : "");
	case CORE_E_RESTARTING:
		return proto_error(name, "child '%s' is restarting", id ? id : "");
	case CORE_E_NOT_SUPPORTED:
		return proto_error(name, "%s is a dynamic supervisor", sup);
	case CORE_E_ALREADY_STARTED:
		return proto_error(name, "a child '%s' is already running in %s", cr->child_id,
				   sup);
	case CORE_E_ALREADY_PRESENT:
		return proto_error(name, "a stopped child '%s' already exists in %s", cr->child_id,
				   sup);
	case CORE_E_MAX_CHILDREN:
		return proto_error(name, "%s already has its max_children", sup);
	case CORE_E_SHUTDOWN:
		return proto_error(name, "%s is shutting down", sup);
	case CORE_E_NOMEM:
		return proto_error(name, "out of memory");
	default:
		return proto_error(name, "%s", cr->message[0] ? cr->message : name);
	}
}

static void
request_reply(struct ctl_request *r)
{
	struct core_request *cr = &r->core;
	struct conn *conn = r->session->conn;
	json_t *msg;

	if (cr->error != CORE_OK) {
		conn_send(conn, core_error_reply(r), r->req.tag, -1);
		return;
	}
	msg = proto_ok();
	if (msg && cr->op == OP_START_CHILD &&
	    (json_object_set_new(msg, "id", json_string(cr->child_id)) < 0 ||
	     json_object_set_new(msg, "pid", cr->pid > 0 ? json_integer(cr->pid) : json_null()) <
		     0)) {
		json_decref(msg);
		msg = NULL;
	}
	if (msg && cr->op == OP_RESTART_CHILD &&
	    json_object_set_new(msg, "pid", cr->pid > 0 ? json_integer(cr->pid) : json_null()) <
		    0) {
		json_decref(msg);
		msg = NULL;
	}
	conn_send(conn, msg, r->req.tag, -1);
}

/* The core is done with a request. This runs inside the core: queue, mark
 * and schedule, nothing else. */
static void
request_done(struct core_request *cr)
{
	struct ctl_request *r = cr->owner;
	struct ops *ops = r->ops;
	struct session *s = r->session;
	struct link *link = r->link;

	/* The core takes the spec in every case and clears the pointer; if it
	 * ever hands one back, it is ours to free. */
	spec_free(cr->spec);
	cr->spec = NULL;
	if (!ops) {
		request_free(r);
		return;
	}
	LIST_REMOVE(r, entry);
	if (link && cr->error == CORE_OK) {
		r->link = NULL;
		snprintf(link->id, sizeof(link->id), "%s", cr->child_id);
		if (s) {
			LIST_INSERT_HEAD(&s->links, link, entry);
			s->nlinks++;
		} else {
			/* The client left before its child started: the link
			 * fires at once. */
			LIST_INSERT_HEAD(&ops->unlinks, link, entry);
			ops_wake(ops);
		}
	}
	if (s) {
		request_reply(r);
		s->busy = NULL;
		conn_set_busy(s->conn, false);
	}
	request_free(r);
}

static void
request_submit(struct session *s, struct ctl_request *r, enum core_op op, struct child *sup)
{
	struct ops *ops = s->ops;

	r->core.op = op;
	r->core.target = sup;
	r->core.done = request_done;
	r->core.owner = r;
	s->busy = r;
	conn_set_busy(s->conn, true);
	LIST_INSERT_HEAD(&ops->requests, r, entry);
	core_submit(ops->host.core, &r->core, now_ms(ops));
}

/* ---- replies ---- */

static void
reply(struct session *s, struct ctl_request *r, json_t *msg)
{
	conn_send(s->conn, msg, r->req.tag, -1);
}

static void
reply_error(struct session *s, struct ctl_request *r, const char *error, const char *message)
{
	reply(s, r, proto_error(error, "%s", message));
}

static void
reply_with(struct session *s, struct ctl_request *r, const char *key, json_t *value)
{
	json_t *msg = proto_ok();

	if (!value || !msg || json_object_set_new(msg, key, value) < 0) {
		json_decref(msg);
		msg = NULL;
	}
	reply(s, r, msg);
}

static struct child *
find_sup(struct session *s, struct ctl_request *r)
{
	struct child *c = core_find_path(s->ops->host.core, r->req.sup);

	if (!c)
		reply(s, r, proto_error(SUPD_E_NOT_FOUND, "no supervisor at %s", r->req.sup));
	else if (!node_is_supervisor(c))
		reply(s, r, proto_error(SUPD_E_NOT_A_SUPERVISOR, "%s is a worker", r->req.sup));
	else
		return c;
	return NULL;
}

/* ---- the operations: each returns true when the core took r ---- */

static bool
start_static(struct session *s, struct ctl_request *r, struct child *sup)
{
	struct proto_request *q = &r->req;
	const struct child_spec *sup_spec = node_spec(sup);
	struct child_spec *spec = NULL;
	struct proto_error err;
	unsigned level = proto_path_level(node_path(sup));

	if (s->role != OPS_ROLE_OWNER) {
		/* A static spec names the program to run (as supd's user). */
		reply_error(s, r, SUPD_E_NOT_PERMITTED,
			    "members of control.group may not start a child from a spec");
		return false;
	}
	/* the grammar of the config file, checks against the machine
	 * included (users, program, cwd) */
	if (proto_spec_from_json(q->spec, &spec_host_system, sup_spec->sup.auto_shutdown,
				 level < SPEC_MAX_DEPTH ? SPEC_MAX_DEPTH - level : 0, &spec,
				 &err) < 0) {
		spec_free(spec);
		conn_send_error(s->conn, q->tag, &err);
		return false;
	}
	r->core.spec = spec;
	request_submit(s, r, OP_START_CHILD, sup);
	return true;
}

/* The first env entry whose name the template's allow_env does not list,
 * or NULL. */
static const char *
env_not_allowed(const struct child *sup, const struct proto_request *q)
{
	const struct child_spec *tmpl = node_spec(sup)->sup.template_spec;
	char *const *allowed = tmpl ? tmpl->worker.allow_env : NULL;

	for (size_t i = 0; i < q->nenv; i++) {
		const char *entry = q->env[i], *eq = strchr(entry, '=');
		size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
		bool listed = false;

		for (size_t k = 0; allowed && allowed[k] && !listed; k++)
			listed = strlen(allowed[k]) == len && strncmp(allowed[k], entry, len) == 0;
		if (!listed)
			return entry;
	}
	return NULL;
}

static bool
start_dynamic(struct session *s, struct ctl_request *r, struct child *sup)
{
	struct proto_request *q = &r->req;
	const char *denied = s->role == OPS_ROLE_OWNER ? NULL : env_not_allowed(sup, q);

	if (denied) {
		reply(s, r,
		      proto_error(SUPD_E_NOT_PERMITTED,
				  "members of control.group may set only the names of the "
				  "template's allow_env, not '%.*s'",
				  (int)(strchr(denied, '=') ? strchr(denied, '=') - denied : 64),
				  denied));
		return false;
	}
	r->core.id = q->id;
	r->core.args = q->args;
	r->core.nargs = q->nargs;
	r->core.env = q->env;
	r->core.nenv = q->nenv;
	if (q->link) {
		if (s->nlinks >= s->links_prune_at)
			session_prune_links(s);
		r->link = calloc(1, sizeof(*r->link) + strlen(node_path(sup)) + 1);
		if (!r->link) {
			reply_error(s, r, SUPD_E_NO_MEMORY, "out of memory");
			return false;
		}
		r->link->sup_seq = node_start_seq(sup);
		strcpy(r->link->sup, node_path(sup));
	}
	request_submit(s, r, OP_START_CHILD, sup);
	return true;
}

static bool
op_start_child(struct session *s, struct ctl_request *r)
{
	struct proto_error err;
	struct child *sup = find_sup(s, r);

	if (!sup)
		return false;
	if (proto_check_start_child(&r->req, node_spec(sup)->type, &err) < 0) {
		conn_send_error(s->conn, r->req.tag, &err);
		return false;
	}
	if (node_spec(sup)->type == NODE_SUPERVISOR)
		return start_static(s, r, sup);
	return start_dynamic(s, r, sup);
}

static bool
child_call(struct session *s, struct ctl_request *r, enum core_op op)
{
	struct child *sup = find_sup(s, r);

	if (!sup)
		return false;
	r->core.id = r->req.id;
	request_submit(s, r, op, sup);
	return true;
}

static bool
op_terminate_child(struct session *s, struct ctl_request *r)
{
	return child_call(s, r, OP_TERMINATE_CHILD);
}

static bool
op_restart_child(struct session *s, struct ctl_request *r)
{
	return child_call(s, r, OP_RESTART_CHILD);
}

static bool
op_delete_child(struct session *s, struct ctl_request *r)
{
	return child_call(s, r, OP_DELETE_CHILD);
}

static bool
op_which_children(struct session *s, struct ctl_request *r)
{
	struct child *sup = find_sup(s, r);

	if (sup)
		reply_with(s, r, "children", view_which_children(sup));
	return false;
}

static bool
op_count_children(struct session *s, struct ctl_request *r)
{
	struct child *sup = find_sup(s, r);
	json_t *msg;

	if (!sup)
		return false;
	msg = proto_ok();
	if (msg && view_count_children(sup, msg) < 0) {
		json_decref(msg);
		msg = NULL;
	}
	reply(s, r, msg);
	return false;
}

static bool
op_get_childspec(struct session *s, struct ctl_request *r)
{
	struct child *sup = find_sup(s, r), *c;

	if (!sup)
		return false;
	c = node_find_child(sup, r->req.id);
	if (c)
		reply_with(s, r, "spec", view_childspec(c));
	else
		reply(s, r,
		      proto_error(SUPD_E_NOT_FOUND, "no child '%s' in %s", r->req.id, r->req.sup));
	return false;
}

static bool
op_tree(struct session *s, struct ctl_request *r)
{
	struct child *c = core_find_path(s->ops->host.core, r->req.path ? r->req.path : "/");

	if (c)
		reply_with(s, r, "tree", view_tree(c, now_ms(s->ops)));
	else
		reply(s, r, proto_error(SUPD_E_NOT_FOUND, "no node at %s", r->req.path));
	return false;
}

/* A pidfd for the worker c, or -1. Race-free: supd is the only reaper, so
 * the worker's pid cannot be reused before its exit has been handled. Not
 * passed when the connection already holds CONN_FDS_MAX unread ones or
 * descriptors are running short (supervision needs them more). */
static int
monitor_pidfd(struct session *s, const struct child *c)
{
	int fd = pidfd_open(node_pid(c), 0);

	if (fd < 0) {
		if (errno != ENOSYS && errno != EMFILE && errno != ENFILE)
			log_warn("control: opening a pidfd for %s", node_path(c));
		return -1;
	}
	if (!conn_may_pass_fd(s->conn, fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool
op_monitor(struct session *s, struct ctl_request *r)
{
	struct ops *ops = s->ops;
	struct core *core = ops->host.core;
	struct proto_request *q = &r->req;
	struct child *c;
	struct monitor *m;
	const char *path;
	bool alive, sup;
	json_t *msg;
	int fd = -1;

	c = q->pid > 0 ? core_find_pid(core, q->pid) : core_find_path(core, q->path);
	path = c ? node_path(c) : q->path;
	sup = c && node_is_supervisor(c);
	alive = c && view_child_alive(c) && (sup || node_pid(c) > 0);
	if (alive && s->nmonitors >= OPS_MONITORS_MAX) {
		reply(s, r,
		      proto_error(SUPD_E_TOO_MANY_MONITORS,
				  "this connection already holds %d monitors", OPS_MONITORS_MAX));
		return false;
	}
	m = calloc(1, sizeof(*m) + (path ? strlen(path) : 0) + 1);
	msg = proto_ok();
	if (!m || !msg) {
		free(m);
		json_decref(msg);
		reply_error(s, r, SUPD_E_NO_MEMORY, "out of memory");
		return false;
	}
	m->session = s;
	m->ref = ++ops->next_ref;
	m->supervisor = sup;
	m->pid = c && !sup ? node_pid(c) : q->pid;
	if (path)
		strcpy(m->path, path);
	if (alive && monitor_index_add(&ops->monitors, m) < 0) {
		free(m);
		json_decref(msg);
		reply_error(s, r, SUPD_E_NO_MEMORY, "out of memory");
		return false;
	}
	if (alive && q->pidfd && !sup)
		fd = monitor_pidfd(s, c);
	json_object_set_new(msg, "ref", json_integer((json_int_t)m->ref));
	if (q->pidfd)
		json_object_set_new(msg, "pidfd", json_boolean(fd >= 0));
	conn_send(s->conn, msg, r->req.tag, fd);
	if (!alive) {
		/* Erlang's answer for a monitor of nothing: a down message,
		 * at once. */
		conn_send(s->conn, proto_down_json(m->ref, path, m->pid, SUPD_REASON_NOPROC, NULL),
			  NULL, -1);
		free(m);
		return false;
	}
	LIST_INSERT_HEAD(&s->monitors, m, by_session);
	s->nmonitors++;
	return false;
}

static bool
op_demonitor(struct session *s, struct ctl_request *r)
{
	struct monitor *m = monitor_index_find(&s->ops->monitors, r->req.ref);

	if (m && m->session == s)
		monitor_free(s->ops, m);
	/* Like erlang:demonitor/1, an unknown or already fired ref is fine. */
	reply(s, r, proto_ok());
	return false;
}

static bool
op_subscribe(struct session *s, struct ctl_request *r)
{
	/* The reply first: every event after it belongs to the stream. */
	reply(s, r, proto_ok());
	if (!s->subscribed) {
		s->subscribed = true;
		TAILQ_INSERT_TAIL(&s->ops->subscribers, s, sub_entry);
	}
	return false;
}

static bool
op_stop(struct session *s, struct ctl_request *r)
{
	const struct ucred *cred = conn_cred(s->conn);

	reply(s, r, proto_ok());
	log_info("control: stop requested by pid %d (uid %u)", (int)cred->pid, (unsigned)cred->uid);
	s->ops->host.request_stop(s->ops->host.ctx);
	return false;
}

static bool
op_ping(struct session *s, struct ctl_request *r)
{
	struct ops *ops = s->ops;
	json_t *msg = proto_ok();

	if (msg &&
	    (json_object_set_new(msg, "version", json_string(SUPD_VERSION)) < 0 ||
	     json_object_set_new(msg, "pid", json_integer(getpid())) < 0 ||
	     json_object_set_new(msg, "uptime_ms",
				 json_integer((json_int_t)(now_ms(ops) - ops->started_ms))) < 0)) {
		json_decref(msg);
		msg = NULL;
	}
	reply(s, r, msg);
	return false;
}

/* Every running worker at or below c; returns how many got sig. */
static unsigned
signal_subtree(struct ops *ops, struct child *c, int sig)
{
	unsigned n = 0;

	if (!node_is_supervisor(c)) {
		enum child_state st = node_state(c);

		if (node_pid(c) > 0 && (st == CHILD_RUNNING || st == CHILD_STARTING)) {
			ops->host.signal(ops->host.ctx, c, sig);
			n++;
		}
		return n;
	}
	for (struct child *k = node_first_child(c); k; k = node_next_sibling(k))
		n += signal_subtree(ops, k, sig);
	return n;
}

/* signal: an operator's signal (SIGHUP to reload nginx) to one worker, or
 * to every running worker of a subtree, as forward_signals would send it.
 * A worker being stopped is left to its shutdown. */
static bool
op_signal(struct session *s, struct ctl_request *r)
{
	struct child *c = core_find_path(s->ops->host.core, r->req.path);
	unsigned n;
	json_t *msg;

	if (!c) {
		reply(s, r, proto_error(SUPD_E_NOT_FOUND, "no node at %s", r->req.path));
		return false;
	}
	n = signal_subtree(s->ops, c, r->req.signal);
	if (n == 0) {
		reply(s, r,
		      proto_error(SUPD_E_NOT_RUNNING, "no running worker at or below %s",
				  r->req.path));
		return false;
	}
	msg = proto_ok();
	if (msg && json_object_set_new(msg, "signaled", json_integer(n)) < 0) {
		json_decref(msg);
		msg = NULL;
	}
	reply(s, r, msg);
	return false;
}

/* metrics: the whole tree as Prometheus text, in the reply's "metrics". */
static bool
op_metrics(struct session *s, struct ctl_request *r)
{
	struct metrics_piece pieces[METRICS_PIECES];
	struct iovec parts[METRICS_PIECES];
	struct timespec wall;
	size_t total, line_len;
	char *line = NULL;

	clock_gettime(CLOCK_REALTIME, &wall);
	/* Megabytes on a large tree: escaped from the pieces straight into the
	 * reply line rather than joined and put through a json_t (the scrape
	 * runs on the loop). */
	if (metrics_render_pieces(core_root(s->ops->host.core), now_ms(s->ops),
				  (double)wall.tv_sec + (double)wall.tv_nsec / 1e9, pieces,
				  &total) == 0) {
		for (size_t i = 0; i < METRICS_PIECES; i++)
			parts[i] = (struct iovec){(void *)pieces[i].data, pieces[i].len};
		line = proto_ok_string_line("metrics", parts, METRICS_PIECES, r->req.tag,
					    &line_len);
	}
	if (line)
		conn_enqueue(s->conn, line, line_len, -1);
	else
		reply(s, r, NULL);
	free(line);
	return false;
}

/* ---- logs and reopen (SPEC 7.1; output.c keeps the lines) ---- */

struct log_follow {
	struct output_follower f;
	struct session *session;
};

static void
on_log_line(struct output_follower *f, enum relay_stream st, const char *line, size_t len)
{
	struct log_follow *lf = (struct log_follow *)f;

	conn_send(lf->session->conn, output_line_message(node_path(f->child), st, line, len), NULL,
		  -1);
}

static void
on_log_gone(struct output_follower *f)
{
	struct log_follow *lf = (struct log_follow *)f;

	/* The worker was deleted: nothing more will come. */
	lf->session->follow = NULL;
	free(lf);
}

static void
log_follow_end(struct session *s)
{
	if (!s->follow)
		return;
	output_unfollow(&s->follow->f);
	free(s->follow);
	s->follow = NULL;
}

static bool
op_logs(struct session *s, struct ctl_request *r)
{
	struct child *c = core_find_path(s->ops->host.core, r->req.path);
	struct log_follow *lf = NULL;
	json_t *lines;

	if (!c || node_is_supervisor(c)) {
		reply(s, r, proto_error(SUPD_E_NOT_FOUND, "no worker %s", r->req.path));
		return false;
	}
	if (!output_captured(c)) {
		reply(s, r,
		      proto_error(SUPD_E_NOT_SUPPORTED,
				  "%s: its output is not captured (output: inherit)",
				  node_path(c)));
		return false;
	}
	lines = output_lines_json(c, (size_t)r->req.lines);
	if (r->req.follow && !s->follow && !(lf = calloc(1, sizeof(*lf)))) {
		json_decref(lines);
		lines = NULL;
	}
	if (!lines) {
		free(lf);
		reply(s, r, proto_error(SUPD_E_NO_MEMORY, "out of memory"));
		return false;
	}
	reply_with(s, r, "lines", lines);
	if (lf) {
		lf->session = s;
		lf->f.fn = on_log_line;
		lf->f.gone = on_log_gone;
		output_follow(c, &lf->f);
		s->follow = lf;
	}
	return false;
}

static bool
op_reopen(struct session *s, struct ctl_request *r)
{
	int err = s->ops->host.reopen ? s->ops->host.reopen(s->ops->host.ctx) : 0;

	if (err < 0)
		reply(s, r, proto_error(SUPD_E_NOT_SUPPORTED, "reopen: %s", strerror(-err)));
	else
		reply(s, r, proto_ok());
	return false;
}

/* ---- reload (SPEC 7.5; reload.c loads, the core applies) ---- */

/* The reload is over. Runs inside the core: queue the reply, nothing more. */
static void
reload_done(struct reload_client *c, bool ok, const char *error, json_t *supervisors)
{
	struct ctl_request *r =
		(struct ctl_request *)((char *)c - offsetof(struct ctl_request, reload));
	struct session *s = r->session;
	json_t *msg = NULL, *text;

	if (r->ops)
		LIST_REMOVE(r, entry);
	if (r->ops && s) {
		if (ok) {
			msg = proto_ok();
			if (msg && json_object_set(msg, "supervisors", supervisors) < 0) {
				json_decref(msg);
				msg = NULL;
			}
		} else {
			/* every problem of the file, not proto_error's one line */
			msg = json_pack("{s:b, s:s}", "ok", 0, "error", SUPD_E_RELOAD_FAILED);
			text = json_string(error);
			if (!text || !msg || json_object_set_new(msg, "message", text) < 0) {
				json_decref(msg);
				msg = proto_error(SUPD_E_RELOAD_FAILED, "%s", error);
			}
		}
		conn_send(s->conn, msg, r->req.tag, -1);
		s->busy = NULL;
		conn_set_busy(s->conn, false);
	}
	request_free(r);
}

static bool
op_reload(struct session *s, struct ctl_request *r)
{
	/* A file of the caller's choosing names programs to run, as a
	 * static start_child does (SPEC 7.9); the file supd started with is
	 * the owner's. */
	if (r->req.file && s->role != OPS_ROLE_OWNER) {
		reply(s, r,
		      proto_error(SUPD_E_NOT_PERMITTED,
				  "members of control.group may reload only the file supd "
				  "started with"));
		return false;
	}
	r->reload.done = reload_done;
	s->busy = r;
	conn_set_busy(s->conn, true);
	LIST_INSERT_HEAD(&s->ops->requests, r, entry);
	reload_start(r->req.file, &r->reload);
	return true;
}

/* Every op, and whether members of control.group may use it at all (SPEC
 * 7.9; start_child checks the rest itself). */
static const struct {
	bool (*serve)(struct session *s, struct ctl_request *r);
	bool owner_only;
} op_table[] = {
	[PROTO_OP_START_CHILD] = {op_start_child, false},
	[PROTO_OP_TERMINATE_CHILD] = {op_terminate_child, false},
	[PROTO_OP_RESTART_CHILD] = {op_restart_child, false},
	[PROTO_OP_DELETE_CHILD] = {op_delete_child, false},
	[PROTO_OP_WHICH_CHILDREN] = {op_which_children, false},
	[PROTO_OP_COUNT_CHILDREN] = {op_count_children, false},
	[PROTO_OP_GET_CHILDSPEC] = {op_get_childspec, false},
	[PROTO_OP_TREE] = {op_tree, false},
	[PROTO_OP_MONITOR] = {op_monitor, false},
	[PROTO_OP_DEMONITOR] = {op_demonitor, false},
	[PROTO_OP_SUBSCRIBE] = {op_subscribe, false},
	[PROTO_OP_STOP] = {op_stop, true},
	[PROTO_OP_PING] = {op_ping, false},
	[PROTO_OP_SIGNAL] = {op_signal, false},
	[PROTO_OP_METRICS] = {op_metrics, false},
	[PROTO_OP_LOGS] = {op_logs, false},
	[PROTO_OP_REOPEN] = {op_reopen, false},
	[PROTO_OP_RELOAD] = {op_reload, false},
};

void
ops_serve(struct ops *ops, struct conn *conn, const char *line, size_t len)
{
	struct session *s = conn_session(conn);
	struct ctl_request *r;
	struct proto_error err;
	size_t op;

	r = calloc(1, sizeof(*r));
	if (!r) {
		conn_send(conn, NULL, NULL, -1);
		return;
	}
	r->ops = ops;
	r->session = s;
	if (proto_parse_request(line, len, &r->req, &err) < 0) {
		conn_send_error(conn, r->req.tag, &err);
		request_free(r);
		return;
	}
	op = (size_t)r->req.op;
	if (op >= sizeof(op_table) / sizeof(op_table[0]) || !op_table[op].serve) {
		reply(s, r, proto_error(SUPD_E_UNKNOWN_OP, "%s", proto_op_name(r->req.op)));
	} else if (op_table[op].owner_only && s->role != OPS_ROLE_OWNER) {
		reply(s, r,
		      proto_error(SUPD_E_NOT_PERMITTED, "members of control.group may not use %s",
				  proto_op_name(r->req.op)));
	} else if (op_table[op].serve(s, r)) {
		return; /* the core has it */
	}
	request_free(r);
}

/* ---- connections ---- */

int
ops_conn_open(struct ops *ops, struct conn *conn, enum ops_role role)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	s->ops = ops;
	s->conn = conn;
	s->role = role;
	LIST_INIT(&s->monitors);
	LIST_INIT(&s->links);
	s->links_prune_at = LINKS_PRUNE_INITIAL;
	conn_set_session(conn, s);
	return 0;
}

bool
ops_conn_holds(const struct conn *conn)
{
	const struct session *s = conn_session(conn);

	return s &&
	       (s->subscribed || s->follow || !LIST_EMPTY(&s->monitors) || !LIST_EMPTY(&s->links));
}

void
ops_conn_closed(struct ops *ops, struct conn *conn, bool orderly)
{
	struct session *s = conn_session(conn);
	struct monitor *m;
	struct link *link;

	if (!s)
		return;
	conn_set_session(conn, NULL);
	/* Detach first: the link terminations below run the core, whose
	 * events and replies must not reach this connection any more. */
	if (s->busy)
		s->busy->session = NULL;
	if (s->subscribed)
		TAILQ_REMOVE(&ops->subscribers, s, sub_entry);
	while ((m = LIST_FIRST(&s->monitors)))
		monitor_free(ops, m);
	log_follow_end(s);
	while ((link = LIST_FIRST(&s->links))) {
		LIST_REMOVE(link, entry);
		if (orderly)
			link_terminate(ops, link);
		free(link);
	}
	free(s);
}

/* ---- lifetime ---- */

struct ops *
ops_new(const struct ops_host *host)
{
	struct ops *ops = calloc(1, sizeof(*ops));

	if (!ops)
		return NULL;
	ops->host = *host;
	ops->started_ms = now_ms(ops);
	LIST_INIT(&ops->requests);
	LIST_INIT(&ops->unlinks);
	TAILQ_INIT(&ops->subscribers);
	return ops;
}

void
ops_free(struct ops *ops)
{
	struct ctl_request *r;
	struct link *link;

	if (!ops)
		return;
	/* Requests still in the core finish without us. */
	while ((r = LIST_FIRST(&ops->requests))) {
		LIST_REMOVE(r, entry);
		r->ops = NULL;
		r->session = NULL;
	}
	while ((link = LIST_FIRST(&ops->unlinks))) {
		LIST_REMOVE(link, entry);
		free(link);
	}
	free(ops->monitors.by_ref);
	free(ops->monitors.by_path);
	free(ops);
}
