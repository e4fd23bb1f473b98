/*
 * output.h - captured workers: `output: prefix` and `output: {file: ...}`.
 *
 * For a worker whose output is captured, two pipes are created with each
 * incarnation (its stdout and stderr; close-on-exec in supd) and read by
 * the loop. Every line goes to its destination writer (supd's stdout or
 * stderr as `PATH | line`, or a size-rotated file as `TIMESTAMP STREAM
 * line`) and into an in-memory ring of the worker's last lines (for
 * `supctl logs`). When a destination's buffer is full, supd stops reading
 * that worker's pipe: the worker is slowed, nothing else is.
 */
#ifndef SUPD_OUTPUT_H
#define SUPD_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "relay.h"

struct child;
struct output_spec;

/* Someone following a worker's lines live (supctl logs -f). */
struct output_follower {
	void (*fn)(struct output_follower *f, enum relay_stream s, const char *line, size_t len);
	/* The worker is gone for good (deleted): stop following. */
	void (*gone)(struct output_follower *f);
	TAILQ_ENTRY(output_follower) link;
	struct child *child;
};

/* The loop whose sources read the pipes. */
void output_init(sd_event *e);
/* Closes every output file (at exit). */
void output_shutdown(void);

/* The output that applies to worker c (its own, else its supervisors'). */
const struct output_spec *output_effective(const struct child *c);
/* Before spawning c: for a captured worker, creates its pipes and sets
 * *out_fd / *err_fd to the ends the child gets as 1 and 2; -1 for inherit.
 * Returns 0, or -errno with "STAGE:ERRNAME" in err. */
int output_prepare(struct child *c, int *out_fd, int *err_fd, char *err, size_t errlen);
/* The spawn succeeded: supd closes the child's ends and starts reading. */
void output_started(struct child *c);
/* The spawn failed: every pipe of this attempt is closed. */
void output_abort(struct child *c);
/* The worker was reaped: what is in its pipes is read, a partial last line
 * is flushed, the pipes are closed. */
void output_exited(struct child *c);
/* c is about to be freed. */
void output_child_freed(struct child *c);

/* Whether c's output is captured (a ring exists or will). */
bool output_captured(const struct child *c);
/* Calls fn for each of the last n lines of c's ring, oldest first. */
void output_last_lines(const struct child *c, size_t n,
		       void (*fn)(void *ctx, const char *line, size_t len), void *ctx);
void output_follow(struct child *c, struct output_follower *f);
/* A JSON array of the last n lines of c (bytes that are not UTF-8 become
 * U+FFFD), for the op logs; NULL on ENOMEM. */
json_t *output_lines_json(const struct child *c, size_t n);
/* {"log":{"path":P,"stream":"out"|"err","line":TEXT}}, for followers. */
json_t *output_line_message(const char *path, enum relay_stream s, const char *line, size_t len);
void output_unfollow(struct output_follower *f);

#endif
