/*
 * loop.h - the sd-event shell around the core.
 *
 * Owns the sd_event loop and everything that turns the outside world into
 * core calls: the signal policy (SIGTERM/SIGINT shut down, SIGHUP is logged,
 * forwarded signals), the one reaper that owns waitid(), the pid index, the
 * deadline timers, the $NOTIFY_SOCKET for ready: notify, and the effects
 * table that executes what the core decides.
 */
#ifndef SUPD_LOOP_H
#define SUPD_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

struct config;
struct core;
struct loop;

struct loop_options {
	const char *socket_path;  /* --socket, overrides the config */
	const char *events_path;  /* --events, overrides the config */
	bool no_control;          /* do not open a control socket */
	bool exec_failure_status; /* `--` mode: exit 126/127 when PROGRAM cannot be executed */
};

/* Builds the loop and the runtime tree for cfg (whose root the core takes).
 * Returns 0, or -errno with a message already logged. */
int loop_new(struct loop **out, struct config *cfg, const struct loop_options *opt);
/* Starts the tree and runs until the root is gone; returns supd's exit status. */
int loop_run(struct loop *loop);
void loop_free(struct loop *loop);

sd_event *loop_event(struct loop *loop);
struct core *loop_core(struct loop *loop);
uint64_t loop_now_ms(struct loop *loop);
/* Orderly shutdown of the tree (SIGTERM, or the control op `stop`). */
void loop_request_stop(struct loop *loop);

#endif
