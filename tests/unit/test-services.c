/*
 * test-services.c - the core's rules for real services (SPEC 7.2-7.4),
 * without processes: restart backoff with the explicit clock, `ready: exit`
 * jobs as OTP's `ignore`, and health-check failures as crashes.
 *
 * Like test-supervisor.c, the core runs against the recorder and each test
 * asserts the exact order of what it did.
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

TestSuite(services, .fini = teardown);

#define LOG_HAS(seq)                                                                               \
	cr_assert(rec_log_has_sequence(&R, seq), "expected in order:\n%s\n--- log:\n%s", seq,      \
		  rec_log(&R))
#define LOG_EQ(text)                                                                               \
	cr_assert(eq(str, (char *)rec_log(&R), (char *)(text)), "--- log:\n%s", rec_log(&R))
#define STATE(path, st)                                                                            \
	cr_assert(eq(str, (char *)rec_state(&R, path), (char *)(st)), "state of %s", path)

struct treq {
	struct core_request req;
	bool done;
};

static void
treq_done(struct core_request *req)
{
	((struct treq *)req)->done = true;
}

static struct child_spec *
backoff(struct child_spec *s, int64_t min, int64_t max, int64_t reset_after)
{
	s->backoff.min_ms = min;
	s->backoff.max_ms = max;
	s->backoff.reset_after_ms = reset_after;
	return s;
}

static struct child_spec *
job(const char *id, enum restart_type restart)
{
	struct child_spec *s = w_spec(id, restart);

	s->worker.ready = READY_EXIT;
	return s;
}

/* ---- backoff ---- */

Test(services, backoff_doubles_up_to_max_and_resets_after_a_long_run)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 100, 5,
			       backoff(w_spec("a", RESTART_PERMANENT), 100, 400, 1000), NULL));
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	LOG_EQ("child_exited /a crash 1\nrestart_delayed /a 100");
	STATE("/a", "restarting");
	cr_assert(eq(u64, rec_find(&R, "/a")->next_start_ms, 100));
	rec_advance(&R, 99);
	STATE("/a", "restarting");
	rec_advance(&R, 100);
	STATE("/a", "running");
	rec_exit(&R, "/a", 1);
	rec_advance(&R, 300);
	rec_exit(&R, "/a", 1);
	rec_advance(&R, 700);
	rec_exit(&R, "/a", 1);
	rec_advance(&R, 1100);
	LOG_EQ("child_exited /a crash 1\nrestart_delayed /a 100\nchild_started /a\n"
	       "child_exited /a crash 1\nrestart_delayed /a 200\nchild_started /a\n"
	       "child_exited /a crash 1\nrestart_delayed /a 400\nchild_started /a\n"
	       "child_exited /a crash 1\nrestart_delayed /a 400\nchild_started /a");
	/* a run of reset_after since the last start: back to min */
	rec_clear(&R);
	rec_advance(&R, 2100);
	rec_exit(&R, "/a", 1);
	LOG_EQ("child_exited /a crash 1\nrestart_delayed /a 100");
}

Test(services, a_run_shorter_than_reset_after_keeps_doubling)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 100, 5,
			       backoff(w_spec("a", RESTART_PERMANENT), 100, 10000, 1000), NULL));
	rec_exit(&R, "/a", 1);
	rec_advance(&R, 100);
	rec_advance(&R, 1099); /* ran 999 ms */
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	LOG_EQ("child_exited /a crash 1\nrestart_delayed /a 200");
}

Test(services, intensity_is_counted_when_the_exit_is_handled_not_when_the_start_happens)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 1, 5,
			       backoff(w_spec("a", RESTART_PERMANENT), 1000, 4000, 60000), NULL));
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	rec_advance(&R, 1000);
	/* the second decision is the second record within 5 s: give up now,
	 * without waiting for the delay */
	rec_exit(&R, "/a", 1);
	LOG_EQ("child_exited /a crash 1\nrestart_delayed /a 1000\nchild_started /a\n"
	       "child_exited /a crash 1\nrestart_limit /\nsupervisor_stopped / shutdown\n"
	       "stopped 1");
}

Test(services, the_delay_spreads_restarts_out_of_the_intensity_window)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 2, 1,
			       backoff(w_spec("a", RESTART_PERMANENT), 1000, 1000, 60000), NULL));
	for (uint64_t t = 0; t < 10000; t += 1000) {
		rec_advance(&R, t);
		rec_exit(&R, "/a", 1);
	}
	cr_assert(not(R.stopped), "%s", rec_log(&R));
	cr_assert(eq(sz, rec_log_count(&R, "restart_delayed /a 1000"), 10));
}

Test(services, without_backoff_nothing_waits)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	LOG_EQ("child_exited /a crash 1\nchild_started /a");
	cr_assert(eq(sz, R.ntimers, 0));
}

Test(services, one_for_all_terminates_the_group_at_once_then_waits_the_delay_of_the_exited_child)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ALL, 10, 5, w_spec("a", RESTART_PERMANENT),
			       backoff(w_spec("b", RESTART_PERMANENT), 500, 1000, 60000),
			       backoff(w_spec("c", RESTART_PERMANENT), 50, 1000, 60000), NULL));
	rec_clear(&R);
	rec_exit(&R, "/b", 1);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /b crash 1\n"
	       "child_stopping /c SIGTERM\nsignal /c SIGTERM\nchild_exited /c shutdown SIGTERM\n"
	       "child_stopping /a SIGTERM\nsignal /a SIGTERM\nchild_exited /a shutdown SIGTERM\n"
	       "restart_delayed /b 500");
	STATE("/a", "stopped");
	STATE("/b", "restarting");
	STATE("/c", "stopped");
	rec_advance(&R, 499);
	STATE("/a", "stopped");
	rec_advance(&R, 500);
	LOG_HAS("restart_delayed /b 500\nchild_started /a\nchild_started /b\nchild_started /c");
	/* a bystander's exit has no delay of its own: a at once */
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /a crash 1\n"
	       "child_stopping /c SIGTERM\nsignal /c SIGTERM\nchild_exited /c shutdown SIGTERM\n"
	       "child_stopping /b SIGTERM\nsignal /b SIGTERM\nchild_exited /b shutdown SIGTERM\n"
	       "child_started /a\nchild_started /b\nchild_started /c");
}

Test(services, rest_for_one_waits_then_starts_from_the_exited_child)
{
	rec_init(&R, root_spec(STRATEGY_REST_FOR_ONE, 10, 5, w_spec("a", RESTART_PERMANENT),
			       backoff(w_spec("b", RESTART_PERMANENT), 200, 1000, 60000),
			       w_spec("c", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	rec_exit(&R, "/b", 1);
	rec_exit_signalled(&R);
	STATE("/a", "running");
	STATE("/b", "restarting");
	rec_advance(&R, 200);
	LOG_EQ("child_exited /b crash 1\n"
	       "child_stopping /c SIGTERM\nsignal /c SIGTERM\nchild_exited /c shutdown SIGTERM\n"
	       "restart_delayed /b 200\nchild_started /b\nchild_started /c");
}

Test(services, other_children_are_served_while_one_waits)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 10, 5,
			       backoff(w_spec("a", RESTART_PERMANENT), 1000, 1000, 60000),
			       w_spec("b", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	rec_advance(&R, 10);
	rec_exit(&R, "/b", 1);
	LOG_EQ("child_exited /a crash 1\nrestart_delayed /a 1000\n"
	       "child_exited /b crash 1\nchild_started /b");
	rec_advance(&R, 1000);
	STATE("/a", "running");
}

Test(services, a_failed_restart_waits_the_next_delay_and_every_retry_counts)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 60,
			       backoff(w_spec("a", RESTART_PERMANENT), 100, 1000, 60000), NULL));
	rec_fail_spawn(&R, "/a", -1, "exec:ENOENT");
	rec_clear(&R);
	rec_exit(&R, "/a", 1);
	for (uint64_t t = 100; t <= 2000; t += 100) {
		rec_advance(&R, t);
		rec_run(&R);
	}
	LOG_EQ("child_exited /a crash 1\nrestart_delayed /a 100\n"
	       "child_start_failed /a exec:ENOENT\nrestart_delayed /a 200\n"
	       "child_start_failed /a exec:ENOENT\nrestart_delayed /a 400\n"
	       "child_start_failed /a exec:ENOENT\n"
	       "restart_limit /\nsupervisor_stopped / shutdown\nstopped 1");
}

Test(services, terminate_child_during_the_wait_cancels_the_start_and_replies_ok)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 10, 5,
			       backoff(w_spec("a", RESTART_PERMANENT), 100, 1000, 60000), NULL));
	rec_exit(&R, "/a", 1);
	rec_clear(&R);
	struct treq t = {.req = {.op = OP_TERMINATE_CHILD,
				 .target = rec_find(&R, "/"),
				 .id = "a",
				 .done = treq_done}};
	core_submit(R.core, &t.req, R.now);
	cr_assert(t.done);
	cr_assert(eq(int, t.req.error, CORE_OK));
	STATE("/a", "stopped");
	rec_advance(&R, 5000);
	rec_run(&R);
	LOG_EQ("");
	cr_assert(eq(sz, R.ntimers, 0));
}

Test(services, restart_child_during_the_wait_answers_restarting)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 10, 5,
			       backoff(w_spec("a", RESTART_PERMANENT), 100, 1000, 60000), NULL));
	rec_exit(&R, "/a", 1);
	struct treq t = {.req = {.op = OP_RESTART_CHILD,
				 .target = rec_find(&R, "/"),
				 .id = "a",
				 .done = treq_done}};
	core_submit(R.core, &t.req, R.now);
	cr_assert(eq(int, t.req.error, CORE_E_RESTARTING));
}

Test(services, stopping_the_tree_cancels_every_pending_start)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 10, 5,
			       backoff(w_spec("a", RESTART_PERMANENT), 100, 1000, 60000),
			       sup_spec("s", STRATEGY_ONE_FOR_ONE,
					backoff(w_spec("b", RESTART_PERMANENT), 100, 1000, 60000),
					NULL),
			       NULL));
	rec_exit(&R, "/a", 1);
	rec_exit(&R, "/s/b", 1);
	STATE("/a", "restarting");
	STATE("/s/b", "restarting");
	rec_clear(&R);
	core_shutdown(R.core, R.now);
	LOG_EQ("supervisor_stopped /s shutdown\nsupervisor_stopped / normal\nstopped 0");
	cr_assert(eq(sz, R.ntimers, 0));
}

Test(services, a_supervisor_child_with_backoff_waits_before_it_starts_again)
{
	struct child_spec *s =
		sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("b", RESTART_PERMANENT), NULL);
	s->sup.max_restarts = 0;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 10, 5, backoff(s, 300, 1000, 60000), NULL));
	rec_clear(&R);
	rec_exit(&R, "/s/b", 1);
	LOG_EQ("child_exited /s/b crash 1\nrestart_limit /s\nsupervisor_stopped /s shutdown\n"
	       "restart_delayed /s 300");
	STATE("/s", "restarting");
	rec_advance(&R, 300);
	LOG_HAS("restart_delayed /s 300\nsupervisor_started /s\nchild_started /s/b");
}

Test(services, a_new_group_restart_during_the_wait_takes_over_the_pending_start)
{
	rec_init(&R, root_spec(STRATEGY_REST_FOR_ONE, 10, 5,
			       backoff(w_spec("a", RESTART_PERMANENT), 1000, 1000, 60000),
			       backoff(w_spec("b", RESTART_PERMANENT), 100, 1000, 60000), NULL));
	rec_clear(&R);
	rec_exit(&R, "/b", 1); /* b waits 100 */
	rec_exit(&R, "/a", 1); /* a's group includes b: one start of both, after 1000 */
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /b crash 1\nrestart_delayed /b 100\n"
	       "child_exited /a crash 1\nrestart_delayed /a 1000");
	STATE("/b", "stopped");
	rec_advance(&R, 1000);
	LOG_HAS("restart_delayed /a 1000\nchild_started /a\nchild_started /b");
	cr_assert(eq(sz, rec_log_count(&R, "child_started /b"), 1));
}

/* ---- ready: exit ---- */

Test(services, a_job_counts_as_started_when_it_exits_normally_and_is_kept_not_running)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("db", RESTART_PERMANENT),
			       job("migrate", RESTART_TRANSIENT), w_spec("app", RESTART_PERMANENT),
			       NULL));
	STATE("/migrate", "starting");
	STATE("/app", "stopped");
	cr_assert(not(R.tree_started));
	rec_exit(&R, "/migrate", 0);
	LOG_EQ("supervisor_started /\nchild_started /db\nchild_exited /migrate normal 0\n"
	       "child_started /app");
	STATE("/migrate", "stopped");
	cr_assert(eq(int, rec_pid(&R, "/migrate"), 0));
	cr_assert(R.tree_started);
}

Test(services, a_job_that_fails_is_a_failed_start)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("db", RESTART_PERMANENT),
			       job("migrate", RESTART_TRANSIENT), w_spec("app", RESTART_PERMANENT),
			       NULL));
	rec_exit(&R, "/migrate", 3);
	LOG_EQ("supervisor_started /\nchild_started /db\nchild_exited /migrate crash 3\n"
	       "child_start_failed /migrate exit:3\n"
	       "child_stopping /db SIGTERM\nsignal /db SIGTERM");
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /db shutdown SIGTERM\nsupervisor_stopped / shutdown\nstopped 1");
}

Test(services, a_job_killed_by_a_signal_fails_with_the_signal_name)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, job("migrate", RESTART_TRANSIENT), NULL));
	rec_signal_exit(&R, "/migrate", SIGSEGV);
	LOG_HAS("child_start_failed /migrate signal:SIGSEGV\nstopped 1");
}

Test(services, a_job_that_outlives_start_timeout_is_killed_and_fails)
{
	struct child_spec *j = job("migrate", RESTART_TRANSIENT);
	j->worker.start_timeout_ms = 2000;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, j, NULL));
	rec_advance(&R, 2000);
	LOG_HAS("child_start_failed /migrate ready_timeout\nchild_stopping /migrate SIGKILL");
	rec_exit_signalled(&R);
	LOG_HAS("child_exited /migrate killed SIGKILL\nstopped 1");
}

Test(services, a_group_restart_runs_the_job_again_before_the_children_after_it)
{
	rec_init(&R, root_spec(STRATEGY_REST_FOR_ONE, 3, 5, w_spec("db", RESTART_PERMANENT),
			       job("migrate", RESTART_TRANSIENT), w_spec("app", RESTART_PERMANENT),
			       NULL));
	rec_exit(&R, "/migrate", 0);
	rec_clear(&R);
	rec_exit(&R, "/db", 1);
	rec_exit_signalled(&R);
	LOG_EQ("child_exited /db crash 1\n"
	       "child_stopping /app SIGTERM\nsignal /app SIGTERM\nchild_exited /app shutdown "
	       "SIGTERM\n"
	       "child_started /db");
	STATE("/migrate", "starting");
	STATE("/app", "stopped");
	rec_exit(&R, "/migrate", 0);
	LOG_HAS("child_started /db\nchild_exited /migrate normal 0\nchild_started /app");
	/* the app after it restarts alone; the job stays done */
	rec_clear(&R);
	rec_exit(&R, "/app", 1);
	LOG_EQ("child_exited /app crash 1\nchild_started /app");
}

Test(services, a_job_that_fails_in_a_group_restart_is_retried)
{
	rec_init(&R, root_spec(STRATEGY_REST_FOR_ONE, 5, 5, w_spec("db", RESTART_PERMANENT),
			       job("migrate", RESTART_TRANSIENT), NULL));
	rec_exit(&R, "/migrate", 0);
	rec_exit(&R, "/db", 1);
	rec_clear(&R);
	rec_exit(&R, "/migrate", 1);
	LOG_EQ("child_exited /migrate crash 1\nchild_start_failed /migrate exit:1");
	STATE("/migrate", "restarting");
	rec_run(&R);
	STATE("/migrate", "starting");
	rec_exit(&R, "/migrate", 0);
	STATE("/migrate", "stopped");
	STATE("/db", "running");
}

Test(services, restart_child_runs_a_job_again_and_replies_ok)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, job("migrate", RESTART_TRANSIENT), NULL));
	rec_exit(&R, "/migrate", 0);
	struct treq t = {.req = {.op = OP_RESTART_CHILD,
				 .target = rec_find(&R, "/"),
				 .id = "migrate",
				 .done = treq_done}};
	core_submit(R.core, &t.req, R.now);
	cr_assert(not(t.done));
	STATE("/migrate", "starting");
	rec_exit(&R, "/migrate", 0);
	cr_assert(t.done);
	cr_assert(eq(int, t.req.error, CORE_OK));
}

Test(services, ready_notify_does_not_start_a_job)
{
	rec_init(&R,
		 root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, job("migrate", RESTART_TRANSIENT), NULL));
	core_child_ready(R.core, rec_find(&R, "/migrate"), 1);
	STATE("/migrate", "starting");
}

/* ---- health ---- */

Test(services, an_unhealthy_worker_is_killed_and_its_exit_is_a_crash)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ALL, 3, 5, w_spec("a", RESTART_TRANSIENT),
			       w_spec("b", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	core_child_unhealthy(R.core, rec_find(&R, "/a"), "no answer", 0);
	/* a second report while it dies changes nothing */
	core_child_unhealthy(R.core, rec_find(&R, "/a"), "no answer", 0);
	rec_signal_exit(&R, "/a", SIGKILL);
	rec_exit_signalled(&R);
	LOG_EQ("child_unhealthy /a no answer\nsignal /a SIGKILL\nchild_exited /a unhealthy "
	       "SIGKILL\n"
	       "child_stopping /b SIGTERM\nsignal /b SIGTERM\nchild_exited /b shutdown SIGTERM\n"
	       "child_started /a\nchild_started /b");
}

Test(services, unhealthy_counts_toward_intensity)
{
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 0, 5, w_spec("a", RESTART_PERMANENT), NULL));
	rec_clear(&R);
	core_child_unhealthy(R.core, rec_find(&R, "/a"), "", 0);
	rec_signal_exit(&R, "/a", SIGKILL);
	LOG_HAS("child_exited /a unhealthy SIGKILL\nrestart_limit /\nstopped 1");
}

Test(services, health_reports_are_ignored_unless_the_worker_is_running)
{
	struct child_spec *a = w_spec("a", RESTART_PERMANENT);
	a->worker.ready = READY_TCP;
	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, a, NULL));
	rec_clear(&R);
	core_child_unhealthy(R.core, rec_find(&R, "/a"), "", 0);
	LOG_EQ("");
	core_child_ready(R.core, rec_find(&R, "/a"), 1);
	core_shutdown(R.core, 2);
	core_child_unhealthy(R.core, rec_find(&R, "/a"), "", 2);
	LOG_EQ("child_started /a\nchild_stopping /a SIGTERM\nsignal /a SIGTERM");
}
