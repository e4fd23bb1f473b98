/*
 * events.h - the event stream of SPEC section 5.
 *
 * Every state change of the core becomes one JSON line. The line goes to the
 * --events file (appended whole through a writer that never blocks) and to every
 * registered listener (the control socket's subscribers and monitors).
 */
#ifndef SUPD_EVENTS_H
#define SUPD_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "supervisor.h"

/* An event names at most two paths (auto_shutdown: path and trigger). */
#define EVENT_LINE_MAX (2 * CHILD_PATH_MAX + 512)

struct event_listener {
	/* `line` is the JSON text with its trailing newline. */
	void (*fn)(struct event_listener *l, const struct core_event *ev, const char *line,
		   size_t len);
	TAILQ_ENTRY(event_listener) link;
};

/* Formats ev as one JSON line ending in '\n' into buf, stamped with the
 * wall-clock time ts. Returns the length, or 0 if it did not fit. */
size_t event_format(const struct core_event *ev, const struct timespec *ts, char *buf, size_t len);

/* Opens (creates, appends to) the events file, rotated past max_size bytes
 * (0: never) keeping `keep` old files; -errno on failure. */
int events_open(const char *path, uint64_t max_size, unsigned keep);
void events_close(void);
void events_add_listener(struct event_listener *l);
void events_remove_listener(struct event_listener *l);
/* Formats ev, writes it to the file and hands it to every listener. */
void events_emit(const struct core_event *ev);

#endif
