/*
 * metrics.h - the supervision tree as Prometheus metrics (SPEC 7.8).
 *
 * The text exposition format 0.0.4, label `path` on every series: per child
 * supd_child_up, supd_child_restarts_total, supd_child_start_time_seconds
 * (while it runs) and supd_child_last_exit_code (once a process of it has
 * ended); per supervisor supd_supervisor_restarts (in its current intensity
 * window) and supd_supervisor_max_restarts. Read only, built from
 * supervisor.h's accessors; no sockets, no loop, no clock (times come in).
 */
#ifndef SUPD_METRICS_H
#define SUPD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct child;

/* The exposition of root and everything below it, NUL-terminated, in a
 * malloc'd buffer (*len bytes without the NUL); NULL on ENOMEM. now_ms is
 * the monotonic clock of the core, wall_now_s the same moment in seconds
 * since the epoch (start times are reported as wall-clock). */
char *metrics_render(const struct child *root, uint64_t now_ms, double wall_now_s, size_t *len);

/* The same text as pieces to write one after the other (a family's HELP
 * and TYPE lines, then its samples), without joining them: *total bytes
 * in all. The pieces stay valid until the next render (supd renders on its
 * one thread; callers copy them out before they return to the loop).
 * Returns 0, or -1 on ENOMEM. */
#define METRICS_PIECES 12
struct metrics_piece {
	const char *data;
	size_t len;
};
int metrics_render_pieces(const struct child *root, uint64_t now_ms, double wall_now_s,
			  struct metrics_piece pieces[METRICS_PIECES], size_t *total);

/* The content type of that text, for HTTP. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
