/*
 * test-reload.c - reload (SPEC 7.5) on the pure core, and spec_equal().
 *
 * The core runs against the recorder (recorder.c): each test starts a tree,
 * hands the core a new tree as the loader would, and asserts what the core
 * did, in order: which children were terminated and started, which kept
 * their pid, the `reloaded` events, and when the reload's completion came.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "recorder.h"

static struct recorder R;

static void
teardown(void)
{
	rec_fini(&R);
}

TestSuite(reload, .fini = teardown);
TestSuite(spec_equal);

#define LOG_HAS(seq)                                                                               \
	cr_assert(rec_log_has_sequence(&R, seq), "expected in order:\n%s\n--- log:\n%s", seq,      \
		  rec_log(&R))
#define LOG_EQ(text) cr_assert(eq(str, (char *)rec_log(&R), (char *)(text)))
#define STATE(path, st)                                                                            \
	cr_assert(eq(str, (char *)rec_state(&R, path), (char *)(st)), "state of %s", path)

struct treload {
	struct core_reload r;
	int done;
	int applied;
	int order; /* when it finished, among all reloads of the test */
};

static int finished;

static void
treload_done(struct core_reload *r)
{
	struct treload *t = (struct treload *)r;

	t->done++;
	t->order = ++finished;
}

static void
treload_applied(struct core_reload *r, const struct core_event *ev)
{
	(void)ev;
	((struct treload *)r)->applied++;
}

/* Hands the core a new tree; the returned record lives until the test ends. */
static struct treload *
reload(struct child_spec *root)
{
	static struct treload pool[8];
	static size_t used;
	struct treload *t;

	if (!finished && used >= 8)
		used = 0;
	t = &pool[used++ % 8];
	memset(t, 0, sizeof(*t));
	t->r.root_spec = root;
	t->r.done = treload_done;
	t->r.applied = treload_applied;
	core_reload(R.core, &t->r, R.now);
	return t;
}

/* A worker whose program is `prog` (w_spec runs /bin/true). */
static struct child_spec *
w_prog(const char *id, const char *prog)
{
	struct child_spec *s = w_spec(id, RESTART_PERMANENT);

	free(s->worker.argv[0]);
	s->worker.argv[0] = strdup(prog);
	return s;
}

static struct child_spec *
abc(enum strategy strategy)
{
	return root_spec(strategy, 3, 5, w_spec("a", RESTART_PERMANENT),
			 w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT), NULL);
}

static struct child *
nth_child(const char *sup, size_t n)
{
	struct child *c = node_first_child(rec_find(&R, sup));

	while (c && n--)
		c = node_next_sibling(c);
	return c;
}

#define ORDER(sup, a, b, c)                                                                        \
	do {                                                                                       \
		cr_assert(eq(str, (char *)node_id(nth_child(sup, 0)), (char *)(a)));               \
		cr_assert(eq(str, (char *)node_id(nth_child(sup, 1)), (char *)(b)));               \
		cr_assert(eq(str, (char *)node_id(nth_child(sup, 2)), (char *)(c)));               \
	} while (0)

Test(reload, unchanged_tree_keeps_every_pid_and_says_nothing)
{
	rec_init(&R, abc(STRATEGY_ONE_FOR_ONE));
	pid_t a = rec_pid(&R, "/a"), b = rec_pid(&R, "/b"), c = rec_pid(&R, "/c");
	rec_clear(&R);
	struct treload *t = reload(abc(STRATEGY_ONE_FOR_ONE));
	rec_run(&R);
	LOG_EQ("");
	cr_assert(t->done == 1 && t->r.error == CORE_OK);
	cr_assert(t->applied == 0);
	cr_assert(rec_pid(&R, "/a") == a && rec_pid(&R, "/b") == b && rec_pid(&R, "/c") == c);
}

Test(reload, added_child_is_started_in_its_place)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
			       w_spec("c", RESTART_PERMANENT), NULL));
	pid_t a = rec_pid(&R, "/a"), c = rec_pid(&R, "/c");
	rec_clear(&R);
	struct treload *t = reload(abc(STRATEGY_ONE_FOR_ONE));
	LOG_EQ("child_started /b\nreloaded / added=b removed= changed=");
	cr_assert(t->done == 1 && t->r.error == CORE_OK && t->applied == 1);
	cr_assert(rec_pid(&R, "/a") == a && rec_pid(&R, "/c") == c);
	ORDER("/", "a", "b", "c");
	cr_assert(eq(sz, node_nchildren(rec_find(&R, "/")), 3));
}

Test(reload, removed_child_is_terminated_and_deleted_before_the_reply)
{
	rec_init(&R, abc(STRATEGY_ONE_FOR_ONE));
	pid_t a = rec_pid(&R, "/a");
	rec_clear(&R);
	struct treload *t =
		reload(root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
				 w_spec("c", RESTART_PERMANENT), NULL));
	LOG_EQ("child_stopping /b SIGTERM\nsignal /b SIGTERM");
	cr_assert(t->done == 0, "the reply waits for the removed child to be gone");
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /b shutdown SIGTERM\nreloaded / added= removed=b changed=");
	cr_assert(t->done == 1 && t->r.error == CORE_OK);
	STATE("/b", "absent");
	cr_assert(rec_pid(&R, "/a") == a);
	cr_assert(eq(sz, node_nchildren(rec_find(&R, "/")), 2));
}

Test(reload, changed_child_is_terminated_and_started_with_its_new_spec)
{
	rec_init(&R, abc(STRATEGY_ONE_FOR_ONE));
	pid_t a = rec_pid(&R, "/a"), b = rec_pid(&R, "/b"), c = rec_pid(&R, "/c");
	rec_clear(&R);
	struct treload *t =
		reload(root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
				 w_prog("b", "/bin/false"), w_spec("c", RESTART_PERMANENT), NULL));
	rec_exit_signalled(&R);
	LOG_EQ("child_stopping /b SIGTERM\nsignal /b SIGTERM\nchild_exited /b shutdown SIGTERM\n"
	       "child_started /b\nreloaded / added= removed= changed=b");
	cr_assert(t->done == 1 && t->r.error == CORE_OK);
	cr_assert(rec_pid(&R, "/b") != b && rec_pid(&R, "/b") > 0);
	cr_assert(eq(str, node_spec(rec_find(&R, "/b"))->worker.argv[0], "/bin/false"));
	cr_assert(rec_pid(&R, "/a") == a && rec_pid(&R, "/c") == c);
	ORDER("/", "a", "b", "c");
}

Test(reload, removed_and_changed_go_last_first_then_starts_go_in_file_order)
{
	rec_init(&R, abc(STRATEGY_ONE_FOR_ONE));
	rec_clear(&R);
	reload(root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_prog("a", "/bin/false"),
			 w_spec("b", RESTART_PERMANENT), w_spec("d", RESTART_PERMANENT), NULL));
	rec_exit_signalled(&R);
	LOG_EQ("child_stopping /c SIGTERM\nsignal /c SIGTERM\n"
	       "child_exited /c shutdown SIGTERM\n"
	       "child_stopping /a SIGTERM\nsignal /a SIGTERM\n"
	       "child_exited /a shutdown SIGTERM\n"
	       "child_started /a\nchild_started /d\n"
	       "reloaded / added=d removed=c changed=a");
}

Test(reload, reorder_follows_the_file_and_rest_for_one_uses_it)
{
	rec_init(&R, abc(STRATEGY_REST_FOR_ONE));
	pid_t c = rec_pid(&R, "/c");
	rec_clear(&R);
	struct treload *t = reload(
		root_spec(STRATEGY_REST_FOR_ONE, 3, 5, w_spec("c", RESTART_PERMANENT),
			  w_spec("a", RESTART_PERMANENT), w_spec("b", RESTART_PERMANENT), NULL));
	LOG_EQ("reloaded / added= removed= changed=");
	cr_assert(t->done == 1);
	ORDER("/", "c", "a", "b");
	/* a crash of a now restarts a and b (after it), not c (before it) */
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /a crash 1\n"
	       "child_stopping /b SIGTERM\nsignal /b SIGTERM\nchild_exited /b shutdown SIGTERM\n"
	       "child_started /a\nchild_started /b");
	cr_assert(rec_pid(&R, "/c") == c);
}

Test(reload, flags_change_in_place_and_intensity_takes_effect)
{
	rec_init(&R, abc(STRATEGY_ONE_FOR_ONE));
	pid_t b = rec_pid(&R, "/b");
	rec_clear(&R);
	struct child_spec *next = abc(STRATEGY_ONE_FOR_ALL);
	next->sup.max_restarts = 0;
	struct treload *t = reload(next);
	LOG_EQ("reloaded / added= removed= changed=");
	cr_assert(t->done == 1);
	cr_assert(rec_pid(&R, "/b") == b);
	cr_assert(node_spec(rec_find(&R, "/"))->sup.strategy == STRATEGY_ONE_FOR_ALL);
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	LOG_HAS("child_exited /a crash 1\nrestart_limit /");
}

Test(reload, strategy_change_takes_effect_on_the_next_crash)
{
	rec_init(&R, abc(STRATEGY_ONE_FOR_ONE));
	reload(abc(STRATEGY_ONE_FOR_ALL));
	rec_clear(&R);
	rec_exit(&R, "/b", 1);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /b crash 1\n"
	       "child_stopping /c SIGTERM\nsignal /c SIGTERM\nchild_exited /c shutdown SIGTERM\n"
	       "child_stopping /a SIGTERM\nsignal /a SIGTERM\nchild_exited /a shutdown SIGTERM\n"
	       "child_started /a\nchild_started /b\nchild_started /c");
}

Test(reload, dynamic_children_keep_running_and_new_ones_use_the_new_template)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5,
			       dyn_spec("pool", RESTART_TEMPORARY, 1000), NULL));
	struct core_request req = {.op = OP_START_CHILD, .target = rec_find(&R, "/pool")};
	core_submit(R.core, &req, R.now);
	cr_assert(req.error == CORE_OK);
	pid_t one = rec_pid(&R, "/pool/1");
	rec_clear(&R);

	struct child_spec *pool = dyn_spec("pool", RESTART_TEMPORARY, 1000);
	free(pool->sup.template_spec->worker.argv[0]);
	pool->sup.template_spec->worker.argv[0] = strdup("/bin/new");
	pool->sup.max_children = 2;
	struct treload *t = reload(root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, pool, NULL));
	rec_run(&R);
	LOG_EQ("reloaded /pool added= removed= changed=");
	cr_assert(t->done == 1 && t->r.error == CORE_OK);
	cr_assert(rec_pid(&R, "/pool/1") == one);
	cr_assert(eq(str, node_spec(rec_find(&R, "/pool/1"))->worker.argv[0], "/bin/true"));

	struct core_request req2 = {.op = OP_START_CHILD, .target = rec_find(&R, "/pool")};
	core_submit(R.core, &req2, R.now);
	cr_assert(req2.error == CORE_OK);
	cr_assert(eq(str, node_spec(rec_find(&R, "/pool/2"))->worker.argv[0], "/bin/new"));
	/* max_children changed in place too */
	struct core_request req3 = {.op = OP_START_CHILD, .target = rec_find(&R, "/pool")};
	core_submit(R.core, &req3, R.now);
	cr_assert(req3.error == CORE_E_MAX_CHILDREN);
	/* the first child's restart still has its environment (the old
	 * template is kept while it borrows from it) */
	rec_exit(&R, "/pool/1", 1);
}

Test(reload, waits_in_the_mailbox_behind_a_group_restart)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ALL, 3, 5, w_spec("a", RESTART_PERMANENT),
			       w_spec("b", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	rec_exit(&R, "/a", 1); /* the group restart now waits for b to go */
	struct treload *t = reload(
		root_spec(STRATEGY_ONE_FOR_ALL, 3, 5, w_spec("a", RESTART_PERMANENT),
			  w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT), NULL));
	cr_assert(rec_log_count(&R, "child_started /c") == 0, "applied in the middle:\n%s",
		  rec_log(&R));
	cr_assert(t->done == 0);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /a crash 1\n"
	       "child_stopping /b SIGTERM\nsignal /b SIGTERM\nchild_exited /b shutdown SIGTERM\n"
	       "child_started /a\nchild_started /b\n"
	       "child_started /c\nreloaded / added=c removed= changed=");
	cr_assert(t->done == 1 && t->r.error == CORE_OK);
}

Test(reload, a_second_reload_waits_for_the_first)
{
	rec_init(&R, abc(STRATEGY_ONE_FOR_ONE));
	rec_clear(&R);
	struct treload *first =
		reload(root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	struct treload *second = reload(abc(STRATEGY_ONE_FOR_ONE));
	cr_assert(first->done == 0 && second->done == 0);
	rec_exit_signalled(&R);
	cr_assert(first->done == 1 && second->done == 1);
	cr_assert(first->order < second->order);
	LOG_HAS("reloaded / added= removed=b,c changed=\n"
		"child_started /b\nchild_started /c\nreloaded / added=b,c removed= changed=");
	ORDER("/", "a", "b", "c");
}

Test(reload, refused_while_shutting_down)
{
	rec_init(&R, abc(STRATEGY_ONE_FOR_ONE));
	core_shutdown(R.core, R.now); /* waits for c to go */
	rec_clear(&R);
	struct treload *t = reload(root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, NULL));
	cr_assert(t->done == 1 && t->r.error == CORE_E_SHUTDOWN);
	LOG_EQ("");
	rec_exit_signalled(&R);
	cr_assert(R.stopped);
}

Test(reload, cut_short_by_a_shutdown_still_answers)
{
	rec_init(&R, abc(STRATEGY_ONE_FOR_ONE));
	struct treload *t =
		reload(root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	core_shutdown(R.core, R.now);
	rec_exit_signalled(&R);
	cr_assert(R.stopped);
	cr_assert(t->done == 1 && t->r.error == CORE_E_SHUTDOWN);
}

Test(reload, nested_supervisor_added_removed_and_recursed)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
			   sup_spec("keep", STRATEGY_ONE_FOR_ONE, w_spec("x", RESTART_PERMANENT),
				    w_spec("y", RESTART_PERMANENT), NULL),
			   sup_spec("old", STRATEGY_ONE_FOR_ONE, w_spec("z", RESTART_PERMANENT),
				    NULL),
			   NULL));
	pid_t a = rec_pid(&R, "/a"), y = rec_pid(&R, "/keep/y");
	rec_clear(&R);
	struct treload *t = reload(root_spec(
		STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
		sup_spec("keep", STRATEGY_ONE_FOR_ONE, w_prog("x", "/bin/false"),
			 w_spec("y", RESTART_PERMANENT), NULL),
		sup_spec("new", STRATEGY_ONE_FOR_ONE, w_spec("n", RESTART_PERMANENT), NULL), NULL));
	rec_exit_signalled(&R);
	rec_run(&R);
	rec_exit_signalled(&R);
	LOG_HAS("child_stopping /old/z SIGTERM\nchild_exited /old/z shutdown SIGTERM\n"
		"supervisor_stopped /old shutdown\n"
		"supervisor_started /new\nchild_started /new/n\n"
		"reloaded / added=new removed=old changed=");
	LOG_HAS("child_stopping /keep/x SIGTERM\nchild_exited /keep/x shutdown SIGTERM\n"
		"child_started /keep/x\nreloaded /keep added= removed= changed=x");
	cr_assert(rec_log_count(&R, "reloaded / added=new removed=old changed=") == 1);
	cr_assert(t->done == 1 && t->r.error == CORE_OK && t->applied == 2);
	cr_assert(rec_pid(&R, "/a") == a && rec_pid(&R, "/keep/y") == y);
	STATE("/old", "absent");
	STATE("/new/n", "running");
}

Test(reload, nested_change_alone_is_not_a_change_of_its_parent)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5,
			       sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("x", RESTART_PERMANENT),
					NULL),
			       NULL));
	rec_clear(&R);
	struct child_spec *s =
		sup_spec("s", STRATEGY_REST_FOR_ONE, w_spec("x", RESTART_PERMANENT), NULL);
	struct treload *t = reload(root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, s, NULL));
	rec_run(&R);
	LOG_EQ("reloaded /s added= removed= changed=");
	cr_assert(t->done == 1 && t->applied == 1);
}

Test(reload, kind_switch_is_a_change)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	struct treload *t = reload(root_spec(
		STRATEGY_ONE_FOR_ONE, 3, 5,
		sup_spec("a", STRATEGY_ONE_FOR_ONE, w_spec("x", RESTART_PERMANENT), NULL), NULL));
	rec_exit_signalled(&R);
	LOG_EQ("child_stopping /a SIGTERM\nsignal /a SIGTERM\nchild_exited /a shutdown SIGTERM\n"
	       "supervisor_started /a\nchild_started /a/x\nreloaded / added= removed= changed=a");
	cr_assert(t->done == 1);
	cr_assert(node_is_supervisor(rec_find(&R, "/a")));
}

Test(reload, a_child_the_reload_cannot_start_stays_stopped)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	rec_fail_spawn(&R, "/b", 1, "exec:ENOENT");
	rec_clear(&R);
	struct treload *t =
		reload(root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
				 w_spec("b", RESTART_PERMANENT), NULL));
	LOG_EQ("child_start_failed /b exec:ENOENT\nreloaded / added=b removed= changed= failed=b");
	cr_assert(t->done == 1 && t->r.error == CORE_OK);
	STATE("/b", "stopped");
}

Test(reload, stopped_nested_supervisor_is_rebuilt_from_the_new_spec)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5,
			       sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("x", RESTART_PERMANENT),
					NULL),
			       NULL));
	struct core_request req = {
		.op = OP_TERMINATE_CHILD, .target = rec_find(&R, "/"), .id = "s"};
	core_submit(R.core, &req, R.now);
	rec_exit_signalled(&R);
	STATE("/s", "stopped");
	rec_clear(&R);
	struct treload *t = reload(root_spec(
		STRATEGY_ONE_FOR_ONE, 3, 5,
		sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("y", RESTART_PERMANENT), NULL), NULL));
	rec_run(&R);
	LOG_EQ("reloaded /s added=y removed=x changed=");
	cr_assert(t->done == 1);
	STATE("/s/y", "stopped");
	STATE("/s/x", "absent");
}

Test(reload, runtime_added_child_not_in_the_file_is_removed)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	struct core_request req = {.op = OP_START_CHILD,
				   .target = rec_find(&R, "/"),
				   .spec = w_spec("extra", RESTART_PERMANENT)};
	core_submit(R.core, &req, R.now);
	cr_assert(req.error == CORE_OK);
	rec_clear(&R);
	reload(root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /extra shutdown SIGTERM\nreloaded / added= removed=extra changed=");
}

/* ---- spec_equal ---- */

Test(spec_equal, a_clone_is_equal_and_every_key_counts)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	struct child_spec *b = spec_clone(a);

	cr_assert(spec_equal(a, b));
#define DIFFERS(change)                                                                            \
	do {                                                                                       \
		struct child_spec *x = spec_clone(a);                                              \
		change;                                                                            \
		bool same = spec_equal(a, x);                                                      \
		cr_assert(not(same), "%s", #change);                                               \
		x->type = NODE_WORKER;                                                             \
		spec_free(x);                                                                      \
	} while (0)
	DIFFERS(x->restart = RESTART_TEMPORARY);
	DIFFERS(x->shutdown_ms = 1);
	DIFFERS(x->significant = true);
	DIFFERS(x->backoff.min_ms = 10);
	DIFFERS(x->output.mode = OUTPUT_PREFIX);
	DIFFERS(free(x->worker.argv[0]); x->worker.argv[0] = strdup("/bin/false"));
	DIFFERS(x->worker.stop_signal = SIGINT);
	DIFFERS(x->worker.kill_group = false);
	DIFFERS(exit_set_add_code(&x->worker.normal_exit, 3));
	DIFFERS(x->worker.ready = READY_NOTIFY);
	DIFFERS(x->worker.start_timeout_ms = 1);
	DIFFERS(x->worker.cwd = strdup("/tmp"));
	DIFFERS(x->worker.user = strdup("nobody"));
	DIFFERS(x->worker.has_uid = true; x->worker.uid = 65534);
	DIFFERS(x->worker.umask = 022);
	DIFFERS(x->worker.nice = 5);
	DIFFERS(x->worker.has_forward_signals = true);
	DIFFERS(x->worker.forward_signals = 1);
	DIFFERS(x->worker.has_health = true);
	DIFFERS(x->worker.notify_access = NOTIFY_ACCESS_ALL);
	DIFFERS(x->worker.env = calloc(2, sizeof(char *)); x->worker.env[0] = strdup("A=1");
		x->worker.envc = 1);
	DIFFERS(x->worker.rlimits = calloc(1, sizeof(struct rlimit_spec)); x->worker.nrlimits = 1);
	DIFFERS(x->worker.memory_max = 1 << 20);
	DIFFERS(x->worker.pids_max = SPEC_CGROUP_MAX);
	DIFFERS(x->worker.cpu_weight = 50);
	DIFFERS(x->type = NODE_SUPERVISOR);
	spec_free(a);
	spec_free(b);
}

Test(spec_equal, output_compares_as_it_applies)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	struct child_spec *b = spec_clone(a);
	struct output_spec prefix = {.mode = OUTPUT_PREFIX};
	struct output_spec inherit = {.mode = OUTPUT_INHERIT};

	cr_assert(spec_equal_in(a, b, &prefix, &prefix));
	bool same = spec_equal_in(a, b, &prefix, &inherit);
	cr_assert(not(same), "the supervisor above changed it");
	b->output.mode = OUTPUT_PREFIX;
	cr_assert(spec_equal_in(a, b, &prefix, &inherit), "set on the worker itself");
	spec_free(a);
	spec_free(b);
}

Test(spec_equal, supervisors_compare_flags_children_and_template)
{
	struct child_spec *a = root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("x", RESTART_PERMANENT),
					 dyn_spec("d", RESTART_TEMPORARY, 100), NULL);
	struct child_spec *b = spec_clone(a);

	cr_assert(spec_equal(a, b));
	b->sup.max_seconds = 6;
	bool same = spec_equal(a, b), flags = spec_sup_flags_equal(a, b);
	cr_assert(not(same));
	cr_assert(not(flags));
	b->sup.max_seconds = 5;
	b->sup.children[1]->sup.template_spec->shutdown_ms = 5;
	same = spec_equal(a, b);
	cr_assert(not(same));
	spec_free(a);
	spec_free(b);
}
