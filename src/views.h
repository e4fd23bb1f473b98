/*
 * views.h - the JSON views of the runtime tree that the control ops return:
 * which_children, count_children, tree and get_childspec (SPEC section 6).
 *
 * Read only, built from supervisor.h's accessors; no sockets, no loop.
 */
#ifndef SUPD_VIEWS_H
#define SUPD_VIEWS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "supervisor.h"

/* The children of supervisor node sup, newest start first. NULL on ENOMEM. */
json_t *view_which_children(const struct child *sup);
/* Adds specs, active, supervisors and workers to reply; -1 on ENOMEM. */
int view_count_children(const struct child *sup, json_t *reply);
/* c and everything below it, children in start order; now_ms (the core's
 * clock) for the time left before a delayed start and for a running
 * worker's uptime_ms; last_exit is how its last process ended. NULL on
 * ENOMEM. */
json_t *view_tree(const struct child *c, uint64_t now_ms);
/* get_childspec: c's spec; a static supervisor's "children" are the specs
 * of its current children (which include those added by start_child). */
json_t *view_childspec(const struct child *c);

/* A child that exists as a process or a running supervisor node: starting,
 * running or stopping. This is what `active` counts and what `monitor`
 * watches. */
bool view_child_alive(const struct child *c);

#endif
