/*
 * test-views.c - the JSON views of the runtime tree (which_children,
 * count_children, tree, get_childspec) on a tree built by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "proto.h"
#include "supervisor_internal.h"
#include "views.h"

/* ---- views of a runtime tree built by hand ---- */

struct fixture {
	struct child *nodes[16];
	size_t n;
};

static struct child *
node(struct fixture *f, struct child *parent, const char *id, enum node_type type,
     enum child_state state, pid_t pid, uint64_t seq)
{
	struct child *c = calloc(1, sizeof(*c));
	char path[256];

	cr_assert(c != NULL);
	c->spec = spec_new(type);
	if (id)
		c->spec->id = strdup(id);
	if (type == NODE_WORKER) {
		c->spec->worker.argv = calloc(2, sizeof(char *));
		c->spec->worker.argv[0] = strdup("/bin/true");
		c->spec->worker.argc = 1;
	}
	c->id = id ? c->spec->id : "";
	c->parent = parent;
	c->state = state;
	c->pid = pid;
	c->start_seq = seq;
	if (!parent)
		snprintf(path, sizeof(path), "/");
	else
		snprintf(path, sizeof(path), "%s%s%s", parent->path,
			 strcmp(parent->path, "/") == 0 ? "" : "/", id);
	c->path = strdup(path);
	if (type != NODE_WORKER) {
		c->sup = calloc(1, sizeof(*c->sup));
		c->sup->self = c;
		TAILQ_INIT(&c->sup->children);
	}
	if (parent) {
		TAILQ_INSERT_TAIL(&parent->sup->children, c, sibling);
		parent->sup->nchildren++;
	}
	f->nodes[f->n++] = c;
	return c;
}

static void
fixture_free(struct fixture *f)
{
	for (size_t i = 0; i < f->n; i++) {
		spec_free(f->nodes[i]->spec);
		free(f->nodes[i]->path);
		free(f->nodes[i]->sup);
		free(f->nodes[i]);
	}
}

/* /            supervisor
 *   a          worker running pid 100, started 3rd
 *   web        supervisor running, started 1st
 *     db       worker stopped
 *   never      worker never started
 *   late       worker restarting, started 5th
 *   buckets    dynamic running, started 2nd, restarts 2 */
static struct child *
build(struct fixture *f)
{
	struct child *root = node(f, NULL, NULL, NODE_SUPERVISOR, CHILD_RUNNING, 0, 0);
	struct child *web;

	node(f, root, "a", NODE_WORKER, CHILD_RUNNING, 100, 3);
	web = node(f, root, "web", NODE_SUPERVISOR, CHILD_RUNNING, 0, 1);
	node(f, web, "db", NODE_WORKER, CHILD_DOWN, 0, 4);
	node(f, root, "never", NODE_WORKER, CHILD_DOWN, 0, 0);
	node(f, root, "late", NODE_WORKER, CHILD_RESTARTING, 0, 5)->spec->restart =
		RESTART_TRANSIENT;
	node(f, root, "buckets", NODE_DYNAMIC, CHILD_RUNNING, 0, 2)->restarts = 2;
	return root;
}

Test(views, which_children_newest_first)
{
	struct fixture f = {0};
	struct child *root = build(&f);
	json_t *a = view_which_children(root);
	const char *order[] = {"late", "a", "buckets", "web", "never"};
	json_t *e;

	cr_assert(eq(sz, json_array_size(a), 5));
	for (size_t i = 0; i < 5; i++)
		cr_assert(eq(str,
			     (char *)json_string_value(json_object_get(json_array_get(a, i), "id")),
			     (char *)order[i]),
			  "position %zu", i);
	e = json_array_get(a, 1);
	cr_assert(eq(int, json_integer_value(json_object_get(e, "pid")), 100));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(e, "type")), "worker"));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(e, "restart")), "permanent"));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(e, "state")), "running"));
	cr_assert(eq(sz, json_object_size(e), 5));
	e = json_array_get(a, 0);
	cr_assert(eq(int, json_is_null(json_object_get(e, "pid")), 1));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(e, "state")), "restarting"));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(e, "restart")), "transient"));
	e = json_array_get(a, 2);
	cr_assert(eq(str, (char *)json_string_value(json_object_get(e, "type")), "dynamic"));
	json_decref(a);
	fixture_free(&f);
}

Test(views, count_children)
{
	struct fixture f = {0};
	struct child *root = build(&f);
	json_t *reply = proto_ok();

	cr_assert(eq(int, view_count_children(root, reply), 0));
	cr_assert(eq(int, json_integer_value(json_object_get(reply, "specs")), 5));
	cr_assert(eq(int, json_integer_value(json_object_get(reply, "active")), 3));
	cr_assert(eq(int, json_integer_value(json_object_get(reply, "supervisors")), 2));
	cr_assert(eq(int, json_integer_value(json_object_get(reply, "workers")), 3));
	json_decref(reply);
	fixture_free(&f);
}

Test(views, tree)
{
	struct fixture f = {0};
	struct child *root = build(&f);
	json_t *t = view_tree(root, 0), *web, *db, *buckets;

	cr_assert(json_object_get(t, "id") == NULL, "the root has no id");
	cr_assert(json_object_get(t, "restart") == NULL, "the root has no restart type");
	cr_assert(eq(str, (char *)json_string_value(json_object_get(t, "path")), "/"));
	cr_assert(
		eq(str, (char *)json_string_value(json_object_get(t, "strategy")), "one_for_one"));
	cr_assert(eq(int, json_integer_value(json_object_get(t, "max_restarts")), 3));
	cr_assert(eq(int, json_integer_value(json_object_get(t, "max_seconds")), 5));
	cr_assert(eq(sz, json_array_size(json_object_get(t, "children")), 5));
	/* children in start order */
	web = json_array_get(json_object_get(t, "children"), 1);
	cr_assert(eq(str, (char *)json_string_value(json_object_get(web, "id")), "web"));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(web, "path")), "/web"));
	db = json_array_get(json_object_get(web, "children"), 0);
	cr_assert(eq(str, (char *)json_string_value(json_object_get(db, "path")), "/web/db"));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(db, "state")), "stopped"));
	cr_assert(eq(int, json_is_null(json_object_get(db, "pid")), 1));
	cr_assert(json_object_get(db, "children") == NULL);
	cr_assert(json_object_get(db, "strategy") == NULL);
	buckets = json_array_get(json_object_get(t, "children"), 4);
	cr_assert(eq(int, json_integer_value(json_object_get(buckets, "restarts")), 2));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(buckets, "max_children")),
		     "infinity"));
	json_decref(t);
	fixture_free(&f);
}

Test(views, childspec_of_a_static_supervisor_lists_its_current_children)
{
	struct fixture f = {0};
	json_t *j;

	build(&f);
	j = view_childspec(f.nodes[2]);
	cr_assert(eq(str, (char *)json_string_value(json_object_get(j, "id")), "web"));
	cr_assert(eq(sz, json_array_size(json_object_get(j, "children")), 1));
	cr_assert(eq(str,
		     (char *)json_string_value(json_object_get(
			     json_array_get(json_object_get(j, "children"), 0), "id")),
		     "db"));
	json_decref(j);
	j = view_childspec(f.nodes[1]);
	cr_assert(eq(str, (char *)json_string_value(json_object_get(j, "type")), "worker"));
	cr_assert(json_object_get(j, "children") == NULL);
	json_decref(j);
	fixture_free(&f);
}

Test(views, alive)
{
	struct child c = {0};
	enum child_state alive[] = {CHILD_STARTING, CHILD_RUNNING, CHILD_STOPPING};

	for (size_t i = 0; i < 3; i++) {
		c.state = alive[i];
		cr_assert(view_child_alive(&c));
	}
	c.state = CHILD_DOWN;
	cr_assert(not(view_child_alive(&c)));
	c.state = CHILD_RESTARTING;
	cr_assert(not(view_child_alive(&c)));
}
