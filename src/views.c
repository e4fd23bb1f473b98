/*
 * views.c - the JSON views of the runtime tree returned by the control ops.
 *
 * which_children (newest start first, as OTP lists them), count_children,
 * tree and get_childspec, built from supervisor.h's read-only accessors:
 * the core's layout stays private to it. Pure: no sockets, no loop.
 */
#include <stdint.h>
#include <stdlib.h>

#include "proto.h"
#include "spec.h"
#include "supervisor.h"
#include "views.h"

/* jansson's setters take ownership of the value even on failure, and
 * accept NULL (returning -1), so a chain of set() calls needs one check. */
static bool
set(json_t *obj, const char *key, json_t *value)
{
	return json_object_set_new(obj, key, value) == 0;
}

bool
view_child_alive(const struct child *c)
{
	enum child_state st = node_state(c);

	return st == CHILD_STARTING || st == CHILD_RUNNING || st == CHILD_STOPPING;
}

static json_t *
pid_json(const struct child *c)
{
	return node_pid(c) > 0 ? json_integer(node_pid(c)) : json_null();
}

struct ordered_child {
	const struct child *c;
	size_t pos;
};

/* Newest start first; children never started (start_seq 0) last, in start
 * order among themselves. */
static int
cmp_newest_first(const void *a, const void *b)
{
	const struct ordered_child *x = a, *y = b;

	uint64_t xs = node_start_seq(x->c), ys = node_start_seq(y->c);

	if (xs != ys)
		return xs > ys ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

json_t *
view_which_children(const struct child *sup)
{
	struct ordered_child *v;
	const struct child *c;
	json_t *a = json_array(), *e;
	size_t n = 0;
	bool ok = a != NULL;

	size_t count = node_nchildren(sup);

	v = calloc(count ? count : 1, sizeof(*v));
	if (!v) {
		json_decref(a);
		return NULL;
	}
	for (c = node_first_child(sup); c && n < count; c = node_next_sibling(c)) {
		v[n].c = c;
		v[n].pos = n;
		n++;
	}
	qsort(v, n, sizeof(*v), cmp_newest_first);
	for (size_t i = 0; ok && i < n; i++) {
		c = v[i].c;
		e = json_object();
		ok = json_array_append_new(a, e) == 0 && set(e, "id", json_string(node_id(c))) &&
		     set(e, "pid", pid_json(c)) &&
		     set(e, "type", json_string(node_type_name(node_spec(c)->type))) &&
		     set(e, "restart", json_string(restart_name(node_spec(c)->restart))) &&
		     set(e, "state", json_string(child_state_name(node_state(c))));
	}
	free(v);
	if (!ok) {
		json_decref(a);
		return NULL;
	}
	return a;
}

int
view_count_children(const struct child *sup, json_t *reply)
{
	json_int_t specs = 0, active = 0, supervisors = 0, workers = 0;
	const struct child *c;

	for (c = node_first_child(sup); c; c = node_next_sibling(c)) {
		specs++;
		if (view_child_alive(c))
			active++;
		if (spec_is_supervisor(node_spec(c)))
			supervisors++;
		else
			workers++;
	}
	if (!(set(reply, "specs", json_integer(specs)) &&
	      set(reply, "active", json_integer(active)) &&
	      set(reply, "supervisors", json_integer(supervisors)) &&
	      set(reply, "workers", json_integer(workers))))
		return -1;
	return 0;
}

json_t *
view_tree(const struct child *c, uint64_t now_ms)
{
	const struct child_spec *spec = node_spec(c);
	const struct child *k;
	json_t *o = json_object(), *a;
	uint64_t next_start_ms;
	bool ok = o != NULL;

	if (ok && node_parent(c))
		ok = set(o, "id", json_string(node_id(c)));
	ok = ok && set(o, "path", json_string(node_path(c))) &&
	     set(o, "type", json_string(node_type_name(spec->type))) &&
	     set(o, "state", json_string(child_state_name(node_state(c)))) &&
	     set(o, "pid", pid_json(c)) && set(o, "restarts", json_integer(node_restarts(c)));
	if (ok && node_parent(c))
		ok = set(o, "restart", json_string(restart_name(spec->restart)));
	if (ok && node_start_delayed(c, &next_start_ms))
		/* backoff: the start waits this long yet (0 once it is due) */
		ok = set(o, "next_start_in_ms",
			 json_integer(next_start_ms > now_ms ? (json_int_t)(next_start_ms - now_ms)
							     : 0));
	if (ok && !node_is_supervisor(c)) {
		uint64_t started = node_started_ms(c);
		struct exit_status st;

		if (started && now_ms >= started)
			ok = set(o, "uptime_ms", json_integer((json_int_t)(now_ms - started)));
		if (ok && node_last_exit(c, &st))
			ok = set(o, "last_exit", proto_status_json(st));
	}
	if (ok && node_is_supervisor(c)) {
		ok = set(o, "strategy", json_string(strategy_name(spec->sup.strategy))) &&
		     set(o, "max_restarts", json_integer(spec->sup.max_restarts)) &&
		     set(o, "max_seconds", json_integer(spec->sup.max_seconds)) &&
		     set(o, "auto_shutdown",
			 json_string(auto_shutdown_name(spec->sup.auto_shutdown)));
		if (ok && spec->type == NODE_DYNAMIC)
			ok = set(o, "max_children",
				 spec->sup.max_children == SPEC_UNLIMITED
					 ? json_string("infinity")
					 : json_integer(spec->sup.max_children));
		a = json_array();
		ok = ok && set(o, "children", a);
		for (k = node_first_child(c); ok && k; k = node_next_sibling(k))
			ok = json_array_append_new(a, view_tree(k, now_ms)) == 0;
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
view_childspec(const struct child *c)
{
	json_t *o = proto_spec_to_json(node_spec(c), false), *a;
	const struct child *k;
	bool ok = o != NULL;

	if (ok && node_spec(c)->type == NODE_SUPERVISOR && node_is_supervisor(c)) {
		a = json_array();
		ok = set(o, "children", a);
		for (k = node_first_child(c); ok && k; k = node_next_sibling(k))
			ok = json_array_append_new(a, view_childspec(k)) == 0;
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}
