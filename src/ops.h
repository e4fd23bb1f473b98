/*
 * ops.h - the operations of the control socket (SPEC section 6), one
 * function per op, on top of the core's public API.
 *
 * The control server creates one `struct ops` and routes to it every line a
 * connection receives, every event of the tree (for subscriptions and
 * monitors) and every connection that closes (for links).
 */
#ifndef SUPD_OPS_H
#define SUPD_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct child;
struct conn;
struct core;
struct core_event;
struct ops;

/* Monitors one connection may hold (SPEC section 6: too_many_monitors). */
#define OPS_MONITORS_MAX 1024

/* What a peer may do (SPEC 7.9): root and the socket's owner every op;
 * members of control.group every op but `stop` and a static start_child,
 * and on a dynamic start_child only the template's allow_env names. */
enum ops_role {
	OPS_ROLE_OWNER,
	OPS_ROLE_GROUP,
};

struct ops_host {
	struct core *core;
	uint64_t (*now_ms)(void *ctx);
	/* Orderly shutdown of the tree (the op `stop`). */
	void (*request_stop)(void *ctx);
	/* Sends sig to the running worker c (the op `signal`). */
	void (*signal)(void *ctx, struct child *c, int sig);
	/* Reopen the files supd writes (the op `reopen`): 0 or -errno. */
	int (*reopen)(void *ctx);
	/* Deferred work is pending: call ops_run_deferred() from the loop. */
	void (*wake)(void *ctx);
	void *ctx;
};

struct ops *ops_new(const struct ops_host *host);
/* Requests still in the core finish without a connection. */
void ops_free(struct ops *ops);

/* A new connection; -1 on ENOMEM (the caller closes it). */
int ops_conn_open(struct ops *ops, struct conn *conn, enum ops_role role);
/* One request line of conn. Top of the loop only. */
void ops_serve(struct ops *ops, struct conn *conn, const char *line, size_t len);
/* The connection waits for something besides I/O (subscription, monitor,
 * link). */
bool ops_conn_holds(const struct conn *conn);
/* conn closes: its monitors go, its links terminate their children unless
 * supd is exiting (!orderly). May enter the core: top of the loop only. */
void ops_conn_closed(struct ops *ops, struct conn *conn, bool orderly);

/* An event of the tree (line: its JSON line, may be NULL): subscribers get
 * the line, monitors fire. Runs inside the core: only queues output. */
void ops_on_event(struct ops *ops, const struct core_event *ev, const char *line, size_t len);
/* Link terminations queued inside the core. Returns true when more work
 * was queued meanwhile. Top of the loop only. */
bool ops_run_deferred(struct ops *ops);

#endif
