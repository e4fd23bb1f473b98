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

#include "index.h"
#include "spec.h"

struct core;
struct child;
struct sup;

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
};
struct msg {
	enum msg_kind kind;
	bool queued;
	TAILQ_ENTRY(msg) link;
};
TAILQ_HEAD(msg_queue, msg);
TAILQ_HEAD(child_list, child);

struct child {
	struct child_spec *spec; /* owned when owns_spec; else borrowed from the parent's spec */
	bool owns_spec;
	struct child *parent; /* NULL for the root */
	struct sup *sup;      /* non-NULL for supervisor and dynamic nodes */
	char *path;           /* "/" for the root, "/web/db", "/buckets/1" */
	const char *id;       /* points into spec->id, or "" for the root */

	enum child_state state;
	pid_t pid;          /* workers: the running process, 0 when none */
	unsigned restarts;  /* restarts of this child so far (for `tree`) */
	uint64_t start_seq; /* order of the latest start; which_children lists newest first */
	struct exit_status last_status;

	struct timer timer; /* shutdown deadline, or readiness deadline (ready: notify) */
	bool kill_sent;     /* SIGKILL sent by us: its exit reason is `killed` */
	bool stop_signal_sent;
	bool start_failing; /* the start failed (ready timeout); waiting for the process to go */
	enum exit_reason last_reason;

	/* Backoff (SPEC 7.4). The delay of the last restart decision (0:
	 * none yet), and when the child last started, for reset_after. */
	uint64_t backoff_last_ms;
	uint64_t started_at_ms;
	bool started_at_valid;
	/* A decided restart waits for `timer` (at next_start_ms); when it
	 * fires, the restart goes on without being counted again. */
	bool start_delayed;
	uint64_t next_start_ms;
	bool unhealthy; /* supd killed it after failed health checks */

	struct msg exit_msg;  /* queued exit (status in last_status) */
	struct msg retry_msg; /* queued restart retry */
	char start_error[48]; /* why the last start failed, e.g. "exec:ENOENT" */

	/* A nested supervisor's completion waiting to be reported to its
	 * parent (see core_flush in supervisor.c). */
	enum notify_kind {
		NOTIFY_NONE,
		NOTIFY_STARTED,
		NOTIFY_START_FAILED,
		NOTIFY_STOPPED,
		NOTIFY_EXITED,
	} notify;
	TAILQ_ENTRY(child) notify_link;

	TAILQ_ENTRY(child) sibling; /* parent's children, in start order */
	struct child *pid_next;     /* index.c: pid hash chain */
	struct child *path_next;    /* index.c: path hash chain */
	void *shell;                /* for the shell's own use (links, monitors) */
	void *probe;                /* probe.c: readiness probe and health checks */
};

enum sup_op {
	SUP_IDLE,       /* nothing in progress: the mailbox is served */
	SUP_STARTING,   /* starting its children in order */
	SUP_RESTARTING, /* a strategy restart: terminating the group, then starting it */
	SUP_CALL,       /* serving one control request that waits for a child */
	SUP_STOPPING,   /* terminating every child, then gone */
	SUP_DOWN,       /* not running */
};

enum group_phase {
	GROUP_TERMINATE, /* stopping the group, last member first */
	GROUP_START,     /* starting the group, first member first */
};

/* Restart intensity: whole seconds of the monotonic clock, bucketed by
 * second, so that the ring needs min(max_restarts, max_seconds) + 1 slots. */
struct intensity_slot {
	uint64_t second;
	uint32_t count;
};
struct intensity {
	uint32_t max_restarts;
	uint32_t max_seconds;
	struct intensity_slot *ring;
	uint32_t capacity, head, used;
	uint64_t total;
};

struct sup {
	struct child *self;
	struct child_list children; /* start order */
	size_t nchildren;
	struct intensity intensity;

	enum sup_op op;
	/* SUP_STARTING / SUP_RESTARTING / SUP_STOPPING cursor: the child being
	 * started or stopped now (NULL between steps). */
	struct child *cursor;
	/* SUP_RESTARTING: the first member of the group being restarted
	 * (one_for_all: the first child; rest_for_one: the exited child). */
	struct child *group_first;
	enum group_phase group_phase;
	/* one_for_one (and dynamic) restarts: the only member of the group */
	struct child *group_last;
	/* SUP_CALL: the request being served */
	struct core_request *call;
	/* the operation waits for `cursor` to finish starting or stopping */
	bool waiting;
	/* set when the start of `cursor` failed after it was awaited */
	struct child *failed;
	/* set when `cursor` was a `ready: exit` job that finished: it counts
	 * as started although it is not running (OTP's `ignore`) */
	struct child *done;
	/* SUP_RESTARTING with backoff: the child whose exit caused the group
	 * restart; its delay is waited between terminating and starting */
	struct child *delay_child;
	bool stepping, step_again, serving;

	bool start_failed; /* SUP_STOPPING after a failed start: report a start failure */
	bool brutal;       /* killed: every child gets SIGKILL, no stop signal */
	struct exit_status exit_status; /* what this node reports when it goes (auto_shutdown) */
	enum exit_reason stop_reason;   /* reason in supervisor_stopped */

	struct msg_queue mailbox;
	TAILQ_ENTRY(sup) work_link; /* on core->work when it has deferred work */
	bool on_work;

	struct timer stop_timer; /* NODE_DYNAMIC: the shared shutdown deadline */
	uint64_t *next_id;       /* NODE_DYNAMIC: the next automatic id (in core->counters) */
	size_t nstopping;        /* NODE_DYNAMIC during SUP_STOPPING: children not yet gone */
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
	const char *output;                 /* EV_CHILD_UNHEALTHY: the last check's output */
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
	/* Start the worker `c`. On success set c->pid and return
	 * 0; on failure return a negative errno and write the reason
	 * ("exec:ENOENT", "chdir:EACCES", "fork:EAGAIN") into err. */
	int (*spawn)(void *ctx, struct child *c, char *err, size_t errlen);
	/* Send sig to the worker (its process group when spec->worker.kill_group). */
	void (*signal)(void *ctx, struct child *c, int sig);
	/* Arm t at t->deadline_ms (re-arming moves it), disarm it, or release
	 * the shell's handle because its owner is freed. */
	void (*timer_arm)(void *ctx, struct timer *t);
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

struct dynamic_counter {
	struct dynamic_counter *next;
	uint64_t next_id;
	char path[];
};

struct core {
	struct child *root;
	const struct core_effects *fx;
	void *ctx;
	TAILQ_HEAD(, sup) work;
	struct child_list notify; /* nested supervisors' completions, in order */
	uint64_t start_seq;
	bool shutting_down; /* core_shutdown() was called */
	bool stopped;       /* the root is gone; fx->stopped was called */
	int exit_code;
	struct index index; /* pid -> worker and path -> node, kept current by the core */
	struct dynamic_counter *counters; /* per dynamic supervisor path */
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

/* Lookups for the control socket (read-only use of the tree). */
struct child *core_find_path(struct core *core, const char *path);
struct child *sup_find_child(const struct sup *sup, const char *id);

/* Helpers shared with the shell and the tests. */
/* The reason a worker's exit gets (supervisor nodes go as `shutdown`). */
enum exit_reason core_exit_reason(const struct child *c, struct exit_status st);
const char *exit_reason_name(enum exit_reason r);
const char *child_state_name(enum child_state s);
const char *core_error_name(enum core_error e);
/* code, or 128 + signal, as a shell reports a status */
int exit_status_code(struct exit_status st);

/* Restart intensity, exposed for its own unit tests. */
int intensity_init(struct intensity *in, uint32_t max_restarts, uint32_t max_seconds);
void intensity_reset(struct intensity *in);
void intensity_fini(struct intensity *in);
/* Records a restart at now_s; returns true when the limit is exceeded. */
bool intensity_add(struct intensity *in, uint64_t now_s);

#endif
