/*
 * test-events.c - every event type formats to the exact JSON line of SPEC
 * section 5, parses back with jansson, and reaches listeners and the file.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>

#include "events.h"

static const struct timespec when = {.tv_sec = 1795245300, .tv_nsec = 123456789};

static char *
fmt(const struct core_event *ev)
{
	static char buf[EVENT_LINE_MAX];
	size_t n = event_format(ev, &when, buf, sizeof(buf));

	cr_assert(gt(sz, n, 0));
	cr_assert(eq(chr, buf[n - 1], '\n'));
	return buf;
}

#define TS "{\"ts\":\"2026-11-21T07:15:00.123456Z\","

Test(events, child_started)
{
	struct core_event ev = {.type = EV_CHILD_STARTED, .path = "/web/db", .pid = 4242};
	cr_assert(eq(str, fmt(&ev),
		     TS "\"event\":\"child_started\",\"path\":\"/web/db\",\"pid\":4242}\n"));
}

Test(events, child_exited_with_code_and_with_signal)
{
	struct core_event ev = {.type = EV_CHILD_EXITED,
				.path = "/a",
				.pid = 7,
				.status = {.value = 3},
				.reason = REASON_CRASH};
	cr_assert(eq(str, fmt(&ev),
		     TS "\"event\":\"child_exited\",\"path\":\"/a\",\"pid\":7,"
			"\"status\":{\"code\":3},\"reason\":\"crash\"}\n"));
	ev.status = (struct exit_status){.signaled = true, .value = SIGSEGV};
	ev.reason = REASON_KILLED;
	cr_assert(eq(str, fmt(&ev),
		     TS "\"event\":\"child_exited\",\"path\":\"/a\",\"pid\":7,"
			"\"status\":{\"signal\":\"SIGSEGV\"},\"reason\":\"killed\"}\n"));
}

Test(events, the_rest)
{
	struct core_event evs[] = {
		{.type = EV_SUPERVISOR_STARTED, .path = "/"},
		{.type = EV_CHILD_START_FAILED, .path = "/a", .error = "exec:ENOENT"},
		{.type = EV_CHILD_STOPPING, .path = "/a", .pid = 9, .signal = SIGTERM},
		{.type = EV_SHUTDOWN_TIMEOUT, .path = "/a", .pid = 9},
		{.type = EV_SHUTDOWN_TIMEOUT, .path = "/sup"},
		{.type = EV_SUPERVISOR_STOPPED, .path = "/", .reason = REASON_SHUTDOWN},
		{.type = EV_RESTART_LIMIT, .path = "/", .max_restarts = 3, .max_seconds = 5},
		{.type = EV_AUTO_SHUTDOWN, .path = "/", .trigger = "/main"},
		{.type = EV_ORPHAN_REAPED, .path = "/", .pid = 77, .status = {.value = 42}},
		{.type = EV_SUPD_EXITING, .path = "/", .exit_code = 1},
	};
	const char *want[] = {
		TS "\"event\":\"supervisor_started\",\"path\":\"/\"}\n",
		TS "\"event\":\"child_start_failed\",\"path\":\"/a\",\"error\":\"exec:ENOENT\"}\n",
		TS
		"\"event\":\"child_stopping\",\"path\":\"/a\",\"pid\":9,\"signal\":\"SIGTERM\"}\n",
		TS "\"event\":\"shutdown_timeout\",\"path\":\"/a\",\"pid\":9}\n",
		TS "\"event\":\"shutdown_timeout\",\"path\":\"/sup\"}\n",
		TS "\"event\":\"supervisor_stopped\",\"path\":\"/\",\"reason\":\"shutdown\"}\n",
		TS "\"event\":\"restart_limit\",\"path\":\"/"
		   "\",\"max_restarts\":3,\"max_seconds\":5}\n",
		TS "\"event\":\"auto_shutdown\",\"path\":\"/\",\"trigger\":\"/main\"}\n",
		TS
		"\"event\":\"orphan_reaped\",\"path\":\"/\",\"pid\":77,\"status\":{\"code\":42}}\n",
		TS "\"event\":\"supd_exiting\",\"path\":\"/\",\"status\":1}\n",
	};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		char *line = fmt(&evs[i]);
		json_error_t err;
		json_t *obj = json_loads(line, 0, &err);
		cr_assert(ne(ptr, obj, NULL), "line %zu is not JSON: %s", i, err.text);
		json_decref(obj);
		cr_assert(eq(str, line, (char *)want[i]));
	}
}

Test(events, strings_are_escaped)
{
	struct core_event ev = {.type = EV_CHILD_START_FAILED, .path = "/a", .error = "x\"y\\z\n"};
	json_t *obj = json_loads(fmt(&ev), 0, NULL);

	cr_assert(ne(ptr, obj, NULL));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(obj, "error")), "x\"y\\z\n"));
	json_decref(obj);
}

Test(events, too_small_a_buffer_gives_zero)
{
	struct core_event ev = {.type = EV_CHILD_STARTED, .path = "/a", .pid = 1};
	char buf[40];

	cr_assert(eq(sz, event_format(&ev, &when, buf, sizeof(buf)), 0));
}

struct counting_listener {
	struct event_listener l;
	int calls;
	char last[EVENT_LINE_MAX];
};

static void
count_event(struct event_listener *l, const struct core_event *ev, const char *line, size_t len)
{
	struct counting_listener *c = (struct counting_listener *)l;

	(void)ev;
	c->calls++;
	snprintf(c->last, sizeof(c->last), "%.*s", (int)len, line);
	events_remove_listener(l); /* removing itself inside the callback is allowed */
}

Test(events, emit_writes_the_file_and_calls_listeners)
{
	char path[] = "/tmp/supd-events-XXXXXX";
	int fd = mkstemp(path);
	struct counting_listener a = {.l.fn = count_event}, b = {.l.fn = count_event};
	struct core_event ev = {.type = EV_CHILD_STARTED, .path = "/x", .pid = 5};
	char buf[4096];
	ssize_t n;

	cr_assert(ge(int, fd, 0));
	cr_assert(eq(int, events_open(path, 0, 0), 0));
	events_add_listener(&a.l);
	events_add_listener(&b.l);
	events_emit(&ev);
	events_emit(&ev);
	events_close();
	cr_assert(eq(int, a.calls, 1));
	cr_assert(eq(int, b.calls, 1));
	cr_assert(ne(ptr, strstr(a.last, "\"path\":\"/x\",\"pid\":5}"), NULL));
	n = read(fd, buf, sizeof(buf) - 1);
	cr_assert(gt(sz, (size_t)n, 0));
	buf[n] = '\0';
	/* two lines, appended */
	cr_assert(ne(ptr, strchr(buf, '\n'), NULL));
	cr_assert(ne(ptr, strchr(strchr(buf, '\n') + 1, '\n'), NULL));
	close(fd);
	unlink(path);
}

Test(events, a_full_pipe_drops_lines_instead_of_blocking)
{
	int p[2];
	struct core_event ev = {.type = EV_CHILD_STARTED, .path = "/x", .pid = 5};
	char path[64];

	cr_assert(eq(int, pipe(p), 0));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
	cr_assert(eq(int, events_open(path, 0, 0), 0));
	/* 64 KiB of pipe buffer hold ~800 lines; 5000 must not block. */
	for (int i = 0; i < 5000; i++)
		events_emit(&ev);
	events_close();
	close(p[0]);
	close(p[1]);
}

/* The longest valid paths (64 levels of 64-character ids) are written
 * whole, both of them in an auto_shutdown event: a cut path would name a
 * node that does not exist. */
Test(events, maximal_paths_are_never_truncated)
{
	static char path[CHILD_PATH_MAX], trigger[CHILD_PATH_MAX], line[EVENT_LINE_MAX];
	struct core_event ev = {.type = EV_AUTO_SHUTDOWN, .path = path, .trigger = trigger};
	json_t *obj;
	size_t n = 0;

	for (int level = 0; level < SPEC_MAX_DEPTH; level++) {
		path[n] = trigger[n] = '/';
		n++;
		for (int i = 0; i < SPEC_ID_MAX; i++, n++) {
			path[n] = (char)('a' + level % 26);
			trigger[n] = (char)('A' + level % 26);
		}
	}
	path[n] = trigger[n] = '\0';
	cr_assert(eq(sz, strlen(path), (size_t)CHILD_PATH_MAX - 1));
	n = event_format(&ev, &when, line, sizeof(line));
	cr_assert(gt(sz, n, 0));
	obj = json_loads(line, 0, NULL);
	cr_assert(ne(ptr, obj, NULL));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(obj, "path")), path));
	cr_assert(eq(str, (char *)json_string_value(json_object_get(obj, "trigger")), trigger));
	json_decref(obj);
	/* and a buffer too small for them gives 0, never a shorter path */
	cr_assert(eq(sz, event_format(&ev, &when, line, 3000), 0));
}
