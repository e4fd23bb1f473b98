/*
 * supervisor_internal.h - the layout of the runtime tree, private to the core.
 *
 * supervisor.c owns these structures; index.c chains them into its hash
 * tables, and the unit tests' recorder reads them to fake the world. Every
 * other module sees the tree through supervisor.h's accessors only
 * (tests/lint/check-layering.sh enforces who includes this file).
 */
#ifndef SUPD_SUPERVISOR_INTERNAL_H
#define SUPD_SUPERVISOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "index.h"
#include "intensity.h"
#include "spec.h"
#include "supervisor.h"

struct sup;

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
	pid_t pid;           /* workers: the running process, 0 when none */
	unsigned restarts;   /* restarts of this child so far (for `tree`) */
	uint64_t start_seq;  /* order of the latest start; which_children lists newest first */
	uint64_t started_ms; /* when the current process (or supervisor node) started */
	bool has_exited;     /* last_status holds an exit of a process of this child */
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
	void *probe;                /* probe.c: readiness probe and health checks */
	void *output;               /* output.c: the capture of its stdout and stderr */

	/* What the reload its supervisor is applying does with it. */
	enum reload_fate {
		FATE_NONE,
		FATE_REMOVE, /* not in the new file: terminate, delete */
		FATE_CHANGE, /* its spec changed: terminate, delete, start the new one */
		FATE_NESTED, /* a supervisor of the same kind: it applies its own part */
		FATE_START,  /* added or changed: start it once the others are down */
	} fate;
	long reload_slot; /* its spec's index in the old children array, -1: none */
};

enum sup_op {
	SUP_IDLE,       /* nothing in progress: the mailbox is served */
	SUP_STARTING,   /* starting its children in order */
	SUP_RESTARTING, /* a strategy restart: terminating the group, then starting it */
	SUP_CALL,       /* serving one control request that waits for a child */
	SUP_STOPPING,   /* terminating every child, then gone */
	SUP_RELOADING,  /* applying its part of a reload: terminate, reorder, start */
	SUP_DOWN,       /* not running */
};

enum group_phase {
	GROUP_TERMINATE, /* stopping the group, last member first */
	GROUP_START,     /* starting the group, first member first */
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
	/* NODE_SUPERVISOR: `children` must be rebuilt from the spec before the
	 * next start (the rebuild when it stopped ran out of memory) */
	bool children_stale;

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

	/* Reload (SPEC 7.5). Its part: the new spec node (in the new tree)
	 * and the output that applied above it in the old tree; the lists
	 * while the part is applied; a dynamic supervisor's old templates
	 * that running children still borrow an environment from. */
	struct msg reload_msg;
	struct child_spec *reload_spec;
	struct output_spec reload_inherited;
	struct reload_lists *lists;
	struct child_spec *reload_old; /* its old spec, when it owned it (freed with the part) */
	bool reload_cut; /* its part was cut short by its stop: over when the stop is */
	struct child_spec **retired;
	size_t nretired;
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
	struct core_reload *reload;       /* the reload being applied */
	struct core_reload *reload_queue; /* the ones waiting behind it, in order */
	struct core_reload *reload_last;
};

struct child *sup_find_child(const struct sup *sup, const char *id);

#endif
