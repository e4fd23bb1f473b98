/*
 * supervisor.h - the supervision core: the runtime tree and the OTP rules.
 *
 * The core decides; it never does. It makes no system calls, never sees
 * sd-event, and never reads a clock: time comes in as `now_ms` (monotonic
 * milliseconds) on every entry point, and every effect on the world (spawn a
 * process, send a signal, arm a deadline, emit an event, answer a request)
 * goes out through `struct core_effects`. loop.c fills that table with the
 * real thing; the unit tests fill it with a recorder and drive every rule of
 * SPEC section 2 with explicit time and no processes.
 *
 * Inputs: core_start(), core_child_exited(), core_child_ready(),
 * core_timer_fired(), core_submit() (control requests), core_shutdown(), and
 * core_run() for deferred work (restart retries).
 */
#ifndef SUPD_SUPERVISOR_H
#define SUPD_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "spec.h"

/* The longest path of a valid tree, with its NUL: 64 levels (the root's 63
 * nested supervisors and a worker), each a '/' and an id of up to 64
 * characters. Buffers that hold a path are this size; nothing truncates. */
#define CHILD_PATH_MAX (SPEC_MAX_DEPTH * (SPEC_ID_MAX + 1) + 1)

/* Opaque outside the core: the shell and the control socket see the tree
 * only through the functions below (supervisor_internal.h has the layout,
 * for supervisor.c, index.c and the unit tests). */
struct core;
struct child;

/* How a process ended, as waitid() reports it. */
struct exit_status {
	bool signaled; /* killed by `value` (a signal number); else exited with code `value` */
	int value;
};

enum exit_reason {
	REASON_NORMAL,    /* exited by itself with a code in normal_exit */
	REASON_SHUTDOWN,  /* terminated by its supervisor and gone within its shutdown time */
	REASON_KILLED,    /* brutal_kill, or SIGKILL after the shutdown time */
	REASON_CRASH,     /* anything else */
	REASON_UNHEALTHY, /* killed by supd after failed health checks: a crash */
};

enum child_state {
	CHILD_DOWN, /* not running; the spec is kept (stopped, or transient after a normal exit) */
	CHILD_STARTING, /* worker: exec'd, waiting for READY=1; supervisor: starting its children */
	CHILD_RUNNING,  /* worker: running; supervisor: started */
	CHILD_STOPPING, /* its supervisor is terminating it; waiting for it to be gone */
	CHILD_RESTARTING, /* a restart failed and its retry is pending (OTP's `restarting`),
			     or its start waits for its backoff delay */
};

/* A deadline owned by a child or a supervisor; the shell keeps its own
 * handle for it (an sd-event time source) in `handle`. */
enum timer_owner {
	TIMER_CHILD,
	TIMER_SUP,
};
struct timer {
	enum timer_owner owner_kind;
	bool armed;
	uint64_t deadline_ms;
	void *handle; /* the shell's; NULL until first armed, released with the owner */
};

/* One entry of a supervisor's mailbox: OTP processes a supervisor's messages
 * one at a time, so an exit or a request that arrives while the supervisor is
 * busy (starting, restarting a group, terminating a child) waits here. */
enum msg_kind {
	MSG_EXIT,    /* a child exited by itself */
	MSG_RETRY,   /* a failed restart is to be retried */
	MSG_REQUEST, /* a control request */
	MSG_RELOAD,  /* this supervisor's part of a reload (SPEC 7.5) */
};
struct msg {
	enum msg_kind kind;
	bool queued;
	TAILQ_ENTRY(msg) link;
};

/* Events of SPEC section 5, as structured data; events.c formats them. */
enum core_event_type {
	EV_SUPERVISOR_STARTED,
	EV_CHILD_STARTED,
	EV_CHILD_START_FAILED,
	EV_CHILD_STOPPING,
	EV_SHUTDOWN_TIMEOUT,
	EV_CHILD_EXITED,
	EV_SUPERVISOR_STOPPED,
	EV_RESTART_LIMIT,
	EV_AUTO_SHUTDOWN,
	EV_ORPHAN_REAPED,
	EV_SUPD_EXITING,
	EV_RESTART_DELAYED,
	EV_CHILD_UNHEALTHY,
	EV_OUTPUT_DROPPED, /* emitted by the shell's writers, never by the core */
	EV_RELOADED,       /* a supervisor applied its part of a reload */
	EV_RELOAD_FAILED,  /* emitted by the shell: the file was refused, nothing changed */
};
struct core_event {
	enum core_event_type type;
	const char *path;
	pid_t pid;
	int signal;                         /* EV_CHILD_STOPPING */
	struct exit_status status;          /* EV_CHILD_EXITED, EV_ORPHAN_REAPED */
	enum exit_reason reason;            /* EV_CHILD_EXITED, EV_SUPERVISOR_STOPPED */
	const char *error;                  /* EV_CHILD_START_FAILED */
	uint32_t max_restarts, max_seconds; /* EV_RESTART_LIMIT */
	const char *trigger;                /* EV_AUTO_SHUTDOWN */
	int exit_code;                      /* EV_SUPD_EXITING */
	uint64_t delay_ms;                  /* EV_RESTART_DELAYED */
	const char *output;                 /* EV_CHILD_UNHEALTHY: the last check's output;
					     * EV_OUTPUT_DROPPED: "stderr", a file... */
	uint64_t lines;                     /* EV_OUTPUT_DROPPED */
	const char *program; /* EV_CHILD_START_FAILED: argv[0] (filled by the shell) */
	/* EV_RELOADED: child ids, in the file's order (removed: the old order);
	 * failed: added or changed children whose start failed (left stopped) */
	const char *const *added, *const *removed, *const *changed, *const *failed;
	size_t nadded, nremoved, nchanged, nfailed;
};

/* Control requests that go through a supervisor's mailbox. */
enum core_op {
	OP_START_CHILD,
	OP_TERMINATE_CHILD,
	OP_RESTART_CHILD,
	OP_DELETE_CHILD,
};

enum core_error {
	CORE_OK,
	CORE_E_NOT_FOUND,
	CORE_E_RUNNING,
	CORE_E_RESTARTING,
	CORE_E_NOT_SUPPORTED,
	CORE_E_ALREADY_STARTED,
	CORE_E_ALREADY_PRESENT,
	CORE_E_MAX_CHILDREN,
	CORE_E_START_FAILED,
	CORE_E_SHUTDOWN, /* the supervisor went down before the request was served */
	CORE_E_NOMEM,
	CORE_E_INVALID, /* bad arguments (bad id, spec of the wrong kind) */
};

struct core_request {
	enum core_op op;
	struct child *target; /* the supervisor node the request is for */

	/* arguments; strings stay owned by the caller until the reply */
	const char *id;          /* terminate/restart/delete; dynamic start_child (optional) */
	struct child_spec *spec; /* static start_child: owned by the core once accepted */
	const char *const *args; /* dynamic start_child: appended to the template argv */
	size_t nargs;
	const char *const *env; /* dynamic start_child: NAME=value entries */
	size_t nenv;

	/* result, valid in the reply callback */
	enum core_error error;
	pid_t pid;
	char child_id[SPEC_ID_MAX + 1];
	char message[96];
	struct child *child; /* start_child: the new child (NULL on error) */

	/* Called once when the request is finished (possibly before
	 * core_submit() returns); the core is done with it afterwards. */
	void (*done)(struct core_request *req);
	void *owner; /* the caller's */

	struct msg msg; /* private */
};

struct core_effects {
	/* Start the worker `c`. On success store its pid in *pid and return
	 * 0; on failure return a negative errno and write the reason
	 * ("exec:ENOENT", "chdir:EACCES", "fork:EAGAIN") into err. */
	int (*spawn)(void *ctx, struct child *c, pid_t *pid, char *err, size_t errlen);
	/* Send sig to the worker (its process group when spec->worker.kill_group). */
	void (*signal)(void *ctx, struct child *c, int sig);
	/* Arm t at t->deadline_ms (re-arming moves it), disarm it, or release
	 * the shell's handle because its owner is freed. Arming returns 0, or a
	 * negative errno when no deadline could be set up: the core then acts
	 * as if the deadline had passed at once (see timer_arm in
	 * supervisor.c). */
	int (*timer_arm)(void *ctx, struct timer *t);
	void (*timer_disarm)(void *ctx, struct timer *t);
	void (*timer_release)(void *ctx, struct timer *t);
	void (*event)(void *ctx, const struct core_event *ev);
	/* Optional: `c` is about to be freed: drop every reference to it. */
	void (*child_freed)(void *ctx, struct child *c);
	/* The root supervisor is gone: supd should exit with this status. */
	void (*stopped)(void *ctx, int exit_code);
	/* core_run() has work (a restart retry); call it soon, from the loop. */
	void (*wakeup)(void *ctx);
	/* Optional: the root has started all its children (sd_notify READY=1). */
	void (*tree_started)(void *ctx);
};

/*
 * A reload (SPEC 7.5): the tree of a checked config file, applied to the
 * running tree. Each supervisor applies its part as one operation of its
 * own, served from its mailbox when it is idle (never in the middle of a
 * restart or a shutdown): removed children are terminated and deleted,
 * changed ones terminated and started with their new spec, added ones
 * started, unchanged ones keep running; the children end up in the file's
 * order and the flags change in place. Nested supervisors apply their own
 * parts after their parent's. Reloads run one at a time, in order.
 */
struct core_reload {
	struct child_spec *root_spec; /* the new tree: the core's once submitted */
	/* Optional: a supervisor applied its part and something changed
	 * there (ev is its EV_RELOADED, also emitted). Runs inside the core. */
	void (*applied)(struct core_reload *r, const struct core_event *ev);
	/* Every part is applied (error CORE_OK), or the reload was refused or
	 * cut short by a shutdown (CORE_E_SHUTDOWN). Runs inside the core. */
	void (*done)(struct core_reload *r);
	void *owner; /* the caller's */
	enum core_error error;
	char message[96];

	/* private */
	struct core_reload *next;
	struct child_spec *old_root;
	size_t pending; /* supervisors whose part is not applied yet */
};

/* Creates the runtime tree for root_spec (ownership passes to the core,
 * also on failure). Returns NULL on ENOMEM. Nothing starts yet. */
struct core *core_new(struct child_spec *root_spec, const struct core_effects *fx, void *ctx);
void core_free(struct core *core);

/* Starts the root supervisor: its children in order. */
void core_start(struct core *core, uint64_t now_ms);
/* Orderly shutdown of the whole tree (SIGTERM to supd, or `stop`). */
void core_shutdown(struct core *core, uint64_t now_ms);

/* The worker c (c->pid) is gone: reaped with status st. */
void core_child_exited(struct core *core, struct child *c, struct exit_status st, uint64_t now_ms);
/* The worker c sent READY=1. */
void core_child_ready(struct core *core, struct child *c, uint64_t now_ms);
/* The worker c failed its health checks (`output`: the last check's,
 * truncated): it is killed, and its exit is a crash with reason unhealthy.
 * Ignored unless c is running. */
void core_child_unhealthy(struct core *core, struct child *c, const char *output, uint64_t now_ms);
/* The deadline t has passed. */
void core_timer_fired(struct core *core, struct timer *t, uint64_t now_ms);
/* Deferred work (restart retries): run once per loop iteration while
 * fx->wakeup has been called. Returns true while more work is pending. */
bool core_run(struct core *core, uint64_t now_ms);

/* Queue a control request; req->done is called when it is finished. */
void core_submit(struct core *core, struct core_request *req, uint64_t now_ms);
/* Queue a reload; r->done is called when it is finished (refused at once
 * while the tree shuts down). */
void core_reload(struct core *core, struct core_reload *r, uint64_t now_ms);

/*
 * Read-only views of the tree, for the shell and the control socket. A
 * `struct child` is a node: a worker, a supervisor or a dynamic supervisor
 * (the root is the supervisor at "/"). Pointers stay valid until the core
 * frees the node (fx->child_freed); do not keep them across core calls.
 */
struct child *core_root(const struct core *core);
bool core_shutting_down(const struct core *core); /* core_shutdown() was called */
/* The node at path ("/", "/web/db"), NULL when none. */
struct child *core_find_path(const struct core *core, const char *path);
/* The running worker with this pid, NULL when none (O(1)). */
struct child *core_find_pid(const struct core *core, pid_t pid);

const char *node_path(const struct child *c);
const char *node_id(const struct child *c); /* "" for the root */
/* Not const: the spawn effect caches the worker's environment block in it. */
struct child_spec *node_spec(const struct child *c);
pid_t node_pid(const struct child *c); /* workers: the running process, else 0 */
enum child_state node_state(const struct child *c);
unsigned node_restarts(const struct child *c);
/* Monotonic ms when the running process of a worker (or a supervisor node
 * that is not down) started; 0 when none runs. */
uint64_t node_started_ms(const struct child *c);
/* How the last process of worker c ended; false when none has yet. */
bool node_last_exit(const struct child *c, struct exit_status *st);
/* Supervisor node c: the restarts in its current intensity window. */
uint32_t node_intensity_count(const struct child *c, uint64_t now_ms);
/* Order of the latest start (0: never started): newer starts are larger. */
uint64_t node_start_seq(const struct child *c);
struct child *node_parent(const struct child *c); /* NULL for the root */
/* Backoff (SPEC 7.4): true when c's restart waits for its delay, with the
 * time it is due (core clock) in *at_ms. */
bool node_start_delayed(const struct child *c, uint64_t *at_ms);
/* One pointer for the shell's own per-node state (probe.c's probes); the
 * core never reads it. */
void *node_probe(const struct child *c);
void node_set_probe(struct child *c, void *probe);
/* The same for output.c's capture of a worker's stdout and stderr. */
void *node_output(const struct child *c);
void node_set_output(struct child *c, void *output);
/* A supervisor or dynamic supervisor node (it has children). */
bool node_is_supervisor(const struct child *c);
/* A supervisor's children in start order: first, then next until NULL;
 * nchildren counts them. A worker has none. */
struct child *node_first_child(const struct child *c);
struct child *node_next_sibling(const struct child *c);
size_t node_nchildren(const struct child *c);
/* The child of supervisor node c with this id, NULL when none. */
struct child *node_find_child(const struct child *c, const char *id);

/* Helpers shared with the shell and the tests. */
/* The reason a worker's exit gets (supervisor nodes go as `shutdown`). */
enum exit_reason core_exit_reason(const struct child *c, struct exit_status st);
const char *exit_reason_name(enum exit_reason r);
const char *child_state_name(enum child_state s);
const char *core_error_name(enum core_error e);
/* code, or 128 + signal, as a shell reports a status */
int exit_status_code(struct exit_status st);

#endif
