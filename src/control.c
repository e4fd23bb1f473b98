/*
 * control.c - the control socket server (SPEC section 6).
 *
 * Owns the listening socket and every client connection: accepting (with a
 * pause on EMFILE), the peer credential check, JSON-lines framing with
 * bounded input and output buffers, dispatch of requests to the core
 * (core_submit for the operations that go through a supervisor's mailbox,
 * direct reads of the tree for the others), event subscriptions, monitors,
 * and links between a connection and the dynamic children it started.
 * The wire format itself is proto.c's.
 *
 * It must never block supd or let a client disturb it: every socket is
 * non-blocking, a client that does not read is disconnected once
 * SUPD_OUTPUT_MAX bytes wait for it, and a malformed request only earns an
 * error reply. It must also never re-enter the core: code that runs inside
 * the core (the event listener, a request's done callback) only queues
 * output and marks connections; closing connections, submitting link
 * terminations and serving buffered requests happen at the top of the event
 * loop (the I/O callbacks and the `defer` source).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "control.h"
#include "events.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "supervisor.h"

#define OUT_CHUNK_SIZE      16384
#define IN_INITIAL_SIZE     4096
#define ACCEPTS_PER_WAKEUP  32
#define ACCEPT_RETRY_USEC   (500 * 1000) /* after EMFILE, when no connection closes first */
#define MONITOR_BUCKETS     256
#define LISTEN_BACKLOG      128
#define LINKS_PRUNE_INITIAL 64

struct out_chunk {
	struct out_chunk *next;
	size_t len, off, cap;
	int fd; /* sent with the chunk's first byte (SCM_RIGHTS), -1 for none */
	char data[];
};

/* A dynamic child started with link: true, terminated when its connection
 * closes. The supervisor node is identified by its path and the start_seq
 * of its current incarnation, so that a restarted (emptied, renumbered)
 * dynamic supervisor never loses a child to a stale link. */
struct link {
	LIST_ENTRY(link) entry;
	uint64_t sup_seq;
	char id[SPEC_ID_MAX + 1];
	char sup[];
};
LIST_HEAD(link_list, link);

struct monitor {
	LIST_ENTRY(monitor) by_conn;
	LIST_ENTRY(monitor) by_path;
	struct conn *conn;
	uint64_t ref;
	bool supervisor; /* a supervisor node (else the worker process `pid`) */
	pid_t pid;
	char path[];
};
LIST_HEAD(monitor_list, monitor);

struct ctl_request;

struct conn {
	struct control *ctl;
	TAILQ_ENTRY(conn) entry;
	TAILQ_ENTRY(conn) dead_entry;
	TAILQ_ENTRY(conn) resume_entry;
	int fd;
	sd_event_source *io;
	struct ucred cred;

	char *in;
	size_t in_off, in_len, in_cap;
	struct out_chunk *out_head, *out_tail;
	size_t out_bytes;

	/* The request being served: requests of one connection are served one
	 * at a time, so that replies come in request order. */
	struct ctl_request *busy;
	bool subscribed;
	bool eof;        /* the client shut down its side: no more requests */
	bool dead;       /* to be closed at the top of the loop */
	bool on_resume;  /* on ctl->resume */
	bool processing; /* inside conn_process() */
	struct monitor_list monitors;
	struct link_list links;
	size_t nlinks, links_prune_at;
};
TAILQ_HEAD(conn_list, conn);

struct ctl_request {
	struct core_request core;
	struct control *ctl; /* NULL once the server is gone */
	struct conn *conn;   /* NULL when nobody waits for the reply */
	LIST_ENTRY(ctl_request) entry;
	struct proto_request req; /* owns the strings core.id/args/env point at */
	struct link *link;        /* start_child with link: true, allocated ahead */
	char id[SPEC_ID_MAX + 1]; /* link terminations */
};
LIST_HEAD(request_list, ctl_request);

struct control {
	struct loop *loop;
	sd_event *event;
	int listen_fd;
	sd_event_source *accept_src;
	sd_event_source *retry_src;
	sd_event_source *defer_src;
	bool accept_paused;
	bool accept_error_logged; /* until the next successful accept */
	bool closing;

	char *path; /* the socket file we created, NULL with socket activation */
	dev_t dev;
	ino_t ino;

	uid_t owner_uid;
	bool has_group;
	gid_t gid;
	uint32_t max_clients;
	uint64_t started_ms;

	struct conn_list conns;
	size_t nconns;
	struct conn_list dead;
	struct conn_list resume;
	struct request_list requests;
	struct link_list unlinks; /* links whose connection went before the start finished */
	struct monitor_list monitors[MONITOR_BUCKETS];
	uint64_t next_ref;
	struct event_listener listener;
	bool listening_events;
	uint64_t last_refusal_log_ms;
};

static void conn_close(struct conn *conn, bool terminate_links);
static void conn_process(struct conn *conn);
static void conn_settle(struct conn *conn);
static void request_done(struct core_request *cr);

/* ---- socket path ---- */

const char *
control_socket_path(const char *override, const struct control_config *cfg, char *buf, size_t len)
{
	const char *given = override ? override : cfg ? cfg->socket_path : NULL;
	int n;

	if (given) {
		n = snprintf(buf, len, "%s", given);
		return n >= 0 && (size_t)n < len ? buf : NULL;
	}
	return supd_default_socket_path(buf, len) == 0 ? buf : NULL;
}

/* ---- scheduling work at the top of the loop ---- */

static void
control_wake(struct control *ctl)
{
	if (ctl->defer_src)
		sd_event_source_set_enabled(ctl->defer_src, SD_EVENT_ONESHOT);
}

static void
conn_kill(struct conn *conn)
{
	if (conn->dead)
		return;
	conn->dead = true;
	TAILQ_INSERT_TAIL(&conn->ctl->dead, conn, dead_entry);
	if (conn->io)
		sd_event_source_set_enabled(conn->io, SD_EVENT_OFF);
	control_wake(conn->ctl);
}

static void
conn_schedule(struct conn *conn)
{
	if (conn->on_resume || conn->dead || conn->processing)
		return;
	conn->on_resume = true;
	TAILQ_INSERT_TAIL(&conn->ctl->resume, conn, resume_entry);
	control_wake(conn->ctl);
}

/* ---- output ---- */

static void
conn_update_events(struct conn *conn)
{
	uint32_t events = 0;

	if (conn->dead || !conn->io)
		return;
	if (!conn->eof && conn->in_len - conn->in_off < SUPD_LINE_MAX)
		events |= EPOLLIN;
	if (conn->out_head)
		events |= EPOLLOUT;
	sd_event_source_set_io_events(conn->io, events);
}

/* Queues len bytes (and fd, which it takes over) for the client. Safe to
 * call from inside the core: it never writes and never closes. */
static void
conn_enqueue(struct conn *conn, const char *data, size_t len, int fd)
{
	struct out_chunk *tail = conn->out_tail, *chunk;

	if (conn->dead) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (conn->out_bytes > SUPD_OUTPUT_MAX) {
		log_warnx("control: client pid %d is not reading its replies; disconnecting it",
			  (int)conn->cred.pid);
		if (fd >= 0)
			close(fd);
		conn_kill(conn);
		return;
	}
	if (fd < 0 && tail && tail->cap - tail->len >= len) {
		memcpy(tail->data + tail->len, data, len);
		tail->len += len;
	} else {
		size_t cap = len > OUT_CHUNK_SIZE ? len : OUT_CHUNK_SIZE;

		chunk = malloc(sizeof(*chunk) + cap);
		if (!chunk) {
			log_warnx("control: out of memory; disconnecting client pid %d",
				  (int)conn->cred.pid);
			if (fd >= 0)
				close(fd);
			conn_kill(conn);
			return;
		}
		chunk->next = NULL;
		chunk->len = len;
		chunk->off = 0;
		chunk->cap = cap;
		chunk->fd = fd;
		memcpy(chunk->data, data, len);
		if (tail)
			tail->next = chunk;
		else
			conn->out_head = chunk;
		conn->out_tail = chunk;
	}
	conn->out_bytes += len;
	conn_update_events(conn);
}

static const char nomem_line[] =
	"{\"ok\":false,\"error\":\"" SUPD_E_NO_MEMORY "\",\"message\":\"out of memory\"}\n";

/* Sends msg (which it consumes) with the request's tag, and fd along. */
static void
conn_send(struct conn *conn, json_t *msg, json_t *tag, int fd)
{
	size_t len;
	char *line = msg ? proto_dump(msg, tag, &len) : NULL;

	json_decref(msg);
	if (!line) {
		if (fd >= 0)
			close(fd);
		conn_enqueue(conn, nomem_line, sizeof(nomem_line) - 1, -1);
		return;
	}
	conn_enqueue(conn, line, len, fd);
	free(line);
}

static void
conn_send_error(struct conn *conn, json_t *tag, const struct proto_error *err)
{
	conn_send(conn, proto_error_from(err), tag, -1);
}

static int
send_with_fd(int fd, const char *data, size_t len, int pass_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (pass_fd < 0)
		return send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	memset(&control, 0, sizeof(control));
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	return sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Writes what the socket takes. Top of the loop only: on a write error the
 * connection is marked dead. */
static void
conn_flush(struct conn *conn)
{
	struct out_chunk *chunk;
	ssize_t n;

	while ((chunk = conn->out_head) && !conn->dead) {
		n = send_with_fd(conn->fd, chunk->data + chunk->off, chunk->len - chunk->off,
				 chunk->fd);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno != EPIPE && errno != ECONNRESET)
				log_warn("control: write to client pid %d", (int)conn->cred.pid);
			conn_kill(conn);
			return;
		}
		if (chunk->fd >= 0) {
			close(chunk->fd);
			chunk->fd = -1;
		}
		chunk->off += (size_t)n;
		conn->out_bytes -= (size_t)n;
		if (chunk->off == chunk->len) {
			conn->out_head = chunk->next;
			if (!conn->out_head)
				conn->out_tail = NULL;
			free(chunk);
		}
	}
	conn_update_events(conn);
}

static void
conn_free_output(struct conn *conn)
{
	struct out_chunk *chunk;

	while ((chunk = conn->out_head)) {
		conn->out_head = chunk->next;
		if (chunk->fd >= 0)
			close(chunk->fd);
		free(chunk);
	}
	conn->out_tail = NULL;
	conn->out_bytes = 0;
}

/* ---- monitors ---- */

static struct monitor_list *
monitor_bucket(struct control *ctl, const char *path)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &ctl->monitors[h % MONITOR_BUCKETS];
}

static void
monitor_free(struct monitor *m)
{
	LIST_REMOVE(m, by_conn);
	LIST_REMOVE(m, by_path);
	free(m);
}

static void
monitor_fire(struct monitor *m, const char *reason, const struct exit_status *st)
{
	conn_send(m->conn, proto_down_json(m->ref, m->path, m->pid, reason, st), NULL, -1);
	monitor_free(m);
}

static void
monitors_on_event(struct control *ctl, const struct core_event *ev)
{
	struct monitor *m, *next;
	bool exited = ev->type == EV_CHILD_EXITED;

	if (!ev->path || (!exited && ev->type != EV_SUPERVISOR_STOPPED))
		return;
	for (m = LIST_FIRST(monitor_bucket(ctl, ev->path)); m; m = next) {
		next = LIST_NEXT(m, by_path);
		if (strcmp(m->path, ev->path) != 0)
			continue;
		if (exited && !m->supervisor && m->pid == ev->pid)
			monitor_fire(m, exit_reason_name(ev->reason), &ev->status);
		else if (!exited && m->supervisor)
			monitor_fire(m, exit_reason_name(ev->reason), NULL);
	}
}

/* ---- events ---- */

static void
on_event(struct event_listener *l, const struct core_event *ev, const char *line, size_t len)
{
	struct control *ctl = (struct control *)((char *)l - offsetof(struct control, listener));
	struct conn *conn;

	if (line && len > 0) {
		TAILQ_FOREACH(conn, &ctl->conns, entry)
		{
			if (conn->subscribed)
				conn_enqueue(conn, line, len, -1);
		}
	}
	monitors_on_event(ctl, ev);
}

/* ---- links ---- */

static bool
link_target_alive(struct control *ctl, const struct link *link, struct child **sup)
{
	struct child *s = core_find_path(loop_core(ctl->loop), link->sup);

	*sup = s;
	return s && s->sup && s->start_seq == link->sup_seq && sup_find_child(s->sup, link->id);
}

/* Terminates a linked child; nobody waits for the reply. Top of the loop
 * only (it enters the core). */
static void
link_terminate(struct control *ctl, const struct link *link)
{
	struct ctl_request *r;
	struct child *sup;

	if (ctl->closing || !link_target_alive(ctl, link, &sup))
		return;
	r = calloc(1, sizeof(*r));
	if (!r) {
		log_warnx("control: out of memory; linked child %s/%s is left running", link->sup,
			  link->id);
		return;
	}
	r->ctl = ctl;
	snprintf(r->id, sizeof(r->id), "%s", link->id);
	r->core.op = OP_TERMINATE_CHILD;
	r->core.target = sup;
	r->core.id = r->id;
	r->core.done = request_done;
	r->core.owner = r;
	LIST_INSERT_HEAD(&ctl->requests, r, entry);
	core_submit(loop_core(ctl->loop), &r->core, loop_now_ms(ctl->loop));
}

/* Forgets links whose child is gone, so that a long-lived connection that
 * starts many temporary children does not accumulate them. */
static void
conn_prune_links(struct conn *conn)
{
	struct link *link, *next;
	struct child *sup;

	for (link = LIST_FIRST(&conn->links); link; link = next) {
		next = LIST_NEXT(link, entry);
		if (!link_target_alive(conn->ctl, link, &sup)) {
			LIST_REMOVE(link, entry);
			free(link);
			conn->nlinks--;
		}
	}
	conn->links_prune_at =
		conn->nlinks * 2 > LINKS_PRUNE_INITIAL ? conn->nlinks * 2 : LINKS_PRUNE_INITIAL;
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
	json_t *msg;

	if (cr->error != CORE_OK) {
		conn_send(r->conn, core_error_reply(r), r->req.tag, -1);
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
	conn_send(r->conn, msg, r->req.tag, -1);
}

/* The core is done with a request. This runs inside the core: queue, mark
 * and schedule, nothing else. */
static void
request_done(struct core_request *cr)
{
	struct ctl_request *r = cr->owner;
	struct control *ctl = r->ctl;
	struct link *link = r->link;

	/* The core takes the spec in every case and clears the pointer; if it
	 * ever hands one back, it is ours to free. */
	spec_free(cr->spec);
	cr->spec = NULL;
	if (!ctl) {
		request_free(r);
		return;
	}
	LIST_REMOVE(r, entry);
	if (link && cr->error == CORE_OK) {
		r->link = NULL;
		snprintf(link->id, sizeof(link->id), "%s", cr->child_id);
		if (r->conn) {
			LIST_INSERT_HEAD(&r->conn->links, link, entry);
			r->conn->nlinks++;
		} else {
			/* The client left before its child started: the link
			 * fires at once. */
			LIST_INSERT_HEAD(&ctl->unlinks, link, entry);
			control_wake(ctl);
		}
	}
	if (r->conn) {
		request_reply(r);
		r->conn->busy = NULL;
		conn_schedule(r->conn);
	}
	request_free(r);
}

static void
request_submit(struct conn *conn, struct ctl_request *r, enum core_op op, struct child *sup)
{
	struct control *ctl = conn->ctl;

	r->core.op = op;
	r->core.target = sup;
	r->core.done = request_done;
	r->core.owner = r;
	conn->busy = r;
	LIST_INSERT_HEAD(&ctl->requests, r, entry);
	core_submit(loop_core(ctl->loop), &r->core, loop_now_ms(ctl->loop));
}

static struct child *
find_sup(struct conn *conn, struct ctl_request *r)
{
	struct child *c = core_find_path(loop_core(conn->ctl->loop), r->req.sup);
	struct proto_error err;

	if (!c) {
		err.error = SUPD_E_NOT_FOUND;
		snprintf(err.message, sizeof(err.message), "no supervisor at %s", r->req.sup);
	} else if (!c->sup) {
		err.error = SUPD_E_NOT_A_SUPERVISOR;
		snprintf(err.message, sizeof(err.message), "%s is a worker", r->req.sup);
	} else {
		return c;
	}
	conn_send_error(conn, r->req.tag, &err);
	return NULL;
}

/* user: and group: of a spec that came over the socket, resolved by the
 * same rules as the config file (spec.c), including that an unprivileged
 * supd may only name its own ids. NSS may block; only requests that name a
 * user pay. */
static int
resolve_ids(struct child_spec *spec, struct proto_error *err)
{
	const char *bad_key = NULL;

	if (spec_is_supervisor(spec)) {
		for (size_t i = 0; i < spec->sup.nchildren; i++)
			if (resolve_ids(spec->sup.children[i], err) < 0)
				return -1;
		return spec->sup.template_spec ? resolve_ids(spec->sup.template_spec, err) : 0;
	}
	if (spec_resolve_credentials(&spec->worker, &bad_key, err->message, sizeof(err->message)) <
	    0) {
		err->error = SUPD_E_BAD_REQUEST;
		return -1;
	}
	return 0;
}

/* Returns true when the request was handed to the core (which now owns r). */
static bool
op_start_child(struct conn *conn, struct ctl_request *r)
{
	struct proto_request *q = &r->req;
	struct child_spec *spec = NULL;
	struct proto_error err;
	unsigned level;
	struct child *sup = find_sup(conn, r);

	if (!sup)
		return false;
	if (proto_check_start_child(q, sup->spec->type, &err) < 0) {
		conn_send_error(conn, q->tag, &err);
		return false;
	}
	if (sup->spec->type == NODE_SUPERVISOR) {
		level = proto_path_level(sup->path);
		if (proto_spec_from_json(q->spec, sup->spec->sup.auto_shutdown,
					 level < SPEC_MAX_DEPTH ? SPEC_MAX_DEPTH - level : 0, &spec,
					 &err) < 0 ||
		    resolve_ids(spec, &err) < 0) {
			spec_free(spec);
			conn_send_error(conn, q->tag, &err);
			return false;
		}
		r->core.spec = spec;
	} else {
		r->core.id = q->id;
		r->core.args = q->args;
		r->core.nargs = q->nargs;
		r->core.env = q->env;
		r->core.nenv = q->nenv;
		if (q->link) {
			if (conn->nlinks >= conn->links_prune_at)
				conn_prune_links(conn);
			r->link = calloc(1, sizeof(*r->link) + strlen(sup->path) + 1);
			if (!r->link) {
				conn_send(conn, proto_error(SUPD_E_NO_MEMORY, "out of memory"),
					  q->tag, -1);
				return false;
			}
			r->link->sup_seq = sup->start_seq;
			strcpy(r->link->sup, sup->path);
		}
	}
	request_submit(conn, r, OP_START_CHILD, sup);
	return true;
}

static bool
op_child_call(struct conn *conn, struct ctl_request *r, enum core_op op)
{
	struct child *sup = find_sup(conn, r);

	if (!sup)
		return false;
	r->core.id = r->req.id;
	request_submit(conn, r, op, sup);
	return true;
}

static void
reply_with(struct conn *conn, struct ctl_request *r, const char *key, json_t *value)
{
	json_t *msg = proto_ok();

	if (!value || !msg || json_object_set_new(msg, key, value) < 0) {
		json_decref(msg);
		msg = NULL;
	}
	conn_send(conn, msg, r->req.tag, -1);
}

static struct child *
find_worker_by_pid(struct child *c, pid_t pid)
{
	struct child *k, *found;

	if (!c->sup)
		return c->pid == pid ? c : NULL;
	TAILQ_FOREACH(k, &c->sup->children, sibling)
	{
		found = find_worker_by_pid(k, pid);
		if (found)
			return found;
	}
	return NULL;
}

static void
op_monitor(struct conn *conn, struct ctl_request *r)
{
	struct control *ctl = conn->ctl;
	struct core *core = loop_core(ctl->loop);
	struct proto_request *q = &r->req;
	struct child *c = NULL;
	struct monitor *m;
	const char *path;
	bool alive;
	json_t *msg;
	int fd = -1;

	if (q->pid > 0)
		c = core->root ? find_worker_by_pid(core->root, q->pid) : NULL;
	else
		c = core_find_path(core, q->path);
	path = c ? c->path : q->path;
	alive = c && proto_child_alive(c) && (c->sup || c->pid > 0);
	m = calloc(1, sizeof(*m) + (path ? strlen(path) : 0) + 1);
	msg = proto_ok();
	if (!m || !msg) {
		free(m);
		json_decref(msg);
		conn_send(conn, proto_error(SUPD_E_NO_MEMORY, "out of memory"), q->tag, -1);
		return;
	}
	m->conn = conn;
	m->ref = ++ctl->next_ref;
	m->supervisor = c && c->sup;
	m->pid = c && !c->sup ? c->pid : q->pid;
	if (path)
		strcpy(m->path, path);
	if (alive && q->pidfd && !c->sup && c->pid > 0) {
		/* Race-free: supd is the only reaper, so the worker's pid cannot
		 * be reused before its exit has been handled. */
		fd = pidfd_open(c->pid, 0);
		if (fd < 0 && errno != ENOSYS)
			log_warn("control: opening a pidfd for %s", c->path);
	}
	json_object_set_new(msg, "ref", json_integer((json_int_t)m->ref));
	if (q->pidfd)
		json_object_set_new(msg, "pidfd", json_boolean(fd >= 0));
	conn_send(conn, msg, q->tag, fd);
	if (!alive) {
		/* Erlang's answer for a monitor of nothing: a down message,
		 * at once. */
		conn_send(conn, proto_down_json(m->ref, path, m->pid, SUPD_REASON_NOPROC, NULL),
			  NULL, -1);
		free(m);
		return;
	}
	LIST_INSERT_HEAD(&conn->monitors, m, by_conn);
	LIST_INSERT_HEAD(monitor_bucket(ctl, m->path), m, by_path);
}

static void
op_demonitor(struct conn *conn, struct ctl_request *r)
{
	struct monitor *m;

	LIST_FOREACH(m, &conn->monitors, by_conn)
	{
		if (m->ref == r->req.ref) {
			monitor_free(m);
			break;
		}
	}
	/* Like erlang:demonitor/1, an unknown or already fired ref is fine. */
	conn_send(conn, proto_ok(), r->req.tag, -1);
}

static void
op_ping(struct conn *conn, struct ctl_request *r)
{
	uint64_t now = loop_now_ms(conn->ctl->loop);
	json_t *msg = proto_ok();

	if (msg &&
	    (json_object_set_new(msg, "version", json_string(SUPD_VERSION)) < 0 ||
	     json_object_set_new(msg, "pid", json_integer(getpid())) < 0 ||
	     json_object_set_new(msg, "uptime_ms",
				 json_integer((json_int_t)(now - conn->ctl->started_ms))) < 0)) {
		json_decref(msg);
		msg = NULL;
	}
	conn_send(conn, msg, r->req.tag, -1);
}

/* Serves one request. Returns true when the core took it (and r with it). */
static bool
conn_dispatch(struct conn *conn, struct ctl_request *r)
{
	struct core *core = loop_core(conn->ctl->loop);
	struct child *c;
	json_t *msg;

	switch (r->req.op) {
	case PROTO_OP_START_CHILD:
		return op_start_child(conn, r);
	case PROTO_OP_TERMINATE_CHILD:
		return op_child_call(conn, r, OP_TERMINATE_CHILD);
	case PROTO_OP_RESTART_CHILD:
		return op_child_call(conn, r, OP_RESTART_CHILD);
	case PROTO_OP_DELETE_CHILD:
		return op_child_call(conn, r, OP_DELETE_CHILD);
	case PROTO_OP_WHICH_CHILDREN:
		c = find_sup(conn, r);
		if (c)
			reply_with(conn, r, "children", proto_which_children(c->sup));
		return false;
	case PROTO_OP_COUNT_CHILDREN:
		c = find_sup(conn, r);
		if (c) {
			msg = proto_ok();
			if (msg && proto_count_children(c->sup, msg) < 0) {
				json_decref(msg);
				msg = NULL;
			}
			conn_send(conn, msg, r->req.tag, -1);
		}
		return false;
	case PROTO_OP_GET_CHILDSPEC:
		c = find_sup(conn, r);
		if (!c)
			return false;
		c = sup_find_child(c->sup, r->req.id);
		if (c)
			reply_with(conn, r, "spec", proto_childspec(c));
		else
			conn_send(conn,
				  proto_error(SUPD_E_NOT_FOUND, "no child '%s' in %s", r->req.id,
					      r->req.sup),
				  r->req.tag, -1);
		return false;
	case PROTO_OP_TREE:
		c = core_find_path(core, r->req.path ? r->req.path : "/");
		if (c)
			reply_with(conn, r, "tree", proto_tree(c, loop_now_ms(conn->ctl->loop)));
		else
			conn_send(conn, proto_error(SUPD_E_NOT_FOUND, "no node at %s", r->req.path),
				  r->req.tag, -1);
		return false;
	case PROTO_OP_MONITOR:
		op_monitor(conn, r);
		return false;
	case PROTO_OP_DEMONITOR:
		op_demonitor(conn, r);
		return false;
	case PROTO_OP_SUBSCRIBE:
		/* The reply first: every event after it belongs to the stream. */
		conn_send(conn, proto_ok(), r->req.tag, -1);
		conn->subscribed = true;
		return false;
	case PROTO_OP_STOP:
		conn_send(conn, proto_ok(), r->req.tag, -1);
		log_info("control: stop requested by pid %d (uid %u)", (int)conn->cred.pid,
			 (unsigned)conn->cred.uid);
		loop_request_stop(conn->ctl->loop);
		return false;
	case PROTO_OP_PING:
		op_ping(conn, r);
		return false;
	}
	return false;
}

static bool
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static void
conn_handle_line(struct conn *conn, const char *line, size_t len)
{
	struct ctl_request *r;
	struct proto_error err;

	if (blank(line, len))
		return;
	r = calloc(1, sizeof(*r));
	if (!r) {
		conn_enqueue(conn, nomem_line, sizeof(nomem_line) - 1, -1);
		return;
	}
	r->ctl = conn->ctl;
	r->conn = conn;
	if (proto_parse_request(line, len, &r->req, &err) < 0) {
		conn_send_error(conn, r->req.tag, &err);
		request_free(r);
		return;
	}
	if (!conn_dispatch(conn, r))
		request_free(r);
}

/* ---- input ---- */

/* Reads what is there, up to a full line buffer. Top of the loop only. */
static void
conn_read(struct conn *conn)
{
	ssize_t n;
	char *in;
	size_t cap;

	while (!conn->eof && !conn->dead) {
		if (conn->in_off > 0 && conn->in_len == conn->in_cap) {
			memmove(conn->in, conn->in + conn->in_off, conn->in_len - conn->in_off);
			conn->in_len -= conn->in_off;
			conn->in_off = 0;
		}
		if (conn->in_len == conn->in_cap) {
			if (conn->in_cap >= SUPD_LINE_MAX)
				return;
			cap = conn->in_cap ? conn->in_cap * 2 : IN_INITIAL_SIZE;
			if (cap > SUPD_LINE_MAX)
				cap = SUPD_LINE_MAX;
			in = realloc(conn->in, cap);
			if (!in) {
				log_warnx("control: out of memory; disconnecting client pid %d",
					  (int)conn->cred.pid);
				conn_kill(conn);
				return;
			}
			conn->in = in;
			conn->in_cap = cap;
		}
		n = read(conn->fd, conn->in + conn->in_len, conn->in_cap - conn->in_len);
		if (n > 0) {
			conn->in_len += (size_t)n;
		} else if (n == 0) {
			conn->eof = true;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else {
			if (errno != ECONNRESET)
				log_warn("control: read from client pid %d", (int)conn->cred.pid);
			conn_kill(conn);
			return;
		}
	}
}

static bool
conn_has_line(const struct conn *conn)
{
	return conn->in_len > conn->in_off &&
	       (conn->eof || memchr(conn->in + conn->in_off, '\n', conn->in_len - conn->in_off));
}

/* Serves the buffered requests, one at a time, while the client keeps up
 * with the replies. Top of the loop only. */
static void
conn_process(struct conn *conn)
{
	struct proto_error err;
	char *line, *nl;
	size_t avail;

	conn->processing = true;
	while (!conn->busy && !conn->dead && conn->out_bytes <= SUPD_OUTPUT_PAUSE) {
		line = conn->in + conn->in_off;
		avail = conn->in_len - conn->in_off;
		if (avail == 0)
			break;
		nl = memchr(line, '\n', avail);
		if (!nl && avail >= SUPD_LINE_MAX) {
			/* The framing is lost: say why, then hang up. */
			err.error = SUPD_E_LINE_TOO_LONG;
			snprintf(err.message, sizeof(err.message),
				 "request line longer than %d bytes", SUPD_LINE_MAX - 1);
			conn_send_error(conn, NULL, &err);
			conn_flush(conn);
			conn_kill(conn);
			break;
		}
		if (!nl && !conn->eof)
			break;
		/* At end of input a last line needs no newline. */
		conn->in_off += nl ? (size_t)(nl - line) + 1 : avail;
		conn_handle_line(conn, line, nl ? (size_t)(nl - line) : avail);
	}
	if (conn->in_off == conn->in_len)
		conn->in_off = conn->in_len = 0;
	conn->processing = false;
}

/* Nothing in flight and nothing that waits for the client: after its EOF,
 * the connection can go. */
static bool
conn_idle(const struct conn *conn)
{
	return !conn->busy && !conn->out_head && !conn->subscribed && LIST_EMPTY(&conn->monitors) &&
	       LIST_EMPTY(&conn->links) && conn->in_len == conn->in_off;
}

static void
conn_settle(struct conn *conn)
{
	if (conn->dead)
		return;
	if (conn->eof && conn_idle(conn)) {
		conn_close(conn, true);
		return;
	}
	if (!conn->busy && conn->out_bytes <= SUPD_OUTPUT_PAUSE && conn_has_line(conn))
		conn_schedule(conn);
	conn_update_events(conn);
}

static int
on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *conn = userdata;

	(void)s;
	(void)fd;
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(conn);
	conn_process(conn);
	conn_flush(conn);
	if (conn->dead || (revents & (EPOLLHUP | EPOLLERR))) {
		conn_close(conn, true);
		return 0;
	}
	conn_settle(conn);
	return 0;
}

/* Closed connections, deferred link terminations and connections whose
 * request finished while the core was running. */
static int
on_defer(sd_event_source *s, void *userdata)
{
	struct control *ctl = userdata;
	struct conn *conn;
	struct link *link;

	(void)s;
	while ((conn = TAILQ_FIRST(&ctl->dead)))
		conn_close(conn, true);
	while ((link = LIST_FIRST(&ctl->unlinks))) {
		LIST_REMOVE(link, entry);
		link_terminate(ctl, link);
		free(link);
	}
	while ((conn = TAILQ_FIRST(&ctl->resume))) {
		TAILQ_REMOVE(&ctl->resume, conn, resume_entry);
		conn->on_resume = false;
		conn_process(conn);
		conn_flush(conn);
		if (conn->dead)
			conn_close(conn, true);
		else
			conn_settle(conn);
	}
	/* Work queued meanwhile (a dead connection, a link) waits for the
	 * next turn, where the defer source runs again. */
	if (!TAILQ_EMPTY(&ctl->dead) || !LIST_EMPTY(&ctl->unlinks))
		control_wake(ctl);
	return 0;
}

/* ---- connections ---- */

static void accept_resume(struct control *ctl);

static void
conn_close(struct conn *conn, bool terminate_links)
{
	struct control *ctl = conn->ctl;
	struct monitor *m;
	struct link *link;

	/* Detach first: the link terminations below run the core, whose
	 * events and replies must not reach this connection any more. */
	TAILQ_REMOVE(&ctl->conns, conn, entry);
	ctl->nconns--;
	if (conn->dead)
		TAILQ_REMOVE(&ctl->dead, conn, dead_entry);
	if (conn->on_resume)
		TAILQ_REMOVE(&ctl->resume, conn, resume_entry);
	conn->dead = true;
	conn->on_resume = false;
	if (conn->busy)
		conn->busy->conn = NULL;
	while ((m = LIST_FIRST(&conn->monitors)))
		monitor_free(m);
	conn_free_output(conn);
	sd_event_source_disable_unref(conn->io);
	conn->io = NULL;
	close(conn->fd);
	free(conn->in);
	while ((link = LIST_FIRST(&conn->links))) {
		LIST_REMOVE(link, entry);
		if (terminate_links)
			link_terminate(ctl, link);
		free(link);
	}
	free(conn);
	accept_resume(ctl);
}

static bool
peer_in_group(int fd, gid_t gid)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool found = false;

	for (int tries = 0; tries < 4; tries++) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
			for (size_t i = 0; i < len / sizeof(gid_t); i++)
				if (groups[i] == gid)
					found = true;
			break;
		}
		if (errno != ERANGE)
			break;
		/* The kernel told us the size it needs in len. */
		if (groups != small)
			free(groups);
		groups = malloc(len);
		if (!groups)
			return false;
	}
	if (groups != small)
		free(groups);
	return found;
}

static bool
peer_allowed(const struct control *ctl, int fd, const struct ucred *cred)
{
	if (cred->uid == 0 || cred->uid == ctl->owner_uid)
		return true;
	if (!ctl->has_group)
		return false;
	return cred->gid == ctl->gid || peer_in_group(fd, ctl->gid);
}

/* One line for a connection that is refused, if its socket takes it at
 * once; then it is closed. */
static void
refuse(struct control *ctl, int fd, const struct ucred *cred, const char *error,
       const char *message)
{
	char line[256];
	uint64_t now = loop_now_ms(ctl->loop);
	int n;

	n = snprintf(line, sizeof(line), "{\"ok\":false,\"error\":\"%s\",\"message\":\"%s\"}\n",
		     error, message);
	/* Best effort: a client that is not reading yet just sees the close. */
	if (n > 0 && (size_t)n < sizeof(line))
		(void)send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	/* A local flood of refused connections must not flood the log. */
	if (now - ctl->last_refusal_log_ms >= 1000 || ctl->last_refusal_log_ms == 0) {
		ctl->last_refusal_log_ms = now;
		log_warnx("control: refused pid %d (uid %u): %s", cred ? (int)cred->pid : 0,
			  cred ? (unsigned)cred->uid : 0, message);
	}
}

static void
conn_accept(struct control *ctl, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *conn;
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("control: SO_PEERCRED");
		close(fd);
		return;
	}
	if (!peer_allowed(ctl, fd, &cred)) {
		refuse(ctl, fd, &cred, SUPD_E_ACCESS_DENIED, "access denied");
		return;
	}
	if (ctl->nconns >= ctl->max_clients) {
		refuse(ctl, fd, &cred, SUPD_E_TOO_MANY_CLIENTS, "too many clients");
		return;
	}
	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		log_warnx("control: out of memory; connection of pid %d dropped", (int)cred.pid);
		close(fd);
		return;
	}
	conn->ctl = ctl;
	conn->fd = fd;
	conn->cred = cred;
	LIST_INIT(&conn->monitors);
	LIST_INIT(&conn->links);
	conn->links_prune_at = LINKS_PRUNE_INITIAL;
	r = sd_event_add_io(ctl->event, &conn->io, fd, EPOLLIN, on_conn_io, conn);
	if (r < 0) {
		errno = -r;
		log_warn("control: watching a connection");
		close(fd);
		free(conn);
		return;
	}
	TAILQ_INSERT_TAIL(&ctl->conns, conn, entry);
	ctl->nconns++;
}

/* ---- accepting ---- */

static void
accept_pause(struct control *ctl)
{
	if (ctl->accept_paused)
		return;
	ctl->accept_paused = true;
	sd_event_source_set_enabled(ctl->accept_src, SD_EVENT_OFF);
	if (ctl->retry_src) {
		sd_event_source_set_time_relative(ctl->retry_src, ACCEPT_RETRY_USEC);
		sd_event_source_set_enabled(ctl->retry_src, SD_EVENT_ONESHOT);
	}
}

static void
accept_resume(struct control *ctl)
{
	if (!ctl->accept_paused || ctl->closing)
		return;
	ctl->accept_paused = false;
	sd_event_source_set_enabled(ctl->accept_src, SD_EVENT_ON);
	if (ctl->retry_src)
		sd_event_source_set_enabled(ctl->retry_src, SD_EVENT_OFF);
}

static int
on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	accept_resume(userdata);
	return 0;
}

static int
on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *ctl = userdata;
	int cfd;

	(void)s;
	(void)revents;
	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0) {
			ctl->accept_error_logged = false;
			conn_accept(ctl, cfd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return 0;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		default:
			/* EMFILE and friends: the pending connection stays in
			 * the backlog; try again when a connection closes or
			 * after a while. Logged once per episode. */
			if (!ctl->accept_error_logged)
				log_warn("control: accept (pausing)");
			ctl->accept_error_logged = true;
			accept_pause(ctl);
			return 0;
		}
	}
	return 0;
}

/* ---- the listening socket ---- */

/* EADDRINUSE on bind: a live supd keeps its socket; a dead one's file is
 * replaced. Returns 0 when the path is free now. */
static int
remove_stale_socket(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("control: %s exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		log_warn("control: socket");
		return r;
	}
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (r == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		close(fd);
		log_warnx("control: %s is in use by a running supd", path);
		return -EADDRINUSE;
	}
	r = errno;
	close(fd);
	if (r == ENOENT)
		return 0;
	if (r != ECONNREFUSED) {
		errno = r;
		log_warn("control: probing %s", path);
		return -r;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		log_warn("control: removing the stale socket %s", path);
		return r;
	}
	log_info("control: removed the stale socket %s", path);
	return 0;
}

static int
bind_with_mode(int fd, const struct sockaddr_un *sa, mode_t mode)
{
	/* bind() creates the file with the umask applied; a umask that lets
	 * through nothing but `mode` leaves no window where the file is more
	 * open than configured. supd is single-threaded. */
	mode_t old = umask(~mode & 0777);
	int r = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int saved = errno;

	umask(old);
	errno = saved;
	return r < 0 ? -errno : 0;
}

static int
listen_on_path(struct control *ctl, const char *path, mode_t mode, const struct control_config *cfg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_warnx("control: socket path too long (max %zu bytes): %s",
			  sizeof(sa.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		log_warn("control: socket");
		return r;
	}
	r = bind_with_mode(fd, &sa, mode);
	if (r == -EADDRINUSE) {
		r = remove_stale_socket(path, &sa);
		if (r < 0) {
			close(fd);
			return r;
		}
		r = bind_with_mode(fd, &sa, mode);
	}
	if (r < 0) {
		errno = -r;
		log_warn("control: bind %s", path);
		close(fd);
		return r;
	}
	if (chmod(path, mode) < 0 || (cfg && cfg->group && chown(path, (uid_t)-1, cfg->gid) < 0) ||
	    listen(fd, LISTEN_BACKLOG) < 0 || lstat(path, &st) < 0) {
		r = -errno;
		log_warn("control: setting up %s", path);
		unlink(path);
		close(fd);
		return r;
	}
	ctl->path = strdup(path);
	if (!ctl->path) {
		unlink(path);
		close(fd);
		log_warnx("control: out of memory");
		return -ENOMEM;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	ctl->listen_fd = fd;
	return 0;
}

static int
adopt_listen_fd(struct control *ctl, int fd)
{
	int flags;

	if (sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) <= 0) {
		log_warnx("control: the activated socket (fd %d) is not a listening Unix stream "
			  "socket",
			  fd);
		return -EINVAL;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		flags = -errno;
		log_warn("control: activated socket fd %d", fd);
		return flags;
	}
	ctl->listen_fd = fd;
	return 0;
}

int
control_new(struct control **out, struct loop *loop, const struct control_config *cfg,
	    const char *path, int listen_fd)
{
	struct control *ctl;
	mode_t mode = cfg && cfg->mode ? cfg->mode : SUPD_SOCKET_MODE_DEFAULT;
	int r;

	*out = NULL;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		log_warnx("control: out of memory");
		return -ENOMEM;
	}
	ctl->loop = loop;
	ctl->event = loop_event(loop);
	ctl->listen_fd = -1;
	ctl->owner_uid = geteuid();
	ctl->has_group = cfg && cfg->group;
	ctl->gid = cfg ? cfg->gid : 0;
	ctl->max_clients = cfg && cfg->max_clients ? cfg->max_clients : SUPD_MAX_CLIENTS_DEFAULT;
	ctl->started_ms = loop_now_ms(loop);
	TAILQ_INIT(&ctl->conns);
	TAILQ_INIT(&ctl->dead);
	TAILQ_INIT(&ctl->resume);
	LIST_INIT(&ctl->requests);
	LIST_INIT(&ctl->unlinks);
	for (size_t i = 0; i < MONITOR_BUCKETS; i++)
		LIST_INIT(&ctl->monitors[i]);

	if (listen_fd >= 0)
		r = adopt_listen_fd(ctl, listen_fd);
	else if (path)
		r = listen_on_path(ctl, path, mode, cfg);
	else
		r = -EINVAL;
	if (r < 0)
		goto fail;
	r = sd_event_add_io(ctl->event, &ctl->accept_src, ctl->listen_fd, EPOLLIN, on_accept, ctl);
	if (r >= 0)
		r = sd_event_add_time_relative(ctl->event, &ctl->retry_src, CLOCK_MONOTONIC,
					       ACCEPT_RETRY_USEC, 0, on_accept_retry, ctl);
	if (r >= 0)
		r = sd_event_source_set_enabled(ctl->retry_src, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_add_defer(ctl->event, &ctl->defer_src, on_defer, ctl);
	if (r >= 0)
		r = sd_event_source_set_enabled(ctl->defer_src, SD_EVENT_OFF);
	if (r < 0) {
		errno = -r;
		log_warn("control: event sources");
		goto fail;
	}
	ctl->listener.fn = on_event;
	events_add_listener(&ctl->listener);
	ctl->listening_events = true;
	*out = ctl;
	return 0;
fail:
	control_free(ctl);
	return r;
}

void
control_free(struct control *ctl)
{
	struct ctl_request *r;
	struct conn *conn;
	struct link *link;
	struct stat st;

	if (!ctl)
		return;
	ctl->closing = true;
	if (ctl->listening_events)
		events_remove_listener(&ctl->listener);
	/* Requests still in the core finish without us. */
	while ((r = LIST_FIRST(&ctl->requests))) {
		LIST_REMOVE(r, entry);
		r->ctl = NULL;
		r->conn = NULL;
	}
	/* Last words (the reply to `stop`, supd_exiting) go out if the
	 * sockets take them now. */
	while ((conn = TAILQ_FIRST(&ctl->conns))) {
		conn_flush(conn);
		conn_close(conn, false);
	}
	while ((link = LIST_FIRST(&ctl->unlinks))) {
		LIST_REMOVE(link, entry);
		free(link);
	}
	sd_event_source_disable_unref(ctl->accept_src);
	sd_event_source_disable_unref(ctl->retry_src);
	sd_event_source_disable_unref(ctl->defer_src);
	if (ctl->listen_fd >= 0)
		close(ctl->listen_fd);
	/* Remove the file only if it is still the one we bound: a successor
	 * may already have replaced it. */
	if (ctl->path && lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}
