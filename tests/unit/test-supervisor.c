/*
 * test-supervisor.c - every rule of SPEC section 2, without processes.
 *
 * The core runs against the recorder (recorder.c): pids are handed out,
 * exits and timers are triggered by the test with explicit time, and each
 * test asserts the exact order of what the core did.
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

TestSuite(core, .fini = teardown);

#define LOG_HAS(seq)                                                                               \
	cr_assert(rec_log_has_sequence(&R, seq), "expected in order:\n%s\n--- log:\n%s", seq,      \
		  rec_log(&R))
#define LOG_EQ(text) cr_assert(eq(str, (char *)rec_log(&R), (char *)(text)))
#define STATE(path, st)                                                                            \
	cr_assert(eq(str, (char *)rec_state(&R, path), (char *)(st)), "state of %s", path)

struct treq {
	struct core_request req;
	bool done;
	char path[64];
};

static void
treq_done(struct core_request *req)
{
	((struct treq *)req)->done = true;
}

static struct treq *
submit(enum core_op op, const char *sup, const char *id)
{
	struct treq *t = calloc(1, sizeof(*t));

	t->req.op = op;
	t->req.target = rec_find(&R, sup);
	t->req.id = id;
	t->req.done = treq_done;
	core_submit(R.core, &t->req, R.now);
	return t;
}

static struct treq *
start_dynamic(const char *sup, const char *id)
{
	return submit(OP_START_CHILD, sup, id);
}

/* ---- start ---- */

Test(core, starts_children_in_order)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
			   w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT), NULL));
	LOG_EQ("supervisor_started /\nchild_started /a\nchild_started /b\nchild_started /c");
	cr_assert(R.tree_started);
	STATE("/b", "running");
}

Test(core, start_failure_stops_started_children_in_reverse_and_fails_root)
{
	struct child_spec *root =
		root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
			  w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT),
			  w_spec("d", RESTART_PERMANENT), NULL);
	/* rec_init starts at once: arrange the failure before the core starts */
	memset(&R, 0, sizeof(R));
	R.next_pid = 1000;
	rec_fail_spawn(&R, "/c", -1, "exec:ENOENT");
	R.core = core_new(root, &recorder_effects, &R);
	core_start(R.core, 0);
	LOG_HAS("child_started /a\nchild_started /b\nchild_start_failed /c exec:ENOENT\n"
		"child_stopping /b SIGTERM");
	cr_assert(not(R.stopped), "waits for /b to exit");
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /b shutdown SIGTERM\nchild_stopping /a SIGTERM\n"
		"child_exited /a shutdown SIGTERM\nsupervisor_stopped / shutdown\nstopped 1");
	cr_assert(eq(int, R.exit_code, 1));
	cr_assert(eq(sz, rec_log_count(&R, "child_started /d"), 0));
}

Test(core, nested_start_failure_is_a_failed_start_to_the_parent)
{
	struct child_spec *root =
		root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
			  sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("x", RESTART_PERMANENT),
				   w_spec("y", RESTART_PERMANENT), NULL),
			  w_spec("b", RESTART_PERMANENT), NULL);
	memset(&R, 0, sizeof(R));
	R.next_pid = 1000;
	rec_fail_spawn(&R, "/s/y", -1, "exec:EACCES");
	R.core = core_new(root, &recorder_effects, &R);
	core_start(R.core, 0);
	rec_exit_signalled(&R);
	LOG_HAS("supervisor_started /s\nchild_started /s/x\nchild_start_failed /s/y exec:EACCES\n"
		"child_stopping /s/x SIGTERM\nchild_exited /s/x shutdown SIGTERM\n"
		"supervisor_stopped /s shutdown\nchild_start_failed /s shutdown\n"
		"child_stopping /a SIGTERM\nchild_exited /a shutdown SIGTERM\n"
		"supervisor_stopped / shutdown\nstopped 1");
	cr_assert(eq(sz, rec_log_count(&R, "child_started /b"), 0));
}

/* ---- restart types ---- */

Test(core, permanent_is_restarted_after_normal_exit_and_crash)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 10, 5, w_spec("a", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	pid_t first = rec_pid(&R, "/a");
	rec_exit(&R, "/a", 0);
	rec_exit(&R, "/a", 3);
	LOG_EQ("child_exited /a normal 0\nchild_started /a\nchild_exited /a crash 3\n"
	       "child_started /a");
	cr_assert(ne(int, rec_pid(&R, "/a"), first));
	cr_assert(eq(u32, rec_find(&R, "/a")->restarts, 2));
}

Test(core, transient_stays_down_after_normal_exit_and_restarts_after_crash)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 10, 5, w_spec("a", RESTART_TRANSIENT),
			       w_spec("b", RESTART_TRANSIENT), NULL));
	rec_clear(&R);
	rec_exit(&R, "/a", 0);
	rec_signal_exit(&R, "/b", SIGSEGV);
	LOG_EQ("child_exited /a normal 0\nchild_exited /b crash SIGSEGV\nchild_started /b");
	STATE("/a", "stopped"); /* the spec is kept */
	STATE("/b", "running");
}

Test(core, normal_exit_codes_and_signals_are_configurable)
{
	struct child_spec *a = w_spec("a", RESTART_TRANSIENT);
	exit_set_add_code(&a->worker.normal_exit, 143);
	exit_set_add_signal(&a->worker.normal_exit, SIGTERM);
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 10, 5, a, NULL));
	rec_clear(&R);
	rec_signal_exit(&R, "/a", SIGTERM);
	LOG_EQ("child_exited /a normal SIGTERM");
	STATE("/a", "stopped");
}

Test(core, temporary_is_removed_and_never_counted)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 0, 5, w_spec("t", RESTART_TEMPORARY),
			       w_spec("p", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	rec_exit(&R, "/t", 1); /* a crash: still not restarted, not counted (max_restarts 0) */
	LOG_EQ("child_exited /t crash 1");
	STATE("/t", "absent");
	cr_assert(not(R.stopped));
}

/* ---- strategies ---- */

Test(core, one_for_one_restarts_only_the_exited_child)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
			   w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	rec_exit(&R, "/b", 1);
	LOG_EQ("child_exited /b crash 1\nchild_started /b");
}

Test(core, one_for_all_terminates_others_in_reverse_then_starts_all_in_order)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ALL, 3, 5, w_spec("a", RESTART_PERMANENT),
			       w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT),
			       w_spec("d", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	rec_exit(&R, "/b", 1);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /b crash 1\n"
	       "child_stopping /d SIGTERM\nsignal /d SIGTERM\nchild_exited /d shutdown SIGTERM\n"
	       "child_stopping /c SIGTERM\nsignal /c SIGTERM\nchild_exited /c shutdown SIGTERM\n"
	       "child_stopping /a SIGTERM\nsignal /a SIGTERM\nchild_exited /a shutdown SIGTERM\n"
	       "child_started /a\nchild_started /b\nchild_started /c\nchild_started /d");
	cr_assert(eq(u32, rec_find(&R, "/a")->restarts, 1), "bystanders count their restart");
	cr_assert(eq(u32, rec_find(&R, "/b")->restarts, 1));
}

Test(core, rest_for_one_restarts_the_exited_child_and_those_after_it)
{
	rec_init(&R, root_spec(STRATEGY_REST_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
			       w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT),
			       w_spec("d", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	pid_t a = rec_pid(&R, "/a");
	rec_exit(&R, "/b", 1);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /b crash 1\n"
	       "child_stopping /d SIGTERM\nsignal /d SIGTERM\nchild_exited /d shutdown SIGTERM\n"
	       "child_stopping /c SIGTERM\nsignal /c SIGTERM\nchild_exited /c shutdown SIGTERM\n"
	       "child_started /b\nchild_started /c\nchild_started /d");
	cr_assert(eq(int, rec_pid(&R, "/a"), a));
}

Test(core, group_restart_removes_temporary_children)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ALL, 3, 5, w_spec("a", RESTART_PERMANENT),
			   w_spec("t", RESTART_TEMPORARY), w_spec("c", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	rec_exit(&R, "/c", 1);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /c crash 1\n"
	       "child_stopping /t SIGTERM\nsignal /t SIGTERM\nchild_exited /t shutdown SIGTERM\n"
	       "child_stopping /a SIGTERM\nsignal /a SIGTERM\nchild_exited /a shutdown SIGTERM\n"
	       "child_started /a\nchild_started /c");
	STATE("/t", "absent");
}

Test(core, one_for_all_starts_children_that_were_not_running)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ALL, 3, 5, w_spec("a", RESTART_TRANSIENT),
			   w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT), NULL));
	struct treq *t = submit(OP_TERMINATE_CHILD, "/", "c");
	rec_exit_signalled(&R);
	cr_assert(t->done && t->req.error == CORE_OK);
	rec_exit(&R, "/a", 0); /* transient, normal: stays down */
	STATE("/a", "stopped");
	STATE("/c", "stopped");
	rec_clear(&R);
	rec_exit(&R, "/b", 1);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /b crash 1\nchild_started /a\nchild_started /b\nchild_started /c");
	free(t);
}

Test(core, a_group_restart_counts_as_one_restart)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ALL, 1, 5, w_spec("a", RESTART_PERMANENT),
			   w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT), NULL));
	rec_exit(&R, "/a", 1);
	rec_exit_signalled(&R);
	cr_assert(not(R.stopped), "three children restarted, one restart counted");
	rec_exit(&R, "/a", 1);
	rec_exit_signalled(&R);
	cr_assert(R.stopped);
	cr_assert(eq(int, R.exit_code, 1));
}

/* ---- restart intensity ---- */

Test(core, intensity_gives_up_when_records_in_window_exceed_max_restarts)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
			       w_spec("b", RESTART_PERMANENT), NULL));
	const uint64_t at[] = {0, 1000, 2000};
	for (size_t i = 0; i < 3; i++) {
		rec_advance(&R, at[i]);
		rec_exit(&R, "/a", 1);
	}
	cr_assert(not(R.stopped));
	rec_advance(&R, 5999); /* second 5: 5 - 0 <= 5, the first record is still in */
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	LOG_HAS("child_exited /a crash 1\nrestart_limit /\nchild_stopping /b SIGTERM");
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /b shutdown SIGTERM\nsupervisor_stopped / shutdown\nstopped 1");
	cr_assert(eq(sz, rec_log_count(&R, "child_started /a"), 0));
}

Test(core, intensity_record_leaves_the_window_after_max_seconds)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	const uint64_t at[] = {0, 1000, 2000, 6000}; /* second 6: 6 - 0 > 5 drops the first */
	for (size_t i = 0; i < 4; i++) {
		rec_advance(&R, at[i]);
		rec_exit(&R, "/a", 1);
	}
	cr_assert(not(R.stopped));
	STATE("/a", "running");
}

Test(core, max_restarts_zero_gives_up_on_the_first_restart)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 0, 5, w_spec("a", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	rec_exit(&R, "/a", 0);
	LOG_EQ("child_exited /a normal 0\nrestart_limit /\nsupervisor_stopped / shutdown\nstopped "
	       "1");
}

Test(core, failed_restarts_are_retried_and_every_retry_counts)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	rec_fail_spawn(&R, "/a", -1, "exec:ENOENT");
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	/* The retry waits for the loop: the child is `restarting` meanwhile. */
	STATE("/a", "restarting");
	cr_assert(gt(int, R.wakeups, 0));
	rec_run(&R);
	LOG_EQ("child_exited /a crash 1\n"
	       "child_start_failed /a exec:ENOENT\nchild_start_failed /a exec:ENOENT\n"
	       "child_start_failed /a exec:ENOENT\n"
	       "restart_limit /\nsupervisor_stopped / shutdown\nstopped 1");
}

Test(core, a_retry_that_succeeds_restores_the_child)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	rec_fail_spawn(&R, "/a", 1, "exec:EAGAIN");
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	rec_run(&R);
	LOG_EQ("child_exited /a crash 1\nchild_start_failed /a exec:EAGAIN\nchild_started /a");
	STATE("/a", "running");
}

Test(core, one_for_all_retry_restarts_the_whole_group_again)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ALL, 5, 5, w_spec("a", RESTART_PERMANENT),
			   w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT), NULL));
	rec_fail_spawn(&R, "/b", 1, "exec:ENOENT");
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	rec_exit_signalled(&R);
	rec_run(&R);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /a crash 1\n"
	       "child_stopping /c SIGTERM\nsignal /c SIGTERM\nchild_exited /c shutdown SIGTERM\n"
	       "child_stopping /b SIGTERM\nsignal /b SIGTERM\nchild_exited /b shutdown SIGTERM\n"
	       "child_started /a\nchild_start_failed /b exec:ENOENT\n"
	       "child_stopping /a SIGTERM\nsignal /a SIGTERM\nchild_exited /a shutdown SIGTERM\n"
	       "child_started /a\nchild_started /b\nchild_started /c");
}

Test(core, rest_for_one_retry_goes_on_from_the_failed_child)
{
	rec_init(&R,
		 root_spec(STRATEGY_REST_FOR_ONE, 5, 5, w_spec("a", RESTART_PERMANENT),
			   w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT), NULL));
	rec_fail_spawn(&R, "/c", 1, "exec:ENOENT");
	rec_clear(&R);
	rec_exit(&R, "/b", 1);
	rec_exit_signalled(&R);
	rec_run(&R);
	LOG_EQ("child_exited /b crash 1\n"
	       "child_stopping /c SIGTERM\nsignal /c SIGTERM\nchild_exited /c shutdown SIGTERM\n"
	       "child_started /b\nchild_start_failed /c exec:ENOENT\nchild_started /c");
}

/* ---- escalation ---- */

Test(core, escalation_two_levels_up)
{
	struct child_spec *s2 =
		sup_spec("s2", STRATEGY_ONE_FOR_ONE, w_spec("w", RESTART_PERMANENT), NULL);
	struct child_spec *s1 = sup_spec("s1", STRATEGY_ONE_FOR_ONE, s2, NULL);
	s2->sup.max_restarts = 0;
	s1->sup.max_restarts = 0;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, s1, NULL));
	rec_clear(&R);
	rec_exit(&R, "/s1/s2/w", 1);
	LOG_EQ("child_exited /s1/s2/w crash 1\nrestart_limit /s1/s2\n"
	       "supervisor_stopped /s1/s2 shutdown\nrestart_limit /s1\n"
	       "supervisor_stopped /s1 shutdown\n"
	       "supervisor_started /s1\nsupervisor_started /s1/s2\nchild_started /s1/s2/w");
	cr_assert(eq(u32, rec_find(&R, "/s1")->restarts, 1));
	cr_assert(not(R.stopped));
}

Test(core, a_transient_supervisor_that_gives_up_stays_down)
{
	struct child_spec *s =
		sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("w", RESTART_PERMANENT), NULL);
	s->restart = RESTART_TRANSIENT;
	s->sup.max_restarts = 0;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, s, NULL));
	rec_clear(&R);
	rec_exit(&R, "/s/w", 1);
	LOG_EQ("child_exited /s/w crash 1\nrestart_limit /s\nsupervisor_stopped /s shutdown");
	STATE("/s", "stopped");
}

Test(core, root_giving_up_stops_the_tree_with_status_1)
{
	struct child_spec *s =
		sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("w", RESTART_PERMANENT), NULL);
	s->sup.max_restarts = 0;
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 0, 5, w_spec("a", RESTART_PERMANENT), s, NULL));
	rec_clear(&R);
	rec_exit(&R, "/s/w", 1);
	rec_exit_signalled(&R);
	LOG_HAS("restart_limit /s\nsupervisor_stopped /s shutdown\nrestart_limit /\n"
		"child_stopping /a SIGTERM\nchild_exited /a shutdown SIGTERM\n"
		"supervisor_stopped / shutdown\nstopped 1");
}

/* ---- auto_shutdown ---- */

static struct child_spec *
significant(struct child_spec *s)
{
	s->significant = true;
	return s;
}

Test(core, any_significant_shuts_down_with_the_childs_status)
{
	struct child_spec *root =
		root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
			  significant(w_spec("main", RESTART_TEMPORARY)), NULL);
	root->sup.auto_shutdown = AUTO_SHUTDOWN_ANY_SIGNIFICANT;
	rec_init(&R, root);
	rec_clear(&R);
	rec_exit(&R, "/main", 7);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /main crash 7\nauto_shutdown / /main\n"
	       "child_stopping /a SIGTERM\nsignal /a SIGTERM\nchild_exited /a shutdown SIGTERM\n"
	       "supervisor_stopped / shutdown\nstopped 7");
}

Test(core, any_significant_exit_by_signal_gives_128_plus_signal)
{
	struct child_spec *root = root_spec(STRATEGY_ONE_FOR_ONE, 3, 5,
					    significant(w_spec("main", RESTART_TEMPORARY)), NULL);
	root->sup.auto_shutdown = AUTO_SHUTDOWN_ANY_SIGNIFICANT;
	rec_init(&R, root);
	rec_signal_exit(&R, "/main", SIGSEGV);
	cr_assert(R.stopped);
	cr_assert(eq(int, R.exit_code, 128 + SIGSEGV));
}

Test(core, transient_significant_crash_is_restarted_not_shut_down)
{
	struct child_spec *root = root_spec(STRATEGY_ONE_FOR_ONE, 3, 5,
					    significant(w_spec("main", RESTART_TRANSIENT)), NULL);
	root->sup.auto_shutdown = AUTO_SHUTDOWN_ANY_SIGNIFICANT;
	rec_init(&R, root);
	rec_clear(&R);
	rec_exit(&R, "/main", 1);
	LOG_EQ("child_exited /main crash 1\nchild_started /main");
	rec_exit(&R, "/main", 0);
	cr_assert(R.stopped);
	cr_assert(eq(int, R.exit_code, 0));
}

Test(core, all_significant_waits_for_the_last_significant_child)
{
	struct child_spec *root = root_spec(
		STRATEGY_ONE_FOR_ONE, 3, 5, significant(w_spec("x", RESTART_TRANSIENT)),
		significant(w_spec("y", RESTART_TEMPORARY)), w_spec("z", RESTART_PERMANENT), NULL);
	root->sup.auto_shutdown = AUTO_SHUTDOWN_ALL_SIGNIFICANT;
	rec_init(&R, root);
	rec_clear(&R);
	rec_exit(&R, "/x", 0);
	cr_assert(not(R.stopped));
	cr_assert(eq(sz, rec_log_count(&R, "auto_shutdown / /x"), 0));
	rec_exit(&R, "/y", 0);
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /y normal 0\nauto_shutdown / /y\nchild_stopping /z SIGTERM\n"
		"supervisor_stopped / shutdown\nstopped 0");
}

Test(core, terminate_child_of_a_significant_child_does_not_fire)
{
	struct child_spec *root =
		root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, significant(w_spec("x", RESTART_TRANSIENT)),
			  w_spec("z", RESTART_PERMANENT), NULL);
	root->sup.auto_shutdown = AUTO_SHUTDOWN_ANY_SIGNIFICANT;
	rec_init(&R, root);
	struct treq *t = submit(OP_TERMINATE_CHILD, "/", "x");
	rec_exit_signalled(&R);
	cr_assert(t->done);
	cr_assert(eq(sz, rec_log_count(&R, "auto_shutdown / /x"), 0));
	cr_assert(not(R.stopped));
	free(t);
}

Test(core, bystanders_of_a_group_restart_do_not_fire)
{
	struct child_spec *root =
		root_spec(STRATEGY_ONE_FOR_ALL, 3, 5, significant(w_spec("x", RESTART_TRANSIENT)),
			  w_spec("z", RESTART_PERMANENT), NULL);
	root->sup.auto_shutdown = AUTO_SHUTDOWN_ANY_SIGNIFICANT;
	rec_init(&R, root);
	rec_exit(&R, "/z", 1);
	rec_exit_signalled(&R);
	cr_assert(eq(sz, rec_log_count(&R, "auto_shutdown / /x"), 0));
	STATE("/x", "running");
	cr_assert(not(R.stopped));
}

Test(core, significant_exit_during_shutdown_does_not_fire)
{
	struct child_spec *root =
		root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, significant(w_spec("x", RESTART_TRANSIENT)),
			  w_spec("z", RESTART_PERMANENT), NULL);
	root->sup.auto_shutdown = AUTO_SHUTDOWN_ANY_SIGNIFICANT;
	rec_init(&R, root);
	core_shutdown(R.core, R.now);
	rec_exit(&R, "/x", 0); /* exits by itself while /z is being stopped */
	rec_exit_signalled(&R);
	cr_assert(eq(sz, rec_log_count(&R, "auto_shutdown / /x"), 0));
	LOG_HAS("supervisor_stopped / normal\nstopped 0");
}

Test(core, nested_auto_shutdown_is_a_shutdown_exit_to_the_parent)
{
	struct child_spec *s = sup_spec("s", STRATEGY_ONE_FOR_ONE,
					significant(w_spec("job", RESTART_TEMPORARY)), NULL);
	s->sup.auto_shutdown = AUTO_SHUTDOWN_ANY_SIGNIFICANT;
	s->restart = RESTART_TRANSIENT;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, s, NULL));
	rec_clear(&R);
	rec_exit(&R, "/s/job", 0);
	LOG_EQ("child_exited /s/job normal 0\nauto_shutdown /s /s/job\n"
	       "supervisor_stopped /s shutdown");
	STATE("/s", "stopped"); /* transient + shutdown: not restarted */
}

/* ---- shutdown of one child ---- */

Test(core, shutdown_ms_sends_the_stop_signal_then_sigkill_at_the_deadline)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	a->shutdown_ms = 500;
	a->worker.stop_signal = SIGUSR1;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, a, NULL));
	rec_ignore_signal(&R, "/a", SIGUSR1);
	rec_clear(&R);
	core_shutdown(R.core, 100);
	LOG_EQ("child_stopping /a SIGUSR1\nsignal /a SIGUSR1");
	rec_advance(&R, 599);
	rec_exit_signalled(&R); /* it ignores SIGUSR1 */
	LOG_EQ("child_stopping /a SIGUSR1\nsignal /a SIGUSR1");
	rec_advance(&R, 600);
	/* shutdown_timeout means SIGKILL was sent: no second child_stopping */
	LOG_EQ("child_stopping /a SIGUSR1\nsignal /a SIGUSR1\nshutdown_timeout /a\nsignal /a "
	       "SIGKILL");
	rec_exit_signalled(&R);
	LOG_HAS("signal /a SIGKILL\nchild_exited /a killed SIGKILL\nsupervisor_stopped / normal\n"
		"stopped 0");
}

Test(core, exit_within_the_shutdown_time_is_reason_shutdown_whatever_the_status)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	core_shutdown(R.core, 0);
	rec_exit(&R, "/a", 1);
	LOG_EQ("child_stopping /a SIGTERM\nsignal /a SIGTERM\nchild_exited /a shutdown 1\n"
	       "supervisor_stopped / normal\nstopped 0");
	cr_assert(eq(sz, R.ntimers, 0), "the shutdown deadline is disarmed");
}

Test(core, brutal_kill_sends_sigkill_at_once)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	a->shutdown_ms = SHUTDOWN_BRUTAL_KILL;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, a, NULL));
	rec_clear(&R);
	core_shutdown(R.core, 0);
	rec_exit_signalled(&R);
	LOG_EQ("child_stopping /a SIGKILL\nsignal /a SIGKILL\nchild_exited /a killed SIGKILL\n"
	       "supervisor_stopped / normal\nstopped 0");
}

Test(core, infinity_waits_without_limit)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	a->shutdown_ms = SHUTDOWN_INFINITY;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, a, NULL));
	core_shutdown(R.core, 0);
	cr_assert(eq(sz, R.ntimers, 0));
	rec_advance(&R, UINT64_C(1) << 40);
	cr_assert(not(R.stopped));
	STATE("/a", "stopping");
	rec_exit(&R, "/a", 0);
	cr_assert(R.stopped);
}

Test(core, shutdown_terminates_in_reverse_order_one_at_a_time)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
			   w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	core_shutdown(R.core, 0);
	LOG_EQ("child_stopping /c SIGTERM\nsignal /c SIGTERM"); /* b waits for c */
	rec_exit_signalled(&R);
	LOG_EQ("child_stopping /c SIGTERM\nsignal /c SIGTERM\nchild_exited /c shutdown SIGTERM\n"
	       "child_stopping /b SIGTERM\nsignal /b SIGTERM\nchild_exited /b shutdown SIGTERM\n"
	       "child_stopping /a SIGTERM\nsignal /a SIGTERM\nchild_exited /a shutdown SIGTERM\n"
	       "supervisor_stopped / normal\nstopped 0");
}

Test(core, nested_supervisor_shutdown_ms_kills_its_whole_subtree_at_the_deadline)
{
	struct child_spec *s = sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("x", RESTART_PERMANENT),
					w_spec("y", RESTART_PERMANENT), NULL);
	s->shutdown_ms = 1000;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, s, NULL));
	rec_ignore_signal(&R, "/s/y", SIGTERM);
	rec_clear(&R);
	core_shutdown(R.core, 0);
	LOG_EQ("child_stopping /s/y SIGTERM\nsignal /s/y SIGTERM");
	rec_advance(&R, 1000);
	/* /s/y was already told to stop; /s/x is stopped here, by SIGKILL */
	LOG_HAS("shutdown_timeout /s\nchild_stopping /s/x SIGKILL\nsignal /s/x SIGKILL");
	LOG_HAS("shutdown_timeout /s\nsignal /s/y SIGKILL");
	cr_assert(eq(sz, rec_log_count(&R, "child_stopping /s/y SIGKILL"), 0));
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /s/y killed SIGKILL\nsupervisor_stopped /s shutdown\n"
		"supervisor_stopped / normal\nstopped 0");
	LOG_HAS("child_exited /s/x killed SIGKILL\nsupervisor_stopped /s shutdown");
}

Test(core, nested_supervisor_brutal_kill_kills_the_subtree_at_once)
{
	struct child_spec *s =
		sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("x", RESTART_PERMANENT), NULL);
	s->shutdown_ms = SHUTDOWN_BRUTAL_KILL;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, s, NULL));
	rec_clear(&R);
	core_shutdown(R.core, 0);
	rec_exit_signalled(&R);
	LOG_EQ("child_stopping /s/x SIGKILL\nsignal /s/x SIGKILL\nchild_exited /s/x killed "
	       "SIGKILL\n"
	       "supervisor_stopped /s shutdown\nsupervisor_stopped / normal\nstopped 0");
}

Test(core, a_killed_subtree_is_stopping_at_every_level_and_restarts_nothing)
{
	struct child_spec *b =
		sup_spec("b", STRATEGY_ONE_FOR_ONE, w_spec("w", RESTART_PERMANENT), NULL);
	struct child_spec *a =
		sup_spec("a", STRATEGY_ONE_FOR_ONE, b, w_spec("v", RESTART_PERMANENT), NULL);
	a->shutdown_ms = SHUTDOWN_BRUTAL_KILL;
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, a, w_spec("z", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	struct treq *t = submit(OP_TERMINATE_CHILD, "/", "a");
	rec_exit_signalled(&R);
	cr_assert(t->done && t->req.error == CORE_OK);
	LOG_HAS("child_stopping /a/b/w SIGKILL\nchild_exited /a/b/w killed SIGKILL\n"
		"supervisor_stopped /a/b shutdown\nsupervisor_stopped /a shutdown");
	LOG_HAS("child_stopping /a/v SIGKILL\nchild_exited /a/v killed SIGKILL");
	cr_assert(eq(sz, rec_log_count(&R, "child_started /a/b/w"), 0), "%s", rec_log(&R));
	STATE("/a", "stopped");
	STATE("/z", "running");
	free(t);
}

/* ---- one thing at a time ---- */

Test(core, an_exit_during_a_group_restart_waits_and_is_not_a_second_restart)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ALL, 5, 5, w_spec("a", RESTART_PERMANENT),
			   w_spec("b", RESTART_PERMANENT), w_spec("c", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	rec_exit(&R, "/a", 1); /* stops c first: waiting */
	rec_exit(&R, "/b", 1); /* b dies by itself meanwhile */
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /a crash 1\nchild_stopping /c SIGTERM\nsignal /c "
	       "SIGTERM\nchild_exited /b crash 1\n"
	       "child_exited /c shutdown SIGTERM\n"
	       "child_started /a\nchild_started /b\nchild_started /c");
	cr_assert(eq(sz, rec_log_count(&R, "child_started /b"), 1));
}

Test(core, an_exit_of_a_bystander_during_one_for_one_restart_is_served_after)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	a->worker.ready = READY_NOTIFY;
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 5, 5, a, w_spec("b", RESTART_PERMANENT), NULL));
	core_child_ready(R.core, rec_find(&R, "/a"), 0);
	rec_clear(&R);
	rec_exit(&R, "/a", 1); /* restart waits for READY=1 */
	rec_exit(&R, "/b", 1); /* queued */
	cr_assert(eq(str, (char *)rec_log(&R), "child_exited /a crash 1\nchild_exited /b crash 1"));
	core_child_ready(R.core, rec_find(&R, "/a"), 0);
	LOG_EQ("child_exited /a crash 1\nchild_exited /b crash 1\nchild_started /a\n"
	       "child_started /b");
}

Test(core, a_request_to_a_busy_supervisor_waits_its_turn)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ALL, 5, 5, w_spec("a", RESTART_PERMANENT),
			       w_spec("b", RESTART_PERMANENT), NULL));
	rec_exit(&R, "/a", 1); /* stopping b */
	struct treq *t = submit(OP_TERMINATE_CHILD, "/", "a");
	cr_assert(not(t->done));
	rec_exit_signalled(&R); /* b gone: restart done, then the request runs */
	cr_assert(t->done);
	cr_assert(eq(int, t->req.error, CORE_OK));
	STATE("/a", "stopped");
	STATE("/b", "running");
	free(t);
}

/* ---- ready: notify ---- */

Test(core, notify_worker_counts_as_started_on_ready_and_holds_the_next_start)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	a->worker.ready = READY_NOTIFY;
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, a, w_spec("b", RESTART_PERMANENT), NULL));
	LOG_EQ("supervisor_started /");
	STATE("/a", "starting");
	core_child_ready(R.core, rec_find(&R, "/a"), 10);
	LOG_EQ("supervisor_started /\nchild_started /a\nchild_started /b");
}

Test(core, notify_worker_that_misses_its_start_timeout_fails_to_start)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	a->worker.ready = READY_NOTIFY;
	a->worker.start_timeout_ms = 300;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, a, NULL));
	rec_advance(&R, 300);
	LOG_HAS("child_start_failed /a ready_timeout\nchild_stopping /a SIGKILL\nsignal /a "
		"SIGKILL");
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /a killed SIGKILL\nsupervisor_stopped / shutdown\nstopped 1");
}

Test(core, notify_worker_that_exits_before_ready_fails_to_start)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	a->worker.ready = READY_NOTIFY;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, a, NULL));
	rec_exit(&R, "/a", 2);
	LOG_HAS("child_exited /a crash 2\nchild_start_failed /a exited\n"
		"supervisor_stopped / shutdown\nstopped 1");
}

/* ---- static supervisor API ---- */

Test(core, static_start_child_appends_and_reports_duplicates)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	struct treq *t = calloc(1, sizeof(*t));
	t->req.op = OP_START_CHILD;
	t->req.target = rec_find(&R, "/");
	t->req.spec = w_spec("b", RESTART_PERMANENT);
	t->req.done = treq_done;
	core_submit(R.core, &t->req, 0);
	cr_assert(t->done);
	cr_assert(eq(int, t->req.error, CORE_OK));
	cr_assert(eq(int, t->req.pid, rec_pid(&R, "/b")));
	cr_assert(eq(str, TAILQ_LAST(&R.core->root->sup->children, child_list)->path, "/b"));

	t->done = false;
	t->req.spec = w_spec("b", RESTART_PERMANENT);
	core_submit(R.core, &t->req, 0);
	cr_assert(eq(int, t->req.error, CORE_E_ALREADY_STARTED));

	struct treq *term = submit(OP_TERMINATE_CHILD, "/", "b");
	rec_exit_signalled(&R);
	t->req.spec = w_spec("b", RESTART_PERMANENT);
	core_submit(R.core, &t->req, 0);
	cr_assert(eq(int, t->req.error, CORE_E_ALREADY_PRESENT));
	free(t);
	free(term);
}

Test(core, static_terminate_restart_delete)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
			       w_spec("t", RESTART_TEMPORARY), NULL));
	struct treq *t;

	t = submit(OP_TERMINATE_CHILD, "/", "nope");
	cr_assert(eq(int, t->req.error, CORE_E_NOT_FOUND));
	free(t);
	t = submit(OP_DELETE_CHILD, "/", "a");
	cr_assert(eq(int, t->req.error, CORE_E_RUNNING));
	free(t);
	t = submit(OP_RESTART_CHILD, "/", "a");
	cr_assert(eq(int, t->req.error, CORE_E_RUNNING));
	free(t);

	t = submit(OP_TERMINATE_CHILD, "/", "a");
	cr_assert(not(t->done), "waits for the child to exit");
	rec_exit_signalled(&R);
	cr_assert(t->done && t->req.error == CORE_OK);
	STATE("/a", "stopped"); /* spec kept, not restarted, not a crash */
	free(t);

	t = submit(OP_RESTART_CHILD, "/", "a");
	cr_assert(eq(int, t->req.error, CORE_OK));
	cr_assert(eq(int, t->req.pid, rec_pid(&R, "/a")));
	free(t);

	t = submit(OP_TERMINATE_CHILD, "/", "t"); /* temporary: spec removed */
	rec_exit_signalled(&R);
	STATE("/t", "absent");
	free(t);

	t = submit(OP_TERMINATE_CHILD, "/", "a");
	rec_exit_signalled(&R);
	free(t);
	t = submit(OP_DELETE_CHILD, "/", "a");
	cr_assert(eq(int, t->req.error, CORE_OK));
	STATE("/a", "absent");
	free(t);
}

Test(core, restart_child_reports_restarting_while_a_retry_is_pending)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ALL, 5, 5, w_spec("a", RESTART_PERMANENT),
			       w_spec("b", RESTART_PERMANENT), NULL));
	rec_fail_spawn(&R, "/a", 1, "exec:ENOENT");
	rec_exit(&R, "/b", 1); /* one_for_all: stopping /a, busy */
	struct treq *r = submit(OP_RESTART_CHILD, "/", "a");
	struct treq *d = submit(OP_DELETE_CHILD, "/", "a");
	cr_assert(not(r->done));
	rec_exit_signalled(&R); /* /a gone; its start fails; the retry queues behind r and d */
	cr_assert(r->done && d->done);
	cr_assert(eq(int, r->req.error, CORE_E_RESTARTING));
	cr_assert(eq(int, d->req.error, CORE_E_RESTARTING));
	rec_run(&R);
	STATE("/a", "running");
	STATE("/b", "running");
	free(r), free(d);
}

/* ---- dynamic supervisors ---- */

static struct child_spec *
dyn_root(enum restart_type tmpl_restart, uint32_t max_children)
{
	struct child_spec *d = dyn_spec("d", tmpl_restart, 5000);
	d->sup.max_children = max_children;
	return root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, d, NULL);
}

Test(core, dynamic_ids_count_up_and_are_never_reused)
{
	rec_init(&R, dyn_root(RESTART_TEMPORARY, SPEC_UNLIMITED));
	struct treq *a = start_dynamic("/d", NULL), *b = start_dynamic("/d", NULL);
	cr_assert(eq(str, a->req.child_id, "1"));
	cr_assert(eq(str, b->req.child_id, "2"));
	rec_exit(&R, "/d/2", 0);
	STATE("/d/2", "absent");
	struct treq *c = start_dynamic("/d", NULL);
	cr_assert(eq(str, c->req.child_id, "3"));
	struct treq *named = start_dynamic("/d", "shopping");
	cr_assert(eq(str, named->req.child_id, "shopping"));
	cr_assert(eq(int, named->req.pid, rec_pid(&R, "/d/shopping")));
	struct treq *dup = start_dynamic("/d", "shopping");
	cr_assert(eq(int, dup->req.error, CORE_E_ALREADY_STARTED));
	struct treq *taken = start_dynamic("/d", "4"); /* an explicit id that looks like a number */
	struct treq *next = start_dynamic("/d", NULL);
	cr_assert(eq(int, taken->req.error, CORE_OK));
	cr_assert(eq(str, next->req.child_id, "5"));
	free(a), free(b), free(c), free(named), free(dup), free(taken), free(next);
}

Test(core, dynamic_failed_start_does_not_use_up_a_number)
{
	rec_init(&R, dyn_root(RESTART_TEMPORARY, SPEC_UNLIMITED));
	rec_fail_spawn(&R, "/d/1", 1, "exec:ENOENT");
	struct treq *a = start_dynamic("/d", NULL);
	cr_assert(eq(int, a->req.error, CORE_E_START_FAILED));
	cr_assert(eq(str, a->req.message, "exec:ENOENT"));
	STATE("/d/1", "absent");
	struct treq *b = start_dynamic("/d", NULL);
	cr_assert(eq(str, b->req.child_id, "1"));
	cr_assert(not(R.stopped), "a failed start_child is not a restart");
	free(a), free(b);
}

Test(core, dynamic_max_children_counts_running_and_restarting)
{
	rec_init(&R, dyn_root(RESTART_PERMANENT, 2));
	struct treq *a = start_dynamic("/d", NULL), *b = start_dynamic("/d", NULL);
	struct treq *c = start_dynamic("/d", NULL);
	cr_assert(eq(int, c->req.error, CORE_E_MAX_CHILDREN));
	rec_fail_spawn(&R, "/d/1", 2, "exec:EAGAIN");
	rec_exit(&R, "/d/1", 1); /* restarting now; its retry is queued */
	STATE("/d/1", "restarting");
	struct treq *d = start_dynamic("/d", NULL);
	cr_assert(not(d->done), "queued behind the retry, as a call behind try_again_restart");
	core_run(R.core, R.now); /* one turn: the retry fails again, still restarting */
	cr_assert(d->done);
	cr_assert(eq(int, d->req.error, CORE_E_MAX_CHILDREN));
	STATE("/d/1", "restarting");
	rec_run(&R);
	STATE("/d/1", "running");
	free(a), free(b), free(c), free(d);
}

Test(core, dynamic_permanent_child_keeps_its_id_with_a_new_pid)
{
	rec_init(&R, dyn_root(RESTART_PERMANENT, SPEC_UNLIMITED));
	struct treq *a = start_dynamic("/d", "k");
	pid_t first = rec_pid(&R, "/d/k");
	rec_exit(&R, "/d/k", 1);
	STATE("/d/k", "running");
	cr_assert(ne(int, rec_pid(&R, "/d/k"), first));
	free(a);
}

Test(core, dynamic_transient_is_removed_after_a_normal_exit)
{
	rec_init(&R, dyn_root(RESTART_TRANSIENT, SPEC_UNLIMITED));
	struct treq *a = start_dynamic("/d", NULL), *b = start_dynamic("/d", NULL);
	rec_exit(&R, "/d/1", 0);
	rec_exit(&R, "/d/2", 1);
	STATE("/d/1", "absent");
	STATE("/d/2", "running");
	free(a), free(b);
}

Test(core, dynamic_terminate_child_and_unsupported_ops)
{
	rec_init(&R, dyn_root(RESTART_PERMANENT, SPEC_UNLIMITED));
	struct treq *a = start_dynamic("/d", NULL);
	struct treq *t = submit(OP_TERMINATE_CHILD, "/d", "1");
	cr_assert(not(t->done));
	rec_exit_signalled(&R);
	cr_assert(t->done && t->req.error == CORE_OK);
	STATE("/d/1", "absent");
	struct treq *again = submit(OP_TERMINATE_CHILD, "/d", "1");
	cr_assert(eq(int, again->req.error, CORE_E_NOT_FOUND));
	struct treq *r = submit(OP_RESTART_CHILD, "/d", "1");
	struct treq *del = submit(OP_DELETE_CHILD, "/d", "1");
	cr_assert(eq(int, r->req.error, CORE_E_NOT_SUPPORTED));
	cr_assert(eq(int, del->req.error, CORE_E_NOT_SUPPORTED));
	free(a), free(t), free(again), free(r), free(del);
}

Test(core, dynamic_shutdown_stops_all_children_at_once_with_one_deadline)
{
	rec_init(&R, dyn_root(RESTART_PERMANENT, SPEC_UNLIMITED));
	struct treq *reqs[3];
	for (int i = 0; i < 3; i++)
		reqs[i] = start_dynamic("/d", NULL);
	rec_ignore_signal(&R, "/d/1", SIGTERM);
	rec_ignore_signal(&R, "/d/3", SIGTERM);
	rec_clear(&R);
	core_shutdown(R.core, 0);
	LOG_EQ("child_stopping /d/1 SIGTERM\nsignal /d/1 SIGTERM\nchild_stopping /d/2 "
	       "SIGTERM\nsignal /d/2 SIGTERM\n"
	       "child_stopping /d/3 SIGTERM\nsignal /d/3 SIGTERM");
	cr_assert(eq(sz, R.ntimers, 1), "one deadline for the whole supervisor");
	rec_exit_signalled(&R); /* /d/2 goes; /d/1 and /d/3 ignore SIGTERM */
	LOG_HAS("child_exited /d/2 shutdown SIGTERM");
	rec_advance(&R, 5000);
	LOG_HAS("shutdown_timeout /d/1\nsignal /d/1 SIGKILL\nshutdown_timeout /d/3\n"
		"signal /d/3 SIGKILL");
	cr_assert(eq(sz, rec_log_count(&R, "child_stopping /d/1 SIGKILL"), 0));
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /d/3 killed SIGKILL\nsupervisor_stopped /d shutdown\n"
		"supervisor_stopped / normal\nstopped 0");
	for (int i = 0; i < 3; i++)
		free(reqs[i]);
}

Test(core, dynamic_supervisor_that_gives_up_comes_back_empty)
{
	struct child_spec *d = dyn_spec("d", RESTART_PERMANENT, 5000);
	d->sup.max_restarts = 0;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, d, NULL));
	struct treq *a = start_dynamic("/d", NULL), *b = start_dynamic("/d", NULL);
	rec_exit(&R, "/d/1", 1);
	rec_exit_signalled(&R);
	LOG_HAS("restart_limit /d\nchild_stopping /d/2 SIGTERM\nsupervisor_stopped /d shutdown\n"
		"supervisor_started /d");
	STATE("/d", "running");
	cr_assert(eq(sz, rec_find(&R, "/d")->sup->nchildren, 0));
	struct treq *c = start_dynamic("/d", NULL);
	/* Empty, but numbers are still never reused: a stale /d/1 must not
	 * name a new child. */
	cr_assert(eq(str, c->req.child_id, "3"));
	free(a), free(b), free(c);
}

Test(core, dynamic_numbers_survive_a_restart_of_a_supervisor_above)
{
	struct child_spec *s =
		sup_spec("s", STRATEGY_ONE_FOR_ONE, dyn_spec("d", RESTART_PERMANENT, 100),
			 w_spec("w", RESTART_PERMANENT), NULL);
	s->sup.max_restarts = 0;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, s, NULL));
	struct treq *a = start_dynamic("/s/d", NULL), *b = start_dynamic("/s/d", NULL);
	rec_exit(&R, "/s/w", 1); /* /s gives up; the root restarts it, /s/d built anew */
	rec_exit_signalled(&R);
	LOG_HAS("restart_limit /s\nsupervisor_stopped /s shutdown\nsupervisor_started /s\n"
		"supervisor_started /s/d");
	struct treq *c = start_dynamic("/s/d", NULL);
	cr_assert(eq(str, c->req.child_id, "3"));
	free(a), free(b), free(c);
}

Test(core, already_started_names_the_id)
{
	rec_init(&R, dyn_root(RESTART_PERMANENT, SPEC_UNLIMITED));
	struct treq *a = start_dynamic("/d", "k"), *b = start_dynamic("/d", "k");
	cr_assert(eq(int, b->req.error, CORE_E_ALREADY_STARTED));
	cr_assert(eq(str, b->req.child_id, "k"));
	free(a), free(b);
}

Test(core, requests_to_a_stopping_supervisor_are_refused)
{
	rec_init(&R, dyn_root(RESTART_PERMANENT, SPEC_UNLIMITED));
	struct treq *a = start_dynamic("/d", NULL);
	core_shutdown(R.core, 0);
	struct treq *b = start_dynamic("/d", NULL);
	cr_assert(b->done);
	cr_assert(eq(int, b->req.error, CORE_E_SHUTDOWN));
	rec_exit_signalled(&R);
	free(a), free(b);
}

Test(core, nothing_leaks_and_every_child_is_freed)
{
	rec_init(&R, dyn_root(RESTART_TEMPORARY, SPEC_UNLIMITED));
	struct treq *reqs[10];
	for (int i = 0; i < 10; i++)
		reqs[i] = start_dynamic("/d", NULL);
	for (int i = 1; i <= 5; i++) {
		char path[16];
		snprintf(path, sizeof(path), "/d/%d", i);
		rec_exit(&R, path, 0);
	}
	cr_assert(eq(sz, R.freed, 5));
	core_shutdown(R.core, 0);
	rec_exit_signalled(&R);
	cr_assert(eq(sz, R.freed, 11), "ten children and the dynamic supervisor node");
	for (int i = 0; i < 10; i++)
		free(reqs[i]);
}

/* ---- an exit queued behind a request (OTP: the EXIT is still in the mailbox) ---- */

/* The root is busy restarting /a (a notify worker that has not said READY=1)
 * while a request about /b arrives, and then /b exits: its exit waits in the
 * mailbox behind the request. max_restarts 1: /a's restart is the only
 * restart the window allows. */
static struct treq *
request_then_queued_exit(enum core_op op)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	struct treq *t;

	a->worker.ready = READY_NOTIFY;
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 1, 5, a, w_spec("b", RESTART_PERMANENT), NULL));
	core_child_ready(R.core, rec_find(&R, "/a"), 0);
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	t = submit(op, "/", "b");
	cr_assert(not(t->done), "the root is busy: the request waits");
	rec_exit(&R, "/b", 1);
	core_child_ready(R.core, rec_find(&R, "/a"), 0);
	cr_assert(t->done);
	return t;
}

Test(core, terminate_child_flushes_an_exit_queued_behind_it)
{
	struct treq *t = request_then_queued_exit(OP_TERMINATE_CHILD);

	cr_assert(eq(int, t->req.error, CORE_OK));
	/* OTP's shutdown/1 consumes the EXIT: no restart, nothing counted */
	LOG_EQ("child_exited /a crash 1\nchild_exited /b crash 1\nchild_started /a");
	STATE("/b", "stopped");
	cr_assert(eq(u32, rec_find(&R, "/b")->restarts, 0));
	cr_assert(not(R.stopped));
	free(t);
}

Test(core, delete_child_of_a_child_whose_crash_is_queued_answers_running)
{
	struct treq *t = request_then_queued_exit(OP_DELETE_CHILD);

	cr_assert(eq(int, t->req.error, CORE_E_RUNNING));
	/* the crash is then handled: a restart, the second in the window */
	LOG_EQ("child_exited /a crash 1\nchild_exited /b crash 1\nchild_started /a\n"
	       "restart_limit /\nchild_stopping /a SIGTERM\nsignal /a SIGTERM");
	STATE("/b", "stopped"); /* still there: it was never deleted */
	free(t);
}

Test(core, restart_child_of_a_child_whose_crash_is_queued_answers_running)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	struct treq *t;

	a->worker.ready = READY_NOTIFY;
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 5, 5, a, w_spec("b", RESTART_PERMANENT), NULL));
	core_child_ready(R.core, rec_find(&R, "/a"), 0);
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	t = submit(OP_RESTART_CHILD, "/", "b");
	rec_exit(&R, "/b", 1);
	core_child_ready(R.core, rec_find(&R, "/a"), 0);
	cr_assert(t->done);
	cr_assert(eq(int, t->req.error, CORE_E_RUNNING));
	LOG_EQ("child_exited /a crash 1\nchild_exited /b crash 1\nchild_started /a\n"
	       "child_started /b");
	cr_assert(eq(u32, rec_find(&R, "/b")->restarts, 1), "restarted once, by its crash");
	free(t);
}

/* ---- a deadline that cannot be armed ---- */

Test(core, a_shutdown_deadline_that_cannot_be_armed_escalates_at_once)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	a->shutdown_ms = 500;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, a, NULL));
	rec_ignore_signal(&R, "/a", SIGTERM);
	rec_clear(&R);
	R.fail_timer_arms = 1;
	core_shutdown(R.core, 0);
	LOG_EQ("child_stopping /a SIGTERM\nsignal /a SIGTERM\ntimer_arm_failed\n"
	       "shutdown_timeout /a\nsignal /a SIGKILL");
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /a killed SIGKILL\nsupervisor_stopped / normal\nstopped 0");
}

Test(core, a_start_timeout_that_cannot_be_armed_fails_the_start)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	struct child_spec *root;

	a->worker.ready = READY_NOTIFY;
	root = root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, a, NULL);
	memset(&R, 0, sizeof(R));
	R.next_pid = 1000;
	R.fail_timer_arms = 1;
	R.core = core_new(root, &recorder_effects, &R);
	core_start(R.core, 0);
	LOG_EQ("supervisor_started /\ntimer_arm_failed\nchild_start_failed /a timer_failed\n"
	       "child_stopping /a SIGKILL\nsignal /a SIGKILL");
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /a killed SIGKILL\nsupervisor_stopped / shutdown\nstopped 1");
}

Test(core, a_nested_supervisor_deadline_that_cannot_be_armed_kills_its_subtree)
{
	struct child_spec *s =
		sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("x", RESTART_PERMANENT), NULL);
	s->shutdown_ms = 1000;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, s, NULL));
	rec_clear(&R);
	R.fail_timer_arms = 1;
	core_shutdown(R.core, 0);
	LOG_HAS("timer_arm_failed\nshutdown_timeout /s\nchild_stopping /s/x SIGKILL\n"
		"signal /s/x SIGKILL");
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /s/x killed SIGKILL\nsupervisor_stopped /s shutdown\n"
		"supervisor_stopped / normal\nstopped 0");
}

Test(core, a_dynamic_shutdown_deadline_that_cannot_be_armed_kills_at_once)
{
	rec_init(&R, dyn_root(RESTART_PERMANENT, SPEC_UNLIMITED));
	struct treq *a = start_dynamic("/d", NULL);
	rec_ignore_signal(&R, "/d/1", SIGTERM);
	rec_clear(&R);
	R.fail_timer_arms = 1;
	core_shutdown(R.core, 0);
	LOG_EQ("child_stopping /d/1 SIGTERM\nsignal /d/1 SIGTERM\ntimer_arm_failed\n"
	       "shutdown_timeout /d/1\nsignal /d/1 SIGKILL");
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /d/1 killed SIGKILL\nsupervisor_stopped /d shutdown\nstopped 0");
	free(a);
}

/* ---- paths of a maximal tree: nothing truncated ---- */

/* An id of `len` characters, all `ch`. */
static char *
long_id(char ch, size_t len)
{
	char *id = malloc(len + 1);

	memset(id, ch, len);
	id[len] = '\0';
	return id;
}

/* The root, `levels` nested supervisors below it (ids of id_len
 * characters, the last one's of last_len) holding `leaf`; fills `path`
 * with the innermost supervisor's path. */
static struct child_spec *
deep_tree(int levels, size_t id_len, size_t last_len, struct child_spec *leaf,
	  struct child_spec *leaf2, char *path)
{
	struct child_spec *inner = NULL;

	path[0] = '\0';
	for (int i = levels; i >= 1; i--) {
		char *id = long_id((char)('a' + i % 26), i == levels ? last_len : id_len);
		inner = i == levels ? sup_spec(id, STRATEGY_ONE_FOR_ONE, leaf, leaf2, NULL)
				    : sup_spec(id, STRATEGY_ONE_FOR_ONE, inner, NULL);
		free(id);
	}
	for (int i = 1; i <= levels; i++) {
		char *id = long_id((char)('a' + i % 26), i == levels ? last_len : id_len);
		strcat(path, "/");
		strcat(path, id);
		free(id);
	}
	return root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, inner, NULL);
}

Test(core, a_maximal_tree_names_its_deepest_worker_exactly)
{
	static char sup[CHILD_PATH_MAX], worker[CHILD_PATH_MAX + 80], line[2 * CHILD_PATH_MAX];
	char *wid = long_id('w', SPEC_ID_MAX);
	struct child_spec *root = deep_tree(SPEC_MAX_DEPTH - 1, SPEC_ID_MAX, SPEC_ID_MAX,
					    w_spec(wid, RESTART_PERMANENT), NULL, sup);

	snprintf(worker, sizeof(worker), "%s/%s", sup, wid);
	cr_assert(eq(sz, strlen(worker), (size_t)CHILD_PATH_MAX - 1), "the longest valid path");
	rec_init(&R, root);
	snprintf(line, sizeof(line), "child_started %s", worker);
	cr_assert(eq(sz, rec_log_count(&R, line), 1), "the event names the real worker");
	cr_assert(ne(ptr, rec_find(&R, worker), NULL));
	struct treq *t = submit(OP_TERMINATE_CHILD, sup, wid);
	rec_exit_signalled(&R);
	cr_assert(t->done);
	cr_assert(eq(int, t->req.error, CORE_OK), "terminate_child finds the deepest worker");
	STATE(worker, "stopped");
	free(wid);
	free(t);
}

Test(core, a_lookup_near_the_depth_limit_never_selects_a_sibling)
{
	static char sup[CHILD_PATH_MAX], path[CHILD_PATH_MAX + 8];
	/* 62 ids of 64 and one of 62: the innermost supervisor's path is
	 * 4,093 bytes, so "/ab" below it passes 4,096. */
	struct child_spec *root =
		deep_tree(SPEC_MAX_DEPTH - 1, SPEC_ID_MAX, SPEC_ID_MAX - 2,
			  w_spec("a", RESTART_PERMANENT), w_spec("ab", RESTART_PERMANENT), sup);

	cr_assert(eq(sz, strlen(sup), 4093));
	rec_init(&R, root);
	struct treq *t = submit(OP_TERMINATE_CHILD, sup, "ab");
	rec_exit_signalled(&R);
	cr_assert(t->done && t->req.error == CORE_OK);
	snprintf(path, sizeof(path), "%s/ab", sup);
	STATE(path, "stopped");
	snprintf(path, sizeof(path), "%s/a", sup);
	STATE(path, "running");
	free(t);
}

/* ---- a stopped static supervisor still has its spec's children ---- */

Test(core, a_stopped_static_supervisor_keeps_its_spec_children_stopped)
{
	struct child_spec *s = sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("x", RESTART_PERMANENT),
					w_spec("y", RESTART_TEMPORARY), NULL);
	s->restart = RESTART_TRANSIENT;
	s->sup.max_restarts = 0;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, s, NULL));
	/* at runtime: one child added, the temporary one gone */
	struct treq *add = calloc(1, sizeof(*add));
	add->req.op = OP_START_CHILD;
	add->req.target = rec_find(&R, "/s");
	add->req.spec = w_spec("z", RESTART_PERMANENT);
	add->req.done = treq_done;
	core_submit(R.core, &add->req, 0);
	cr_assert(eq(int, add->req.error, CORE_OK));
	rec_exit(&R, "/s/y", 0);
	STATE("/s/y", "absent");
	rec_exit(&R, "/s/x", 1); /* /s gives up; transient: it stays down */
	rec_exit_signalled(&R);
	STATE("/s", "stopped");
	/* what a start would run: the spec's children, stopped */
	STATE("/s/x", "stopped");
	STATE("/s/y", "stopped");
	STATE("/s/z", "absent");
	cr_assert(eq(sz, rec_find(&R, "/s")->sup->nchildren, 2));
	rec_clear(&R);
	struct treq *r = submit(OP_RESTART_CHILD, "/", "s");
	cr_assert(eq(int, r->req.error, CORE_OK));
	LOG_EQ("supervisor_started /s\nchild_started /s/x\nchild_started /s/y");
	free(add);
	free(r);
}

Test(core, a_static_supervisor_never_started_shows_its_children)
{
	struct child_spec *root = root_spec(
		STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT),
		sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("x", RESTART_PERMANENT), NULL), NULL);
	memset(&R, 0, sizeof(R));
	R.next_pid = 1000;
	rec_fail_spawn(&R, "/a", -1, "exec:ENOENT");
	R.core = core_new(root, &recorder_effects, &R);
	STATE("/s/x", "stopped"); /* built with the tree, before anything starts */
	core_start(R.core, 0);
	cr_assert(R.stopped);
}
