/*
 * loop.h - the sd-event shell around the core.
 *
 * Owns the sd_event loop and everything that turns the outside world into
 * core calls: the signal policy (SIGTERM/SIGINT shut down, SIGHUP reloads,
 * forwarded signals), the one reaper that owns waitid(), the deadline
 * timers, the $NOTIFY_SOCKET for ready: notify, the control socket's
 * lifetime, and the effects table that executes what the core decides.
 * main.c is its only user.
 */
#ifndef SUPD_LOOP_H
#define SUPD_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct config;
struct loop;

struct loop_options {
	const char *socket_path;  /* --socket, overrides the config */
	const char *events_path;  /* --events, overrides the config */
	bool no_control;          /* do not open a control socket */
	bool exec_failure_status; /* `--` mode: exit 126/127 when PROGRAM cannot be executed */
	bool dashdash;            /* `--` mode: signals, terminal and exit status as tini */
};

/* Builds the loop and the runtime tree for cfg (whose root the core takes).
 * Returns 0, or -errno with a message already logged: LOOP_CONFIG_ERROR
 * when what the config asks for cannot be set up (the metrics address
 * cannot be bound), which exits 78 like any configuration error. */
#define LOOP_CONFIG_ERROR (-4096)
int loop_new(struct loop **out, struct config *cfg, const struct loop_options *opt);
/* Starts the tree and runs until the root is gone; returns supd's exit status. */
int loop_run(struct loop *loop);
void loop_free(struct loop *loop);

#endif
