/*
 * writer.h - output that never blocks the loop.
 *
 * A writer is one destination of supd's own lines (the log on stderr, the
 * relay on stdout/stderr, the events file, a worker's output file). Lines
 * are queued whole in a bounded buffer (outbuf.h) and written without ever
 * blocking: what cannot be written now waits for EPOLLOUT (or a retry timer
 * where the kernel offers no readiness, as for regular files); when the
 * buffer overflows the oldest lines are dropped and, once writing resumes,
 * the drop hook is told how many.
 *
 * How each kind of descriptor is made non-blocking without touching the
 * description supd shares with its workers:
 *   - pipes, FIFOs, terminals and other character devices: reopened through
 *     /proc/self/fd/N as a new open file description with O_NONBLOCK (the
 *     workers' description stays blocking). Without /proc, the shared
 *     description is used with a poll() before each write of at most
 *     PIPE_BUF bytes (a worker filling the pipe in between can still block
 *     that one write: /proc is needed for the guarantee);
 *   - sockets (journald's stream): send(MSG_DONTWAIT) on the shared socket;
 *   - regular files and block devices: written on a duplicate of the shared
 *     description, so supd appends where the workers do. Such writes do not
 *     wait for a reader; a short write (full disk) keeps the line's rest for
 *     the next attempt.
 * Files a writer opens itself (writer_open_path) are its own: a short write
 * is cut back to the last whole line (ftruncate), so a full disk never
 * leaves half a line; they rotate by size and can be reopened.
 */
#ifndef SUPD_WRITER_H
#define SUPD_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <systemd/sd-event.h>

struct writer;

/* Called when writing resumed after `lines` lines were dropped. */
typedef void writer_drop_hook(struct writer *w, uint64_t lines);

/* Someone (a relay) waiting for room in a writer's buffer. */
struct writer_waiter {
	void (*fn)(struct writer_waiter *wt);
	TAILQ_ENTRY(writer_waiter) link;
	bool waiting;
};

/* A writer for an inherited descriptor (1 or 2), named for messages
 * ("stdout"). Never fails: a closed or broken descriptor drops lines. */
struct writer *writer_for_fd(int fd, const char *name, size_t cap);
/* A writer for a file of its own (created, appended to), rotated when a
 * line would take it past max_size (0: never) keeping `keep` old files
 * (PATH.1 is the newest). NULL and -errno in *err on failure. */
struct writer *writer_open_path(const char *path, uint64_t max_size, unsigned keep, size_t cap,
				int *err);
void writer_free(struct writer *w);
const char *writer_name(const struct writer *w);

/* Queues one line (ending in '\n'); drops the oldest if the buffer is full. */
void writer_append(struct writer *w, const char *line, size_t n);
/* writer_append() and an immediate attempt to write. */
void writer_line(struct writer *w, const char *line, size_t n);
/* Writes what it can now. */
void writer_flush(struct writer *w);
/* Bytes that can be queued without dropping anything. */
size_t writer_room(const struct writer *w);
size_t writer_capacity(const struct writer *w);
/* Calls wt->fn once the buffer is at most half full. */
void writer_wait_room(struct writer *w, struct writer_waiter *wt);
void writer_cancel_wait(struct writer *w, struct writer_waiter *wt);
/* Opens the path again (after logrotate's move); a no-op for inherited
 * descriptors. Queued lines go to the new file. Returns 0 or -errno. */
int writer_reopen(struct writer *w);

/* Every writer, present and future, uses this loop for EPOLLOUT and retry
 * timers (NULL: no loop, only immediate attempts). */
void writer_attach_all(sd_event *e);
void writer_set_drop_hook(writer_drop_hook *hook);
/* Reopens every writer that has a path; returns the first error or 0. */
int writer_reopen_all(void);
/* Writes what is queued in every writer, waiting at most timeout_ms in all
 * (for the exit path: never blocks longer). */
void writer_drain_all(int timeout_ms);

#endif
