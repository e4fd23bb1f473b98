/*
 * proto.h - the control protocol as data: requests in, replies out.
 *
 * Pure functions used by the control server (ops.c, connection.c) and its
 * tests: parsing and validating a request line, converting a JSON child spec
 * to a struct child_spec and back, and the JSON of replies, statuses and
 * `down` messages (the views of the tree are views.c's). No sockets, no
 * event loop, no clock. supctl does not link this: it speaks the wire
 * format of include/supd/protocol.h with jansson directly.
 */
#ifndef SUPD_PROTO_H
#define SUPD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "spec.h"
#include "supd/protocol.h"
#include "supervisor.h"

enum proto_op {
	PROTO_OP_START_CHILD,
	PROTO_OP_TERMINATE_CHILD,
	PROTO_OP_RESTART_CHILD,
	PROTO_OP_DELETE_CHILD,
	PROTO_OP_WHICH_CHILDREN,
	PROTO_OP_COUNT_CHILDREN,
	PROTO_OP_GET_CHILDSPEC,
	PROTO_OP_TREE,
	PROTO_OP_MONITOR,
	PROTO_OP_DEMONITOR,
	PROTO_OP_SUBSCRIBE,
	PROTO_OP_STOP,
	PROTO_OP_PING,
	PROTO_OP_SIGNAL,
	PROTO_OP_METRICS,
	PROTO_OP_LOGS,
	PROTO_OP_REOPEN,
	PROTO_OP_RELOAD,
};

/* Why a request (or a spec) was refused: `error` is one of the SUPD_E_*
 * names, `message` a sentence for humans (valid UTF-8). */
struct proto_error {
	const char *error;
	char message[256];
};

/*
 * A parsed request. Every pointer points into `json`, which the request owns
 * (proto_request_fini() releases it), except the `args` and `env` arrays,
 * which are allocated; the struct itself may be copied.
 */
/* `lines` of the op logs: more than the ring can hold anyway. */
#define PROTO_LOGS_LINES_MAX 1000000

struct proto_request {
	enum proto_op op;
	json_t *json; /* the request object */
	json_t *tag;  /* the "tag" member, NULL when absent */

	const char *sup;   /* supervisor path: the child ops */
	const char *id;    /* child id: terminate/restart/delete/get_childspec, dynamic start */
	const char *path;  /* monitor (NULL when by pid); tree (NULL: the root); signal */
	int signal;        /* signal: a signal number (given by name or number) */
	pid_t pid;         /* monitor by pid, 0 when by path */
	uint64_t ref;      /* demonitor */
	bool link;         /* start_child */
	bool pidfd;        /* monitor */
	json_t *spec;      /* static start_child: the child spec object */
	bool dynamic_args; /* start_child: any of id, args, env or link was given */
	const char **args; /* start_child: appended to the template argv */
	size_t nargs;
	const char **env; /* start_child: "NAME=value" entries */
	size_t nenv;
	uint64_t lines;   /* logs: how many of the last lines (default 10) */
	bool follow;      /* logs: then every new line */
	const char *file; /* reload: the config file, NULL: the one supd started with */
};

/*
 * proto_parse_request - parses and validates one request line.
 *
 * `line` holds `len` bytes without the newline. Returns 0 and fills *req, or
 * -1 and fills *err (bad_request, unknown_op, line_too_long). Either way the
 * caller must call proto_request_fini(req): on failure req->tag is set when
 * the line was a JSON object, so that the error reply can echo it.
 */
int proto_parse_request(const char *line, size_t len, struct proto_request *req,
			struct proto_error *err);
void proto_request_fini(struct proto_request *req);

const char *proto_op_name(enum proto_op op);

/* "/" or "/id/id/...", each id valid (spec_id_valid), no trailing slash. */
bool proto_path_valid(const char *path);
/* Supervisor nesting level of a path: "/" is 1, "/web" 2, "/web/db" 3. */
unsigned proto_path_level(const char *path);

/*
 * proto_check_start_child - the start_child arguments that depend on the
 * kind of the target supervisor: a static one takes `spec` (and nothing of
 * the dynamic arguments), a dynamic one takes id/args/env/link and no
 * `spec`. Returns 0, or -1 with *err filled (bad_request).
 */
int proto_check_start_child(const struct proto_request *req, enum node_type sup_type,
			    struct proto_error *err);

/*
 * proto_spec_from_json - a child spec from its JSON form, read by the one
 * grammar of the config file (grammar.h): the same keys, rules and
 * messages, so the same spec gets the same verdict from either side.
 *
 * `parent_auto_shutdown` is the auto_shutdown of the supervisor that will own
 * the child (for the `significant` rule); `levels_left` is how many more
 * levels of supervisors may nest below that supervisor (0: the spec must be a
 * worker). `host` answers what the machine says (users and groups resolved
 * into ids, the program found, cwd present): &spec_host_system, or NULL to
 * check the text only. Returns 0 and a new spec in *out, or -1 with *err
 * filled: bad_request with the first problem as "PATH: message" (PATH such
 * as spec.children[2].restart), or no_memory.
 */
struct spec_host;
int proto_spec_from_json(const json_t *obj, const struct spec_host *host,
			 enum auto_shutdown parent_auto_shutdown, unsigned levels_left,
			 struct child_spec **out, struct proto_error *err);

/* The JSON form of spec, with every key (defaults included; cwd, user and
 * group only when set); a supervisor's "children" are included only when
 * with_children. It reads back through proto_spec_from_json() as the same
 * spec. NULL on ENOMEM. */
json_t *proto_spec_to_json(const struct child_spec *spec, bool with_children);

/* Reply construction. proto_ok() and proto_error() return a new object
 * (NULL on ENOMEM); proto_dump() serialises a message as one line ending in
 * '\n' (adding "tag" when not NULL) into a malloc'ed buffer, NULL on ENOMEM. */
json_t *proto_ok(void);
json_t *proto_error(const char *error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
json_t *proto_error_from(const struct proto_error *err);
char *proto_dump(json_t *msg, json_t *tag, size_t *len);
/* The line {"ok":true,"KEY":"TEXT"} (with "tag" when not NULL), as
 * proto_dump() would write it, for a text too large to go through a json_t
 * quickly (the metrics exposition): TEXT, the nparts pieces one after the
 * other, is escaped in one pass and never copied into jansson. TEXT must
 * be UTF-8. NULL on ENOMEM. */
struct iovec;
char *proto_ok_string_line(const char *key, const struct iovec *text, size_t nparts, json_t *tag,
			   size_t *len);

/* {"code":N} or {"signal":"SIGSEGV"} */
json_t *proto_status_json(struct exit_status st);
/* {"event":"down","ref":R,"path":P,"pid":N|null,"reason":R,"status":S|null};
 * a NULL path, pid 0 and a NULL st give null. */
json_t *proto_down_json(uint64_t ref, const char *path, pid_t pid, const char *reason,
			const struct exit_status *st);

/* Wire names. */
const char *proto_core_error_name(enum core_error e);

#endif
