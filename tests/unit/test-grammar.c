/*
 * test-grammar.c - one grammar, two front ends: the same child spec as a
 * config file (YAML, block style) and as a start_child spec (JSON) gets the
 * same verdict and the same message, and, when valid, the same spec.
 *
 * Each case is written once, as JSON; the YAML is generated from it in
 * block style (mappings as "key: value" lines, sequences as "- " entries,
 * strings double-quoted), so the two texts share no syntax. Both go through
 * the public entry points (config_load_buffer, proto_spec_from_json) with
 * the real host, so the checks against the machine are compared too.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cgroup.h"
#include "config.h"
#include "grammar.h"
#include "proto.h"
#include "spec.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#endif

struct variant {
	const char *json;
	const char *message; /* NULL: valid */
};

#define W(extra) "{\"id\":\"w\",\"start\":[\"/bin/true\"]" extra "}"
#define S(extra) "{\"id\":\"s\",\"type\":\"supervisor\"" extra "}"
#define D(extra)                                                                                   \
	"{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"start\":[\"/bin/true\"]}" extra "}"

static const struct variant variants[] = {
	/* id */
	{W(""), NULL},
	{"{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	 "\"start\":[\"/bin/true\"]}",
	 NULL},
	{"{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	 "\"start\":[\"/bin/true\"]}",
	 "invalid id 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' (expected "
	 "1 "
	 "to 64 characters from [A-Za-z0-9_.-], not '.' or '..')"},
	{"{\"id\":\"..\",\"start\":[\"/bin/true\"]}",
	 "invalid id '..' (expected 1 to 64 characters from [A-Za-z0-9_.-], not '.' or '..')"},
	{"{\"id\":\"\",\"start\":[\"/bin/true\"]}", "invalid id '' (expected a non-empty string)"},
	{"{\"id\":42,\"start\":[\"/bin/true\"]}", NULL},
	{"{\"id\":null,\"start\":[\"/bin/true\"]}", "invalid id (expected a string, got null)"},
	{"{\"start\":[\"/bin/true\"]}", "missing required key 'id'"},
	/* type */
	{W(",\"type\":\"worker\""), NULL},
	{W(",\"type\":\"daemon\""),
	 "invalid type 'daemon' (expected worker, supervisor or dynamic)"},
	{W(",\"type\":\"Worker\""),
	 "invalid type 'Worker' (expected worker, supervisor or dynamic; did you mean 'worker'?)"},
	/* restart */
	{W(",\"restart\":\"transient\""), NULL},
	{W(",\"restart\":\"temporay\""),
	 "invalid restart 'temporay' (expected permanent, transient or temporary; did you mean "
	 "'temporary'?)"},
	{W(",\"restart\":1"), "invalid restart '1' (expected permanent, transient or temporary)"},
	/* shutdown */
	{W(",\"shutdown\":0"), NULL},
	{W(",\"shutdown\":2147483647"), NULL},
	{W(",\"shutdown\":\"5000\""), NULL},
	{W(",\"shutdown\":\"brutal_kill\""), NULL},
	{W(",\"shutdown\":\"infinity\""), NULL},
	{W(",\"shutdown\":2147483648"),
	 "invalid shutdown '2147483648' (expected brutal_kill, infinity or milliseconds from 0 to "
	 "2147483647)"},
	{W(",\"shutdown\":-1"),
	 "invalid shutdown '-1' (expected brutal_kill, infinity or milliseconds from 0 to "
	 "2147483647)"},
	{W(",\"shutdown\":1.5"),
	 "invalid shutdown '1.5' (expected brutal_kill, infinity or milliseconds from 0 to "
	 "2147483647)"},
	/* significant */
	{W(",\"restart\":\"temporary\",\"significant\":true"), NULL},
	{W(",\"significant\":true"), "significant requires restart transient or temporary"},
	{W(",\"significant\":\"yes\""), "invalid significant 'yes' (expected true or false)"},
	/* start */
	{"{\"id\":\"w\",\"start\":[\"sh\",\"-c\",\"exit 0\"]}", NULL},
	{"{\"id\":\"w\",\"start\":[]}",
	 "invalid start (expected a non-empty sequence of strings, got an empty sequence)"},
	{"{\"id\":\"w\",\"start\":\"/bin/true\"}",
	 "invalid start '/bin/true' (expected a non-empty sequence of strings)"},
	{"{\"id\":\"w\",\"start\":[\"\"]}", "invalid start entry '' (expected a program name)"},
	{"{\"id\":\"w\",\"start\":[\"/bin/true\",{}]}",
	 "invalid start entry (expected a string, got a mapping)"},
	{"{\"id\":\"w\",\"start\":[\"/nonexistent/prog\"]}",
	 "program '/nonexistent/prog' not found (No such file or directory)"},
	{"{\"id\":\"w\",\"start\":[\"/etc/passwd\"]}", "program '/etc/passwd' is not executable"},
	{"{\"id\":\"w\",\"start\":[\"no-such-program-x\"],\"env\":[\"PATH=/bin\"]}",
	 "program 'no-such-program-x' not found in PATH (/bin)"},
	{"{\"id\":\"w\",\"start\":[\"true\"],\"env\":[\"PATH=/nonexistent:/bin\"]}", NULL},
	{"{\"id\":\"w\"}", "missing required key 'start'"},
	/* env */
	{W(",\"env\":[\"A=1\",\"B=x=y\",\"C=\"]"), NULL},
	{W(",\"env\":[\"A\"]"), "invalid env entry 'A' (expected NAME=value)"},
	{W(",\"env\":[\"=1\"]"), "invalid env entry '=1' (expected NAME=value)"},
	{W(",\"env\":[\"A=1\",\"A=2\"]"), "duplicate env name 'A'"},
	{W(",\"env\":\"A=1\""), "invalid env 'A=1' (expected a sequence of strings)"},
	/* cwd */
	{W(",\"cwd\":\"/\""), NULL},
	{W(",\"cwd\":\"/nonexistent\""), "cwd '/nonexistent' does not exist"},
	{W(",\"cwd\":\"/etc/passwd\""), "cwd '/etc/passwd' is not a directory"},
	{W(",\"cwd\":\"\""), "invalid cwd '' (expected a non-empty string)"},
	{W(",\"cwd\":[\"/\"]"), "invalid cwd (expected a string, got a sequence)"},
	{"{\"id\":\"w\",\"start\":[\"./true\"],\"cwd\":\"/bin\"}", NULL},
	/* user, group */
	{W(",\"user\":\"no-such-user-here\""), "unknown user 'no-such-user-here'"},
	{W(",\"group\":\"no-such-group-here\""), "unknown group 'no-such-group-here'"},
	/* stop_signal */
	{W(",\"stop_signal\":\"SIGINT\""), NULL},
	{W(",\"stop_signal\":\"hup\""), NULL},
	{W(",\"stop_signal\":\"SIGRTMIN+3\""), NULL},
	{W(",\"stop_signal\":9"),
	 "invalid stop_signal '9' (expected a signal name such as SIGTERM)"},
	{W(",\"stop_signal\":\"SIGTREM\""),
	 "invalid stop_signal 'SIGTREM' (expected a signal name such as SIGTERM; did you mean "
	 "'SIGTERM'?)"},
	{W(",\"stop_signal\":\"SIGSTOP\""),
	 "invalid stop_signal 'SIGSTOP' (it stops the process instead of ending it)"},
	/* kill_group */
	{W(",\"kill_group\":false"), NULL},
	{W(",\"kill_group\":\"no\""), "invalid kill_group 'no' (expected true or false)"},
	/* normal_exit */
	{W(",\"normal_exit\":[0,255,\"SIGTERM\",\"HUP\"]"), NULL},
	{W(",\"normal_exit\":[256]"),
	 "invalid normal_exit entry '256' (expected an exit code from 0 to 255 or a signal name)"},
	{W(",\"normal_exit\":[-1]"),
	 "invalid normal_exit entry '-1' (expected an exit code from 0 to 255 or a signal name)"},
	{W(",\"normal_exit\":[null]"), "invalid normal_exit entry (expected a string, got null)"},
	/* ready, start_timeout */
	{W(",\"ready\":\"notify\""), NULL},
	{W(",\"ready\":\"notfy\""),
	 "invalid ready 'notfy' (expected none, notify, exit, or a mapping with fd, exec or "
	 "tcp; did you mean 'notify'?)"},
	/* SPEC 7.2 readiness */
	{W(",\"ready\":\"exit\",\"restart\":\"transient\""), NULL},
	{W(",\"ready\":\"exit\""),
	 "ready: exit (a one-shot job) requires restart transient or temporary"},
	{W(",\"ready\":{\"fd\":3}"), NULL},
	{W(",\"ready\":{\"fd\":2}"),
	 "invalid fd '2' (expected a descriptor number from 3 to 1023)"},
	{W(",\"ready\":{\"fd\":3,\"interval\":5}"), "ready: {fd: N} takes nothing else"},
	{W(",\"ready\":{\"exec\":[\"/bin/true\"],\"interval\":20}"), NULL},
	{W(",\"ready\":{\"tcp\":\"127.0.0.1:5432\"}"), NULL},
	{W(",\"ready\":{\"tcp\":\"/run/db.sock\",\"exec\":[\"x\"]}"),
	 "ready needs exactly one of exec and tcp"},
	{W(",\"ready\":{\"tpc\":\"/run/db.sock\"}"),
	 "unknown key 'tpc' in ready; did you mean 'tcp'?"},
	{W(",\"ready\":{\"tcp\":\"nocolon\"}"),
	 "nocolon is not HOST:PORT or an absolute socket path"},
	{W(",\"ready\":\"notify\",\"notify_access\":\"all\""), NULL},
	{W(",\"notify_access\":\"any\""), "invalid notify_access 'any' (expected main or all)"},
	/* SPEC 7.3 health */
	{W(",\"health\":{\"exec\":[\"/bin/true\"],\"interval\":1000,\"timeout\":200,"
	   "\"retries\":2}"),
	 NULL},
	{W(",\"health\":{\"tcp\":\"/run/web.sock\"}"), NULL},
	{W(",\"health\":{\"interval\":10}"), "health needs exactly one of exec and tcp"},
	{W(",\"health\":{\"exec\":[\"/bin/true\"],\"retries\":0}"),
	 "invalid retries '0' (expected an integer from 1 to 1000000)"},
	/* SPEC 7.4 backoff */
	{W(",\"backoff\":{\"min\":100,\"max\":1000,\"reset_after\":5000}"), NULL},
	{W(",\"backoff\":{\"min\":100}"), NULL},
	{W(",\"backoff\":{\"max\":100}"), "backoff needs min (milliseconds)"},
	{W(",\"backoff\":{\"min\":100,\"max\":10}"),
	 "invalid max '10' (expected milliseconds from 100 to 2147483647)"},
	{W(",\"backoff\":100"),
	 "invalid backoff '100' (expected a mapping with min, max and reset_after)"},
	/* SPEC 7.6 environment and limits */
	{W(",\"env_file\":\"/nonexistent/x.env\""),
	 "env_file /nonexistent/x.env: No such file or directory"},
	{W(",\"env\":[\"A=${HOME\"]"), "A=${HOME: ${ without a closing }"},
	{W(",\"umask\":\"0022\",\"nice\":5"), NULL},
	{W(",\"umask\":\"0999\""), "invalid umask '0999' (expected an octal mode such as 0022)"},
	{W(",\"nice\":20"), "invalid nice '20' (expected an integer from -20 to 19)"},
	{W(",\"rlimits\":{\"nofile\":1024,\"core\":0,\"fsize\":{\"soft\":1,\"hard\":2}}"), NULL},
	{W(",\"rlimits\":{\"nofiles\":1024}"),
	 "unknown resource limit 'nofiles' (expected as, core, cpu, data, fsize, locks, memlock, "
	 "msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending or stack); did you "
	 "mean 'nofile'?"},
	{W(",\"rlimits\":{\"core\":{\"soft\":2,\"hard\":1}}"), "soft limit above the hard limit"},
	/* SPEC 7.7 limits: the test's config has no cgroup: true, and the
	 * test process is no supd that has it */
	{W(",\"memory_max\":\"512M\""), "memory_max requires cgroup: true at the top level"},
	{W(",\"pids_max\":\"max\",\"cpu_weight\":1"),
	 "pids_max requires cgroup: true at the top level"},
	{D(""), NULL},
	{"{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"start\":[\"/bin/true\"],"
	 "\"cpu_weight\":100}}",
	 "cpu_weight requires cgroup: true at the top level"},
	{W(",\"memory_max\":\"12X\""),
	 "invalid memory_max '12X' (expected max, bytes, or a size such as 512M (K, M, G or T))"},
	{W(",\"memory_max\":0"),
	 "invalid memory_max '0' (expected max, bytes, or a size such as 512M (K, M, G or T))"},
	{W(",\"pids_max\":0"),
	 "invalid pids_max '0' (expected max or an integer from 1 to 4194304)"},
	{W(",\"cpu_weight\":10001"),
	 "invalid cpu_weight '10001' (expected an integer from 1 to 10000)"},
	{W(",\"cgroup\":true"), "key 'cgroup' is only allowed at the top level"},
	{W(",\"forward_signals\":[\"SIGUSR1\",\"SIGHUP\"]"), NULL},
	{W(",\"forward_signals\":[\"SIGTERM\"]"), "cannot forward SIGTERM (supd handles it)"},
	{W(",\"start_timeout\":1"), NULL},
	{W(",\"start_timeout\":2147483647"), NULL},
	{W(",\"start_timeout\":0"),
	 "invalid start_timeout '0' (expected an integer from 1 to 2147483647)"},
	{W(",\"start_timeout\":2147483648"),
	 "invalid start_timeout '2147483648' (expected an integer from 1 to 2147483647)"},
	/* keys that do not belong */
	{W(",\"restrat\":\"temporary\""), "unknown key 'restrat' (did you mean 'restart'?)"},
	{W(",\"bogus\":1"), "unknown key 'bogus'"},
	{W(",\"strategy\":\"one_for_all\""), "key 'strategy' does not apply to a worker"},
	{W(",\"events\":\"/tmp/e\""), "key 'events' is only allowed at the top level"},
	/* supervisors */
	{S(""), NULL},
	{S(",\"strategy\":\"rest_for_one\",\"max_restarts\":0,\"max_seconds\":1"), NULL},
	{S(",\"max_restarts\":1000000,\"max_seconds\":31536000"), NULL},
	{S(",\"max_restarts\":1000001"),
	 "invalid max_restarts '1000001' (expected an integer from 0 to 1000000)"},
	{S(",\"max_restarts\":-1"), "invalid max_restarts '-1' (expected an integer from 0 to "
				    "1000000)"},
	{S(",\"max_seconds\":0"), "invalid max_seconds '0' (expected an integer from 1 to "
				  "31536000)"},
	{S(",\"max_seconds\":31536001"),
	 "invalid max_seconds '31536001' (expected an integer from 1 to 31536000)"},
	{S(",\"max_restarts\":\"5e3\""),
	 "invalid max_restarts '5e3' (expected an integer from 0 to 1000000)"},
	{S(",\"strategy\":\"one_for_some\""),
	 "invalid strategy 'one_for_some' (expected one_for_one, one_for_all or rest_for_one; did "
	 "you mean 'one_for_one'?)"},
	{S(",\"auto_shutdown\":\"any_significant\",\"children\":[{\"id\":\"a\",\"start\":[\"/bin/"
	   "true\"],\"restart\":\"transient\",\"significant\":true}]"),
	 NULL},
	{S(",\"children\":[{\"id\":\"a\",\"start\":[\"/bin/true\"],\"restart\":\"transient\","
	   "\"significant\":true}]"),
	 "significant requires the parent's auto_shutdown to be any_significant or "
	 "all_significant"},
	{S(",\"children\":[{\"id\":\"a\",\"start\":[\"/bin/true\"]},{\"id\":\"a\",\"start\":[\"/"
	   "bin/true\"]}]"),
	 "duplicate id 'a'"},
	{S(",\"children\":[{\"id\":\"a\",\"start\":[\"/bin/true\"]},{\"id\":\"b\",\"start\":[\"/"
	   "nonexistent/x\"]}]"),
	 "program '/nonexistent/x' not found (No such file or directory)"},
	{S(",\"children\":[\"a\"]"), "invalid children entry 'a' (expected a mapping)"},
	{S(",\"children\":{}"),
	 "invalid children (expected a sequence of mappings, got a mapping)"},
	{S(",\"start\":[\"/bin/true\"]"), "key 'start' does not apply to a supervisor"},
	{S(",\"max_children\":3"), "key 'max_children' does not apply to a supervisor"},
	/* dynamic supervisors */
	{D(""), NULL},
	{D(",\"max_children\":1"), NULL},
	{D(",\"max_children\":4294967294"), NULL},
	{D(",\"max_children\":\"infinity\""), NULL},
	{D(",\"max_children\":0"),
	 "invalid max_children '0' (expected infinity or an integer from 1 to 4294967294)"},
	{D(",\"max_children\":4294967295"),
	 "invalid max_children '4294967295' (expected infinity or an integer from 1 to "
	 "4294967294)"},
	{D(",\"strategy\":\"one_for_all\""),
	 "invalid strategy 'one_for_all' for a dynamic supervisor (expected one_for_one)"},
	{D(",\"auto_shutdown\":\"any_significant\""),
	 "invalid auto_shutdown 'any_significant' for a dynamic supervisor (expected never)"},
	{D(",\"children\":[]"), "key 'children' does not apply to a dynamic supervisor"},
	{"{\"id\":\"d\",\"type\":\"dynamic\"}", "missing required key 'template'"},
	{"{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"id\":\"t\",\"start\":[\"/bin/"
	 "true\"]}}",
	 "key 'id' is not allowed in a template"},
	{"{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"type\":\"worker\",\"start\":[\"/bin/"
	 "true\"]}}",
	 "key 'type' is not allowed in a template"},
	{"{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"restart\":\"temporary\"}}",
	 "missing required key 'start'"},
	{"{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"start\":[\"/nonexistent/x\"]}}",
	 "program '/nonexistent/x' not found (No such file or directory)"},
	{"{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"start\":[\"/bin/true\"],"
	 "\"allow_env\":[\"A\",\"B_2\"]}}",
	 NULL},
	{"{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"start\":[\"/bin/true\"],"
	 "\"allow_env\":[\"A=1\"]}}",
	 "invalid allow_env entry 'A=1' (expected a name)"},
	{W(",\"allow_env\":[\"A\"]"), "key 'allow_env' does not apply to a worker"},
	{"{\"id\":\"d\",\"type\":\"dynamic\",\"template\":[]}",
	 "invalid template (expected a mapping, got a sequence)"},
};

/* ---- block-style YAML from a JSON value --------------------------------- */

struct text {
	char buf[8192];
	size_t len;
};

static void
put(struct text *t, const char *s)
{
	size_t n = strlen(s);

	cr_assert_lt(t->len + n, sizeof(t->buf), "YAML too long");
	memcpy(t->buf + t->len, s, n + 1);
	t->len += n;
}

static void
put_indent(struct text *t, int indent)
{
	for (int i = 0; i < indent; i++)
		put(t, " ");
}

/* A scalar as YAML reads it: strings double-quoted (a JSON string is a
 * YAML double-quoted string), the rest plain. */
static void
put_scalar(struct text *t, const json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY);

	cr_assert_not_null(s);
	put(t, s);
	free(s);
}

static bool
is_block(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) ||
	       (json_is_array(v) && json_array_size(v) > 0);
}

static void put_block(struct text *t, const json_t *v, int indent);

static void
put_value_after(struct text *t, const json_t *v, int indent)
{
	if (is_block(v)) {
		put(t, "\n");
		put_block(t, v, indent);
	} else if (json_is_object(v)) {
		put(t, " {}\n");
	} else if (json_is_array(v)) {
		put(t, " []\n");
	} else {
		put(t, " ");
		put_scalar(t, v);
		put(t, "\n");
	}
}

static void
put_block(struct text *t, const json_t *v, int indent)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, item)
		{
			put_indent(t, indent);
			put(t, key);
			put(t, ":");
			put_value_after(t, item, indent + 2);
		}
	} else {
		json_array_foreach((json_t *)v, i, item)
		{
			put_indent(t, indent);
			put(t, "-");
			put_value_after(t, item, indent + 2);
		}
	}
}

/* ---- the two verdicts --------------------------------------------------- */

/* The message without the position ("t.yaml:L:C: " or "spec.x: ") and
 * without the front end's way of naming the first of two duplicates. */
static void
core_message(const char *full, bool from_yaml, char *out, size_t len)
{
	const char *msg = full, *end;

	if (from_yaml) {
		/* FILE:LINE:COL: */
		for (int colons = 0; colons < 3 && msg; colons++) {
			msg = strchr(msg, ':');
			msg = msg ? msg + 1 : NULL;
		}
		cr_assert_not_null(msg, "no FILE:LINE:COL in '%s'", full);
		msg++;
		cr_assert_not_null(strchr(full, ':'));
	} else {
		msg = strstr(full, ": ");
		cr_assert_not_null(msg, "no PATH in '%s'", full);
		msg += 2;
	}
	end = strchr(msg, '\n');
	if (!end)
		end = msg + strlen(msg);
	snprintf(out, len, "%.*s", (int)(end - msg), msg);
	if ((msg = strstr(out, " (first defined at ")))
		*(char *)msg = '\0';
}

static void
check_variant(const struct variant *v)
{
	json_error_t jerr;
	json_t *spec_json = json_loads(v->json, 0, &jerr);
	struct text yaml = {.len = 0};
	char err[4096] = "", yaml_msg[1024], json_msg[1024];
	struct config *cfg = NULL;
	struct child_spec *spec = NULL;
	struct proto_error perr = {0};
	int yrc, jrc;

	cr_assert_not_null(spec_json, "bad test JSON %s: %s", v->json, jerr.text);
	put(&yaml, "auto_shutdown: any_significant\nchildren:\n  -\n");
	put_block(&yaml, spec_json, 4);

	yrc = config_load_buffer(yaml.buf, yaml.len, "t.yaml", &spec_host_system, &cfg, err,
				 sizeof(err));
	jrc = proto_spec_from_json(spec_json, &spec_host_system, AUTO_SHUTDOWN_ANY_SIGNIFICANT,
				   SPEC_MAX_DEPTH - 1, &spec, &perr);
	cr_assert_eq(yrc, jrc, "verdicts differ for %s: YAML %d (%s), JSON %d (%s)\n%s", v->json,
		     yrc, err, jrc, perr.message, yaml.buf);
	if (v->message) {
		cr_assert_eq(yrc, -1, "accepted, expected '%s': %s", v->message, v->json);
		core_message(err, true, yaml_msg, sizeof(yaml_msg));
		core_message(perr.message, false, json_msg, sizeof(json_msg));
		cr_assert_str_eq(yaml_msg, json_msg, "messages differ for %s\n%s", v->json,
				 yaml.buf);
		cr_assert_str_eq(yaml_msg, v->message, "for %s", v->json);
		cr_assert_null(spec);
	} else {
		json_t *a, *b;

		cr_assert_eq(yrc, 0, "refused %s: %s\n%s", v->json, err, yaml.buf);
		cr_assert_eq(cfg->root->sup.nchildren, 1);
		a = proto_spec_to_json(cfg->root->sup.children[0], true);
		b = proto_spec_to_json(spec, true);
		cr_assert(json_equal(a, b), "different specs for %s", v->json);
		json_decref(a);
		json_decref(b);
		spec_free(spec);
		config_free(cfg);
	}
	json_decref(spec_json);
}

Test(grammar, both_front_ends_agree)
{
	size_t n = sizeof(variants) / sizeof(variants[0]);

	cr_assert_geq(n, 60);
	for (size_t i = 0; i < n; i++)
		check_variant(&variants[i]);
}

/* The user the tests run as is always a valid user:, as a name and as a
 * number; a uid without an entry needs root. */
Test(grammar, users_agree)
{
	char buf[128];
	struct variant v = {buf, NULL};

	snprintf(buf, sizeof(buf), W(",\"user\":\"%u\""), (unsigned)geteuid());
	check_variant(&v);
	snprintf(buf, sizeof(buf), W(",\"user\":%u"), (unsigned)geteuid());
	check_variant(&v);
	snprintf(buf, sizeof(buf), W(",\"user\":\"54321\""));
	v.message = geteuid() == 0 ? NULL : "user '54321' requires running as root";
	check_variant(&v);
}

/* Every problem of a file is reported, each at its place. */
Test(grammar, every_problem_of_a_file)
{
	const char *yaml = "strategy: one_for_some\n"
			   "children:\n"
			   "  - id: a\n"
			   "    start: [/bin/true]\n"
			   "    restrat: temporary\n"
			   "  - id: b\n"
			   "    start: [/nonexistent/b]\n"
			   "    cwd: /nonexistent\n"
			   "  - id: a\n"
			   "    start: [/bin/true]\n"
			   "    shutdown: soon\n";
	char err[4096];
	struct config *cfg;

	cr_assert_eq(config_load_buffer(yaml, strlen(yaml), "t.yaml", &spec_host_system, &cfg, err,
					sizeof(err)),
		     -1);
	cr_assert_str_eq(err,
			 "t.yaml:1:11: invalid strategy 'one_for_some' (expected one_for_one, "
			 "one_for_all or rest_for_one; did you mean 'one_for_one'?)\n"
			 "t.yaml:5:5: unknown key 'restrat' (did you mean 'restart'?)\n"
			 "t.yaml:8:10: cwd '/nonexistent' does not exist\n"
			 "t.yaml:11:15: invalid shutdown 'soon' (expected brutal_kill, infinity or "
			 "milliseconds from 0 to 2147483647)\n"
			 "t.yaml:9:5: duplicate id 'a' (first defined at line 3)");
}

/* SPEC 7.7 in a file: the limits with cgroup: true (the text alone: no
 * host), without it (an error at each limit), and a bad cgroup value. */
Test(grammar, cgroup_keys_in_a_file)
{
	const char *good = "cgroup: true\n"
			   "children:\n"
			   "  - id: a\n"
			   "    start: [/bin/true]\n"
			   "    memory_max: 512M\n"
			   "    pids_max: max\n"
			   "    cpu_weight: 50\n";
	const char *bad = "cgroup: false\n"
			  "children:\n"
			  "  - id: a\n"
			  "    start: [/bin/true]\n"
			  "    memory_max: 1048576\n"
			  "    pids_max: 64\n"
			  "  - id: b\n"
			  "    start: [/bin/true]\n"
			  "    cpu_weight: 50\n";
	const char *word = "cgroup: maybe\n";
	char err[4096];
	struct config *cfg;
	const struct worker_spec *w;

	cr_assert_eq(config_load_buffer(good, strlen(good), "t.yaml", NULL, &cfg, err, sizeof(err)),
		     0, "%s", err);
	cr_assert(cfg->cgroup);
	w = &cfg->root->sup.children[0]->worker;
	cr_assert_eq(w->memory_max, 512 << 20);
	cr_assert_eq(w->pids_max, SPEC_CGROUP_MAX);
	cr_assert_eq(w->cpu_weight, 50);
	config_free(cfg);

	cr_assert_eq(config_load_buffer(bad, strlen(bad), "t.yaml", NULL, &cfg, err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "t.yaml:5:17: memory_max requires cgroup: true at the top level\n"
			      "t.yaml:6:15: pids_max requires cgroup: true at the top level\n"
			      "t.yaml:9:17: cpu_weight requires cgroup: true at the top level");
	cr_assert_eq(config_load_buffer(word, strlen(word), "t.yaml", NULL, &cfg, err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "t.yaml:1:9: invalid cgroup 'maybe' (expected true or false)");
}

/* SPEC 7.7 against the machine: the file's verdict on a limit is what the
 * cgroup tree says of its controller, at the limit's position; cgroup:
 * true where no subtree is writable is an error at the key. */
Test(grammar, cgroup_limits_on_this_machine)
{
	const char *yaml = "cgroup: true\n"
			   "children:\n"
			   "  - id: a\n"
			   "    start: [/bin/true]\n"
			   "    memory_max: 64M\n";
	char err[4096], dir[4096], why[512], expect[1200];
	struct config *cfg;
	int rc = config_load_buffer(yaml, strlen(yaml), "t.yaml", &spec_host_system, &cfg, err,
				    sizeof(err));

	if (cgroup_locate(dir, sizeof(dir), why, sizeof(why)) < 0) {
		/* The checks of top-level keys against the machine come after
		 * the children's problems (grammar_config). */
		snprintf(expect, sizeof(expect),
			 "t.yaml:5:17: %s\n"
			 "t.yaml:1:9: cgroup: true needs a writable cgroup v2 subtree: %s",
			 why, why);
		cr_assert_eq(rc, -1);
		cr_assert_str_eq(err, expect);
	} else if (cgroup_check_controller("memory", why, sizeof(why)) < 0) {
		snprintf(expect, sizeof(expect), "t.yaml:5:17: %s", why);
		cr_assert_eq(rc, -1);
		cr_assert_str_eq(err, expect);
		cr_assert(strstr(err, "cgroup v2 memory controller not enabled in "), "%s", err);
	} else {
		cr_assert_eq(rc, 0, "%s", err);
		config_free(cfg);
	}
}

/* issue 9 item 12: a static start_child whose nested child fails leaked
 * that child. */
Test(grammar, a_refused_nested_spec_leaks_nothing)
{
	const char *texts[] = {
		S(",\"children\":[{\"id\":\"a\",\"start\":[\"/bin/true\"],\"restart\":\"x\"}]"),
		S(",\"children\":[{\"id\":\"a\",\"start\":[\"/bin/true\"]},{\"id\":\"a\","
		  "\"start\":[\"/bin/true\"]}]"),
		S(",\"children\":[{\"id\":\"n\",\"type\":\"supervisor\",\"children\":[{\"id\":"
		  "\"a\",\"start\":[\"/bin/true\"],\"env\":[\"X\"]}]}]"),
		"{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"start\":[\"/bin/true\"],"
		"\"bogus\":1}}",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *v = json_loads(texts[i], 0, NULL);
		struct child_spec *spec = NULL;
		struct proto_error err = {0};

		cr_assert_not_null(v);
		cr_assert_eq(proto_spec_from_json(v, NULL, AUTO_SHUTDOWN_NEVER, 4, &spec, &err), -1,
			     "%s", texts[i]);
		cr_assert_null(spec);
		json_decref(v);
	}
#ifdef HAVE_LSAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0);
#endif
}
