/*
 * jsonl.h - JSON lines over Unix stream sockets, for the KV example.
 *
 * One JSON object per line, at most JSONL_MAX_LINE bytes, the framing of
 * supd's control socket. The daemons (kv-bucket, kv-registry) use the
 * non-blocking connection on an sd-event loop; the kv client uses the
 * blocking call.
 */
#ifndef KV_JSONL_H
#define KV_JSONL_H

#include <stdbool.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#define JSONL_MAX_LINE (64 * 1024)

struct jsonl;

/* msg is NULL when the line is not a JSON object; it is borrowed. */
typedef void (*jsonl_message_fn)(struct jsonl *conn, json_t *msg, void *userdata);
/* The last callback: conn is freed right after it returns. */
typedef void (*jsonl_close_fn)(struct jsonl *conn, void *userdata);

/* Takes ownership of fd (made non-blocking). Returns 0 or -errno. */
int jsonl_new(struct jsonl **out, sd_event *event, int fd, jsonl_message_fn on_message,
	      jsonl_close_fn on_close, void *userdata);
/* Frees at once, without calling on_close: only for tearing down at exit. */
void jsonl_free(struct jsonl *conn);

/* Queues msg (borrowed) as one line. Never blocks. */
void jsonl_send(struct jsonl *conn, json_t *msg);
/* While paused, no further line is read or delivered: one request at a
 * time, so replies come back in request order. */
void jsonl_pause(struct jsonl *conn, bool paused);
/* Closes once the queued output is written. */
void jsonl_close(struct jsonl *conn);

/* A listening socket at path (a stale file there is replaced), non-blocking
 * and close-on-exec. Returns the fd or -errno. */
int jsonl_listen(const char *path);
/* Listens on path, accepts through on_accept, tells supd the server is
 * ready (READY=1, for `ready: notify`), and runs the loop until it exits;
 * removes the socket file afterwards. Returns the loop's result, or -errno
 * if the server could not be set up. */
int jsonl_serve(sd_event *event, const char *path, sd_event_io_handler_t on_accept);

/* A blocking connection to path. Returns the fd or -errno. */
int jsonl_connect(const char *path);

/* Sends req on a blocking fd and waits up to timeout_ms for one reply line.
 * Returns 0 (*reply set, caller frees), -ETIMEDOUT, -EPROTO, or -errno. */
int jsonl_call(int fd, json_t *req, json_t **reply, int timeout_ms);

#endif
