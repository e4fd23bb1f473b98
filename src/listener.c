/*
 * listener.c - accepting on a listening socket without ever spinning.
 *
 * Owns, for one listening socket (the control socket, the metrics
 * listener), the accept event source and what follows a failed accept.
 * Up to ACCEPTS_PER_WAKEUP connections are taken per wakeup, so one
 * crowded socket cannot hold the loop. When accept fails for want of
 * descriptors (or worse), the pending client stays in the kernel's backlog
 * and accepting pauses until a connection closes (listener_resume) or
 * ACCEPT_RETRY_USEC pass: the socket stays readable, and level-triggered
 * epoll would otherwise wake supd again at once, forever. The failure is
 * logged once per episode.
 */
#include <errno.h>
#include <sys/socket.h>

#include "listener.h"
#include "log.h"

#define ACCEPTS_PER_WAKEUP 32
#define ACCEPT_RETRY_USEC  (500 * 1000)

static void
pause_accepting(struct listener *l)
{
	if (l->paused)
		return;
	l->paused = true;
	sd_event_source_set_enabled(l->accept_src, SD_EVENT_OFF);
	sd_event_source_set_time_relative(l->retry_src, ACCEPT_RETRY_USEC);
	sd_event_source_set_enabled(l->retry_src, SD_EVENT_ONESHOT);
}

void
listener_resume(struct listener *l)
{
	if (!l->paused)
		return;
	l->paused = false;
	sd_event_source_set_enabled(l->accept_src, SD_EVENT_ON);
	sd_event_source_set_enabled(l->retry_src, SD_EVENT_OFF);
}

static int
on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	listener_resume(userdata);
	return 0;
}

static void
log_once(struct listener *l, const char *what)
{
	if (!l->error_logged)
		log_warn("%s: accept (%s)", l->name, what);
	l->error_logged = true;
}

static int
on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct listener *l = userdata;

	(void)s;
	(void)revents;
	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd >= 0) {
			l->error_logged = false;
			l->take(l->ctx, cfd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return 0;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		case EMFILE:
		case ENFILE:
			if (l->out_of_fds) {
				log_once(l, "refusing clients until descriptors are free");
				if (l->out_of_fds(l->ctx))
					continue;
				pause_accepting(l);
				return 0;
			}
			/* fall through */
		default:
			log_once(l, "pausing");
			pause_accepting(l);
			return 0;
		}
	}
	return 0;
}

int
listener_start(struct listener *l, sd_event *event, int listen_fd)
{
	int r;

	l->paused = l->error_logged = false;
	r = sd_event_add_io(event, &l->accept_src, listen_fd, EPOLLIN, on_accept, l);
	if (r >= 0)
		r = sd_event_add_time_relative(event, &l->retry_src, CLOCK_MONOTONIC,
					       ACCEPT_RETRY_USEC, 0, on_retry, l);
	if (r >= 0)
		r = sd_event_source_set_enabled(l->retry_src, SD_EVENT_OFF);
	if (r < 0)
		listener_stop(l);
	return r;
}

void
listener_stop(struct listener *l)
{
	l->accept_src = sd_event_source_disable_unref(l->accept_src);
	l->retry_src = sd_event_source_disable_unref(l->retry_src);
	l->paused = false;
}
