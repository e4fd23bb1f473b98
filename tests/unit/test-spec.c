/*
 * test-spec.c - child spec defaults, copies, ids and names.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "spec.h"

Test(spec, worker_defaults_follow_the_spec)
{
	struct child_spec *s = spec_new(NODE_WORKER);

	cr_assert(eq(int, s->restart, RESTART_PERMANENT));
	cr_assert(eq(i64, s->shutdown_ms, 5000));
	cr_assert(eq(int, s->worker.stop_signal, SIGTERM));
	cr_assert(s->worker.kill_group);
	cr_assert(exit_set_has_code(&s->worker.normal_exit, 0));
	cr_assert(not(exit_set_has_code(&s->worker.normal_exit, 1)));
	cr_assert(eq(int, s->worker.ready, READY_NONE));
	cr_assert(eq(i64, s->worker.start_timeout_ms, 5000));
	spec_free(s);
}

Test(spec, supervisor_defaults_follow_elixir)
{
	struct child_spec *s = spec_new(NODE_SUPERVISOR);

	cr_assert(eq(u32, s->sup.max_restarts, 3));
	cr_assert(eq(u32, s->sup.max_seconds, 5));
	cr_assert(eq(i64, s->shutdown_ms, SHUTDOWN_INFINITY));
	cr_assert(eq(int, s->sup.strategy, STRATEGY_ONE_FOR_ONE));
	cr_assert(eq(int, s->sup.auto_shutdown, AUTO_SHUTDOWN_NEVER));
	spec_free(s);
}

Test(spec, ids)
{
	cr_assert(spec_id_valid("a"));
	cr_assert(spec_id_valid("web-1.db_x"));
	cr_assert(not(spec_id_valid("")));
	cr_assert(not(spec_id_valid(".")));
	cr_assert(not(spec_id_valid("..")));
	cr_assert(spec_id_valid("..."));
	cr_assert(not(spec_id_valid("a/b")));
	cr_assert(not(spec_id_valid("a b")));
	cr_assert(not(spec_id_valid("\"")));
	char long_id[66];
	memset(long_id, 'x', 65);
	long_id[65] = '\0';
	cr_assert(not(spec_id_valid(long_id)));
	long_id[64] = '\0';
	cr_assert(spec_id_valid(long_id));
}

Test(spec, clone_is_deep)
{
	struct child_spec *s = spec_new(NODE_WORKER);
	s->id = strdup("w");
	s->worker.argc = 2;
	s->worker.argv = calloc(3, sizeof(char *));
	s->worker.argv[0] = strdup("/bin/echo");
	s->worker.argv[1] = strdup("hi");
	s->worker.cwd = strdup("/tmp");
	struct child_spec *c = spec_clone(s);
	cr_assert(ne(ptr, c->worker.argv, s->worker.argv));
	cr_assert(eq(str, c->worker.argv[1], "hi"));
	cr_assert(eq(ptr, c->worker.argv[2], NULL));
	cr_assert(eq(str, c->worker.cwd, "/tmp"));
	cr_assert(eq(str, c->id, "w"));
	spec_free(s);
	cr_assert(eq(str, c->worker.argv[0], "/bin/echo"));
	spec_free(c);
}

Test(spec, signal_names_round_trip)
{
	cr_assert(eq(int, signal_from_name("SIGTERM"), SIGTERM));
	cr_assert(eq(int, signal_from_name("usr1"), SIGUSR1));
	cr_assert(eq(int, signal_from_name("SIGNOPE"), 0));
	cr_assert(eq(str, (char *)signal_name(SIGKILL), "SIGKILL"));
	cr_assert(eq(str, (char *)signal_name(SIGRTMIN + 1), "SIGRTMIN+1"));
}

Test(spec, exit_sets)
{
	struct exit_set set = {0};
	exit_set_add_code(&set, 255);
	exit_set_add_signal(&set, SIGHUP);
	exit_set_add_code(&set, 256);
	cr_assert(exit_set_has_code(&set, 255));
	cr_assert(not(exit_set_has_code(&set, 254)));
	cr_assert(exit_set_has_signal(&set, SIGHUP));
	cr_assert(not(exit_set_has_signal(&set, SIGTERM)));
	cr_assert(not(exit_set_has_code(&set, -1)));
}
