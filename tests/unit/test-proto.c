/*
 * test-proto.c - the control protocol as data (src/proto.c, include/supd/protocol.h).
 *
 * Request parsing and validation for every operation, the JSON <-> child
 * spec conversion and its errors, reply encoding, the wire names, and the
 * default socket path rule (the views of the tree are test-views.c's).
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proto.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#endif

/* ---- helpers ---- */

static int
parse(const char *line, struct proto_request *req, struct proto_error *err)
{
	memset(err, 0, sizeof(*err));
	return proto_parse_request(line, strlen(line), req, err);
}

/* Parses a line that must be refused with `error`; returns the message. */
static void
expect_refused(const char *line, const char *error)
{
	struct proto_request req;
	struct proto_error err;
	int r = parse(line, &req, &err);

	cr_assert(eq(int, r, -1), "accepted: %s", line);
	cr_assert(err.error != NULL, "no error name for: %s", line);
	cr_assert(eq(str, (char *)err.error, (char *)error), "line: %s (message: %s)", line,
		  err.message);
	cr_assert(err.message[0] != '\0', "empty message for: %s", line);
	proto_request_fini(&req);
}

static void
expect_bad(const char *line)
{
	expect_refused(line, SUPD_E_BAD_REQUEST);
}

static json_t *
load(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);

	cr_assert(v != NULL, "test JSON does not parse: %s: %s", text, jerr.text);
	return v;
}

static struct child_spec *
spec_ok(const char *text, enum auto_shutdown parent_auto, unsigned levels)
{
	struct child_spec *spec = NULL;
	struct proto_error err = {0};
	json_t *v = load(text);
	int r = proto_spec_from_json(v, NULL, parent_auto, levels, &spec, &err);

	json_decref(v);
	cr_assert(eq(int, r, 0), "refused: %s: %s", text, err.message);
	cr_assert(spec != NULL);
	return spec;
}

/* A spec that must be refused; the message must mention `needle`. */
static void
spec_bad(const char *text, const char *needle)
{
	struct child_spec *spec = (struct child_spec *)1;
	struct proto_error err = {0};
	json_t *v = load(text);
	int r = proto_spec_from_json(v, NULL, AUTO_SHUTDOWN_ANY_SIGNIFICANT, 4, &spec, &err);

	json_decref(v);
	cr_assert(eq(int, r, -1), "accepted: %s", text);
	cr_assert(spec == NULL, "spec left behind for: %s", text);
	cr_assert(eq(str, (char *)err.error, SUPD_E_BAD_REQUEST));
	cr_assert(strstr(err.message, needle) != NULL, "message '%s' lacks '%s' for %s",
		  err.message, needle, text);
}

/* ---- framing and envelope ---- */

Test(request, ping_with_tag_of_any_type)
{
	const char *lines[] = {
		"{\"op\":\"ping\",\"tag\":\"abc\"}",
		"{\"op\":\"ping\",\"tag\":42}",
		"{\"tag\":{\"k\":[1,2]},\"op\":\"ping\"}",
	};
	const char *tags[] = {"\"abc\"", "42", "{\"k\":[1,2]}"};

	for (size_t i = 0; i < 3; i++) {
		struct proto_request req;
		struct proto_error err;
		json_t *want = json_loads(tags[i], JSON_DECODE_ANY, NULL);

		cr_assert(eq(int, parse(lines[i], &req, &err), 0), "%s", err.message);
		cr_assert(eq(int, req.op, PROTO_OP_PING));
		cr_assert(req.tag != NULL);
		cr_assert(json_equal(req.tag, want), "tag %zu", i);
		json_decref(want);
		proto_request_fini(&req);
	}
}

Test(request, tag_is_kept_when_the_request_is_refused)
{
	struct proto_request req;
	struct proto_error err;

	cr_assert(eq(int, parse("{\"op\":\"nope\",\"tag\":7}", &req, &err), -1));
	cr_assert(eq(str, (char *)err.error, SUPD_E_UNKNOWN_OP));
	cr_assert(eq(int, json_is_integer(req.tag), 1));
	cr_assert(eq(i64, json_integer_value(req.tag), 7));
	proto_request_fini(&req);

	cr_assert(eq(int, parse("{\"op\":\"which_children\",\"tag\":\"t\"}", &req, &err), -1));
	cr_assert(eq(str, (char *)err.error, SUPD_E_BAD_REQUEST));
	cr_assert(eq(str, (char *)json_string_value(req.tag), "t"));
	proto_request_fini(&req);
}

Test(request, malformed_envelopes)
{
	expect_bad("");
	expect_bad("{");
	expect_bad("not json");
	expect_bad("[1,2]");
	expect_bad("\"ping\"");
	expect_bad("42");
	expect_bad("{}");
	expect_bad("{\"op\":7}");
	expect_bad("{\"op\":null}");
	expect_bad("{\"op\":\"ping\"} trailing");
	expect_bad("{\"op\":\"ping\",\"op\":\"stop\"}"); /* duplicate keys */
	expect_bad("{\"op\":\"ping\",\"tag\":\"a\\u0000b\"}");
	expect_refused("{\"op\":\"frobnicate\"}", SUPD_E_UNKNOWN_OP);
	expect_refused("{\"op\":\"PING\"}", SUPD_E_UNKNOWN_OP);
}

Test(request, invalid_utf8_is_refused)
{
	const char line[] = "{\"op\":\"ping\",\"tag\":\"\xff\xfe\"}";
	const char overlong[] = "{\"op\":\"ping\",\"tag\":\"\xc0\xaf\"}";
	struct proto_request req;
	struct proto_error err;

	cr_assert(eq(int, proto_parse_request(line, sizeof(line) - 1, &req, &err), -1));
	cr_assert(eq(str, (char *)err.error, SUPD_E_BAD_REQUEST));
	proto_request_fini(&req);
	cr_assert(eq(int, proto_parse_request(overlong, sizeof(overlong) - 1, &req, &err), -1));
	proto_request_fini(&req);
}

Test(request, oversized_line)
{
	size_t n = SUPD_LINE_MAX + 10;
	char *line = malloc(n);
	struct proto_request req;
	struct proto_error err;
	int prefix;

	cr_assert(line != NULL);
	prefix = snprintf(line, n, "{\"op\":\"ping\",\"tag\":\"");
	memset(line + prefix, 'a', n - prefix);
	/* One byte over the limit (the newline is not passed in). */
	cr_assert(eq(int, proto_parse_request(line, SUPD_LINE_MAX, &req, &err), -1));
	cr_assert(eq(str, (char *)err.error, SUPD_E_LINE_TOO_LONG));
	proto_request_fini(&req);
	/* The longest allowed line parses. */
	memcpy(line + SUPD_LINE_MAX - 3, "\"}", 2);
	cr_assert(eq(int, proto_parse_request(line, SUPD_LINE_MAX - 1, &req, &err), 0), "%s",
		  err.message);
	cr_assert(eq(sz, strlen(json_string_value(req.tag)), SUPD_LINE_MAX - 3 - prefix));
	proto_request_fini(&req);
	free(line);
}

Test(request, unknown_arguments_are_refused)
{
	expect_bad("{\"op\":\"ping\",\"x\":1}");
	expect_bad("{\"op\":\"stop\",\"now\":true}");
	expect_bad("{\"op\":\"subscribe\",\"filter\":\"x\"}");
	expect_bad("{\"op\":\"terminate_child\",\"sup\":\"/\",\"id\":\"a\",\"lnk\":true}");
	expect_bad("{\"op\":\"tree\",\"sup\":\"/\"}");
}

Test(request, op_names_round_trip)
{
	for (int op = PROTO_OP_START_CHILD; op <= PROTO_OP_PING; op++) {
		char line[128];
		struct proto_request req;
		struct proto_error err;
		const char *args = "";

		switch (op) {
		case PROTO_OP_START_CHILD:
		case PROTO_OP_WHICH_CHILDREN:
		case PROTO_OP_COUNT_CHILDREN:
			args = ",\"sup\":\"/\"";
			break;
		case PROTO_OP_TERMINATE_CHILD:
		case PROTO_OP_RESTART_CHILD:
		case PROTO_OP_DELETE_CHILD:
		case PROTO_OP_GET_CHILDSPEC:
			args = ",\"sup\":\"/\",\"id\":\"a\"";
			break;
		case PROTO_OP_MONITOR:
			args = ",\"pid\":1";
			break;
		case PROTO_OP_DEMONITOR:
			args = ",\"ref\":1";
			break;
		}
		snprintf(line, sizeof(line), "{\"op\":\"%s\"%s}", proto_op_name(op), args);
		cr_assert(eq(int, parse(line, &req, &err), 0), "%s: %s", line, err.message);
		cr_assert(eq(int, req.op, op));
		proto_request_fini(&req);
	}
	cr_assert(eq(str, (char *)proto_op_name(PROTO_OP_START_CHILD), SUPD_OP_START_CHILD));
	cr_assert(eq(str, (char *)proto_op_name(PROTO_OP_PING), SUPD_OP_PING));
}

/* ---- paths ---- */

Test(paths, valid_and_invalid)
{
	const char *good[] = {"/", "/a", "/web/db", "/b-1/x_y/z.9", "/1/2/3"};
	const char *bad[] = {"",     "a",   "web/db", "//",          "/a/", "/a//b",
			     "/./a", "/..", "/a b",   "/a/\xc3\xa9", "/a:b"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(proto_path_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(not(proto_path_valid(bad[i])), "%s", bad[i]);
	cr_assert(not(proto_path_valid(NULL)));
}

Test(paths, too_long_component)
{
	char path[SPEC_ID_MAX + 3];

	path[0] = '/';
	memset(path + 1, 'a', SPEC_ID_MAX);
	path[SPEC_ID_MAX + 1] = '\0';
	cr_assert(proto_path_valid(path));
	path[SPEC_ID_MAX + 1] = 'a';
	path[SPEC_ID_MAX + 2] = '\0';
	cr_assert(not(proto_path_valid(path)));
}

Test(paths, levels)
{
	cr_assert(eq(u32, proto_path_level("/"), 1));
	cr_assert(eq(u32, proto_path_level("/web"), 2));
	cr_assert(eq(u32, proto_path_level("/web/db"), 3));
}

/* ---- per-operation arguments ---- */

Test(args, start_child_dynamic)
{
	struct proto_request req;
	struct proto_error err;

	cr_assert(eq(int,
		     parse("{\"op\":\"start_child\",\"sup\":\"/buckets\",\"id\":\"shop\","
			   "\"args\":[\"--name\",\"x "
			   "y\",\"\"],\"env\":[\"A=1\",\"B=\"],\"link\":true}",
			   &req, &err),
		     0),
		  "%s", err.message);
	cr_assert(eq(str, (char *)req.sup, "/buckets"));
	cr_assert(eq(str, (char *)req.id, "shop"));
	cr_assert(eq(sz, req.nargs, 3));
	cr_assert(eq(str, (char *)req.args[1], "x y"));
	cr_assert(eq(str, (char *)req.args[2], ""));
	cr_assert(eq(sz, req.nenv, 2));
	cr_assert(eq(str, (char *)req.env[1], "B="));
	cr_assert(req.link);
	cr_assert(req.dynamic_args);
	cr_assert(req.spec == NULL);
	proto_request_fini(&req);

	cr_assert(eq(int, parse("{\"op\":\"start_child\",\"sup\":\"/b\"}", &req, &err), 0));
	cr_assert(req.id == NULL && req.nargs == 0 && req.nenv == 0 && !req.link);
	cr_assert(not(req.dynamic_args));
	proto_request_fini(&req);
}

Test(args, integer_ids_read_as_decimal_text)
{
	struct proto_request req;
	struct proto_error err;

	cr_assert(eq(int,
		     parse("{\"op\":\"terminate_child\",\"sup\":\"/b\",\"id\":17}", &req, &err),
		     0));
	cr_assert(eq(str, (char *)req.id, "17"));
	proto_request_fini(&req);
	cr_assert(
		eq(int, parse("{\"op\":\"start_child\",\"sup\":\"/b\",\"id\":0}", &req, &err), 0));
	cr_assert(eq(str, (char *)req.id, "0"));
	proto_request_fini(&req);
	expect_bad("{\"op\":\"terminate_child\",\"sup\":\"/b\",\"id\":-1}");
	expect_bad("{\"op\":\"terminate_child\",\"sup\":\"/b\",\"id\":1.5}");
}

Test(args, start_child_errors)
{
	expect_bad("{\"op\":\"start_child\"}");
	expect_bad("{\"op\":\"start_child\",\"sup\":3}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"b\"}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/b\",\"args\":\"x\"}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/b\",\"args\":[1]}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/b\",\"args\":[\"a\",null]}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/b\",\"env\":[\"NOEQUALS\"]}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/b\",\"env\":[\"=value\"]}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/b\",\"env\":{\"A\":\"1\"}}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/b\",\"link\":1}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/b\",\"id\":\"a/b\"}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/b\",\"id\":\"..\"}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/b\",\"id\":\"\"}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/\",\"spec\":[]}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/\",\"spec\":{},\"args\":[]}");
	expect_bad("{\"op\":\"start_child\",\"sup\":\"/\",\"spec\":{},\"link\":false}");
}

Test(args, id_too_long)
{
	char line[256];
	char id[SPEC_ID_MAX + 2];

	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	snprintf(line, sizeof(line), "{\"op\":\"delete_child\",\"sup\":\"/\",\"id\":\"%s\"}", id);
	expect_bad(line);
	id[SPEC_ID_MAX] = '\0';
	snprintf(line, sizeof(line), "{\"op\":\"delete_child\",\"sup\":\"/\",\"id\":\"%s\"}", id);
	{
		struct proto_request req;
		struct proto_error err;

		cr_assert(eq(int, parse(line, &req, &err), 0), "%s", err.message);
		proto_request_fini(&req);
	}
}

Test(args, child_calls_need_sup_and_id)
{
	const char *ops[] = {"terminate_child", "restart_child", "delete_child", "get_childspec"};

	for (size_t i = 0; i < 4; i++) {
		char line[160];
		struct proto_request req;
		struct proto_error err;

		snprintf(line, sizeof(line), "{\"op\":\"%s\",\"sup\":\"/web\",\"id\":\"db\"}",
			 ops[i]);
		cr_assert(eq(int, parse(line, &req, &err), 0), "%s", err.message);
		cr_assert(eq(str, (char *)req.sup, "/web"));
		cr_assert(eq(str, (char *)req.id, "db"));
		proto_request_fini(&req);
		snprintf(line, sizeof(line), "{\"op\":\"%s\",\"sup\":\"/web\"}", ops[i]);
		expect_bad(line);
		snprintf(line, sizeof(line), "{\"op\":\"%s\",\"id\":\"db\"}", ops[i]);
		expect_bad(line);
		snprintf(line, sizeof(line), "{\"op\":\"%s\",\"sup\":\"/web/\",\"id\":\"db\"}",
			 ops[i]);
		expect_bad(line);
		snprintf(line, sizeof(line), "{\"op\":\"%s\",\"sup\":\"/web\",\"id\":[\"db\"]}",
			 ops[i]);
		expect_bad(line);
		snprintf(line, sizeof(line),
			 "{\"op\":\"%s\",\"sup\":\"/web\",\"id\":\"db\",\"args\":[]}", ops[i]);
		expect_bad(line);
	}
}

Test(args, which_and_count_children)
{
	struct proto_request req;
	struct proto_error err;

	cr_assert(eq(int, parse("{\"op\":\"which_children\",\"sup\":\"/\"}", &req, &err), 0));
	cr_assert(eq(str, (char *)req.sup, "/"));
	proto_request_fini(&req);
	cr_assert(eq(int, parse("{\"op\":\"count_children\",\"sup\":\"/a/b\"}", &req, &err), 0));
	cr_assert(eq(str, (char *)req.sup, "/a/b"));
	proto_request_fini(&req);
	expect_bad("{\"op\":\"which_children\"}");
	expect_bad("{\"op\":\"count_children\",\"sup\":null}");
	expect_bad("{\"op\":\"count_children\",\"sup\":\"/\",\"id\":\"x\"}");
}

Test(args, tree)
{
	struct proto_request req;
	struct proto_error err;

	cr_assert(eq(int, parse("{\"op\":\"tree\"}", &req, &err), 0));
	cr_assert(req.path == NULL);
	proto_request_fini(&req);
	cr_assert(eq(int, parse("{\"op\":\"tree\",\"path\":\"/web\"}", &req, &err), 0));
	cr_assert(eq(str, (char *)req.path, "/web"));
	proto_request_fini(&req);
	expect_bad("{\"op\":\"tree\",\"path\":\"web\"}");
}

Test(args, monitor)
{
	struct proto_request req;
	struct proto_error err;

	cr_assert(eq(int,
		     parse("{\"op\":\"monitor\",\"path\":\"/web/db\",\"pidfd\":true}", &req, &err),
		     0));
	cr_assert(eq(str, (char *)req.path, "/web/db"));
	cr_assert(eq(int, req.pid, 0));
	cr_assert(req.pidfd);
	proto_request_fini(&req);
	cr_assert(eq(int, parse("{\"op\":\"monitor\",\"pid\":4242}", &req, &err), 0));
	cr_assert(req.path == NULL);
	cr_assert(eq(int, req.pid, 4242));
	cr_assert(not(req.pidfd));
	proto_request_fini(&req);

	expect_bad("{\"op\":\"monitor\"}");
	expect_bad("{\"op\":\"monitor\",\"path\":\"/a\",\"pid\":3}");
	expect_bad("{\"op\":\"monitor\",\"pid\":0}");
	expect_bad("{\"op\":\"monitor\",\"pid\":-5}");
	expect_bad("{\"op\":\"monitor\",\"pid\":\"42\"}");
	expect_bad("{\"op\":\"monitor\",\"pid\":4294967296}");
	expect_bad("{\"op\":\"monitor\",\"pid\":1,\"pidfd\":\"yes\"}");
}

Test(args, demonitor)
{
	struct proto_request req;
	struct proto_error err;

	cr_assert(eq(int, parse("{\"op\":\"demonitor\",\"ref\":12}", &req, &err), 0));
	cr_assert(eq(u64, req.ref, 12));
	proto_request_fini(&req);
	expect_bad("{\"op\":\"demonitor\"}");
	expect_bad("{\"op\":\"demonitor\",\"ref\":0}");
	expect_bad("{\"op\":\"demonitor\",\"ref\":\"12\"}");
	expect_bad("{\"op\":\"demonitor\",\"ref\":1e3}");
}

Test(args, start_child_kind_check)
{
	struct proto_request req;
	struct proto_error err;

	cr_assert(eq(int,
		     parse("{\"op\":\"start_child\",\"sup\":\"/d\",\"args\":[\"x\"]}", &req, &err),
		     0));
	cr_assert(eq(int, proto_check_start_child(&req, NODE_DYNAMIC, &err), 0));
	cr_assert(eq(int, proto_check_start_child(&req, NODE_SUPERVISOR, &err), -1));
	cr_assert(eq(str, (char *)err.error, SUPD_E_BAD_REQUEST));
	proto_request_fini(&req);

	cr_assert(eq(
		int,
		parse("{\"op\":\"start_child\",\"sup\":\"/\",\"spec\":{\"id\":\"a\"}}", &req, &err),
		0));
	cr_assert(eq(int, proto_check_start_child(&req, NODE_SUPERVISOR, &err), 0));
	cr_assert(eq(int, proto_check_start_child(&req, NODE_DYNAMIC, &err), -1));
	proto_request_fini(&req);

	/* A static supervisor needs a spec. */
	cr_assert(eq(int, parse("{\"op\":\"start_child\",\"sup\":\"/\"}", &req, &err), 0));
	cr_assert(eq(int, proto_check_start_child(&req, NODE_SUPERVISOR, &err), -1));
	cr_assert(strstr(err.message, "spec") != NULL);
	cr_assert(eq(int, proto_check_start_child(&req, NODE_DYNAMIC, &err), 0));
	proto_request_fini(&req);
}

/* ---- JSON child specs ---- */

Test(spec, worker_defaults)
{
	struct child_spec *s =
		spec_ok("{\"id\":\"w\",\"start\":[\"/bin/true\"]}", AUTO_SHUTDOWN_NEVER, 0);

	cr_assert(eq(str, s->id, "w"));
	cr_assert(eq(int, s->type, NODE_WORKER));
	cr_assert(eq(int, s->restart, RESTART_PERMANENT));
	cr_assert(eq(i64, s->shutdown_ms, SPEC_DEFAULT_SHUTDOWN_MS));
	cr_assert(not(s->significant));
	cr_assert(eq(sz, s->worker.argc, 1));
	cr_assert(eq(str, s->worker.argv[0], "/bin/true"));
	cr_assert(s->worker.argv[1] == NULL);
	cr_assert(s->worker.cwd == NULL && s->worker.user == NULL && s->worker.group == NULL);
	cr_assert(eq(int, s->worker.stop_signal, SIGTERM));
	cr_assert(s->worker.kill_group);
	cr_assert(exit_set_has_code(&s->worker.normal_exit, 0));
	cr_assert(not(exit_set_has_code(&s->worker.normal_exit, 1)));
	cr_assert(eq(int, s->worker.ready, READY_NONE));
	cr_assert(eq(i64, s->worker.start_timeout_ms, SPEC_DEFAULT_START_TIMEOUT_MS));
	spec_free(s);
}

Test(spec, worker_every_key)
{
	struct child_spec *s = spec_ok(
		"{\"id\":\"w\",\"type\":\"worker\",\"start\":[\"/bin/sh\",\"-c\",\"x\"],"
		"\"restart\":\"transient\",\"shutdown\":\"brutal_kill\",\"significant\":true,"
		"\"env\":[\"A=1\",\"B=x=y\"],\"cwd\":\"/tmp\",\"user\":\"nobody\","
		"\"group\":\"nogroup\",\"stop_signal\":\"INT\",\"kill_group\":false,"
		"\"normal_exit\":[0,3,\"SIGTERM\",\"HUP\"],\"ready\":\"notify\","
		"\"start_timeout\":250}",
		AUTO_SHUTDOWN_ANY_SIGNIFICANT, 0);

	cr_assert(eq(int, s->restart, RESTART_TRANSIENT));
	cr_assert(eq(i64, s->shutdown_ms, SHUTDOWN_BRUTAL_KILL));
	cr_assert(s->significant);
	cr_assert(eq(sz, s->worker.argc, 3));
	cr_assert(eq(sz, s->worker.envc, 2));
	cr_assert(eq(str, s->worker.env[1], "B=x=y"));
	cr_assert(eq(str, s->worker.cwd, "/tmp"));
	cr_assert(eq(str, s->worker.user, "nobody"));
	cr_assert(eq(str, s->worker.group, "nogroup"));
	cr_assert(not(s->worker.has_uid), "names are resolved by the caller");
	cr_assert(eq(int, s->worker.stop_signal, SIGINT));
	cr_assert(not(s->worker.kill_group));
	cr_assert(exit_set_has_code(&s->worker.normal_exit, 0));
	cr_assert(exit_set_has_code(&s->worker.normal_exit, 3));
	cr_assert(exit_set_has_signal(&s->worker.normal_exit, SIGTERM));
	cr_assert(exit_set_has_signal(&s->worker.normal_exit, SIGHUP));
	cr_assert(not(exit_set_has_signal(&s->worker.normal_exit, SIGKILL)));
	cr_assert(eq(int, s->worker.ready, READY_NOTIFY));
	cr_assert(eq(i64, s->worker.start_timeout_ms, 250));
	spec_free(s);
}

Test(spec, shutdown_forms)
{
	struct child_spec *s;

	s = spec_ok("{\"id\":\"w\",\"start\":[\"x\"],\"shutdown\":\"infinity\"}", 0, 0);
	cr_assert(eq(i64, s->shutdown_ms, SHUTDOWN_INFINITY));
	spec_free(s);
	s = spec_ok("{\"id\":\"w\",\"start\":[\"x\"],\"shutdown\":0}", 0, 0);
	cr_assert(eq(i64, s->shutdown_ms, 0));
	spec_free(s);
	s = spec_ok("{\"id\":\"w\",\"start\":[\"x\"],\"shutdown\":2147483647}", 0, 0);
	cr_assert(eq(i64, s->shutdown_ms, INT32_MAX));
	spec_free(s);
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"shutdown\":-1}", "shutdown");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"shutdown\":2147483648}", "shutdown");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"shutdown\":1.5}", "shutdown");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"shutdown\":5000.0}", "shutdown");
	/* a scalar is its text, as in YAML: "5000" is 5000 */
	s = spec_ok("{\"id\":\"w\",\"start\":[\"x\"],\"shutdown\":\"5000\"}", 0, 0);
	cr_assert(eq(i64, s->shutdown_ms, 5000));
	spec_free(s);
}

Test(spec, signals_by_name_only)
{
	struct child_spec *s = spec_ok("{\"id\":\"w\",\"start\":[\"x\"],\"stop_signal\":\"USR1\","
				       "\"normal_exit\":[\"USR2\"]}",
				       0, 0);

	cr_assert(eq(int, s->worker.stop_signal, SIGUSR1));
	cr_assert(exit_set_has_signal(&s->worker.normal_exit, SIGUSR2));
	cr_assert(not(exit_set_has_code(&s->worker.normal_exit, 0)),
		  "the list replaces the default");
	spec_free(s);
	s = spec_ok("{\"id\":\"w\",\"start\":[\"x\"],\"stop_signal\":\"SIGRTMIN+2\"}", 0, 0);
	cr_assert(eq(int, s->worker.stop_signal, SIGRTMIN + 2));
	spec_free(s);
	/* numbers are refused, as in the config file: 32 and 33 belong to libc */
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"stop_signal\":10}",
		 "invalid stop_signal '10' (expected a signal name such as SIGTERM)");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"stop_signal\":32}", "stop_signal");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"stop_signal\":\"SIGSTOP\"}",
		 "it stops the process");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"stop_signal\":\"SIGNOPE\"}", "SIGNOPE");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"stop_signal\":true}", "stop_signal");
}

Test(spec, worker_errors)
{
	spec_bad("{\"start\":[\"x\"]}", "spec: missing required key 'id'");
	spec_bad("{\"id\":\"a b\",\"start\":[\"x\"]}", "invalid id");
	spec_bad("{\"id\":\"w\"}", "spec: missing required key 'start'");
	spec_bad("{\"id\":\"w\",\"start\":[]}", "spec.start");
	spec_bad("{\"id\":\"w\",\"start\":[\"\"]}", "spec.start");
	spec_bad("{\"id\":\"w\",\"start\":\"/bin/true\"}", "spec.start");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\",[2]]}", "spec.start[1]: invalid start entry");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"bogus\":1}", "spec.bogus: unknown key");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"strategy\":\"one_for_one\"}",
		 "does not apply to a worker");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"restart\":\"sometimes\"}", "sometimes");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"restart\":1}", "spec.restart");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"type\":\"daemon\"}", "spec.type");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"significant\":true}", "transient or temporary");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"significant\":\"yes\"}", "significant");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"env\":[\"X\"]}", "NAME=value");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"env\":\"X=1\"}", "spec.env");
	/* the file has always refused this; the socket now does too */
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"env\":[\"A=1\",\"B=2\",\"A=3\"]}",
		 "spec.env[2]: duplicate env name 'A' (first defined at spec.env[0])");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"cwd\":\"\"}", "spec.cwd");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"cwd\":{}}", "spec.cwd");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"cwd\":null}", "spec.cwd");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"kill_group\":1}", "kill_group");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"normal_exit\":[256]}", "0 to 255");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"normal_exit\":[-1]}", "0 to 255");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"normal_exit\":0}", "normal_exit");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"normal_exit\":[null]}", "normal_exit");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"ready\":\"yes\"}", "spec.ready");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"start_timeout\":0}", "start_timeout");
	spec_bad("{\"id\":\"w\",\"start\":[\"x\"],\"start_timeout\":\"5s\"}", "start_timeout");
}

Test(spec, significant_needs_auto_shutdown_in_the_parent)
{
	const char *text = "{\"id\":\"w\",\"start\":[\"x\"],\"restart\":\"temporary\","
			   "\"significant\":true}";
	struct child_spec *spec = NULL;
	struct proto_error err = {0};
	json_t *v = load(text);

	cr_assert(eq(int, proto_spec_from_json(v, NULL, AUTO_SHUTDOWN_NEVER, 0, &spec, &err), -1));
	cr_assert(strstr(err.message, "auto_shutdown") != NULL, "%s", err.message);
	cr_assert(eq(int,
		     proto_spec_from_json(v, NULL, AUTO_SHUTDOWN_ALL_SIGNIFICANT, 0, &spec, &err),
		     0));
	cr_assert(spec->significant);
	spec_free(spec);
	json_decref(v);
}

Test(spec, nested_supervisor)
{
	struct child_spec *s = spec_ok(
		"{\"id\":\"web\",\"type\":\"supervisor\",\"strategy\":\"rest_for_one\","
		"\"max_restarts\":0,\"max_seconds\":60,\"auto_shutdown\":\"any_significant\","
		"\"children\":[{\"id\":\"db\",\"start\":[\"db\"]},"
		"{\"id\":\"app\",\"start\":[\"app\"],\"restart\":\"transient\",\"significant\":"
		"true}]}",
		AUTO_SHUTDOWN_NEVER, 2);

	cr_assert(eq(int, s->type, NODE_SUPERVISOR));
	cr_assert(eq(i64, s->shutdown_ms, SHUTDOWN_INFINITY), "supervisors default to infinity");
	cr_assert(eq(int, s->sup.strategy, STRATEGY_REST_FOR_ONE));
	cr_assert(eq(u32, s->sup.max_restarts, 0));
	cr_assert(eq(u32, s->sup.max_seconds, 60));
	cr_assert(eq(int, s->sup.auto_shutdown, AUTO_SHUTDOWN_ANY_SIGNIFICANT));
	cr_assert(eq(sz, s->sup.nchildren, 2));
	cr_assert(eq(str, s->sup.children[1]->id, "app"));
	cr_assert(s->sup.children[1]->significant);
	spec_free(s);

	s = spec_ok("{\"id\":\"empty\",\"type\":\"supervisor\"}", AUTO_SHUTDOWN_NEVER, 1);
	cr_assert(eq(sz, s->sup.nchildren, 0));
	cr_assert(eq(u32, s->sup.max_restarts, SPEC_DEFAULT_MAX_RESTARTS));
	cr_assert(eq(u32, s->sup.max_seconds, SPEC_DEFAULT_MAX_SECONDS));
	spec_free(s);
}

Test(spec, supervisor_errors)
{
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"start\":[\"x\"]}",
		 "spec.start: key 'start' does not apply to a supervisor");
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"template\":{}}", "spec.template");
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"strategy\":\"all_for_one\"}", "strategy");
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"max_restarts\":-1}", "max_restarts");
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"max_restarts\":1000001}", "max_restarts");
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"max_seconds\":0}", "max_seconds");
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"auto_shutdown\":\"sometimes\"}",
		 "auto_shutdown");
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"children\":{}}", "children");
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"children\":[1]}",
		 "spec.children[0]: invalid children entry '1' (expected a mapping)");
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"children\":[{\"id\":\"a\",\"start\":["
		 "\"x\"]},"
		 "{\"id\":\"a\",\"start\":[\"y\"]}]}",
		 "duplicate id 'a'");
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"children\":[{\"id\":\"a\",\"start\":["
		 "\"x\"]},"
		 "{\"id\":\"b\",\"start\":[\"y\"],\"restart\":\"oops\"}]}",
		 "spec.children[1].restart");
	/* a significant child of a supervisor that never auto-shuts down */
	spec_bad("{\"id\":\"s\",\"type\":\"supervisor\",\"children\":[{\"id\":\"a\",\"start\":["
		 "\"x\"],"
		 "\"restart\":\"temporary\",\"significant\":true}]}",
		 "spec.children[0].significant");
}

Test(spec, nesting_depth)
{
	struct child_spec *spec = NULL;
	struct proto_error err = {0};
	json_t *two =
		load("{\"id\":\"a\",\"type\":\"supervisor\",\"children\":[{\"id\":\"b\","
		     "\"type\":\"supervisor\",\"children\":[{\"id\":\"w\",\"start\":[\"x\"]}]}]}");
	json_t *worker = load("{\"id\":\"w\",\"start\":[\"x\"]}");

	cr_assert(
		eq(int, proto_spec_from_json(two, NULL, AUTO_SHUTDOWN_NEVER, 1, &spec, &err), -1));
	cr_assert(strstr(err.message, "spec.children[0].type") != NULL, "%s", err.message);
	cr_assert(eq(int, proto_spec_from_json(two, NULL, AUTO_SHUTDOWN_NEVER, 2, &spec, &err), 0),
		  "%s", err.message);
	spec_free(spec);
	cr_assert(eq(int, proto_spec_from_json(worker, NULL, AUTO_SHUTDOWN_NEVER, 0, &spec, &err),
		     0));
	spec_free(spec);
	json_decref(two);
	json_decref(worker);
}

Test(spec, dynamic_supervisor)
{
	struct child_spec *s = spec_ok(
		"{\"id\":\"buckets\",\"type\":\"dynamic\",\"max_children\":1000,"
		"\"template\":{\"start\":[\"/usr/libexec/kv-bucket\"],\"restart\":\"temporary\","
		"\"shutdown\":5000}}",
		AUTO_SHUTDOWN_NEVER, 1);

	cr_assert(eq(int, s->type, NODE_DYNAMIC));
	cr_assert(eq(u32, s->sup.max_children, 1000));
	cr_assert(s->sup.template_spec != NULL);
	cr_assert(s->sup.template_spec->id == NULL);
	cr_assert(eq(int, s->sup.template_spec->restart, RESTART_TEMPORARY));
	cr_assert(eq(str, s->sup.template_spec->worker.argv[0], "/usr/libexec/kv-bucket"));
	spec_free(s);

	s = spec_ok("{\"id\":\"d\",\"type\":\"dynamic\",\"max_children\":\"infinity\","
		    "\"template\":{\"start\":[\"x\"]}}",
		    AUTO_SHUTDOWN_NEVER, 1);
	cr_assert(eq(u32, s->sup.max_children, SPEC_UNLIMITED));
	spec_free(s);

	spec_bad("{\"id\":\"d\",\"type\":\"dynamic\"}", "spec: missing required key 'template'");
	spec_bad("{\"id\":\"d\",\"type\":\"dynamic\",\"template\":[]}", "spec.template");
	spec_bad(
		"{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"id\":\"t\",\"start\":[\"x\"]}}",
		"spec.template.id: key 'id' is not allowed in a template");
	spec_bad("{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"type\":\"supervisor\"}}",
		 "spec.template.type: key 'type' is not allowed in a template");
	spec_bad("{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"start\":[]}}",
		 "spec.template.start");
	spec_bad("{\"id\":\"d\",\"type\":\"dynamic\",\"strategy\":\"one_for_all\","
		 "\"template\":{\"start\":[\"x\"]}}",
		 "one_for_one");
	spec_bad("{\"id\":\"d\",\"type\":\"dynamic\",\"children\":[],\"template\":{\"start\":["
		 "\"x\"]}}",
		 "spec.children: key 'children' does not apply to a dynamic");
	spec_bad("{\"id\":\"d\",\"type\":\"dynamic\",\"max_children\":-1,"
		 "\"template\":{\"start\":[\"x\"]}}",
		 "max_children");
	spec_bad("{\"id\":\"d\",\"type\":\"dynamic\",\"max_children\":\"lots\","
		 "\"template\":{\"start\":[\"x\"]}}",
		 "max_children");
	/* significant templates need the dynamic supervisor's auto_shutdown */
	spec_bad("{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"start\":[\"x\"],"
		 "\"restart\":\"temporary\",\"significant\":true}}",
		 "spec.template.significant");
	/* the same rules as the config file */
	spec_bad("{\"id\":\"d\",\"type\":\"dynamic\",\"auto_shutdown\":\"any_significant\","
		 "\"template\":{\"start\":[\"x\"]}}",
		 "spec.auto_shutdown");
	spec_bad("{\"id\":\"d\",\"type\":\"dynamic\",\"max_children\":0,"
		 "\"template\":{\"start\":[\"x\"]}}",
		 "max_children");
}

Test(spec, not_an_object)
{
	struct child_spec *spec = NULL;
	struct proto_error err = {0};
	json_t *v = json_string("x");

	cr_assert(eq(int, proto_spec_from_json(v, NULL, AUTO_SHUTDOWN_NEVER, 1, &spec, &err), -1));
	cr_assert(spec == NULL);
	json_decref(v);
}

/* spec -> JSON -> spec -> JSON gives the same JSON, with every key present. */
static void
round_trip(const char *text, unsigned levels)
{
	struct child_spec *a = spec_ok(text, AUTO_SHUTDOWN_ANY_SIGNIFICANT, levels), *b = NULL;
	struct proto_error err = {0};
	json_t *ja = proto_spec_to_json(a, true), *jb;
	char *dump;

	cr_assert(ja != NULL);
	cr_assert(
		eq(int,
		   proto_spec_from_json(ja, NULL, AUTO_SHUTDOWN_ANY_SIGNIFICANT, levels, &b, &err),
		   0),
		"the JSON form does not read back: %s", err.message);
	jb = proto_spec_to_json(b, true);
	dump = json_dumps(ja, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert(json_equal(ja, jb), "round trip changed %s", dump);
	free(dump);
	json_decref(ja);
	json_decref(jb);
	spec_free(a);
	spec_free(b);
}

Test(spec, round_trips)
{
	round_trip("{\"id\":\"w\",\"start\":[\"x\"]}", 0);
	round_trip(
		"{\"id\":\"w\",\"start\":[\"/bin/sh\",\"-c\",\"é ☃\"],\"restart\":\"transient\","
		"\"shutdown\":\"infinity\",\"significant\":true,\"env\":[\"A=1\"],\"cwd\":\"/\","
		"\"user\":\"u\",\"group\":\"g\",\"stop_signal\":\"SIGQUIT\",\"kill_group\":false,"
		"\"normal_exit\":[1,255,\"SIGKILL\"],\"ready\":\"notify\",\"start_timeout\":9}",
		0);
	round_trip("{\"id\":\"w\",\"start\":[\"x\"],\"stop_signal\":\"SIGRTMIN+6\"}", 0);
	round_trip("{\"id\":\"d\",\"type\":\"dynamic\",\"template\":{\"start\":[\"x\"]}}", 1);
	round_trip("{\"id\":\"s\",\"type\":\"supervisor\",\"strategy\":\"one_for_all\","
		   "\"children\":[{\"id\":\"d\",\"type\":\"dynamic\",\"max_children\":5,"
		   "\"template\":{\"start\":[\"b\"]}},{\"id\":\"w\",\"start\":[\"x\"],"
		   "\"shutdown\":\"brutal_kill\"}]}",
		   3);
}

Test(spec, to_json_has_every_key)
{
	struct child_spec *s = spec_ok("{\"id\":\"w\",\"start\":[\"x\"]}", 0, 0);
	json_t *j = proto_spec_to_json(s, true);
	/* cwd, user and group only when set: null is never a value */
	const char *keys[] = {"id",          "type",        "restart", "shutdown",
			      "significant", "start",       "env",     "stop_signal",
			      "kill_group",  "normal_exit", "ready",   "start_timeout"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		cr_assert(json_object_get(j, keys[i]) != NULL, "missing %s", keys[i]);
	cr_assert(eq(sz, json_object_size(j), sizeof(keys) / sizeof(keys[0])));
	cr_assert(eq(int, json_integer_value(json_object_get(j, "shutdown")), 5000));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(j, "stop_signal")), "SIGTERM"));
	cr_assert(json_object_get(j, "cwd") == NULL);
	json_decref(j);
	spec_free(s);
}

/* ---- replies ---- */

static char *
dump(json_t *msg, json_t *tag)
{
	size_t len = 0;
	char *line = proto_dump(msg, tag, &len);

	cr_assert(line != NULL);
	cr_assert(eq(sz, len, strlen(line)));
	cr_assert(eq(chr, line[len - 1], '\n'));
	json_decref(msg);
	return line;
}

Test(reply, ok_and_error_lines)
{
	json_t *tag = json_string("t1");
	char *line;

	line = dump(proto_ok(), NULL);
	cr_assert(eq(str, line, "{\"ok\":true}\n"));
	free(line);
	line = dump(proto_ok(), tag);
	cr_assert(eq(str, line, "{\"ok\":true,\"tag\":\"t1\"}\n"));
	free(line);
	line = dump(proto_error(SUPD_E_NOT_FOUND, "no child '%s' in %s", "x", "/web"), tag);
	cr_assert(eq(str, line,
		     "{\"ok\":false,\"error\":\"not_found\",\"message\":\"no child 'x' in /web\","
		     "\"tag\":\"t1\"}\n"));
	free(line);
	json_decref(tag);
}

Test(reply, error_from_parse_failure)
{
	struct proto_request req;
	struct proto_error err;
	char *line;

	cr_assert(eq(int, parse("{\"op\":\"which_children\",\"tag\":[1]}", &req, &err), -1));
	line = dump(proto_error_from(&err), req.tag);
	cr_assert(eq(str, line,
		     "{\"ok\":false,\"error\":\"bad_request\",\"message\":\"missing argument "
		     "'sup'\",\"tag\":[1]}\n"));
	free(line);
	proto_request_fini(&req);
}

Test(reply, messages_stay_valid_utf8)
{
	/* A key of multi-byte characters longer than the quoting limit is
	 * clipped at a character boundary, never inside one. */
	char line[1024] = "{\"op\":\"ping\",\"";
	struct proto_request req;
	struct proto_error err;
	json_t *msg;

	for (int i = 0; i < 100; i++)
		strcat(line, "\xe2\x98\x83"); /* U+2603 */
	strcat(line, "\":1}");
	cr_assert(eq(int, parse(line, &req, &err), -1));
	msg = proto_error_from(&err);
	cr_assert(msg != NULL, "the message is not valid UTF-8: %s", err.message);
	cr_assert(strlen(err.message) < 200);
	json_decref(msg);
	proto_request_fini(&req);

	/* A long message is cut by the buffer, and still valid. */
	{
		char big[600] = "";

		for (int i = 0; i < 150; i++)
			strcat(big, "\xc3\xa9");
		msg = proto_error(SUPD_E_BAD_REQUEST, "x%s", big);
		cr_assert(msg != NULL);
		json_decref(msg);
	}
}

Test(reply, status_and_down)
{
	struct exit_status code = {.signaled = false, .value = 3};
	struct exit_status sig = {.signaled = true, .value = SIGSEGV};
	char *line;

	line = dump(proto_status_json(code), NULL);
	cr_assert(eq(str, line, "{\"code\":3}\n"));
	free(line);
	line = dump(proto_status_json(sig), NULL);
	cr_assert(eq(str, line, "{\"signal\":\"SIGSEGV\"}\n"));
	free(line);
	line = dump(proto_down_json(7, "/web/db", 4242, "crash", &sig), NULL);
	cr_assert(eq(str, line,
		     "{\"event\":\"down\",\"ref\":7,\"path\":\"/web/db\",\"pid\":4242,\"reason\":"
		     "\"crash\",\"status\":{\"signal\":\"SIGSEGV\"}}\n"));
	free(line);
	line = dump(proto_down_json(8, NULL, 0, SUPD_REASON_NOPROC, NULL), NULL);
	cr_assert(
		eq(str, line,
		   "{\"event\":\"down\",\"ref\":8,\"path\":null,\"pid\":null,\"reason\":\"noproc\","
		   "\"status\":null}\n"));
	free(line);
}

Test(names, core_errors)
{
	struct {
		enum core_error e;
		const char *name;
	} table[] = {
		{CORE_OK, "ok"},
		{CORE_E_NOT_FOUND, SUPD_E_NOT_FOUND},
		{CORE_E_RUNNING, SUPD_E_RUNNING},
		{CORE_E_RESTARTING, SUPD_E_RESTARTING},
		{CORE_E_NOT_SUPPORTED, SUPD_E_NOT_SUPPORTED},
		{CORE_E_ALREADY_STARTED, SUPD_E_ALREADY_STARTED},
		{CORE_E_ALREADY_PRESENT, SUPD_E_ALREADY_PRESENT},
		{CORE_E_MAX_CHILDREN, SUPD_E_MAX_CHILDREN},
		{CORE_E_START_FAILED, SUPD_E_START_FAILED},
		{CORE_E_SHUTDOWN, SUPD_E_SHUTTING_DOWN},
		{CORE_E_NOMEM, SUPD_E_NO_MEMORY},
		{CORE_E_INVALID, SUPD_E_BAD_REQUEST},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		cr_assert(
			eq(str, (char *)proto_core_error_name(table[i].e), (char *)table[i].name));
	cr_assert(eq(str, SUPD_E_SHUTTING_DOWN, "shutting_down"));
	cr_assert(eq(str, SUPD_E_ALREADY_PRESENT, "already_present"));
}

Test(names, states_and_reasons)
{
	cr_assert(eq(str, (char *)child_state_name(CHILD_DOWN), "stopped"));
	cr_assert(eq(str, (char *)child_state_name(CHILD_STARTING), "starting"));
	cr_assert(eq(str, (char *)child_state_name(CHILD_RUNNING), "running"));
	cr_assert(eq(str, (char *)child_state_name(CHILD_STOPPING), "stopping"));
	cr_assert(eq(str, (char *)child_state_name(CHILD_RESTARTING), "restarting"));
	cr_assert(eq(str, (char *)exit_reason_name(REASON_NORMAL), "normal"));
	cr_assert(eq(str, (char *)exit_reason_name(REASON_SHUTDOWN), "shutdown"));
	cr_assert(eq(str, (char *)exit_reason_name(REASON_KILLED), "killed"));
	cr_assert(eq(str, (char *)exit_reason_name(REASON_CRASH), "crash"));
}

/* ---- the default socket path ---- */

Test(socket_path, root)
{
	char buf[128];

	cr_assert(eq(int, geteuid(), 0), "the suite runs as root");
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	cr_assert(eq(int, supd_default_socket_path(buf, sizeof(buf)), 0));
	cr_assert(eq(str, buf, SUPD_SOCKET_SYSTEM));
	cr_assert(eq(int, supd_default_socket_path(buf, 4), -ENAMETOOLONG));
}

Test(socket_path, unprivileged)
{
	char buf[128];

	/* Only the effective uid matters; it is restored before asserting. */
	if (geteuid() != 0)
		cr_skip_test("needs root to switch the effective uid");
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	cr_assert(eq(int, seteuid(1000), 0));
	int with_xdg = supd_default_socket_path(buf, sizeof(buf));
	char xdg[128];
	snprintf(xdg, sizeof(xdg), "%s", buf);
	unsetenv("XDG_RUNTIME_DIR");
	int without = supd_default_socket_path(buf, sizeof(buf));
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "%s", buf);
	setenv("XDG_RUNTIME_DIR", "relative/dir", 1);
	int relative = supd_default_socket_path(buf, sizeof(buf));
	cr_assert(eq(int, seteuid(0), 0));

	cr_assert(eq(int, with_xdg, 0));
	cr_assert(eq(str, xdg, "/run/user/1000/supd.sock"));
	cr_assert(eq(int, without, 0));
	cr_assert(eq(str, tmp, "/tmp/supd-1000.sock"));
	cr_assert(eq(int, relative, 0));
	cr_assert(eq(str, buf, "/tmp/supd-1000.sock"), "a relative XDG_RUNTIME_DIR is ignored");
}

/* ---- regressions found by fuzz/fuzz-request ---- */

/* A refused child of a static supervisor spec was left out of its parent's
 * count, so freeing the parent leaked it (issue 9, item 12). The first line
 * is fuzz/corpus/request/regress-nested-refused-child. */
Test(regress, refused_nested_child_is_freed)
{
	static const char *const specs[] = {
		"{\"id\":\"s\",\"type\":\"supervisor\",\"children\":[{\"id\":\"a\",\"start\":["
		"\"a\"]},"
		"{\"id\":\"b\",\"start\":[]}]}",
		"{\"id\":\"s\",\"type\":\"supervisor\",\"children\":[{\"id\":\"b\",\"start\":["
		"\"b\"],"
		"\"restart\":\"sometimes\"}]}",
		"{\"id\":\"s\",\"type\":\"supervisor\",\"children\":[{\"id\":\"t\",\"type\":"
		"\"supervisor\",\"children\":[{\"id\":\"a\",\"start\":[\"a\"]},{\"id\":\"a\","
		"\"start\":[\"a\"]}]}]}",
	};

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct child_spec *spec = (struct child_spec *)1;
		struct proto_error err = {0};
		json_t *v = json_loads(specs[i], 0, NULL);

		cr_assert(v != NULL);
		cr_assert(eq(int,
			     proto_spec_from_json(v, NULL, AUTO_SHUTDOWN_NEVER, 4, &spec, &err),
			     -1),
			  "accepted: %s", specs[i]);
		cr_assert(spec == NULL);
		json_decref(v);
	}
#ifdef HAVE_LSAN
	cr_assert(eq(int, __lsan_do_recoverable_leak_check(), 0), "a refused spec leaked");
#endif
}

/* The metrics reply bypasses jansson's encoder: what it writes must read
 * back through jansson as the same string, tag and all, including bytes
 * that must be escaped and texts longer than its escaping chunk. */
static void
expect_string_line(const char *text, size_t len, json_t *tag)
{
	/* In three pieces (the first and last may be empty), as the metrics
	 * op passes its families. */
	struct iovec parts[3] = {{(void *)text, len / 3},
				 {(void *)(text + len / 3), len / 2},
				 {(void *)(text + len / 3 + len / 2), len - len / 3 - len / 2}};
	size_t line_len;
	char *line = proto_ok_string_line("metrics", parts, 3, tag, &line_len);
	json_error_t jerr;
	json_t *msg, *value;
	bool one_line, same;

	cr_assert(line != NULL);
	cr_assert(eq(sz, strlen(line), line_len));
	one_line = line[line_len - 1] == '\n' && !memchr(line, '\n', line_len - 1);
	cr_assert(one_line, "one line with its newline");
	msg = json_loadb(line, line_len, 0, &jerr);
	cr_assert(msg != NULL, "not JSON (%s): %.200s", jerr.text, line);
	one_line = json_is_true(json_object_get(msg, "ok"));
	cr_assert(one_line, "ok is true");
	value = json_object_get(msg, "metrics");
	same = json_is_string(value);
	cr_assert(same, "metrics is a string");
	cr_assert(eq(sz, json_string_length(value), len));
	same = memcmp(json_string_value(value), text, len) == 0;
	cr_assert(same, "the string reads back as it was");
	if (tag)
		cr_assert(json_equal(json_object_get(msg, "tag"), tag) == 1);
	else
		cr_assert(json_object_get(msg, "tag") == NULL);
	json_decref(msg);
	free(line);
}

Test(reply, ok_string_line_reads_back)
{
	static const char odd[] = "a \"quoted\" \\ back\\slash\n\t\r\b\f\x01\x1f end é";
	json_t *tag = json_pack("{s:i,s:[s]}", "n", 7, "l", "x\"y");
	size_t big_len = 100000;
	char *big = malloc(big_len);

	expect_string_line("", 0, NULL);
	expect_string_line(odd, sizeof(odd) - 1, NULL);
	expect_string_line(odd, sizeof(odd) - 1, tag);
	/* Every byte escaped, over many chunks: the buffer must grow. */
	memset(big, '\x02', big_len);
	expect_string_line(big, big_len, tag);
	for (size_t i = 0; i < big_len; i++)
		big[i] = "supd_child_up{path=\"/p\"} 1\n"[i % 27];
	expect_string_line(big, big_len, NULL);
	free(big);
	json_decref(tag);
}
