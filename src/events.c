/*
 * events.c - the event stream of SPEC section 5, and its human echo.
 *
 * Owns the --events file and the list of in-process listeners (the control
 * socket's subscribers and monitors). An event is formatted once into a
 * stack buffer with snprintf: no allocation, so emitting on the exit path
 * cannot fail for lack of memory. The strings an event carries are paths
 * and ids (an alphabet that needs no JSON escaping, see spec_id_valid),
 * signal names and our own error words; json_escape() still guards every
 * string, so a future field cannot break the framing.
 *
 * The file goes through a writer (writer.c): lines are queued whole and
 * written without blocking, a file of ours is never left with half a line
 * (a full disk), it can rotate by size, and a reader that stalls costs
 * dropped lines (reported by an output_dropped event), never a blocked
 * supervisor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "log.h"
#include "writer.h"

/* Events wait here while the file is not writable. */
#define EVENTS_BUFFER_BYTES (256 * 1024)

static struct writer *events_out;
/* The node whose exit was seen last: the one that crossed a restart limit
 * (restart_limit follows the exit that caused it). */
static char last_exit[512];
static TAILQ_HEAD(, event_listener) listeners = TAILQ_HEAD_INITIALIZER(listeners);

static const char *
event_name(enum core_event_type type)
{
	switch (type) {
	case EV_SUPERVISOR_STARTED:
		return "supervisor_started";
	case EV_CHILD_STARTED:
		return "child_started";
	case EV_CHILD_START_FAILED:
		return "child_start_failed";
	case EV_CHILD_STOPPING:
		return "child_stopping";
	case EV_SHUTDOWN_TIMEOUT:
		return "shutdown_timeout";
	case EV_CHILD_EXITED:
		return "child_exited";
	case EV_SUPERVISOR_STOPPED:
		return "supervisor_stopped";
	case EV_RESTART_LIMIT:
		return "restart_limit";
	case EV_AUTO_SHUTDOWN:
		return "auto_shutdown";
	case EV_ORPHAN_REAPED:
		return "orphan_reaped";
	case EV_SUPD_EXITING:
		return "supd_exiting";
	case EV_RESTART_DELAYED:
		return "restart_delayed";
	case EV_CHILD_UNHEALTHY:
		return "child_unhealthy";
	case EV_OUTPUT_DROPPED:
		return "output_dropped";
	case EV_RELOADED:
		return "reloaded";
	case EV_RELOAD_FAILED:
		return "reload_failed";
	}
	return "unknown";
}

/* Writes s as the body of a JSON string (without quotes). Returns NULL when
 * it does not fit: a cut path could name another node, so nothing is cut. */
static const char *
json_escape(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	for (; s && *s; s++) {
		if (n + 7 > len)
			return NULL;
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			n += snprintf(buf + n, len - n, "\\u%04x", ch);
		} else {
			buf[n++] = (char)ch;
		}
	}
	buf[n] = '\0';
	return buf;
}

/* Appends ,"name":["id",...] at buf + *n; false when it does not fit. Ids
 * need no escaping (spec_id_valid), but are escaped anyway. */
static bool
format_ids(char *buf, size_t len, int *n, const char *name, const char *const *ids, size_t count)
{
	char id[SPEC_ID_MAX * 6 + 8];
	int m = snprintf(buf + *n, len - (size_t)*n, ",\"%s\":[", name);

	if (m < 0 || (size_t)(*n + m) >= len)
		return false;
	*n += m;
	for (size_t i = 0; i < count; i++) {
		if (!json_escape(ids[i], id, sizeof(id)))
			return false;
		m = snprintf(buf + *n, len - (size_t)*n, "%s\"%s\"", i ? "," : "", id);
		if (m < 0 || (size_t)(*n + m) >= len)
			return false;
		*n += m;
	}
	if ((size_t)*n + 1 >= len)
		return false;
	buf[(*n)++] = ']';
	buf[*n] = '\0';
	return true;
}

/* The room an event's line needs: reloaded carries lists of ids and
 * reload_failed every problem of a file, beyond EVENT_LINE_MAX. */
static size_t
event_room(const struct core_event *ev)
{
	size_t room = EVENT_LINE_MAX;

	if (ev->type == EV_RELOADED) {
		const char *const *lists[] = {ev->added, ev->removed, ev->changed, ev->failed};
		size_t counts[] = {ev->nadded, ev->nremoved, ev->nchanged, ev->nfailed};
		for (size_t l = 0; l < 4; l++)
			for (size_t i = 0; i < counts[l]; i++)
				room += strlen(lists[l][i]) * 6 + 3;
	} else if (ev->type == EV_RELOAD_FAILED && ev->error) {
		room += strlen(ev->error) * 6;
	}
	return room;
}

static int
format_status(struct exit_status st, char *buf, size_t len)
{
	const char *name = st.signaled ? signal_name(st.value) : NULL;

	if (!st.signaled)
		return snprintf(buf, len, "{\"code\":%d}", st.value);
	if (name)
		return snprintf(buf, len, "{\"signal\":\"%s\"}", name);
	return snprintf(buf, len, "{\"signal\":%d}", st.value);
}

size_t
event_format(const struct core_event *ev, const struct timespec *ts, char *buf, size_t len)
{
	/* Room for the longest valid path (ids need no escaping); longer text
	 * makes the event too long, which its caller reports. */
	char path[CHILD_PATH_MAX + 8], text[CHILD_PATH_MAX + 8], status[64];
	const char *escaped_path = json_escape(ev->path ? ev->path : "/", path, sizeof(path));
	struct tm tm;
	int n, m = 0;

	if (!escaped_path)
		return 0;
	gmtime_r(&ts->tv_sec, &tm);
	n = snprintf(buf, len,
		     "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\",\"event\":\"%s\","
		     "\"path\":\"%s\"",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts->tv_nsec / 1000, event_name(ev->type), escaped_path);
	if (n < 0 || (size_t)n >= len)
		return 0;

	switch (ev->type) {
	case EV_CHILD_STARTED:
		m = snprintf(buf + n, len - n, ",\"pid\":%d", ev->pid);
		break;
	case EV_CHILD_START_FAILED:
		if (!json_escape(ev->error, text, sizeof(text)))
			return 0;
		m = snprintf(buf + n, len - n, ",\"error\":\"%s\"", text);
		break;
	case EV_CHILD_STOPPING:
		m = snprintf(buf + n, len - n, ",\"pid\":%d,\"signal\":\"%s\"", ev->pid,
			     signal_name(ev->signal) ? signal_name(ev->signal) : "?");
		break;
	case EV_SHUTDOWN_TIMEOUT:
		/* a supervisor node has no pid of its own */
		if (ev->pid > 0)
			m = snprintf(buf + n, len - n, ",\"pid\":%d", ev->pid);
		break;
	case EV_CHILD_EXITED:
		format_status(ev->status, status, sizeof(status));
		m = snprintf(buf + n, len - n, ",\"pid\":%d,\"status\":%s,\"reason\":\"%s\"",
			     ev->pid, status, exit_reason_name(ev->reason));
		break;
	case EV_SUPERVISOR_STOPPED:
		m = snprintf(buf + n, len - n, ",\"reason\":\"%s\"", exit_reason_name(ev->reason));
		break;
	case EV_RESTART_LIMIT:
		m = snprintf(buf + n, len - n, ",\"max_restarts\":%u,\"max_seconds\":%u",
			     ev->max_restarts, ev->max_seconds);
		break;
	case EV_AUTO_SHUTDOWN:
		if (!json_escape(ev->trigger, text, sizeof(text)))
			return 0;
		m = snprintf(buf + n, len - n, ",\"trigger\":\"%s\"", text);
		break;
	case EV_ORPHAN_REAPED:
		format_status(ev->status, status, sizeof(status));
		m = snprintf(buf + n, len - n, ",\"pid\":%d,\"status\":%s", ev->pid, status);
		break;
	case EV_SUPD_EXITING:
		m = snprintf(buf + n, len - n, ",\"status\":%d", ev->exit_code);
		break;
	case EV_RESTART_DELAYED:
		m = snprintf(buf + n, len - n, ",\"delay_ms\":%llu",
			     (unsigned long long)ev->delay_ms);
		break;
	case EV_CHILD_UNHEALTHY:
		m = snprintf(buf + n, len - n, ",\"pid\":%d,\"output\":\"%s\"", ev->pid,
			     json_escape(ev->output ? ev->output : "", text, sizeof(text)));
		break;
	case EV_OUTPUT_DROPPED:
		m = snprintf(buf + n, len - n, ",\"lines\":%llu,\"output\":\"%s\"",
			     (unsigned long long)ev->lines,
			     json_escape(ev->output, text, sizeof(text)));
		break;
	case EV_RELOADED:
		if (!format_ids(buf, len, &n, "added", ev->added, ev->nadded) ||
		    !format_ids(buf, len, &n, "removed", ev->removed, ev->nremoved) ||
		    !format_ids(buf, len, &n, "changed", ev->changed, ev->nchanged) ||
		    (ev->nfailed && !format_ids(buf, len, &n, "failed", ev->failed, ev->nfailed)))
			return 0;
		break;
	case EV_RELOAD_FAILED: {
		size_t room = strlen(ev->error ? ev->error : "") * 6 + 8;
		char *err = malloc(room);
		if (!err || !json_escape(ev->error ? ev->error : "", err, room)) {
			free(err);
			return 0;
		}
		m = snprintf(buf + n, len - n, ",\"error\":\"%s\"", err);
		free(err);
		break;
	}
	case EV_SUPERVISOR_STARTED:
		break;
	}
	if (m < 0 || (size_t)(n + m) + 2 >= len)
		return 0;
	n += m;
	buf[n++] = '}';
	buf[n++] = '\n';
	buf[n] = '\0';
	return (size_t)n;
}

int
events_open(const char *path, uint64_t max_size, unsigned keep)
{
	int r = 0;
	struct writer *w = writer_open_path(path, max_size, keep, EVENTS_BUFFER_BYTES, &r);

	if (!w)
		return r;
	events_close();
	events_out = w;
	return 0;
}

void
events_close(void)
{
	writer_free(events_out);
	events_out = NULL;
}

void
events_add_listener(struct event_listener *l)
{
	TAILQ_INSERT_TAIL(&listeners, l, link);
}

void
events_remove_listener(struct event_listener *l)
{
	TAILQ_REMOVE(&listeners, l, link);
}

static void
log_human(const struct core_event *ev)
{
	char status[64];

	switch (ev->type) {
	case EV_SUPERVISOR_STARTED:
		log_debug("%s: supervisor started", ev->path);
		break;
	case EV_CHILD_STARTED:
		log_info("%s: started, pid %d", ev->path, ev->pid);
		break;
	case EV_CHILD_START_FAILED:
		if (ev->program)
			log_warnx("%s: start failed: %s (%s)", ev->path, ev->error, ev->program);
		else
			log_warnx("%s: start failed: %s", ev->path, ev->error);
		break;
	case EV_CHILD_STOPPING:
		log_debug("%s: stopping pid %d with %s", ev->path, ev->pid,
			  signal_name(ev->signal));
		break;
	case EV_SHUTDOWN_TIMEOUT:
		log_warnx("%s: shutdown time ran out, sending SIGKILL", ev->path);
		break;
	case EV_CHILD_EXITED:
		if (ev->status.signaled)
			snprintf(status, sizeof(status), "killed by %s",
				 signal_name(ev->status.value) ? signal_name(ev->status.value)
							       : "a signal");
		else
			snprintf(status, sizeof(status), "exit code %d", ev->status.value);
		if (ev->reason == REASON_CRASH || ev->reason == REASON_UNHEALTHY)
			log_warnx("%s: pid %d crashed (%s)", ev->path, ev->pid, status);
		else
			log_info("%s: pid %d exited, %s (%s)", ev->path, ev->pid,
				 exit_reason_name(ev->reason), status);
		break;
	case EV_SUPERVISOR_STOPPED:
		log_debug("%s: supervisor stopped (%s)", ev->path, exit_reason_name(ev->reason));
		break;
	case EV_RESTART_LIMIT:
		/* Only the root giving up ends supd; a nested supervisor's
		 * give-up is an exit its own supervisor handles. */
		if (strcmp(ev->path, "/") == 0)
			log_error("%s: %s exited: more than %u restarts in %u s, giving up",
				  ev->path, last_exit[0] ? last_exit : "a child", ev->max_restarts,
				  ev->max_seconds);
		else
			log_warnx("%s: %s exited: more than %u restarts in %u s, giving up",
				  ev->path, last_exit[0] ? last_exit : "a child", ev->max_restarts,
				  ev->max_seconds);
		break;
	case EV_AUTO_SHUTDOWN:
		log_info("%s: %s exited, shutting down (auto_shutdown)", ev->path, ev->trigger);
		break;
	case EV_ORPHAN_REAPED:
		log_debug("reaped orphan %d", ev->pid);
		break;
	case EV_SUPD_EXITING:
		/* loop.c logs the last line, with the reason */
		break;
	case EV_RESTART_DELAYED:
		log_info("%s: restart in %llu ms (backoff)", ev->path,
			 (unsigned long long)ev->delay_ms);
		break;
	case EV_CHILD_UNHEALTHY:
		log_warnx("%s: pid %d failed its health checks, killing it%s%s", ev->path, ev->pid,
			  ev->output && *ev->output ? ": " : "", ev->output ? ev->output : "");
		break;
	case EV_OUTPUT_DROPPED:
		log_warnx("%s was not writable: %llu lines dropped", ev->output,
			  (unsigned long long)ev->lines);
		break;
	case EV_RELOADED:
		log_info("%s: reloaded: %zu added, %zu removed, %zu changed%s", ev->path,
			 ev->nadded, ev->nremoved, ev->nchanged,
			 ev->nfailed ? ", some failed to start" : "");
		break;
	case EV_RELOAD_FAILED:
		/* reload.c logs the whole message */
		break;
	}
}

void
events_emit(const struct core_event *ev)
{
	char stack_line[EVENT_LINE_MAX];
	char *line = stack_line;
	size_t room = event_room(ev);
	struct timespec ts;
	struct event_listener *l, *next;
	size_t len;

	if (ev->type == EV_CHILD_EXITED || ev->type == EV_SUPERVISOR_STOPPED)
		snprintf(last_exit, sizeof(last_exit), "%s", ev->path);
	log_human(ev);
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Only the reload's events may need more than the stack holds; they
	 * are not on the exit-to-restart path. */
	if (room > sizeof(stack_line) && !(line = malloc(room))) {
		log_warnx("event %s on %s: out of memory, dropped", event_name(ev->type), ev->path);
		return;
	}
	len = event_format(ev, &ts, line, line == stack_line ? sizeof(stack_line) : room);
	if (len == 0) {
		log_warnx("event %s on %s too long, dropped", event_name(ev->type), ev->path);
		if (line != stack_line)
			free(line);
		return;
	}
	if (events_out)
		writer_line(events_out, line, len);
	/* A listener may remove itself from inside its callback. */
	for (l = TAILQ_FIRST(&listeners); l; l = next) {
		next = TAILQ_NEXT(l, link);
		l->fn(l, ev, line, len);
	}
	if (line != stack_line)
		free(line);
}
