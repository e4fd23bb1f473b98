#ifndef SUPD_LISTENER_H
#define SUPD_LISTENER_H

#include <stdbool.h>
#include <systemd/sd-event.h>

/* One listening socket's accepting (listener.c). The owner fills name,
 * take, out_of_fds and ctx, then calls listener_start(); the socket stays
 * the owner's. */
struct listener {
	const char *name; /* for the log: "control", "metrics" */
	/* a new connection (non-blocking, close-on-exec), now the callee's */
	void (*take)(void *ctx, int fd);
	/* EMFILE or ENFILE: true when the callee made room (accepting goes
	 * on), false to pause. NULL: pause. */
	bool (*out_of_fds)(void *ctx);
	void *ctx;

	sd_event_source *accept_src, *retry_src;
	bool paused;
	bool error_logged; /* until the next successful accept */
};

int listener_start(struct listener *l, sd_event *event, int listen_fd);
/* A connection closed: accepting again, if it had paused. */
void listener_resume(struct listener *l);
/* Its event sources dropped; resume does nothing after it. */
void listener_stop(struct listener *l);

#endif
