/*
 * supd/protocol.h - the control socket's wire contract (SPEC section 6).
 *
 * This header is public: supctl and any other client (a registry that starts
 * buckets, a test harness) may include it to speak to supd. It holds only
 * what a client can rely on: the framing limits, the names of the operations
 * and of the errors, and the rule that finds the socket. It needs nothing but
 * libc; the encoding itself is JSON, one object per line.
 *
 * Framing. A request is one JSON object on one line, at most SUPD_LINE_MAX
 * bytes including its '\n'. A blank line is ignored. Each request gets
 * exactly one reply line, in request order: {"ok":true,...} or
 * {"ok":false,"error":NAME,"message":TEXT}. A "tag" member of the request
 * (any JSON value) is copied into its reply. Lines that carry an "event"
 * member instead of "ok" are asynchronous: the events of a `subscribe`, and
 * the "down" messages of `monitor`. Replies may be longer than
 * SUPD_LINE_MAX (a `tree` of a large dynamic supervisor): clients must not
 * assume a bound on reply lines.
 *
 * Arguments are strict: a missing or mistyped argument, or a member the
 * operation does not take, is `bad_request`. Ids are strings of
 * [A-Za-z0-9_.-] (1 to 64 characters, not "." or ".."); a non-negative
 * integer is accepted for an id and read as its decimal text (dynamic ids are
 * numbers). Supervisor paths are "/" or "/a/b" made of such ids.
 */
#ifndef SUPD_PROTOCOL_H
#define SUPD_PROTOCOL_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A request line, '\n' included. A longer line gets `line_too_long` and the
 * connection is closed, since the framing is lost. */
#define SUPD_LINE_MAX (64 * 1024)

/* Pending output per connection. A client whose unread replies and events
 * exceed this is disconnected (it never blocks supd); supd also stops reading
 * a client's requests while more than SUPD_OUTPUT_PAUSE bytes wait for it. */
#define SUPD_OUTPUT_MAX   (1024 * 1024)
#define SUPD_OUTPUT_PAUSE (256 * 1024)

/* control.max_clients when the config does not say. */
#define SUPD_MAX_CLIENTS_DEFAULT 256

/* The socket file mode when the config does not say. */
#define SUPD_SOCKET_MODE_DEFAULT 0600

/* Where the socket is (see supd_default_socket_path()). */
#define SUPD_SOCKET_ENV    "SUPD_SOCKET" /* read by clients only, never by supd */
#define SUPD_SOCKET_SYSTEM "/run/supd.sock"
#define SUPD_SOCKET_NAME   "supd.sock"

/* Operations: the "op" member of a request. */
#define SUPD_OP_START_CHILD     "start_child"
#define SUPD_OP_TERMINATE_CHILD "terminate_child"
#define SUPD_OP_RESTART_CHILD   "restart_child"
#define SUPD_OP_DELETE_CHILD    "delete_child"
#define SUPD_OP_WHICH_CHILDREN  "which_children"
#define SUPD_OP_COUNT_CHILDREN  "count_children"
#define SUPD_OP_GET_CHILDSPEC   "get_childspec"
#define SUPD_OP_TREE            "tree"
#define SUPD_OP_MONITOR         "monitor"
#define SUPD_OP_DEMONITOR       "demonitor"
#define SUPD_OP_SUBSCRIBE       "subscribe"
#define SUPD_OP_STOP            "stop"
#define SUPD_OP_PING            "ping"
#define SUPD_OP_SIGNAL          "signal"  /* path, signal: to every running worker at or below */
#define SUPD_OP_METRICS         "metrics" /* "metrics": the Prometheus text exposition 0.0.4 */
/* {"op":"logs","path":P,"lines":N,"follow":B}: the last N lines of a
 * captured worker (output: prefix or file) in "lines"; with follow, every
 * later line as {"log":{"path":P,"stream":"out"|"err","line":TEXT}}. */
#define SUPD_OP_LOGS "logs"
/* {"op":"reopen"}: reopen the files supd writes (events, output files). */
#define SUPD_OP_REOPEN "reopen"
/* {"op":"reload","file":F}: load and check F (default: the file supd was
 * started with) and apply it to the running tree (SPEC 7.5). Replies when
 * every supervisor has applied its part: "file", and "supervisors": one
 * {"path","added","removed","changed"[,"failed"]} per supervisor where
 * something changed. An invalid file changes nothing: error
 * "reload_failed", every problem in "message". */
#define SUPD_OP_RELOAD "reload"

/* Errors: the "error" member of a failed reply. */
/* the request itself */
#define SUPD_E_BAD_REQUEST   "bad_request"   /* not JSON, not an object, bad arguments */
#define SUPD_E_UNKNOWN_OP    "unknown_op"    /* "op" names no operation */
#define SUPD_E_LINE_TOO_LONG "line_too_long" /* then the connection is closed */
/* the connection; each is sent once, then the connection is closed */
#define SUPD_E_ACCESS_DENIED    "access_denied"    /* the peer may not use the socket */
#define SUPD_E_TOO_MANY_CLIENTS "too_many_clients" /* control.max_clients reached */
/* the peer's role (SPEC 7.9): a member of control.group asked for `stop`, a
 * static start_child, or an env name outside the template's allow_env */
#define SUPD_E_NOT_PERMITTED "not_permitted"
/* monitor: the connection already holds 1,024 monitors that have not fired */
#define SUPD_E_TOO_MANY_MONITORS "too_many_monitors"
/* the tree (SPEC section 2) */
#define SUPD_E_NOT_FOUND        "not_found"        /* no such supervisor path, child id or pid */
#define SUPD_E_NOT_A_SUPERVISOR "not_a_supervisor" /* `sup` names a worker */
#define SUPD_E_RUNNING          "running"
#define SUPD_E_RESTARTING       "restarting"
#define SUPD_E_NOT_SUPPORTED    "not_supported"
#define SUPD_E_ALREADY_STARTED  "already_started"
#define SUPD_E_ALREADY_PRESENT  "already_present"
#define SUPD_E_MAX_CHILDREN     "max_children"
#define SUPD_E_START_FAILED     "start_failed"
#define SUPD_E_NOT_RUNNING      "not_running" /* signal: no running worker at or below path */
/* supd itself */
#define SUPD_E_SHUTTING_DOWN "shutting_down" /* the supervisor (or supd) is stopping */
#define SUPD_E_NO_MEMORY     "no_memory"
#define SUPD_E_RELOAD_FAILED "reload_failed" /* reload: the file was refused, nothing changed */

/* The "reason" of a "down" message: an exit reason of SPEC section 1, or: */
#define SUPD_REASON_NOPROC "noproc" /* nothing was running when the monitor was set */

/*
 * supd_default_socket_path - the socket path when none is given.
 *
 * As root (effective uid 0): SUPD_SOCKET_SYSTEM. Otherwise
 * $XDG_RUNTIME_DIR/supd.sock when XDG_RUNTIME_DIR is set to an absolute
 * path, else /tmp/supd-UID.sock (UID: the effective uid), so that an
 * unprivileged supd in a container without a login session still has a
 * predictable socket. supd and supctl apply the same rule, so a client run
 * by the same user in the same environment finds the daemon.
 *
 * Returns 0, or -ENAMETOOLONG when the path does not fit in len bytes.
 */
static inline int
supd_default_socket_path(char *buf, size_t len)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	uid_t uid = geteuid();
	const char *head;
	char tail[32];

	if (uid == 0) {
		head = SUPD_SOCKET_SYSTEM;
		tail[0] = '\0';
	} else if (dir && dir[0] == '/') {
		head = dir;
		snprintf(tail, sizeof(tail), "/%s", SUPD_SOCKET_NAME);
	} else {
		head = "/tmp";
		snprintf(tail, sizeof(tail), "/supd-%u.sock", (unsigned)uid);
	}
	if (strlen(head) + strlen(tail) + 1 > len)
		return -ENAMETOOLONG;
	strcpy(buf, head);
	strcat(buf, tail);
	return 0;
}

#endif
