/*
 * probe.h - readiness probes and health checks (SPEC 7.2, 7.3).
 *
 * The shell side of `ready: {fd | exec | tcp}` and `health:`. A probe is a
 * child process of supd (an exec probe) or a non-blocking connect (a tcp
 * probe), each tracked by the event loop like any other deadline: nothing
 * here ever blocks the loop. The results go to the core as
 * core_child_ready() and core_child_unhealthy().
 */
#ifndef SUPD_PROBE_H
#define SUPD_PROBE_H

#include <stdbool.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "supervisor.h"

struct probes;

/* now_ms: the loop's clock. */
struct probes *probes_new(sd_event *event, struct core **core, uint64_t (*now_ms)(void *),
			  void *now_ctx);
void probes_free(struct probes *p);

/* The worker c was spawned; ready_fd is the read end of its `ready: {fd}`
 * pipe (taken over) or -1. Starts its readiness probe, if it has one. */
void probes_spawned(struct probes *p, struct child *c, int ready_fd);
/* An event of the core about the worker c: its start ends the readiness
 * probe and begins its health checks; stopping, exiting or a failed start
 * ends every probe of it. */
void probes_event(struct probes *p, struct child *c, const struct core_event *ev);
/* c is about to be freed. */
void probes_forget(struct probes *p, struct child *c);
/* supd is exiting: every probe process still known (running, or killed and
 * not yet reaped) is killed with its process group and reaped, so that none
 * outlives supd as an orphan. Blocks only on processes sent SIGKILL. */
void probes_end_all(struct probes *p);
/* The reaper found pid: true when it was a probe (then it is handled). */
bool probes_reaped(struct probes *p, pid_t pid, int wait_status_code, bool signaled);

#endif
