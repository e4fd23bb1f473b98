/*
 * recorder.h - a fake world for the supervision core.
 *
 * Implements struct core_effects without processes or clocks: spawn hands
 * out pids (or fails on request), signals and events are written to a log of
 * short strings, timers are kept in a list that the test fires by moving
 * time forward. Tests then assert on the exact sequence of what the core did.
 *
 * A fake process dies only of a signal the core actually sent it (through
 * the signal effect), unless the test says it ignores that signal: a core
 * that forgot to send one leaves its worker running, and the test fails.
 */
#ifndef SUPD_TEST_RECORDER_H
#define SUPD_TEST_RECORDER_H

#include <stdbool.h>
#include <stddef.h>

#include "supervisor_internal.h"

#define REC_MAX_LOG    4096
#define REC_MAX_TIMERS 64
#define REC_MAX_FAIL   16
#define REC_MAX_IGNORE 16

struct recorder {
	struct core *core;
	uint64_t now;
	char *log[REC_MAX_LOG];
	size_t nlog;
	pid_t next_pid;
	struct timer *timers[REC_MAX_TIMERS];
	size_t ntimers;
	struct {
		char path[128];
		int remaining; /* -1: forever */
		char error[32];
	} fail[REC_MAX_FAIL];
	size_t nfail;
	/* every signal sent, in order: who dies of what */
	struct {
		pid_t pid;
		int sig;
	} * sent;
	size_t nsent, sent_cap;
	struct {
		char path[128];
		int sig;
	} ignore[REC_MAX_IGNORE];
	size_t nignore;
	int fail_timer_arms; /* the next N arms fail with -ENOMEM (-1: all) */
	bool stopped;
	int exit_code;
	bool tree_started;
	int wakeups;
	size_t freed;
};

extern const struct core_effects recorder_effects;

/* Builds the core for root (which it takes over) and starts it at time 0. */
void rec_init(struct recorder *r, struct child_spec *root);
void rec_fini(struct recorder *r);

/* Spawns of `path` fail `times` times (-1: always) with `error`. */
void rec_fail_spawn(struct recorder *r, const char *path, int times, const char *error);

/* A worker exits by itself (or by a signal) now. */
void rec_exit(struct recorder *r, const char *path, int code);
void rec_signal_exit(struct recorder *r, const char *path, int sig);
/* The worker at `path` ignores `sig` (SIGKILL cannot be ignored). */
void rec_ignore_signal(struct recorder *r, const char *path, int sig);
/* Every worker that was sent a signal it does not ignore dies of it now (of
 * SIGKILL when that was sent too), one at a time in the order the signals
 * were sent. Only signals sent through the signal effect count. */
void rec_exit_signalled(struct recorder *r);
/* Moves time to `now`, firing every timer due on the way, in order. */
void rec_advance(struct recorder *r, uint64_t now);
/* Serves deferred work (retries) until none is left, like the loop does. */
void rec_run(struct recorder *r);

struct child *rec_find(struct recorder *r, const char *path);
pid_t rec_pid(struct recorder *r, const char *path);
const char *rec_state(struct recorder *r, const char *path);

/* The log joined with "\n" (events, "signal PATH SIGNAME" for every signal
 * sent, "timer_arm_failed"; since the last clear). */
const char *rec_log(struct recorder *r);
void rec_clear(struct recorder *r);
/* True when `needle` lines appear in the log in this order (not
 * necessarily adjacent); lines are separated by '\n'. */
bool rec_log_has_sequence(struct recorder *r, const char *lines);
size_t rec_log_count(struct recorder *r, const char *line);

/* Spec builders: each takes ownership of the children passed in, NULL-terminated. */
struct child_spec *w_spec(const char *id, enum restart_type restart);
struct child_spec *sup_spec(const char *id, enum strategy strategy, ...);
struct child_spec *root_spec(enum strategy strategy, uint32_t max_restarts, uint32_t max_seconds,
			     ...);
struct child_spec *dyn_spec(const char *id, enum restart_type template_restart,
			    int64_t template_shutdown_ms);

#endif
