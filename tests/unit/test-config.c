/*
 * test-config.c - the config loader (config.c) against SPEC section 3.
 *
 * Every default, every accepted form, and every error with its exact
 * message and position. Most documents are inline, one YAML line per C
 * line, so that "t.yaml:LINE:COL" can be checked by eye; a few come from
 * tests/fixtures/config and examples/.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"
#include "grammar.h"
#include "spec.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#endif

#define NAME     "t.yaml"
#define FIXTURES SUPD_SOURCE_DIR "/tests/fixtures/config/"
#define EXAMPLES SUPD_SOURCE_DIR "/examples/"

/* Most tests check the text only (host NULL: no user, program or directory
 * is looked up); those about the machine use spec_host_system. */
static struct config *
load_with(const struct spec_host *host, const char *yaml)
{
	char err[4096] = "";
	struct config *cfg = NULL;
	int rc = config_load_buffer(yaml, strlen(yaml), NAME, host, &cfg, err, sizeof(err));

	cr_assert_eq(rc, 0, "unexpected error: %s", err);
	cr_assert_not_null(cfg);
	cr_assert_not_null(cfg->root);
	return cfg;
}

static struct config *
load_ok(const char *yaml)
{
	return load_with(NULL, yaml);
}

static void
expect_error_with(const struct spec_host *host, const char *yaml, const char *want)
{
	char err[4096] = "";
	struct config *cfg = (struct config *)&err; /* must be reset to NULL */
	int rc = config_load_buffer(yaml, strlen(yaml), NAME, host, &cfg, err, sizeof(err));

	cr_assert_eq(rc, -1, "loaded, but expected: %s", want);
	cr_assert_null(cfg);
	cr_assert_str_eq(err, want);
}

static void
expect_error(const char *yaml, const char *want)
{
	expect_error_with(NULL, yaml, want);
}

/* A config with one worker around the given extra lines (indented 4). */
#define WORKER(extra) "children:\n  - id: w\n    start: [/bin/true]\n" extra

static const struct child_spec *
child(const struct child_spec *sup, size_t i)
{
	cr_assert(spec_is_supervisor(sup));
	cr_assert_lt(i, sup->sup.nchildren);
	return sup->sup.children[i];
}

/* ---- defaults ---------------------------------------------------------- */

Test(defaults, root_and_top_level)
{
	struct config *cfg = load_ok("{}\n");
	const struct child_spec *root = cfg->root;

	cr_assert_str_eq(cfg->file, NAME);
	cr_assert_eq(root->type, NODE_SUPERVISOR);
	cr_assert_null(root->id);
	cr_assert_eq(root->restart, RESTART_PERMANENT);
	cr_assert_eq(root->shutdown_ms, SHUTDOWN_INFINITY);
	cr_assert_eq(root->significant, false);
	cr_assert_eq(root->sup.strategy, STRATEGY_ONE_FOR_ONE);
	cr_assert_eq(root->sup.max_restarts, 3);
	cr_assert_eq(root->sup.max_seconds, 5);
	cr_assert_eq(root->sup.auto_shutdown, AUTO_SHUTDOWN_NEVER);
	cr_assert_eq(root->sup.nchildren, 0);
	cr_assert_null(root->sup.template_spec);
	cr_assert_null(cfg->control.socket_path);
	cr_assert_eq(cfg->control.mode, 0600);
	cr_assert_null(cfg->control.group);
	cr_assert_eq(cfg->control.max_clients, 256);
	cr_assert_null(cfg->events_path);
	cr_assert_eq(cfg->forward_signals, 0);
	config_free(cfg);
}

Test(defaults, worker)
{
	struct config *cfg = load_ok(WORKER(""));
	const struct child_spec *w = child(cfg->root, 0);

	cr_assert_eq(cfg->root->sup.nchildren, 1);
	cr_assert_str_eq(w->id, "w");
	cr_assert_eq(w->type, NODE_WORKER);
	cr_assert_eq(w->restart, RESTART_PERMANENT);
	cr_assert_eq(w->shutdown_ms, 5000);
	cr_assert_eq(w->significant, false);
	cr_assert_eq(w->worker.argc, 1);
	cr_assert_str_eq(w->worker.argv[0], "/bin/true");
	cr_assert_null(w->worker.argv[1]);
	cr_assert_null(w->worker.env);
	cr_assert_eq(w->worker.envc, 0);
	cr_assert_null(w->worker.cwd);
	cr_assert_null(w->worker.user);
	cr_assert_null(w->worker.group);
	cr_assert_eq(w->worker.has_uid, false);
	cr_assert_eq(w->worker.has_gid, false);
	cr_assert_eq(w->worker.stop_signal, SIGTERM);
	cr_assert_eq(w->worker.kill_group, true);
	cr_assert(exit_set_has_code(&w->worker.normal_exit, 0));
	cr_assert_not(exit_set_has_code(&w->worker.normal_exit, 1));
	cr_assert_eq(w->worker.normal_exit.signals, 0);
	cr_assert_eq(w->worker.ready, READY_NONE);
	cr_assert_eq(w->worker.start_timeout_ms, 5000);
	config_free(cfg);
}

Test(defaults, supervisor)
{
	struct config *cfg = load_ok("children:\n"
				     "  - id: s\n"
				     "    type: supervisor\n");
	const struct child_spec *s = child(cfg->root, 0);

	cr_assert_str_eq(s->id, "s");
	cr_assert_eq(s->type, NODE_SUPERVISOR);
	cr_assert_eq(s->restart, RESTART_PERMANENT);
	cr_assert_eq(s->shutdown_ms, SHUTDOWN_INFINITY);
	cr_assert_eq(s->significant, false);
	cr_assert_eq(s->sup.strategy, STRATEGY_ONE_FOR_ONE);
	cr_assert_eq(s->sup.max_restarts, 3);
	cr_assert_eq(s->sup.max_seconds, 5);
	cr_assert_eq(s->sup.auto_shutdown, AUTO_SHUTDOWN_NEVER);
	cr_assert_eq(s->sup.nchildren, 0);
	cr_assert_null(s->sup.template_spec);
	config_free(cfg);
}

Test(defaults, dynamic_and_template)
{
	struct config *cfg = load_ok("children:\n"
				     "  - id: d\n"
				     "    type: dynamic\n"
				     "    template:\n"
				     "      start: [/bin/sleep]\n");
	const struct child_spec *d = child(cfg->root, 0), *t;

	cr_assert_eq(d->type, NODE_DYNAMIC);
	cr_assert_eq(d->restart, RESTART_PERMANENT);
	cr_assert_eq(d->shutdown_ms, SHUTDOWN_INFINITY);
	cr_assert_eq(d->sup.strategy, STRATEGY_ONE_FOR_ONE);
	cr_assert_eq(d->sup.max_restarts, 3);
	cr_assert_eq(d->sup.max_seconds, 5);
	cr_assert_eq(d->sup.auto_shutdown, AUTO_SHUTDOWN_NEVER);
	cr_assert_eq(d->sup.max_children, SPEC_UNLIMITED);
	cr_assert_eq(d->sup.nchildren, 0);
	t = d->sup.template_spec;
	cr_assert_not_null(t);
	cr_assert_null(t->id);
	cr_assert_eq(t->type, NODE_WORKER);
	cr_assert_eq(t->restart, RESTART_PERMANENT);
	cr_assert_eq(t->shutdown_ms, 5000);
	cr_assert_eq(t->significant, false);
	cr_assert_eq(t->worker.argc, 1);
	cr_assert_str_eq(t->worker.argv[0], "/bin/sleep");
	cr_assert_eq(t->worker.stop_signal, SIGTERM);
	cr_assert_eq(t->worker.kill_group, true);
	cr_assert(exit_set_has_code(&t->worker.normal_exit, 0));
	cr_assert_eq(t->worker.ready, READY_NONE);
	cr_assert_eq(t->worker.start_timeout_ms, 5000);
	config_free(cfg);
}

/* ---- accepted values --------------------------------------------------- */

Test(values, every_key_of_a_worker)
{
	struct config *cfg = load_ok("auto_shutdown: all_significant\n"
				     "children:\n"
				     "  - id: web.1_x-y\n"
				     "    type: worker\n"
				     "    start: [\"/bin/sh\", \"-c\", 'exit 3', \"\", 10]\n"
				     "    restart: temporary\n"
				     "    shutdown: 250\n"
				     "    significant: true\n"
				     "    env: [\"A=1\", \"B=\", \"C=x=y\"]\n"
				     "    cwd: /tmp\n"
				     "    stop_signal: INT\n"
				     "    kill_group: false\n"
				     "    normal_exit: [3, 255, SIGHUP, usr1]\n"
				     "    ready: notify\n"
				     "    start_timeout: 1500\n");
	const struct child_spec *w = child(cfg->root, 0);

	cr_assert_eq(cfg->root->sup.auto_shutdown, AUTO_SHUTDOWN_ALL_SIGNIFICANT);
	cr_assert_str_eq(w->id, "web.1_x-y");
	cr_assert_eq(w->worker.argc, 5);
	cr_assert_str_eq(w->worker.argv[0], "/bin/sh");
	cr_assert_str_eq(w->worker.argv[1], "-c");
	cr_assert_str_eq(w->worker.argv[2], "exit 3");
	cr_assert_str_eq(w->worker.argv[3], "");
	cr_assert_str_eq(w->worker.argv[4], "10");
	cr_assert_null(w->worker.argv[5]);
	cr_assert_eq(w->restart, RESTART_TEMPORARY);
	cr_assert_eq(w->shutdown_ms, 250);
	cr_assert_eq(w->significant, true);
	cr_assert_eq(w->worker.envc, 3);
	cr_assert_str_eq(w->worker.env[0], "A=1");
	cr_assert_str_eq(w->worker.env[1], "B=");
	cr_assert_str_eq(w->worker.env[2], "C=x=y");
	cr_assert_null(w->worker.env[3]);
	cr_assert_str_eq(w->worker.cwd, "/tmp");
	cr_assert_eq(w->worker.stop_signal, SIGINT);
	cr_assert_eq(w->worker.kill_group, false);
	/* normal_exit replaces the default [0] */
	cr_assert_not(exit_set_has_code(&w->worker.normal_exit, 0));
	cr_assert(exit_set_has_code(&w->worker.normal_exit, 3));
	cr_assert(exit_set_has_code(&w->worker.normal_exit, 255));
	cr_assert(exit_set_has_signal(&w->worker.normal_exit, SIGHUP));
	cr_assert(exit_set_has_signal(&w->worker.normal_exit, SIGUSR1));
	cr_assert_not(exit_set_has_signal(&w->worker.normal_exit, SIGTERM));
	cr_assert_eq(w->worker.ready, READY_NOTIFY);
	cr_assert_eq(w->worker.start_timeout_ms, 1500);
	config_free(cfg);
}

Test(values, every_key_of_supervisors)
{
	struct config *cfg = load_ok("strategy: rest_for_one\n"
				     "max_restarts: 0\n"
				     "max_seconds: 1\n"
				     "auto_shutdown: any_significant\n"
				     "children:\n"
				     "  - id: s\n"
				     "    type: supervisor\n"
				     "    strategy: one_for_all\n"
				     "    max_restarts: 1000000\n"
				     "    max_seconds: 31536000\n"
				     "    auto_shutdown: all_significant\n"
				     "    restart: transient\n"
				     "    shutdown: brutal_kill\n"
				     "    significant: true\n"
				     "    children: []\n"
				     "  - id: d\n"
				     "    type: dynamic\n"
				     "    strategy: one_for_one\n"
				     "    auto_shutdown: never\n"
				     "    max_restarts: 7\n"
				     "    max_seconds: 9\n"
				     "    max_children: 4294967294\n"
				     "    restart: temporary\n"
				     "    shutdown: 0\n"
				     "    template:\n"
				     "      start: [/bin/sleep, \"1\"]\n"
				     "      restart: transient\n"
				     "      shutdown: infinity\n"
				     "      env: [X=1]\n"
				     "      cwd: /\n"
				     "      stop_signal: SIGQUIT\n"
				     "      kill_group: false\n"
				     "      normal_exit: [1]\n"
				     "      ready: notify\n"
				     "      start_timeout: 2147483647\n");
	const struct child_spec *root = cfg->root, *s = child(root, 0), *d = child(root, 1), *t;

	cr_assert_eq(root->sup.strategy, STRATEGY_REST_FOR_ONE);
	cr_assert_eq(root->sup.max_restarts, 0);
	cr_assert_eq(root->sup.max_seconds, 1);
	cr_assert_eq(root->sup.auto_shutdown, AUTO_SHUTDOWN_ANY_SIGNIFICANT);
	cr_assert_eq(s->sup.strategy, STRATEGY_ONE_FOR_ALL);
	cr_assert_eq(s->sup.max_restarts, SPEC_MAX_RESTARTS_LIMIT);
	cr_assert_eq(s->sup.max_seconds, SPEC_MAX_SECONDS_LIMIT);
	cr_assert_eq(s->sup.auto_shutdown, AUTO_SHUTDOWN_ALL_SIGNIFICANT);
	cr_assert_eq(s->restart, RESTART_TRANSIENT);
	cr_assert_eq(s->shutdown_ms, SHUTDOWN_BRUTAL_KILL);
	cr_assert_eq(s->significant, true);
	cr_assert_eq(s->sup.nchildren, 0);
	cr_assert_eq(d->type, NODE_DYNAMIC);
	cr_assert_eq(d->sup.max_restarts, 7);
	cr_assert_eq(d->sup.max_seconds, 9);
	cr_assert_eq(d->sup.max_children, SPEC_UNLIMITED - 1);
	cr_assert_eq(d->restart, RESTART_TEMPORARY);
	cr_assert_eq(d->shutdown_ms, 0);
	t = d->sup.template_spec;
	cr_assert_eq(t->worker.argc, 2);
	cr_assert_str_eq(t->worker.argv[1], "1");
	cr_assert_eq(t->restart, RESTART_TRANSIENT);
	cr_assert_eq(t->shutdown_ms, SHUTDOWN_INFINITY);
	cr_assert_eq(t->worker.envc, 1);
	cr_assert_str_eq(t->worker.cwd, "/");
	cr_assert_eq(t->worker.stop_signal, SIGQUIT);
	cr_assert_eq(t->worker.kill_group, false);
	cr_assert(exit_set_has_code(&t->worker.normal_exit, 1));
	cr_assert_not(exit_set_has_code(&t->worker.normal_exit, 0));
	cr_assert_eq(t->worker.ready, READY_NOTIFY);
	cr_assert_eq(t->worker.start_timeout_ms, SPEC_MAX_MS_LIMIT);
	config_free(cfg);
}

Test(values, control_events_forward_signals)
{
	struct config *cfg = load_ok("control:\n"
				     "  socket: /tmp/x.sock\n"
				     "  mode: \"0660\"\n"
				     "  group: root\n"
				     "  max_clients: 65535\n"
				     "events: /tmp/events.jsonl\n"
				     "forward_signals: [SIGUSR1, USR2, winch, SIGHUP, SIGUSR1]\n");

	cr_assert_str_eq(cfg->control.socket_path, "/tmp/x.sock");
	cr_assert_eq(cfg->control.mode, 0660);
	cr_assert_str_eq(cfg->control.group, "root");
	cr_assert_eq(cfg->control.gid, 0);
	cr_assert_eq(cfg->control.max_clients, 65535);
	cr_assert_str_eq(cfg->events_path, "/tmp/events.jsonl");
	cr_assert_eq(cfg->forward_signals,
		     (UINT64_C(1) << (SIGUSR1 - 1)) | (UINT64_C(1) << (SIGUSR2 - 1)) |
			     (UINT64_C(1) << (SIGWINCH - 1)) | (UINT64_C(1) << (SIGHUP - 1)));
	config_free(cfg);
}

Test(values, control_mode_forms_and_numeric_group)
{
	static const struct {
		const char *text;
		mode_t mode;
	} modes[] = {
		{"\"600\"", 0600}, {"0660", 0660}, {"\"0\"", 0}, {"'777'", 0777}, {"0007", 07}};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char yaml[128];
		struct config *cfg;

		snprintf(yaml, sizeof(yaml), "control: {mode: %s, group: \"4242\"}\n",
			 modes[i].text);
		cfg = load_with(&spec_host_system, yaml);
		cr_assert_eq(cfg->control.mode, modes[i].mode, "mode %s", modes[i].text);
		cr_assert_eq(cfg->control.gid, 4242);
		config_free(cfg);
	}
}

Test(values, shutdown_forms)
{
	static const struct {
		const char *text;
		int64_t ms;
	} forms[] = {
		{"brutal_kill", SHUTDOWN_BRUTAL_KILL},
		{"infinity", SHUTDOWN_INFINITY},
		{"0", 0},
		{"\"5000\"", 5000},
		{"2147483647", 2147483647},
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char yaml[128];
		struct config *cfg;

		snprintf(yaml, sizeof(yaml), WORKER("    shutdown: %s\n"), forms[i].text);
		cfg = load_ok(yaml);
		cr_assert_eq(child(cfg->root, 0)->shutdown_ms, forms[i].ms, "%s", forms[i].text);
		config_free(cfg);
	}
}

Test(values, flow_style_and_comments)
{
	struct config *cfg =
		load_ok("# a comment\n"
			"---\n"
			"{strategy: one_for_all, children: [{id: a, start: [x]},\n"
			"  {id: b, type: supervisor, children: [{id: a, start: [y]}]}]}\n"
			"...\n");

	cr_assert_eq(cfg->root->sup.strategy, STRATEGY_ONE_FOR_ALL);
	cr_assert_str_eq(child(cfg->root, 0)->id, "a");
	/* the same id under another parent is fine */
	cr_assert_str_eq(child(child(cfg->root, 1), 0)->id, "a");
	config_free(cfg);
}

Test(values, children_keep_their_order)
{
	struct config *cfg =
		load_ok("children:\n"
			"  - {id: c, start: [c]}\n"
			"  - {id: a, start: [a]}\n"
			"  - {id: b, type: supervisor, children: [{id: x, start: [x]}, "
			"{id: y, start: [y]}]}\n");
	const struct child_spec *b = child(cfg->root, 2);

	cr_assert_eq(cfg->root->sup.nchildren, 3);
	cr_assert_str_eq(child(cfg->root, 0)->id, "c");
	cr_assert_str_eq(child(cfg->root, 1)->id, "a");
	cr_assert_str_eq(b->id, "b");
	cr_assert_eq(b->sup.nchildren, 2);
	cr_assert_str_eq(child(b, 0)->id, "x");
	cr_assert_str_eq(child(b, 1)->id, "y");
	config_free(cfg);
}

Test(values, significant_combinations)
{
	struct config *cfg =
		load_ok("auto_shutdown: any_significant\n"
			"children:\n"
			"  - {id: a, start: [a], restart: transient, significant: true}\n"
			"  - {id: b, start: [b], restart: temporary, significant: true}\n"
			"  - {id: c, start: [c], significant: false}\n"
			"  - id: s\n"
			"    type: supervisor\n"
			"    children:\n"
			"      - {id: d, start: [d], significant: false}\n");

	cr_assert(child(cfg->root, 0)->significant);
	cr_assert(child(cfg->root, 1)->significant);
	cr_assert_not(child(cfg->root, 2)->significant);
	config_free(cfg);
}

Test(values, auto_shutdown_after_children)
{
	/* The parent's auto_shutdown counts wherever it is written. */
	struct config *cfg =
		load_ok("children:\n"
			"  - {id: a, start: [a], restart: transient, significant: true}\n"
			"auto_shutdown: all_significant\n");

	cr_assert(child(cfg->root, 0)->significant);
	config_free(cfg);
}

Test(values, id_of_64_characters)
{
	struct config *cfg =
		load_ok("children:\n"
			"  - id: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.\n"
			"    start: [x]\n");

	cr_assert_eq(strlen(child(cfg->root, 0)->id), 64);
	config_free(cfg);
}

Test(values, user_and_group_of_the_current_process)
{
	struct passwd *pw = getpwuid(geteuid());
	struct group *gr = getgrgid(getegid());
	char yaml[512];
	struct config *cfg;
	const struct child_spec *w;

	cr_assert_not_null(pw);
	cr_assert_not_null(gr);
	snprintf(yaml, sizeof(yaml), WORKER("    user: %s\n    group: %s\n"), pw->pw_name,
		 gr->gr_name);
	cfg = load_with(&spec_host_system, yaml);
	w = child(cfg->root, 0);
	cr_assert_str_eq(w->worker.user, pw->pw_name);
	cr_assert_str_eq(w->worker.group, gr->gr_name);
	cr_assert(w->worker.has_uid);
	cr_assert_eq(w->worker.uid, geteuid());
	cr_assert(w->worker.has_gid);
	cr_assert_eq(w->worker.gid, getegid());
	config_free(cfg);
}

Test(values, user_as_root)
{
	struct config *cfg;
	const struct child_spec *w;
	struct passwd *nobody = getpwnam("nobody");

	if (geteuid() != 0)
		cr_skip_test("needs root");
	cr_assert_not_null(nobody);
	/* a user alone brings its primary group, and its supplementary
	 * groups are resolved now, not at each start */
	cfg = load_with(&spec_host_system, WORKER("    user: nobody\n"));
	w = child(cfg->root, 0);
	cr_assert(w->worker.has_uid);
	cr_assert_eq(w->worker.uid, nobody->pw_uid);
	cr_assert(w->worker.has_gid);
	cr_assert_eq(w->worker.gid, nobody->pw_gid);
	cr_assert_geq(w->worker.ngroups, 1);
	cr_assert_eq(w->worker.groups[0], nobody->pw_gid);
	config_free(cfg);
	/* numbers need no database entry */
	cfg = load_with(&spec_host_system, WORKER("    user: \"54321\"\n    group: 54322\n"));
	w = child(cfg->root, 0);
	cr_assert_eq(w->worker.uid, 54321);
	cr_assert_eq(w->worker.gid, 54322);
	config_free(cfg);
	/* a uid without an entry and without group: gets the gid of the same
	 * number (it used to pass the check and fail every start) */
	cfg = load_with(&spec_host_system, WORKER("    user: \"54321\"\n"));
	w = child(cfg->root, 0);
	cr_assert_eq(w->worker.uid, 54321);
	cr_assert(w->worker.has_gid);
	cr_assert_eq(w->worker.gid, 54321);
	config_free(cfg);
	cfg = load_with(&spec_host_system, WORKER("    user: 54321\n"));
	cr_assert_eq(child(cfg->root, 0)->worker.gid, 54321);
	config_free(cfg);
	cfg = load_with(&spec_host_system, WORKER("    group: root\n"));
	w = child(cfg->root, 0);
	cr_assert_not(w->worker.has_uid);
	cr_assert(w->worker.has_gid);
	cr_assert_eq(w->worker.gid, 0);
	config_free(cfg);
}

Test(values, take_root)
{
	struct config *cfg = load_ok(WORKER(""));
	struct child_spec *root = config_take_root(cfg);

	cr_assert_not_null(root);
	cr_assert_null(cfg->root);
	config_free(cfg);
	cr_assert_str_eq(root->sup.children[0]->id, "w");
	spec_free(root);
}

/* ---- YAML level -------------------------------------------------------- */

Test(yaml, syntax_error_in_flow_sequence)
{
	expect_error(WORKER("    env: [A=1, B=2\n"
			    "    cwd: /\n"),
		     "t.yaml:5:8: syntax error: did not find expected ',' or ']' (while parsing a "
		     "flow sequence at line 4, column 10)");
}

Test(yaml, syntax_error_mapping_value)
{
	expect_error("children:\n"
		     "  - id: a: b\n",
		     "t.yaml:2:10: syntax error: mapping values are not allowed in this context");
}

Test(yaml, syntax_error_tab)
{
	expect_error("children:\n"
		     "\t- id: a\n",
		     "t.yaml:2:1: syntax error: found character that cannot start any token");
}

Test(yaml, syntax_error_bad_indentation)
{
	expect_error("children:\n"
		     "  - id: a\n"
		     "     start: [x]\n",
		     "t.yaml:3:11: syntax error: mapping values are not allowed in this context");
}

Test(yaml, syntax_error_unterminated_quote)
{
	expect_error("events: \"/tmp/x\n",
		     "t.yaml:2:1: syntax error: found unexpected end of stream (while scanning a "
		     "quoted scalar at line 1, column 9)");
}

Test(yaml, syntax_error_after_schema_error)
{
	/* the whole file is parsed first: a syntax error wins over a bad key */
	expect_error("bogus: 1\n"
		     "events: [\n",
		     "t.yaml:3:1: syntax error: did not find expected node content");
}

Test(yaml, invalid_utf8)
{
	expect_error("events: /tmp/\xff\n",
		     "t.yaml:1:14: syntax error: invalid leading UTF-8 octet");
}

Test(yaml, anchor_rejected)
{
	expect_error("children:\n"
		     "  - &base {id: a, start: [x]}\n",
		     "t.yaml:2:5: anchor '&base' is not accepted (no anchors or aliases)");
}

Test(yaml, alias_rejected)
{
	expect_error(WORKER("    cwd: *dir\n"),
		     "t.yaml:4:10: alias '*dir' is not accepted (no anchors or aliases)");
}

Test(yaml, merge_key_rejected_at_its_alias)
{
	expect_error("children:\n"
		     "  - id: a\n"
		     "    <<: *common\n",
		     "t.yaml:3:9: alias '*common' is not accepted (no anchors or aliases)");
}

Test(yaml, tag_rejected)
{
	expect_error(WORKER("    cwd: !!str /tmp\n"), "t.yaml:4:10: tags are not accepted");
}

Test(yaml, second_document_rejected)
{
	expect_error("strategy: one_for_one\n"
		     "---\n"
		     "strategy: one_for_all\n",
		     "t.yaml:2:1: only one YAML document is accepted");
}

Test(yaml, nul_in_string_rejected)
{
	expect_error(WORKER("    cwd: \"/tmp\\0x\"\n"),
		     "t.yaml:4:10: strings may not contain NUL characters");
}

Test(yaml, empty_file)
{
	expect_error("", "t.yaml: empty config (expected a mapping at the top level)");
	expect_error("# only a comment\n\n",
		     "t.yaml: empty config (expected a mapping at the top level)");
}

Test(yaml, top_level_not_a_mapping)
{
	expect_error("- id: a\n",
		     "t.yaml:1:1: expected a mapping at the top level, got a sequence");
	expect_error("hello\n", "t.yaml:1:1: expected a mapping at the top level, got a scalar");
	expect_error("---\n", "t.yaml:2:1: expected a mapping at the top level, got null");
}

Test(yaml, nesting_bomb)
{
	size_t n = 5000;
	char *yaml = malloc(n + 16);

	cr_assert_not_null(yaml);
	strcpy(yaml, "events: ");
	memset(yaml + 8, '[', n);
	strcpy(yaml + 8 + n, "\n");
	expect_error(yaml, "t.yaml:1:1008: nested more than 1000 levels deep");
	free(yaml);
}

/* ---- keys -------------------------------------------------------------- */

Test(keys, unknown_at_top_level)
{
	expect_error("strategy: one_for_one\n"
		     "stratgy: one_for_all\n",
		     "t.yaml:2:1: unknown key 'stratgy' (did you mean 'strategy'?)");
}

Test(keys, unknown_in_child_reported_at_the_key)
{
	expect_error("children:\n"
		     "  - id: a\n"
		     "    start: [x]\n"
		     "    restrat: transient\n",
		     "t.yaml:4:5: unknown key 'restrat' (did you mean 'restart'?)");
}

Test(keys, unknown_in_control_and_template)
{
	expect_error("control:\n"
		     "  socket: /tmp/s\n"
		     "  user: root\n",
		     "t.yaml:3:3: unknown key 'user'");
	expect_error("children:\n"
		     "  - id: d\n"
		     "    type: dynamic\n"
		     "    template: {start: [x], bogus: 1}\n",
		     "t.yaml:4:28: unknown key 'bogus'");
}

Test(keys, control_keys_are_unknown_elsewhere)
{
	expect_error("socket: /tmp/s\n", "t.yaml:1:1: unknown key 'socket'");
	expect_error(WORKER("    max_clients: 3\n"), "t.yaml:4:5: unknown key 'max_clients'");
}

Test(keys, child_keys_not_allowed_at_top_level)
{
	expect_error("id: root\n", "t.yaml:1:1: key 'id' is not allowed at the top level");
	expect_error("strategy: one_for_all\n"
		     "restart: transient\n",
		     "t.yaml:2:1: key 'restart' is not allowed at the top level");
	expect_error("start: [/bin/true]\n",
		     "t.yaml:1:1: key 'start' is not allowed at the top level");
	expect_error("type: supervisor\n",
		     "t.yaml:1:1: key 'type' is not allowed at the top level");
	expect_error("shutdown: 5\n", "t.yaml:1:1: key 'shutdown' is not allowed at the top level");
	expect_error("significant: true\n",
		     "t.yaml:1:1: key 'significant' is not allowed at the top level");
	expect_error("max_children: 5\n",
		     "t.yaml:1:1: key 'max_children' is not allowed at the top level");
}

Test(keys, top_level_keys_only_at_top_level)
{
	expect_error(WORKER("    events: /tmp/e\n"),
		     "t.yaml:4:5: key 'events' is only allowed at the top level");
	expect_error("children:\n"
		     "  - id: s\n"
		     "    type: supervisor\n"
		     "    control: {}\n",
		     "t.yaml:4:5: key 'control' is only allowed at the top level");
	expect_error("children:\n"
		     "  - id: d\n"
		     "    type: dynamic\n"
		     "    forward_signals: [USR1]\n",
		     "t.yaml:4:5: key 'forward_signals' is only allowed at the top level\n"
		     "t.yaml:2:5: missing required key 'template'");
}

Test(keys, not_for_a_worker)
{
	expect_error(WORKER("    children: []\n"),
		     "t.yaml:4:5: key 'children' does not apply to a worker");
	expect_error(WORKER("    strategy: one_for_all\n"),
		     "t.yaml:4:5: key 'strategy' does not apply to a worker");
	expect_error(WORKER("    template: {start: [x]}\n"),
		     "t.yaml:4:5: key 'template' does not apply to a worker");
}

Test(keys, not_for_a_supervisor)
{
	expect_error("children:\n"
		     "  - id: s\n"
		     "    start: [/bin/true]\n"
		     "    type: supervisor\n",
		     "t.yaml:3:5: key 'start' does not apply to a supervisor");
	expect_error("children:\n"
		     "  - id: s\n"
		     "    type: supervisor\n"
		     "    env: [A=1]\n",
		     "t.yaml:4:5: key 'env' does not apply to a supervisor");
	expect_error("children:\n"
		     "  - id: s\n"
		     "    type: supervisor\n"
		     "    max_children: 3\n",
		     "t.yaml:4:5: key 'max_children' does not apply to a supervisor");
}

Test(keys, not_for_a_dynamic_supervisor)
{
	expect_error("children:\n"
		     "  - id: d\n"
		     "    type: dynamic\n"
		     "    children: []\n",
		     "t.yaml:4:5: key 'children' does not apply to a dynamic supervisor\n"
		     "t.yaml:2:5: missing required key 'template'");
	expect_error("children:\n"
		     "  - id: d\n"
		     "    type: dynamic\n"
		     "    start: [x]\n",
		     "t.yaml:4:5: key 'start' does not apply to a dynamic supervisor\n"
		     "t.yaml:2:5: missing required key 'template'");
}

Test(keys, not_in_a_template)
{
	static const char *const keys[] = {"id: x", "significant: false", "type: worker",
					   "strategy: one_for_one", "children: []"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char yaml[256], want[128], key[32];

		snprintf(yaml, sizeof(yaml),
			 "children:\n"
			 "  - id: d\n"
			 "    type: dynamic\n"
			 "    template:\n"
			 "      start: [x]\n"
			 "      %s\n",
			 keys[i]);
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(keys[i], ":"), keys[i]);
		snprintf(want, sizeof(want), "t.yaml:6:7: key '%s' is not allowed in a template",
			 key);
		expect_error(yaml, want);
	}
}

Test(keys, duplicate_key)
{
	expect_error(WORKER("    restart: transient\n"
			    "    cwd: /\n"
			    "    restart: temporary\n"),
		     "t.yaml:6:5: duplicate key 'restart' (first defined at line 4)");
	expect_error("strategy: one_for_all\n"
		     "strategy: one_for_all\n",
		     "t.yaml:2:1: duplicate key 'strategy' (first defined at line 1)");
}

Test(keys, non_scalar_key)
{
	expect_error("? [a, b]\n"
		     ": 1\n",
		     "t.yaml:1:3: invalid key (expected a string, got a sequence)");
}

Test(keys, missing_required)
{
	expect_error("children:\n"
		     "  - start: [x]\n",
		     "t.yaml:2:5: missing required key 'id'");
	expect_error("children:\n"
		     "  - id: a\n"
		     "    restart: transient\n",
		     "t.yaml:2:5: missing required key 'start'");
	expect_error("children:\n"
		     "  - id: d\n"
		     "    type: dynamic\n",
		     "t.yaml:2:5: missing required key 'template'");
	expect_error("children:\n"
		     "  - id: d\n"
		     "    type: dynamic\n"
		     "    template:\n"
		     "      restart: temporary\n",
		     "t.yaml:5:7: missing required key 'start'");
	/* every problem is reported, not only the first */
	expect_error("children:\n"
		     "  - {}\n",
		     "t.yaml:2:5: missing required key 'id'\n"
		     "t.yaml:2:5: missing required key 'start'");
}

/* ---- shapes ------------------------------------------------------------ */

Test(shapes, children)
{
	expect_error("children: web\n", "t.yaml:1:11: invalid children 'web' (expected a sequence "
					"of mappings)");
	expect_error(
		"children: {id: a}\n",
		"t.yaml:1:11: invalid children (expected a sequence of mappings, got a mapping)");
	expect_error("children:\n",
		     "t.yaml:1:10: invalid children (expected a sequence of mappings, got null)");
	expect_error("children:\n"
		     "  - web\n",
		     "t.yaml:2:5: invalid children entry 'web' (expected a mapping)");
	expect_error("children:\n"
		     "  - [a]\n",
		     "t.yaml:2:5: invalid children entry (expected a mapping, got a sequence)");
}

Test(shapes, start)
{
	expect_error("children:\n"
		     "  - id: a\n"
		     "    start: /bin/true\n",
		     "t.yaml:3:12: invalid start '/bin/true' (expected a non-empty sequence of "
		     "strings)");
	expect_error("children:\n"
		     "  - id: a\n"
		     "    start: []\n",
		     "t.yaml:3:12: invalid start (expected a non-empty sequence of strings, got an "
		     "empty sequence)");
	expect_error("children:\n"
		     "  - id: a\n"
		     "    start: [/bin/sh, {a: b}]\n",
		     "t.yaml:3:22: invalid start entry (expected a string, got a mapping)");
	expect_error("children:\n"
		     "  - id: a\n"
		     "    start: [/bin/sh, ~]\n",
		     "t.yaml:3:22: invalid start entry (expected a string, got null)");
}

Test(shapes, strings)
{
	expect_error(WORKER("    cwd: [/tmp]\n"),
		     "t.yaml:4:10: invalid cwd (expected a string, got a sequence)");
	expect_error(WORKER("    cwd:\n"), "t.yaml:4:9: invalid cwd (expected a string, got null)");
	expect_error(WORKER("    cwd: ~\n"),
		     "t.yaml:4:10: invalid cwd (expected a string, got null)");
	expect_error(WORKER("    cwd: \"\"\n"),
		     "t.yaml:4:10: invalid cwd '' (expected a non-empty string)");
	/* events takes a mapping too (SPEC 7.1), but only {file, max_size, keep} */
	expect_error("events: {a: 1}\n", "t.yaml:1:10: unknown key 'a' in events");
}

Test(shapes, mappings_and_sequences)
{
	expect_error("control: /run/x.sock\n",
		     "t.yaml:1:10: invalid control '/run/x.sock' (expected a mapping)");
	expect_error("children:\n"
		     "  - id: d\n"
		     "    type: dynamic\n"
		     "    template: [x]\n",
		     "t.yaml:4:15: invalid template (expected a mapping, got a sequence)");
	expect_error(WORKER("    env: A=1\n"),
		     "t.yaml:4:10: invalid env 'A=1' (expected a sequence of strings)");
	expect_error("forward_signals: SIGUSR1\n",
		     "t.yaml:1:18: invalid forward_signals 'SIGUSR1' (expected a sequence of "
		     "strings)");
	expect_error(WORKER("    normal_exit: 0\n"),
		     "t.yaml:4:18: invalid normal_exit '0' (expected a sequence of strings)");
}

Test(shapes, scalar_expected)
{
	expect_error(
		WORKER("    restart: [permanent]\n"),
		"t.yaml:4:14: invalid restart (expected permanent, transient or temporary, got "
		"a sequence)");
	expect_error(
		"max_restarts: {}\n",
		"t.yaml:1:15: invalid max_restarts (expected an integer from 0 to 1000000, got "
		"a mapping)");
	expect_error(WORKER("    kill_group:\n"),
		     "t.yaml:4:16: invalid kill_group (expected true or false, got null)");
}

/* ---- single values ----------------------------------------------------- */

Test(values_bad, restart)
{
	expect_error("children:\n"
		     "  - id: web\n"
		     "    start: [/bin/true]\n"
		     "    shutdown: 100\n"
		     "    cwd: /\n"
		     "    env: []\n"
		     "    restart: sometimes\n",
		     "t.yaml:7:14: invalid restart 'sometimes' (expected permanent, transient or "
		     "temporary)");
	expect_error(WORKER("    restart: Permanent\n"),
		     "t.yaml:4:14: invalid restart 'Permanent' (expected permanent, transient or "
		     "temporary; did you mean 'permanent'?)");
	/* a number is not an enum value */
	expect_error(WORKER("    restart: 1\n"),
		     "t.yaml:4:14: invalid restart '1' (expected permanent, transient or "
		     "temporary)");
}

Test(values_bad, strategy_type_auto_shutdown_ready)
{
	expect_error("strategy: one_for_some\n",
		     "t.yaml:1:11: invalid strategy 'one_for_some' (expected one_for_one, "
		     "one_for_all or rest_for_one; did you mean 'one_for_one'?)");
	expect_error("auto_shutdown: always\n",
		     "t.yaml:1:16: invalid auto_shutdown 'always' (expected never, any_significant "
		     "or all_significant)");
	expect_error("children:\n"
		     "  - id: a\n"
		     "    start: [x]\n"
		     "    type: daemon\n",
		     "t.yaml:4:11: invalid type 'daemon' (expected worker, supervisor or dynamic)");
	expect_error(WORKER("    ready: sd_notify\n"),
		     "t.yaml:4:12: invalid ready 'sd_notify' (expected none, notify, exit, or a "
		     "mapping with fd, exec or tcp)");
}

Test(values_bad, booleans)
{
	expect_error(WORKER("    kill_group: yes\n"),
		     "t.yaml:4:17: invalid kill_group 'yes' (expected true or false)");
	expect_error(WORKER("    kill_group: True\n"),
		     "t.yaml:4:17: invalid kill_group 'True' (expected true or false)");
	expect_error(WORKER("    significant: 1\n"),
		     "t.yaml:4:18: invalid significant '1' (expected true or false)");
}

Test(values_bad, max_restarts)
{
	static const char *const bad[] = {"-1",  "lots", "010", "0x10", "1000001",
					  "1.5", "5e3",  "+3",  "\"\"", "99999999999999999999",
					  "-0"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[128], want[160];

		snprintf(yaml, sizeof(yaml), "max_restarts: %s\n", bad[i]);
		snprintf(want, sizeof(want),
			 "t.yaml:1:15: invalid max_restarts '%s' (expected an integer from 0 to "
			 "1000000)",
			 strcmp(bad[i], "\"\"") == 0 ? "" : bad[i]);
		expect_error(yaml, want);
	}
}

Test(values_bad, max_seconds)
{
	expect_error(
		"max_seconds: 0\n",
		"t.yaml:1:14: invalid max_seconds '0' (expected an integer from 1 to 31536000)");
	expect_error("max_seconds: 31536001\n", "t.yaml:1:14: invalid max_seconds '31536001' "
						"(expected an integer from 1 to 31536000)");
}

Test(values_bad, max_children_start_timeout_max_clients)
{
	expect_error(
		"children:\n"
		"  - id: d\n"
		"    type: dynamic\n"
		"    max_children: 0\n"
		"    template: {start: [x]}\n",
		"t.yaml:4:19: invalid max_children '0' (expected infinity or an integer from 1 to "
		"4294967294)");
	expect_error(WORKER("    start_timeout: 0\n"),
		     "t.yaml:4:20: invalid start_timeout '0' (expected an integer from 1 to "
		     "2147483647)");
	expect_error("control:\n"
		     "  max_clients: 65536\n",
		     "t.yaml:2:16: invalid max_clients '65536' (expected an integer from 1 to "
		     "65535)");
	expect_error("control:\n"
		     "  max_clients: 0\n",
		     "t.yaml:2:16: invalid max_clients '0' (expected an integer from 1 to 65535)");
}

Test(values_bad, shutdown)
{
	static const char *const bad[] = {"5e3",   "-1",      "1.5",      "2147483648",
					  "05000", "forever", "Infinity", "5000ms"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[128], want[192];

		snprintf(yaml, sizeof(yaml), WORKER("    shutdown: %s\n"), bad[i]);
		snprintf(want, sizeof(want),
			 "t.yaml:4:15: invalid shutdown '%s' (expected brutal_kill, infinity or "
			 "milliseconds from 0 to 2147483647)",
			 bad[i]);
		expect_error(yaml, want);
	}
	expect_error(WORKER("    shutdown: \"\"\n"),
		     "t.yaml:4:15: invalid shutdown '' (expected brutal_kill, infinity or "
		     "milliseconds from 0 to 2147483647)");
}

Test(values_bad, ids)
{
	static const char *const bad[] = {
		"a b",         ".",
		"..",          "a/b",
		"caf\xc3\xa9", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[256], want[256];

		snprintf(yaml, sizeof(yaml),
			 "children:\n"
			 "  - id: '%s'\n"
			 "    start: [x]\n",
			 bad[i]);
		snprintf(want, sizeof(want),
			 "t.yaml:2:9: invalid id '%s' (expected 1 to 64 characters from "
			 "[A-Za-z0-9_.-], not '.' or '..')",
			 bad[i]);
		expect_error(yaml, want);
	}
	expect_error("children:\n"
		     "  - id: ''\n"
		     "    start: [x]\n",
		     "t.yaml:2:9: invalid id '' (expected a non-empty string)");
}

Test(values_bad, empty_program)
{
	expect_error("children:\n"
		     "  - id: a\n"
		     "    start: ['', -c]\n",
		     "t.yaml:3:13: invalid start entry '' (expected a program name)");
}

Test(values_bad, env)
{
	expect_error(WORKER("    env: [A=1, FOO]\n"),
		     "t.yaml:4:16: invalid env entry 'FOO' (expected NAME=value)");
	expect_error(WORKER("    env: [\"=x\"]\n"),
		     "t.yaml:4:11: invalid env entry '=x' (expected NAME=value)");
	expect_error(WORKER("    env:\n"
			    "      - A=1\n"
			    "      - B=2\n"
			    "      - A=3\n"),
		     "t.yaml:7:9: duplicate env name 'A' (first defined at line 5)");
}

Test(values_bad, stop_signal)
{
	expect_error(WORKER("    stop_signal: SIGFOO\n"),
		     "t.yaml:4:18: invalid stop_signal 'SIGFOO' (expected a signal name such as "
		     "SIGTERM)");
	expect_error(WORKER("    stop_signal: 15\n"),
		     "t.yaml:4:18: invalid stop_signal '15' (expected a signal name such as "
		     "SIGTERM)");
}

Test(values_bad, normal_exit)
{
	static const char *const bad[] = {"256", "-1", "SIGFOO", "1.5", "007"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[128], want[192];

		snprintf(yaml, sizeof(yaml), WORKER("    normal_exit: [0, %s]\n"), bad[i]);
		snprintf(want, sizeof(want),
			 "t.yaml:4:22: invalid normal_exit entry '%s' (expected an exit code from "
			 "0 to 255 or a signal name)",
			 bad[i]);
		expect_error(yaml, want);
	}
}

Test(values_bad, forward_signals)
{
	expect_error("forward_signals: [SIGUSR1, SIGNOPE]\n",
		     "t.yaml:1:28: invalid forward_signals entry 'SIGNOPE' (expected a signal name "
		     "such as SIGUSR1)");
	expect_error("forward_signals: [SIGKILL]\n",
		     "t.yaml:1:19: cannot forward SIGKILL (it cannot be caught)");
	expect_error("forward_signals: [STOP]\n",
		     "t.yaml:1:19: cannot forward SIGSTOP (it cannot be caught)");
	expect_error("forward_signals: [SIGTERM]\n",
		     "t.yaml:1:19: cannot forward SIGTERM (supd handles it)");
	expect_error("forward_signals: [INT]\n",
		     "t.yaml:1:19: cannot forward SIGINT (supd handles it)");
	expect_error("forward_signals: [SIGCHLD]\n",
		     "t.yaml:1:19: cannot forward SIGCHLD (supd handles it)");
	expect_error("forward_signals: [SIGUSR2, PIPE]\n",
		     "t.yaml:1:28: cannot forward SIGPIPE (it is about supd itself)");
	expect_error("forward_signals: [SIGSEGV]\n",
		     "t.yaml:1:19: cannot forward SIGSEGV (it is about supd itself)");
}

Test(values_bad, control_mode_and_group)
{
	static const char *const bad[] = {"0999", "01777", "0o600", "rw-------", "12345"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[128], want[160];

		snprintf(yaml, sizeof(yaml), "control:\n  mode: \"%s\"\n", bad[i]);
		snprintf(want, sizeof(want),
			 "t.yaml:2:9: invalid mode '%s' (expected an octal file mode such as 0600)",
			 bad[i]);
		expect_error(yaml, want);
	}
	expect_error_with(&spec_host_system,
			  "control:\n"
			  "  group: no-such-group-here\n",
			  "t.yaml:2:10: unknown group 'no-such-group-here'");
}

Test(values_bad, unknown_user_and_group)
{
	expect_error_with(&spec_host_system, WORKER("    user: no-such-user-here\n"),
			  "t.yaml:4:11: unknown user 'no-such-user-here'");
	expect_error_with(&spec_host_system, WORKER("    group: no-such-group-here\n"),
			  "t.yaml:4:12: unknown group 'no-such-group-here'");
}

Test(values_bad, long_and_odd_values_are_quoted_safely)
{
	expect_error(WORKER("    restart: \"a\\tb\"\n"),
		     "t.yaml:4:14: invalid restart 'a?b' (expected permanent, transient or "
		     "temporary)");
	expect_error(WORKER("    restart: "
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			    "xxxxxxxxxxxxxxxxxxxx\n"),
		     "t.yaml:4:14: invalid restart "
		     "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		     "xxxxxxxx...' (expected permanent, transient or temporary)");
}

/* Unprivileged, another user or group is an error. Run in a child that drops
 * to nobody when we are root; the child reports only through its status. */
static int
unprivileged_error_matches(const char *yaml, const char *want)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		char err[512] = "";
		struct config *cfg = NULL;

		if (geteuid() == 0 &&
		    (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		     setresuid(65534, 65534, 65534) < 0))
			_exit(3);
		if (config_load_string(yaml, strlen(yaml), NAME, &cfg, err, sizeof(err)) == 0)
			_exit(2);
		_exit(strcmp(err, want) == 0 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

Test(values_bad, user_requires_root)
{
	cr_assert_eq(
		unprivileged_error_matches(WORKER("    user: root\n"),
					   "t.yaml:4:11: user 'root' requires running as root"),
		0);
	cr_assert_eq(
		unprivileged_error_matches(WORKER("    group: root\n"),
					   "t.yaml:4:12: group 'root' requires running as root"),
		0);
	cr_assert_eq(unprivileged_error_matches(WORKER("    user: \"0\"\n"),
						"t.yaml:4:11: user '0' requires running as root"),
		     0);
}

/* ---- rules that involve more than one value ---------------------------- */

Test(relations, duplicate_id)
{
	expect_error("children:\n"
		     "  - id: db\n"
		     "    start: [x]\n"
		     "  - id: db\n"
		     "    start: [y]\n",
		     "t.yaml:4:5: duplicate id 'db' (first defined at line 2)");
	expect_error("children:\n"
		     "  - id: s\n"
		     "    type: supervisor\n"
		     "    children:\n"
		     "      - {id: a, start: [x]}\n"
		     "      - {id: b, start: [x]}\n"
		     "      - {id: a, start: [x]}\n",
		     "t.yaml:7:10: duplicate id 'a' (first defined at line 5)");
}

Test(relations, many_children_with_a_late_duplicate)
{
	size_t n = 3000, len = 0, cap = n * 40 + 64;
	char *yaml = malloc(cap), want[128];

	cr_assert_not_null(yaml);
	len += snprintf(yaml + len, cap - len, "children:\n");
	for (size_t i = 0; i < n; i++)
		len += snprintf(yaml + len, cap - len, "  - {id: c%zu, start: [x]}\n", i);
	len += snprintf(yaml + len, cap - len, "  - {id: c1234, start: [x]}\n");
	snprintf(want, sizeof(want),
		 "t.yaml:%zu:6: duplicate id 'c1234' (first defined at line %d)", n + 2, 1234 + 2);
	expect_error(yaml, want);
	free(yaml);
}

Test(relations, significant_requires_transient_or_temporary)
{
	expect_error("auto_shutdown: any_significant\n"
		     "children:\n"
		     "  - id: a\n"
		     "    start: [x]\n"
		     "    significant: true\n",
		     "t.yaml:5:5: significant requires restart transient or temporary");
	expect_error("auto_shutdown: any_significant\n"
		     "children:\n"
		     "  - id: a\n"
		     "    start: [x]\n"
		     "    restart: transient\n"
		     "    shutdown: 100\n"
		     "    restart: permanent\n",
		     "t.yaml:7:5: duplicate key 'restart' (first defined at line 5)");
	expect_error("auto_shutdown: all_significant\n"
		     "children:\n"
		     "  - id: s\n"
		     "    type: supervisor\n"
		     "    restart: permanent\n"
		     "    significant: true\n",
		     "t.yaml:6:5: significant requires restart transient or temporary");
}

Test(relations, significant_requires_auto_shutdown)
{
	expect_error("children:\n"
		     "  - id: a\n"
		     "    start: [x]\n"
		     "    restart: temporary\n"
		     "    significant: true\n",
		     "t.yaml:5:5: significant requires the parent's auto_shutdown to be "
		     "any_significant or all_significant");
	/* the parent is the nested supervisor, not the root */
	expect_error("auto_shutdown: any_significant\n"
		     "children:\n"
		     "  - id: s\n"
		     "    type: supervisor\n"
		     "    children:\n"
		     "      - id: a\n"
		     "        start: [x]\n"
		     "        restart: transient\n"
		     "        significant: true\n",
		     "t.yaml:9:9: significant requires the parent's auto_shutdown to be "
		     "any_significant or all_significant");
}

Test(relations, dynamic_strategy_and_auto_shutdown)
{
	expect_error(
		"children:\n"
		"  - id: d\n"
		"    type: dynamic\n"
		"    strategy: one_for_all\n"
		"    template: {start: [x]}\n",
		"t.yaml:4:15: invalid strategy 'one_for_all' for a dynamic supervisor (expected "
		"one_for_one)");
	expect_error(
		"children:\n"
		"  - id: d\n"
		"    type: dynamic\n"
		"    auto_shutdown: any_significant\n"
		"    template: {start: [x]}\n",
		"t.yaml:4:20: invalid auto_shutdown 'any_significant' for a dynamic supervisor "
		"(expected never)");
}

Test(relations, type_is_read_first)
{
	/* `type` comes last, yet decides that `children` is fine here */
	struct config *cfg = load_ok("children:\n"
				     "  - id: s\n"
				     "    children: [{id: a, start: [x]}]\n"
				     "    type: supervisor\n");

	cr_assert_eq(child(cfg->root, 0)->type, NODE_SUPERVISOR);
	config_free(cfg);
}

/* ---- depth ------------------------------------------------------------- */

/* A chain of `levels` supervisors, the root included, with a worker at the
 * bottom. Each level is 3 lines, indented 4 more than its parent. */
static char *
nested_yaml(int levels)
{
	size_t cap = 64 + (size_t)levels * (size_t)levels * 16 + (size_t)levels * 128, len = 0;
	char *yaml = malloc(cap);

	cr_assert_not_null(yaml);
	len += snprintf(yaml + len, cap - len, "children:\n");
	for (int i = 2; i <= levels; i++) {
		int indent = (i - 2) * 4;
		len += snprintf(yaml + len, cap - len,
				"%*s  - id: s%d\n%*s    type: supervisor\n%*s    children:\n",
				indent, "", i, indent, "", indent, "");
	}
	len += snprintf(yaml + len, cap - len, "%*s  - {id: w, start: [/bin/true]}\n",
			(levels - 1) * 4, "");
	return yaml;
}

Test(depth, sixty_four_levels_accepted)
{
	char *yaml = nested_yaml(SPEC_MAX_DEPTH);
	struct config *cfg = load_ok(yaml);
	const struct child_spec *s = cfg->root;
	int levels = 1;

	while (s->type == NODE_SUPERVISOR && s->sup.nchildren == 1 &&
	       s->sup.children[0]->type == NODE_SUPERVISOR) {
		s = s->sup.children[0];
		levels++;
	}
	cr_assert_eq(levels, SPEC_MAX_DEPTH);
	cr_assert_str_eq(s->sup.children[0]->id, "w");
	config_free(cfg);
	free(yaml);
}

Test(depth, sixty_five_levels_rejected)
{
	char *yaml = nested_yaml(SPEC_MAX_DEPTH + 1);
	char want[128];

	/* level 65 is the 64th nested one: its `type` is on line 3 * 64, at
	 * column 5 + 4 * 63 */
	snprintf(want, sizeof(want), "t.yaml:%d:%d: supervisors nest at most 64 levels deep",
		 3 * 64, 5 + 4 * 63);
	expect_error(yaml, want);
	free(yaml);
}

Test(depth, dynamic_counts_as_a_level)
{
	char *yaml = nested_yaml(SPEC_MAX_DEPTH);
	char *bottom = strstr(yaml, "{id: w, start: [/bin/true]}");
	char *fixed = malloc(strlen(yaml) + 64), want[128];

	cr_assert_not_null(bottom);
	cr_assert_not_null(fixed);
	sprintf(fixed, "%.*s{id: d, type: dynamic, template: {start: [x]}}\n", (int)(bottom - yaml),
		yaml);
	snprintf(want, sizeof(want), "t.yaml:%d:%d: supervisors nest at most 64 levels deep",
		 3 * 63 + 2, 4 * 63 + 5 + 8);
	expect_error(fixed, want);
	free(fixed);
	free(yaml);
}

/* ---- files ------------------------------------------------------------- */

Test(files, cannot_read)
{
	char err[512];
	struct config *cfg = (struct config *)err;

	cr_assert_eq(config_load_file(FIXTURES "does-not-exist.yaml", &cfg, err, sizeof(err)), -1);
	cr_assert_null(cfg);
	cr_assert_str_eq(err,
			 FIXTURES "does-not-exist.yaml: cannot read: No such file or directory");
	cr_assert_eq(config_load_file(FIXTURES, &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, FIXTURES ": cannot read: Is a directory");
}

Test(files, valid_fixture)
{
	char err[512] = "";
	struct config *cfg = NULL;

	cr_assert_eq(config_load_file(FIXTURES "valid-full.yaml", &cfg, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(cfg->file, FIXTURES "valid-full.yaml");
	cr_assert_eq(cfg->root->sup.nchildren, 3);
	cr_assert_str_eq(child(cfg->root, 0)->id, "buckets");
	cr_assert_eq(child(cfg->root, 0)->sup.max_children, 1000);
	cr_assert_str_eq(child(cfg->root, 1)->id, "registry");
	cr_assert_str_eq(child(cfg->root, 2)->id, "web");
	cr_assert_eq(child(cfg->root, 2)->sup.strategy, STRATEGY_REST_FOR_ONE);
	cr_assert_str_eq(cfg->control.socket_path, "/run/supd-test.sock");
	config_free(cfg);
}

Test(files, invalid_fixtures)
{
	char err[512] = "";
	struct config *cfg = NULL;

	cr_assert_eq(config_load_file(FIXTURES "bad-restart.yaml", &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, FIXTURES "bad-restart.yaml:7:14: invalid restart 'sometimes' "
				       "(expected permanent, transient or temporary)");
	cr_assert_eq(config_load_file(FIXTURES "bad-duplicate-id.yaml", &cfg, err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err, FIXTURES "bad-duplicate-id.yaml:8:5: duplicate id 'db' (first "
				       "defined at line 3)");
	cr_assert_eq(config_load_file(FIXTURES "bad-significant.yaml", &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, FIXTURES "bad-significant.yaml:9:9: significant requires restart "
				       "transient or temporary");
	cr_assert_eq(config_load_file(FIXTURES "bad-syntax.yaml", &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, FIXTURES "bad-syntax.yaml:5:4: syntax error: did not find expected "
				       "'-' indicator (while parsing a block collection at line 2, "
				       "column 3)");
	cr_assert_null(cfg);
}

Test(files, examples_load)
{
	static const char *const examples[] = {EXAMPLES "container.yaml", EXAMPLES "tree.yaml"};

	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		char err[512] = "";
		struct config *cfg = NULL;

		cr_assert_eq(config_load_file(examples[i], &cfg, err, sizeof(err)), 0, "%s", err);
		cr_assert_gt(cfg->root->sup.nchildren, 0);
		config_free(cfg);
	}
}

Test(files, example_tree_shape)
{
	char err[512] = "";
	struct config *cfg = NULL;
	const struct child_spec *storage, *frontend, *jobs;

	cr_assert_eq(config_load_file(EXAMPLES "tree.yaml", &cfg, err, sizeof(err)), 0, "%s", err);
	storage = child(cfg->root, 0);
	frontend = child(cfg->root, 1);
	jobs = child(cfg->root, 2);
	cr_assert_eq(storage->sup.strategy, STRATEGY_ONE_FOR_ALL);
	cr_assert_eq(frontend->sup.strategy, STRATEGY_REST_FOR_ONE);
	cr_assert_eq(jobs->type, NODE_DYNAMIC);
	cr_assert_not_null(jobs->sup.template_spec);
	config_free(cfg);
}

/* ---- memory ------------------------------------------------------------ */

Test(memory, error_paths_do_not_leak)
{
	/* errors at every stage: syntax, schema, conversion (after children
	 * and specs were allocated), file */
	static const char *const bad[] = {
		"a: [\n",
		"a: &x 1\n",
		"children: [{id: a, start: [x]}, {id: a, start: [x]}]\n",
		"children: [{id: s, type: supervisor, children: [{id: a, start: [x], env: "
		"[B]}]}]\n",
		"children: [{id: d, type: dynamic, template: {start: [x], stop_signal: NO}}]\n",
		"control: {socket: /x, mode: '9'}\n",
		"forward_signals: [USR1, KILL]\n",
		"children: [{id: a, start: [x], user: no-such-user-here}]\n",
	};
	char err[512];
	struct config *cfg;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(
			config_load_string(bad[i], strlen(bad[i]), NAME, &cfg, err, sizeof(err)),
			-1, "%s", bad[i]);
	cr_assert_eq(config_load_file("/nonexistent/supd.yaml", &cfg, err, sizeof(err)), -1);
	cr_assert_eq(config_load_file(EXAMPLES "tree.yaml", &cfg, err, sizeof(err)), 0);
	config_free(cfg);
#ifdef HAVE_LSAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0);
#endif
}

Test(memory, a_small_error_buffer_is_truncated_safely)
{
	char err[16];
	struct config *cfg;

	memset(err, 'x', sizeof(err));
	cr_assert_eq(config_load_string("strategy: bad\n", 14, NAME, &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "t.yaml:1:11: in");
	cr_assert_eq(config_load_string("strategy: bad\n", 14, NAME, &cfg, NULL, 0), -1);
}

/* output: and events: (SPEC 7.1): a word or a path, or a rotated file. */
Test(output, forms_and_defaults)
{
	struct config *cfg = load_ok("output: prefix\n"
				     "events: {file: /tmp/ev, max_size: 1000000}\n"
				     "children:\n"
				     "  - id: s\n"
				     "    type: supervisor\n"
				     "    output: {file: /tmp/s.log, max_size: 100, keep: 2}\n"
				     "    children:\n"
				     "      - id: w\n"
				     "        start: [/bin/true]\n"
				     "  - id: d\n"
				     "    type: dynamic\n"
				     "    template:\n"
				     "      start: [/bin/true]\n"
				     "      output: inherit\n"
				     "  - id: plain\n"
				     "    start: [/bin/true]\n");
	const struct child_spec *s = cfg->root->sup.children[0];

	cr_assert_eq(cfg->root->output.mode, OUTPUT_PREFIX);
	cr_assert_str_eq(cfg->events_path, "/tmp/ev");
	cr_assert_eq(cfg->events_max_size, 1000000);
	cr_assert_eq(cfg->events_keep, 5);
	cr_assert_eq(s->output.mode, OUTPUT_FILE);
	cr_assert_str_eq(s->output.file, "/tmp/s.log");
	cr_assert_eq(s->output.max_size, 100);
	cr_assert_eq(s->output.keep, 2);
	cr_assert_eq(s->sup.children[0]->output.mode, OUTPUT_UNSET);
	cr_assert_eq(cfg->root->sup.children[1]->sup.template_spec->output.mode, OUTPUT_INHERIT);
	cr_assert_eq(cfg->root->sup.children[2]->output.mode, OUTPUT_UNSET);
	config_free(cfg);

	cfg = load_ok("events: /tmp/plain\n");
	cr_assert_str_eq(cfg->events_path, "/tmp/plain");
	cr_assert_eq(cfg->events_max_size, 0);
	config_free(cfg);
}

Test(output, errors)
{
	expect_error("output: loud\n",
		     "t.yaml:1:9: invalid output 'loud' (expected inherit, prefix, or a mapping "
		     "with file, max_size and keep)");
	expect_error("output: {max_size: 10}\n", "t.yaml:1:9: output needs file (a path)");
	expect_error("output: {file: /x, keep: 1001}\n",
		     "t.yaml:1:26: invalid keep '1001' (expected an integer from 0 to 1000)");
	expect_error("output: {file: /x, colour: red}\n",
		     "t.yaml:1:20: unknown key 'colour' in output");
	expect_error("events: [a]\n",
		     "t.yaml:1:9: invalid events (expected a path or a mapping with file, max_size "
		     "and keep, got a sequence)");
	expect_error("control:\n  output: prefix\n", "t.yaml:2:3: unknown key 'output'");
}
