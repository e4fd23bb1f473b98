/*
 * connection.h - one control client: framing, buffers, flow control and fd
 * passing (SPEC section 6).
 *
 * A connection turns the bytes of a stream socket into request lines and
 * replies into bytes. It knows nothing of the operations: each complete line
 * goes to the handler's `serve`, which answers with conn_send() at once or
 * marks the connection busy (conn_set_busy) and answers later; requests of
 * one connection are served one at a time, so replies come in request order.
 *
 * Work that must not run inside the core (closing a connection, serving the
 * lines that waited behind a busy request) is deferred to conn_hub_run(),
 * which the owner calls at the top of the event loop when the hub's `wake`
 * asks for it.
 *
 * Any connected stream socket will do: the control server hands in accepted
 * clients, a test or a fuzzer a socketpair(2) end.
 */
#ifndef SUPD_CONNECTION_H
#define SUPD_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <jansson.h>
#include <systemd/sd-event.h>

struct conn;
struct proto_error;

/* Unsent descriptors (pidfds of `monitor`) one connection may hold. */
#define CONN_FDS_MAX 64

struct conn_handler {
	/* One request line, without its '\n' (never blank). */
	void (*serve)(void *ctx, struct conn *conn, const char *line, size_t len);
	/* True while something other than I/O keeps the connection after the
	 * client's end of input (a subscription, monitors, links). */
	bool (*holds)(void *ctx, const struct conn *conn);
	/* The connection is closing: drop every reference to it. `orderly` is
	 * false when supd itself is exiting. */
	void (*closed)(void *ctx, struct conn *conn, bool orderly);
	/* Deferred work is pending: call conn_hub_run() from the loop soon. */
	void (*wake)(void *ctx);
	void *ctx;
};

TAILQ_HEAD(conn_list, conn);

/* Every connection of one server, and the work deferred to the loop. */
struct conn_hub {
	sd_event *event;
	struct conn_handler handler;
	struct conn_list conns;
	size_t nconns;
	struct conn_list dead;   /* to be closed at the top of the loop */
	struct conn_list resume; /* to be served again at the top of the loop */
	/* Descriptors must stay below this (RLIMIT_NOFILE minus the reserve
	 * that supervision needs); 0: no limit. */
	int fd_ceiling;
};

void conn_hub_init(struct conn_hub *hub, sd_event *event, const struct conn_handler *handler);
/* Closes every connection, after writing what their sockets take now. */
void conn_hub_fini(struct conn_hub *hub);
/* Deferred work: closes dead connections and serves resumed ones. Returns
 * true when more work was queued meanwhile. Top of the loop only. */
bool conn_hub_run(struct conn_hub *hub);

/* Takes over fd (non-blocking, connected). NULL on failure (fd closed). */
struct conn *conn_new(struct conn_hub *hub, int fd, const struct ucred *cred);
/* Closes now. Top of the loop only. */
void conn_close(struct conn *conn, bool orderly);
/* Marks the connection to be closed at the top of the loop (safe anywhere). */
void conn_kill(struct conn *conn);

const struct ucred *conn_cred(const struct conn *conn);
int conn_fd(const struct conn *conn);
void *conn_session(const struct conn *conn);
void conn_set_session(struct conn *conn, void *session);

/* While busy, no further line is served. Clearing it schedules the lines
 * that waited (safe inside the core). */
void conn_set_busy(struct conn *conn, bool busy);
bool conn_is_busy(const struct conn *conn);

/* The client hung up: replies are discarded, requests already received are
 * still served. */
bool conn_hung_up(const struct conn *conn);

/* Queues bytes (and fd, which it takes over; -1 for none) for the client.
 * Never writes and never closes: safe inside the core. */
void conn_enqueue(struct conn *conn, const char *data, size_t len, int fd);
/* Sends msg (consumed; NULL means out of memory) with the request's tag. */
void conn_send(struct conn *conn, json_t *msg, json_t *tag, int fd);
void conn_send_error(struct conn *conn, json_t *tag, const struct proto_error *err);
/* Whether one more descriptor may be queued on this connection. */
bool conn_may_pass_fd(const struct conn *conn, int fd);

#endif
