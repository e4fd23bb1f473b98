/*
 * proto.c - the control protocol as data: requests in, replies out.
 *
 * Owns the wire vocabulary of SPEC section 6: how a request line becomes a
 * validated struct proto_request, how a JSON child spec becomes a struct
 * child_spec (and back), and the JSON of replies (the views of the runtime
 * tree are views.c's). Everything here is a pure function of its arguments:
 * it never touches a socket, the event loop, the clock or the tree. Every
 * refusal is a struct proto_error whose message is safe to send back (valid
 * UTF-8, bounded).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "grammar.h"
#include "json_tree.h"
#include "proto.h"
#include "service_keys.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* User text quoted in error messages is clipped to this many bytes. */
#define QUOTE_MAX 64

/* ---- error messages ---- */

/* Length of the longest prefix of s (at most max bytes) that does not end
 * inside a UTF-8 sequence; s itself is valid UTF-8 (jansson checked it). */
static size_t
utf8_clip_len(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* Removes an incomplete UTF-8 sequence left at the end of buf by a
 * truncating snprintf. */
static void
utf8_trim_tail(char *buf)
{
	size_t n = strlen(buf), start = n, need;
	unsigned char lead;

	while (start > 0 && n - start < 4 && ((unsigned char)buf[start - 1] & 0xc0) == 0x80)
		start--;
	if (start == 0)
		return;
	lead = (unsigned char)buf[start - 1];
	if (lead < 0x80)
		return;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (n - (start - 1) < need)
		buf[start - 1] = '\0';
}

static void __attribute__((format(printf, 3, 4)))
fail(struct proto_error *err, const char *error, const char *fmt, ...)
{
	va_list ap;

	err->error = error;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	utf8_trim_tail(err->message);
}

/* ---- argument helpers ---- */

static const char *const op_names[] = {
	[PROTO_OP_START_CHILD] = SUPD_OP_START_CHILD,
	[PROTO_OP_TERMINATE_CHILD] = SUPD_OP_TERMINATE_CHILD,
	[PROTO_OP_RESTART_CHILD] = SUPD_OP_RESTART_CHILD,
	[PROTO_OP_DELETE_CHILD] = SUPD_OP_DELETE_CHILD,
	[PROTO_OP_WHICH_CHILDREN] = SUPD_OP_WHICH_CHILDREN,
	[PROTO_OP_COUNT_CHILDREN] = SUPD_OP_COUNT_CHILDREN,
	[PROTO_OP_GET_CHILDSPEC] = SUPD_OP_GET_CHILDSPEC,
	[PROTO_OP_TREE] = SUPD_OP_TREE,
	[PROTO_OP_MONITOR] = SUPD_OP_MONITOR,
	[PROTO_OP_DEMONITOR] = SUPD_OP_DEMONITOR,
	[PROTO_OP_SUBSCRIBE] = SUPD_OP_SUBSCRIBE,
	[PROTO_OP_STOP] = SUPD_OP_STOP,
	[PROTO_OP_PING] = SUPD_OP_PING,
	[PROTO_OP_SIGNAL] = SUPD_OP_SIGNAL,
	[PROTO_OP_METRICS] = SUPD_OP_METRICS,
	[PROTO_OP_LOGS] = SUPD_OP_LOGS,
	[PROTO_OP_REOPEN] = SUPD_OP_REOPEN,
	[PROTO_OP_RELOAD] = SUPD_OP_RELOAD,
};

/* The members each operation takes besides "op" and "tag". */
static const char *const op_keys[][7] = {
	[PROTO_OP_START_CHILD] = {"sup", "id", "args", "env", "link", "spec", NULL},
	[PROTO_OP_TERMINATE_CHILD] = {"sup", "id", NULL},
	[PROTO_OP_RESTART_CHILD] = {"sup", "id", NULL},
	[PROTO_OP_DELETE_CHILD] = {"sup", "id", NULL},
	[PROTO_OP_WHICH_CHILDREN] = {"sup", NULL},
	[PROTO_OP_COUNT_CHILDREN] = {"sup", NULL},
	[PROTO_OP_GET_CHILDSPEC] = {"sup", "id", NULL},
	[PROTO_OP_TREE] = {"path", NULL},
	[PROTO_OP_MONITOR] = {"path", "pid", "pidfd", NULL},
	[PROTO_OP_DEMONITOR] = {"ref", NULL},
	[PROTO_OP_SUBSCRIBE] = {NULL},
	[PROTO_OP_STOP] = {NULL},
	[PROTO_OP_PING] = {NULL},
	[PROTO_OP_SIGNAL] = {"path", "signal", NULL},
	[PROTO_OP_METRICS] = {NULL},
	[PROTO_OP_LOGS] = {"path", "lines", "follow", NULL},
	[PROTO_OP_REOPEN] = {NULL},
	[PROTO_OP_RELOAD] = {"file", NULL},
};

const char *
proto_op_name(enum proto_op op)
{
	if ((size_t)op < ARRAY_SIZE(op_names))
		return op_names[op];
	return "?";
}

static bool
key_allowed(const char *const *keys, const char *key)
{
	for (; *keys; keys++)
		if (strcmp(*keys, key) == 0)
			return true;
	return false;
}

static const char *
json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static int
wrong_type(struct proto_error *err, const char *where, const char *key, const char *want,
	   const json_t *v)
{
	fail(err, SUPD_E_BAD_REQUEST, "%s%s must be %s, not %s", where, key, want,
	     json_type_name(v));
	return -1;
}

/* The value of key in obj: 1 and *v when present, 0 when absent and
 * optional, -1 (with the error set) when absent and required. */
static int
arg_lookup(const json_t *obj, const char *key, bool required, json_t **v, struct proto_error *err)
{
	*v = json_object_get(obj, key);
	if (*v)
		return 1;
	if (!required)
		return 0;
	fail(err, SUPD_E_BAD_REQUEST, "missing argument '%s'", key);
	return -1;
}

static int
arg_string(const json_t *obj, const char *key, bool required, const char **out,
	   struct proto_error *err)
{
	json_t *v;
	int r;

	*out = NULL;
	if ((r = arg_lookup(obj, key, required, &v, err)) <= 0)
		return r;
	if (!json_is_string(v))
		return wrong_type(err, "", key, "a string", v);
	*out = json_string_value(v);
	return 0;
}

static int
arg_bool(const json_t *obj, const char *key, bool *out, struct proto_error *err)
{
	json_t *v = json_object_get(obj, key);

	*out = false;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return wrong_type(err, "", key, "a boolean", v);
	*out = json_is_true(v);
	return 0;
}

/* A positive integer no larger than max. */
static int
arg_uint(const json_t *obj, const char *key, bool required, json_int_t max, json_int_t *out,
	 struct proto_error *err)
{
	json_t *v;
	int r;

	*out = 0;
	if ((r = arg_lookup(obj, key, required, &v, err)) <= 0)
		return r;
	if (!json_is_integer(v))
		return wrong_type(err, "", key, "an integer", v);
	*out = json_integer_value(v);
	if (*out < 1 || *out > max) {
		fail(err, SUPD_E_BAD_REQUEST, "%s must be between 1 and %lld", key, (long long)max);
		return -1;
	}
	return 0;
}

static int
arg_path(json_t *obj, const char *key, bool required, const char **out, struct proto_error *err)
{
	if (arg_string(obj, key, required, out, err) < 0)
		return -1;
	if (*out && !proto_path_valid(*out)) {
		fail(err, SUPD_E_BAD_REQUEST, "invalid %s path '%.*s'", key,
		     (int)utf8_clip_len(*out, QUOTE_MAX), *out);
		return -1;
	}
	return 0;
}

/* A signal to send: its name ("SIGHUP" or "HUP") or its number. Signals
 * that supd could not sensibly pass on are refused: 0 (a probe, not a
 * signal) and numbers beyond the real-time range. */
static int
arg_signal(json_t *obj, const char *key, int *out, struct proto_error *err)
{
	json_t *v;
	int r;

	*out = 0;
	if ((r = arg_lookup(obj, key, true, &v, err)) <= 0)
		return r;
	if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 64)
		*out = (int)json_integer_value(v);
	else if (json_is_string(v))
		*out = signal_from_name(json_string_value(v));
	else if (!json_is_integer(v))
		return wrong_type(err, "", key, "a signal name or number", v);
	if (*out <= 0) {
		fail(err, SUPD_E_BAD_REQUEST, "%s is not a signal supd knows", key);
		return -1;
	}
	return 0;
}

/* An id: a valid id string, or a non-negative integer that stands for its
 * decimal text (dynamic children are numbered). The integer is replaced by
 * the string in the request object, so that *out points into it. */
static int
arg_id(json_t *obj, const char *key, bool required, const char **out, struct proto_error *err)
{
	json_t *v;
	char buf[32];
	int r;

	*out = NULL;
	if ((r = arg_lookup(obj, key, required, &v, err)) <= 0)
		return r;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0) {
			fail(err, SUPD_E_BAD_REQUEST, "%s must not be negative", key);
			return -1;
		}
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		v = json_string(buf);
		if (!v || json_object_set_new(obj, key, v) < 0) {
			fail(err, SUPD_E_NO_MEMORY, "out of memory");
			return -1;
		}
	}
	if (!json_is_string(v))
		return wrong_type(err, "", key, "a string", v);
	*out = json_string_value(v);
	if (!spec_id_valid(*out)) {
		fail(err, SUPD_E_BAD_REQUEST,
		     "invalid %s '%.*s' (1 to %d characters of [A-Za-z0-9_.-], not . or ..)", key,
		     (int)utf8_clip_len(*out, QUOTE_MAX), *out, SPEC_ID_MAX);
		return -1;
	}
	return 0;
}

static bool
env_entry_valid(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq && eq != s;
}

/* An array of strings, as an allocated array of pointers into it. */
static int
arg_strv(const json_t *obj, const char *key, bool env, const char ***out, size_t *n,
	 struct proto_error *err)
{
	json_t *v = json_object_get(obj, key), *e;
	const char **vec;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return wrong_type(err, "", key, "an array of strings", v);
	vec = calloc(json_array_size(v) + 1, sizeof(*vec));
	if (!vec) {
		fail(err, SUPD_E_NO_MEMORY, "out of memory");
		return -1;
	}
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e)) {
			free(vec);
			fail(err, SUPD_E_BAD_REQUEST, "%s[%zu] must be a string, not %s", key, i,
			     json_type_name(e));
			return -1;
		}
		vec[i] = json_string_value(e);
		if (env && !env_entry_valid(vec[i])) {
			fail(err, SUPD_E_BAD_REQUEST, "%s[%zu] '%.*s' is not NAME=value", key, i,
			     (int)utf8_clip_len(vec[i], QUOTE_MAX), vec[i]);
			free(vec);
			return -1;
		}
	}
	*out = vec;
	*n = json_array_size(v);
	return 0;
}

/* ---- requests ---- */

bool
proto_path_valid(const char *path)
{
	char id[SPEC_ID_MAX + 1];
	const char *p, *slash;
	size_t n;

	if (!path || path[0] != '/')
		return false;
	if (path[1] == '\0')
		return true;
	for (p = path + 1;; p = slash + 1) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > SPEC_ID_MAX)
			return false;
		memcpy(id, p, n);
		id[n] = '\0';
		if (!spec_id_valid(id))
			return false;
		if (!slash)
			return true;
	}
}

unsigned
proto_path_level(const char *path)
{
	unsigned level = 1;

	if (!path || strcmp(path, "/") == 0)
		return level;
	for (const char *p = path; *p; p++)
		if (*p == '/')
			level++;
	return level;
}

static int
parse_args(struct proto_request *req, struct proto_error *err)
{
	json_t *obj = req->json;
	json_int_t num;

	switch (req->op) {
	case PROTO_OP_START_CHILD:
		if (arg_path(obj, "sup", true, &req->sup, err) < 0 ||
		    arg_id(obj, "id", false, &req->id, err) < 0 ||
		    arg_bool(obj, "link", &req->link, err) < 0 ||
		    arg_strv(obj, "args", false, &req->args, &req->nargs, err) < 0 ||
		    arg_strv(obj, "env", true, &req->env, &req->nenv, err) < 0)
			return -1;
		req->dynamic_args = json_object_get(obj, "id") || json_object_get(obj, "args") ||
				    json_object_get(obj, "env") || json_object_get(obj, "link");
		req->spec = json_object_get(obj, "spec");
		if (req->spec && !json_is_object(req->spec))
			return wrong_type(err, "", "spec", "an object", req->spec);
		if (req->spec && req->dynamic_args) {
			fail(err, SUPD_E_BAD_REQUEST,
			     "spec (static supervisor) excludes id, args, env and link (dynamic "
			     "supervisor)");
			return -1;
		}
		return 0;
	case PROTO_OP_TERMINATE_CHILD:
	case PROTO_OP_RESTART_CHILD:
	case PROTO_OP_DELETE_CHILD:
	case PROTO_OP_GET_CHILDSPEC:
		if (arg_path(obj, "sup", true, &req->sup, err) < 0 ||
		    arg_id(obj, "id", true, &req->id, err) < 0)
			return -1;
		return 0;
	case PROTO_OP_WHICH_CHILDREN:
	case PROTO_OP_COUNT_CHILDREN:
		return arg_path(obj, "sup", true, &req->sup, err);
	case PROTO_OP_TREE:
		return arg_path(obj, "path", false, &req->path, err);
	case PROTO_OP_MONITOR:
		if (arg_path(obj, "path", false, &req->path, err) < 0 ||
		    arg_uint(obj, "pid", false, INT_MAX, &num, err) < 0 ||
		    arg_bool(obj, "pidfd", &req->pidfd, err) < 0)
			return -1;
		req->pid = (pid_t)num;
		if (!req->path == !req->pid) {
			fail(err, SUPD_E_BAD_REQUEST, "monitor takes either 'path' or 'pid'");
			return -1;
		}
		return 0;
	case PROTO_OP_DEMONITOR:
		if (arg_uint(obj, "ref", true, INT64_MAX, &num, err) < 0)
			return -1;
		req->ref = (uint64_t)num;
		return 0;
	case PROTO_OP_SIGNAL:
		if (arg_path(obj, "path", true, &req->path, err) < 0)
			return -1;
		return arg_signal(obj, "signal", &req->signal, err);
	case PROTO_OP_LOGS:
		num = 10;
		if (arg_path(obj, "path", true, &req->path, err) < 0 ||
		    (!(json_is_integer(json_object_get(obj, "lines")) &&
		       json_integer_value(json_object_get(obj, "lines")) == 0) &&
		     arg_uint(obj, "lines", false, PROTO_LOGS_LINES_MAX, &num, err) < 0) ||
		    arg_bool(obj, "follow", &req->follow, err) < 0)
			return -1;
		req->lines = json_object_get(obj, "lines") ? (uint64_t)num : 10;
		return 0;
	case PROTO_OP_SUBSCRIBE:
	case PROTO_OP_STOP:
	case PROTO_OP_PING:
	case PROTO_OP_METRICS:
	case PROTO_OP_REOPEN:
		return 0;
	case PROTO_OP_RELOAD:
		if (arg_string(obj, "file", false, &req->file, err) < 0)
			return -1;
		if (req->file && (!*req->file || strlen(req->file) >= PATH_MAX)) {
			fail(err, SUPD_E_BAD_REQUEST, "reload: 'file' must be a path");
			return -1;
		}
		return 0;
	}
	return 0;
}

int
proto_parse_request(const char *line, size_t len, struct proto_request *req,
		    struct proto_error *err)
{
	json_error_t jerr;
	const char *op, *key;
	json_t *v;
	size_t i;

	memset(req, 0, sizeof(*req));
	if (len >= SUPD_LINE_MAX) {
		fail(err, SUPD_E_LINE_TOO_LONG, "request longer than %d bytes", SUPD_LINE_MAX - 1);
		return -1;
	}
	/* JSON_REJECT_DUPLICATES: {"sup":"/a","sup":"/b"} must not pick one
	 * silently. jansson also rejects invalid UTF-8 and \u0000. */
	req->json = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req->json) {
		fail(err, SUPD_E_BAD_REQUEST, "invalid JSON: %s (column %d)", jerr.text,
		     jerr.column);
		return -1;
	}
	if (!json_is_object(req->json)) {
		fail(err, SUPD_E_BAD_REQUEST, "a request must be a JSON object, not %s",
		     json_type_name(req->json));
		return -1;
	}
	req->tag = json_object_get(req->json, "tag");
	v = json_object_get(req->json, "op");
	if (!v) {
		fail(err, SUPD_E_BAD_REQUEST, "missing argument 'op'");
		return -1;
	}
	if (!json_is_string(v))
		return wrong_type(err, "", "op", "a string", v);
	op = json_string_value(v);
	for (i = 0; i < ARRAY_SIZE(op_names); i++)
		if (strcmp(op, op_names[i]) == 0)
			break;
	if (i == ARRAY_SIZE(op_names)) {
		fail(err, SUPD_E_UNKNOWN_OP, "unknown op '%.*s'", (int)utf8_clip_len(op, QUOTE_MAX),
		     op);
		return -1;
	}
	req->op = (enum proto_op)i;
	json_object_foreach(req->json, key, v)
	{
		if (strcmp(key, "op") == 0 || strcmp(key, "tag") == 0 ||
		    key_allowed(op_keys[req->op], key))
			continue;
		fail(err, SUPD_E_BAD_REQUEST, "%s takes no argument '%.*s'", op,
		     (int)utf8_clip_len(key, QUOTE_MAX), key);
		return -1;
	}
	return parse_args(req, err);
}

void
proto_request_fini(struct proto_request *req)
{
	free(req->args);
	free(req->env);
	json_decref(req->json);
	memset(req, 0, sizeof(*req));
}

int
proto_check_start_child(const struct proto_request *req, enum node_type sup_type,
			struct proto_error *err)
{
	if (sup_type == NODE_DYNAMIC) {
		if (req->spec) {
			fail(err, SUPD_E_BAD_REQUEST,
			     "%s is a dynamic supervisor: it takes args, id, env and link, not "
			     "spec",
			     req->sup);
			return -1;
		}
		return 0;
	}
	if (req->dynamic_args) {
		fail(err, SUPD_E_BAD_REQUEST,
		     "%s is a static supervisor: it takes a spec, not args, id, env or link",
		     req->sup);
		return -1;
	}
	if (!req->spec) {
		fail(err, SUPD_E_BAD_REQUEST, "%s is a static supervisor: missing argument 'spec'",
		     req->sup);
		return -1;
	}
	return 0;
}

/* ---- JSON child specs ---- */

struct spec_report {
	struct proto_error *err;
	bool reported;
};

/* The first problem becomes the reply: "PATH: message", the same message
 * the config file gives for the same spec after its FILE:LINE:COL. */
static void
spec_problem(void *ctx, const struct grammar_problem *p)
{
	struct spec_report *r = ctx;

	if (r->reported)
		return;
	r->reported = true;
	if (p->first)
		fail(r->err, SUPD_E_BAD_REQUEST, "%s: %s (first defined at %s)", p->path,
		     p->message, p->first_path);
	else
		fail(r->err, SUPD_E_BAD_REQUEST, "%s: %s", p->path, p->message);
}

int
proto_spec_from_json(const json_t *obj, const struct spec_host *host,
		     enum auto_shutdown parent_auto_shutdown, unsigned levels_left,
		     struct child_spec **out, struct proto_error *err)
{
	struct spec_report r = {.err = err};
	struct grammar g = {.host = host, .root_path = "spec", .report = spec_problem, .ctx = &r};
	struct vnode *tree = json_tree(obj);

	*out = NULL;
	if (!tree) {
		fail(err, SUPD_E_NO_MEMORY, "out of memory");
		return -1;
	}
	*out = grammar_child_spec(&g, tree, parent_auto_shutdown,
				  levels_left < SPEC_MAX_DEPTH ? SPEC_MAX_DEPTH - levels_left : 0);
	vnode_free(tree);
	if (g.out_of_memory && !r.reported)
		fail(err, SUPD_E_NO_MEMORY, "out of memory");
	return *out ? 0 : -1;
}

/* ---- building JSON ---- */

/* jansson's setters take ownership of the value even on failure, and
 * accept NULL (returning -1), so a chain of set() calls needs one check. */
static bool
set(json_t *obj, const char *key, json_t *value)
{
	return json_object_set_new(obj, key, value) == 0;
}

static json_t *
strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* An optional string key: left out when unset (null is never a value). */
static bool
set_opt_string(json_t *o, const char *key, const char *s)
{
	return !s || set(o, key, json_string(s));
}

static json_t *
shutdown_json(int64_t ms)
{
	if (ms == SHUTDOWN_BRUTAL_KILL)
		return json_string("brutal_kill");
	if (ms == SHUTDOWN_INFINITY)
		return json_string("infinity");
	return json_integer(ms);
}

/* A signal by name when the name reads back as the same signal, else by
 * number (SIGRTMIN+n). */
static json_t *
signal_json(int sig)
{
	const char *name = signal_name(sig);

	if (name && signal_from_name(name) == sig)
		return json_string(name);
	return json_integer(sig);
}

static json_t *
exit_set_json(const struct exit_set *set)
{
	json_t *a = json_array();
	bool ok = a != NULL;

	for (int code = 0; ok && code <= 255; code++)
		if (exit_set_has_code(set, code))
			ok = json_array_append_new(a, json_integer(code)) == 0;
	for (int sig = 1; ok && sig <= 64; sig++)
		if (exit_set_has_signal(set, sig))
			ok = json_array_append_new(a, signal_json(sig)) == 0;
	if (!ok) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* A probe's target and timing, as the keys ready and health take them. */
static bool
probe_json(json_t *o, const struct probe_spec *p, bool health)
{
	bool ok = p->argv ? set(o, "exec", strv_json(p->argv, p->argc))
			  : set(o, "tcp", json_string(p->address ? p->address : ""));

	ok = ok && set(o, "interval", json_integer(p->interval_ms));
	if (ok && health)
		ok = set(o, "timeout", json_integer(p->timeout_ms)) &&
		     set(o, "retries", json_integer(p->retries));
	return ok;
}

static json_t *
ready_json(const struct worker_spec *w)
{
	static const char *const words[] = {
		[READY_NONE] = "none", [READY_NOTIFY] = "notify", [READY_EXIT] = "exit"};
	json_t *o;

	if (w->ready == READY_NONE || w->ready == READY_NOTIFY || w->ready == READY_EXIT)
		return json_string(words[w->ready]);
	o = json_object();
	if (o && !(w->ready == READY_FD ? set(o, "fd", json_integer(w->ready_fd))
					: probe_json(o, &w->ready_probe, false))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
limit_json(uint64_t v)
{
	return v == SPEC_RLIM_INFINITY ? json_string("unlimited") : json_integer((json_int_t)v);
}

static json_t *
rlimits_json(const struct worker_spec *w)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	for (size_t i = 0; ok && i < w->nrlimits; i++) {
		const struct rlimit_spec *rl = &w->rlimits[i];
		json_t *v;

		if (rl->soft == rl->hard) {
			v = limit_json(rl->soft);
		} else {
			v = json_object();
			if (v && !(set(v, "soft", limit_json(rl->soft)) &&
				   set(v, "hard", limit_json(rl->hard)))) {
				json_decref(v);
				v = NULL;
			}
		}
		ok = set(o, rlimit_name(rl->resource), v);
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
signal_set_json(uint64_t bits)
{
	json_t *a = json_array();
	bool ok = a != NULL;

	for (int sig = 1; ok && sig <= 64; sig++)
		if (bits & (UINT64_C(1) << (sig - 1)))
			ok = json_array_append_new(a, signal_json(sig)) == 0;
	if (!ok) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* The keys of SPEC 7.2-7.6 that are set (the defaults are left out). The
 * env files are not: their entries are in env already. */
static bool
service_json(json_t *o, const struct worker_spec *w)
{
	bool ok = true;
	char mode[8];

	if (ok && w->notify_access == NOTIFY_ACCESS_ALL)
		ok = set(o, "notify_access", json_string("all"));
	if (ok && w->has_health) {
		json_t *h = json_object();
		ok = set(o, "health", h) && probe_json(h, &w->health, true);
	}
	if (ok && w->umask != SPEC_UMASK_UNSET) {
		snprintf(mode, sizeof(mode), "%04o", (unsigned)w->umask);
		ok = set(o, "umask", json_string(mode));
	}
	if (ok && w->nice != SPEC_NICE_UNSET)
		ok = set(o, "nice", json_integer(w->nice));
	if (ok && w->memory_max)
		ok = set(o, "memory_max",
			 w->memory_max == SPEC_CGROUP_MAX ? json_string("max")
							  : json_integer(w->memory_max));
	if (ok && w->pids_max)
		ok = set(o, "pids_max",
			 w->pids_max == SPEC_CGROUP_MAX ? json_string("max")
							: json_integer(w->pids_max));
	if (ok && w->cpu_weight)
		ok = set(o, "cpu_weight", json_integer(w->cpu_weight));
	if (ok && w->nrlimits)
		ok = set(o, "rlimits", rlimits_json(w));
	if (ok && w->has_forward_signals)
		ok = set(o, "forward_signals", signal_set_json(w->forward_signals));
	return ok;
}

/* output: as the grammar reads it back (inherit, prefix, or the file's mapping). */
static json_t *
output_json(const struct output_spec *out)
{
	json_t *o;

	if (out->mode == OUTPUT_INHERIT)
		return json_string("inherit");
	if (out->mode == OUTPUT_PREFIX)
		return json_string("prefix");
	o = json_object();
	if (o && !(set(o, "file", json_string(out->file ? out->file : "")) &&
		   set(o, "max_size", json_integer((json_int_t)out->max_size)) &&
		   set(o, "keep", json_integer(out->keep)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static bool
worker_json(json_t *o, const struct worker_spec *w)
{
	return set(o, "start", strv_json(w->argv, w->argc)) &&
	       set(o, "env", strv_json(w->env, w->envc)) && set_opt_string(o, "cwd", w->cwd) &&
	       set_opt_string(o, "user", w->user) && set_opt_string(o, "group", w->group) &&
	       set(o, "stop_signal", signal_json(w->stop_signal)) &&
	       set(o, "kill_group", json_boolean(w->kill_group)) &&
	       set(o, "normal_exit", exit_set_json(&w->normal_exit)) &&
	       set(o, "ready", ready_json(w)) &&
	       set(o, "start_timeout", json_integer(w->start_timeout_ms)) && service_json(o, w) &&
	       (!w->allow_env || set(o, "allow_env", strv_json(w->allow_env, w->allow_envc)));
}

json_t *
proto_spec_to_json(const struct child_spec *spec, bool with_children)
{
	const struct sup_spec *s = &spec->sup;
	json_t *o = json_object(), *a;
	bool ok = o != NULL;

	if (ok && spec->id)
		ok = set(o, "id", json_string(spec->id));
	/* a template (a worker without id) is a worker: it has no type key */
	if (ok && (spec->id || spec->type != NODE_WORKER))
		ok = set(o, "type", json_string(node_type_name(spec->type)));
	ok = ok && set(o, "restart", json_string(restart_name(spec->restart))) &&
	     set(o, "shutdown", shutdown_json(spec->shutdown_ms));
	/* a template (and the root) has no id and cannot be significant */
	if (ok && spec->id)
		ok = set(o, "significant", json_boolean(spec->significant));
	if (ok && spec->backoff.min_ms > 0) {
		json_t *b = json_object();
		ok = set(o, "backoff", b) && set(b, "min", json_integer(spec->backoff.min_ms)) &&
		     set(b, "max", json_integer(spec->backoff.max_ms)) &&
		     set(b, "reset_after", json_integer(spec->backoff.reset_after_ms));
	}
	if (ok && spec->output.mode != OUTPUT_UNSET)
		ok = set(o, "output", output_json(&spec->output));
	if (ok && spec->type == NODE_WORKER)
		ok = worker_json(o, &spec->worker);
	if (ok && spec_is_supervisor(spec))
		ok = set(o, "strategy", json_string(strategy_name(s->strategy))) &&
		     set(o, "max_restarts", json_integer(s->max_restarts)) &&
		     set(o, "max_seconds", json_integer(s->max_seconds)) &&
		     set(o, "auto_shutdown", json_string(auto_shutdown_name(s->auto_shutdown)));
	if (ok && spec->type == NODE_DYNAMIC)
		ok = set(o, "max_children",
			 s->max_children == SPEC_UNLIMITED ? json_string("infinity")
							   : json_integer(s->max_children)) &&
		     (!s->template_spec ||
		      set(o, "template", proto_spec_to_json(s->template_spec, false)));
	if (ok && spec->type == NODE_SUPERVISOR && with_children) {
		a = json_array();
		ok = set(o, "children", a);
		for (size_t i = 0; ok && i < s->nchildren; i++)
			ok = json_array_append_new(a, proto_spec_to_json(s->children[i], true)) ==
			     0;
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- replies ---- */

json_t *
proto_ok(void)
{
	json_t *o = json_object();

	if (o && !set(o, "ok", json_true())) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
proto_error(const char *error, const char *fmt, ...)
{
	char message[256];
	json_t *o = json_object();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	utf8_trim_tail(message);
	if (o && !(set(o, "ok", json_false()) && set(o, "error", json_string(error)) &&
		   set(o, "message", json_string(message)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
proto_error_from(const struct proto_error *err)
{
	return proto_error(err->error, "%s", err->message);
}

char *
proto_dump(json_t *msg, json_t *tag, size_t *len)
{
	char *text, *line;
	size_t n;

	if (tag && json_object_set(msg, "tag", tag) < 0)
		return NULL;
	text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return NULL;
	n = strlen(text);
	line = realloc(text, n + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}

/* The JSON escape of each byte: 0 when it stands for itself, 'u' for
 * \u00XX (control characters without a short form). */
static const char json_escape_letter[256] = {
	[0 ... 7] = 'u', ['\b'] = 'b', ['\t'] = 't',        ['\n'] = 'n', ['\v'] = 'u',
	['\f'] = 'f',    ['\r'] = 'r', [14 ... 0x1f] = 'u', ['"'] = '"',  ['\\'] = '\\',
};

/* Bytes of text escaped between two checks of the room left: each may
 * take 6. */
#define ESCAPE_CHUNK 4096

char *
proto_ok_string_line(const char *key, const struct iovec *text, size_t nparts, json_t *tag,
		     size_t *len)
{
	static const char hex[] = "0123456789abcdef";
	char *tag_text = NULL, *line, *grown;
	size_t key_len = strlen(key), tag_len = 0, text_len = 0, cap, n = 0;

	for (size_t k = 0; k < nparts; k++)
		text_len += text[k].iov_len;
	if (tag) {
		tag_text = json_dumps(tag, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!tag_text)
			return NULL;
		tag_len = strlen(tag_text);
	}
	/* One pass: room for a text that is mostly plain (Prometheus text
	 * escapes a newline and two quotes per line of ~40 bytes), grown by
	 * the chunk when it is not. {"ok":true,"KEY":"TEXT","tag":TAG}\n */
	cap = 32 + key_len + tag_len + text_len + text_len / 8 + 6 * ESCAPE_CHUNK;
	line = malloc(cap);
	if (!line)
		goto fail;
	memcpy(line, "{\"ok\":true,\"", 12);
	n = 12;
	memcpy(line + n, key, key_len);
	n += key_len;
	memcpy(line + n, "\":\"", 3);
	n += 3;
	for (size_t k = 0; k < nparts; k++) {
		const unsigned char *part = text[k].iov_base;
		size_t part_len = text[k].iov_len;

		for (size_t i = 0; i < part_len;) {
			size_t end = part_len - i > ESCAPE_CHUNK ? i + ESCAPE_CHUNK : part_len;

			if (cap - n < 6 * ESCAPE_CHUNK + 16 + tag_len) {
				cap = cap * 3 / 2 + 6 * ESCAPE_CHUNK + tag_len;
				grown = realloc(line, cap);
				if (!grown)
					goto fail;
				line = grown;
			}
			for (; i < end; i++) {
				unsigned char c = part[i];
				char e = json_escape_letter[c];

				if (!e) {
					line[n++] = (char)c;
					continue;
				}
				line[n++] = '\\';
				line[n++] = e;
				if (e == 'u') {
					line[n++] = '0';
					line[n++] = '0';
					line[n++] = hex[c >> 4];
					line[n++] = hex[c & 15];
				}
			}
		}
	}
	line[n++] = '"';
	if (tag_text) {
		memcpy(line + n, ",\"tag\":", 7);
		n += 7;
		memcpy(line + n, tag_text, tag_len);
		n += tag_len;
		free(tag_text);
	}
	line[n++] = '}';
	line[n++] = '\n';
	line[n] = '\0';
	*len = n;
	return line;
fail:
	free(line);
	free(tag_text);
	return NULL;
}

json_t *
proto_status_json(struct exit_status st)
{
	const char *name;

	if (!st.signaled)
		return json_pack("{s:i}", "code", st.value);
	name = signal_name(st.value);
	if (name)
		return json_pack("{s:s}", "signal", name);
	return json_pack("{s:i}", "signal", st.value);
}

json_t *
proto_down_json(uint64_t ref, const char *path, pid_t pid, const char *reason,
		const struct exit_status *st)
{
	json_t *o = json_object();

	if (o && !(set(o, "event", json_string("down")) && set(o, "ref", json_integer(ref)) &&
		   set(o, "path", path ? json_string(path) : json_null()) &&
		   set(o, "pid", pid > 0 ? json_integer(pid) : json_null()) &&
		   set(o, "reason", json_string(reason)) &&
		   set(o, "status", st ? proto_status_json(*st) : json_null()))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- names ---- */

const char *
proto_core_error_name(enum core_error e)
{
	switch (e) {
	case CORE_OK:
		return "ok";
	case CORE_E_NOT_FOUND:
		return SUPD_E_NOT_FOUND;
	case CORE_E_RUNNING:
		return SUPD_E_RUNNING;
	case CORE_E_RESTARTING:
		return SUPD_E_RESTARTING;
	case CORE_E_NOT_SUPPORTED:
		return SUPD_E_NOT_SUPPORTED;
	case CORE_E_ALREADY_STARTED:
		return SUPD_E_ALREADY_STARTED;
	case CORE_E_ALREADY_PRESENT:
		return SUPD_E_ALREADY_PRESENT;
	case CORE_E_MAX_CHILDREN:
		return SUPD_E_MAX_CHILDREN;
	case CORE_E_START_FAILED:
		return SUPD_E_START_FAILED;
	case CORE_E_SHUTDOWN:
		return SUPD_E_SHUTTING_DOWN;
	case CORE_E_NOMEM:
		return SUPD_E_NO_MEMORY;
	case CORE_E_INVALID:
		/* The control server validates first; what the core still
		 * refuses is a bad request all the same. */
		return SUPD_E_BAD_REQUEST;
	}
	return SUPD_E_BAD_REQUEST;
}
