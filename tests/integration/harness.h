/*
 * harness.h - run the real supd binary on real processes, from criterion tests.
 *
 * One struct harness is one supd run: a fresh temporary directory, the
 * config written into it, a named pipe that carries supd's event stream back
 * to the test, supd's stdout and stderr in files, and supd itself started
 * either as a normal process or as PID 1 of a new PID namespace (through
 * unshare). Every event read is kept in order, so a test can wait for one
 * event and later assert the order of everything it saw.
 *
 * Every wait has a deadline (CLOCK_MONOTONIC); nothing sleeps for a fixed
 * time. Whatever a test started is killed and reaped by h_cleanup_all(), the
 * .fini of every suite, also when an assertion failed half-way.
 */
#ifndef SUPD_ITEST_HARNESS_H
#define SUPD_ITEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

struct h_opts {
	/* The YAML config; @TESTCHILD@ and @DIR@ are replaced. NULL in -- mode. */
	const char *yaml;
	/* `-- PROGRAM ARGS...` (NULL-terminated, same replacements), instead of yaml. */
	const char *const *argv;
	/* Run supd as PID 1 of a new PID namespace. */
	bool pid1;
	/* Open a control socket at DIR/supd.sock instead of --no-control. */
	bool control;
	/* Extra NAME=value entries in supd's environment (NULL-terminated). */
	const char *const *env;
	/* Extra supd options before -- (NULL-terminated). */
	const char *const *args;
	/* Signals supd inherits as ignored, like under nohup (0-terminated). */
	const int *ignore;
	/* Files written into DIR before supd starts: NAME, TEXT pairs
	 * (NULL-terminated; same replacements in TEXT). */
	const char *const *files;
};

struct harness {
	char dir[256];         /* the temporary directory, DIR */
	char events_path[300]; /* DIR/events, a FIFO */
	int events_fd;         /* its read end, opened before supd */
	bool events_eof;
	char partial[65536]; /* an incomplete line read from the FIFO */
	size_t partial_len;
	json_t *events; /* array of every event read, in order */
	size_t cursor;  /* h_wait_event searches from here */
	size_t last;    /* index of the event h_wait_event returned last */

	pid_t pid; /* the process we spawned: supd, or unshare for PID 1 */
	int pidfd; /* of pid */
	bool pid1;
	bool reaped;
	int wstatus;         /* raw status of pid once reaped */
	pid_t supd;          /* supd in our PID namespace (the child of unshare for PID 1) */
	uint64_t started_ns; /* CLOCK_MONOTONIC when supd was spawned */

	pid_t *alive; /* worker pids seen started and not seen exited (normal mode) */
	size_t nalive, alive_cap;
	bool wrapped; /* SUPD_WRAPPER in use (valgrind) */
};

/* The scale factor for deadlines: larger under a wrapper such as valgrind. */
int h_slow(void);
/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t h_now_ms(void);

/* Starts supd; fails the test if it cannot. */
struct harness *h_start(const struct h_opts *o);
/* h_start() with only a config text, as a normal process or as PID 1. */
struct harness *h_start_yaml(const char *yaml, bool pid1);

/* A test body `static void name(bool pid1)` run twice in suite `suite`: as a
 * normal process (test `name`) and as PID 1 (test `name_pid1`). The file
 * that uses it includes <criterion/criterion.h>. */
#define H_BOTH_MODES(suite, name)                                                                  \
	static void name(bool pid1);                                                               \
	Test(suite, name)                                                                          \
	{                                                                                          \
		name(false);                                                                       \
	}                                                                                          \
	Test(suite, name##_pid1)                                                                   \
	{                                                                                          \
		name(true);                                                                        \
	}                                                                                          \
	static void name(bool pid1)

/* The next event named `event` (and with path `path` unless NULL) at or
 * after the cursor; moves the cursor past it. Fails the test after
 * timeout_ms (scaled by h_slow()) or if supd's stream ends first. The
 * returned event belongs to the harness. */
json_t *h_wait_event(struct harness *h, const char *event, const char *path, int timeout_ms);
/* Reads until at least n events were seen (fails the test on timeout). */
void h_wait_count(struct harness *h, size_t n, int timeout_ms);
/* Index in h->events of the last event h_wait_event returned. */
size_t h_index(const struct harness *h);
json_t *h_event(const struct harness *h, size_t i);
size_t h_nevents(const struct harness *h);
/* Index of the first event matching "EVENT [PATH [REASON]]" at or after
 * `from`, or -1. */
long h_find(const struct harness *h, size_t from, const char *pattern);
/* Asserts that the events from index `from` on are exactly `expected`, each
 * "EVENT PATH [REASON]" (REASON is matched against the reason member); waits
 * for them to arrive. */
void h_assert_next(struct harness *h, size_t from, const char *const *expected, size_t n);
#define H_ASSERT_NEXT(h, from, ...)                                                                \
	do {                                                                                       \
		const char *const h_expected_[] = {__VA_ARGS__};                                   \
		h_assert_next((h), (from), h_expected_,                                            \
			      sizeof(h_expected_) / sizeof(h_expected_[0]));                       \
	} while (0)
/* Asserts that the patterns appear in this order (not necessarily
 * adjacent) among the events seen so far. */
void h_assert_order(struct harness *h, const char *const *expected, size_t n);
#define H_ASSERT_ORDER(h, ...)                                                                     \
	do {                                                                                       \
		const char *const h_expected_[] = {__VA_ARGS__};                                   \
		h_assert_order((h), h_expected_, sizeof(h_expected_) / sizeof(h_expected_[0]));    \
	} while (0)

/* The last events and the tail of supd's stderr, for failure messages. */
const char *h_context(struct harness *h);
/* cr_assert with the context of h appended to the message. */
#define H_CHECK(h, cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			char h_msg_[512];                                                          \
			snprintf(h_msg_, sizeof(h_msg_), __VA_ARGS__);                             \
			cr_assert(false, "%s [%s]%s", h_msg_, #cond, h_context(h));                \
		}                                                                                  \
	} while (0)

/* Accessors for event members (0 / NULL when absent). */
const char *ev_str(json_t *ev, const char *key);
long long ev_int(json_t *ev, const char *key);
/* The ts member in microseconds since the epoch. */
int64_t ev_ts_us(json_t *ev);
/* True if ev's status is {"code":code}. */
bool ev_status_code(json_t *ev, int code);
/* True if ev's status is {"signal":"name"}. */
bool ev_status_signal(json_t *ev, const char *name);

/* supd's pid in our PID namespace (for PID 1: the child of unshare). */
pid_t h_supd_pid(struct harness *h);
/* Sends sig to supd (for PID 1: to the child of unshare, supd itself). */
void h_signal(struct harness *h, int sig);
/* Waits for supd to exit and returns its exit status as a shell shows it
 * (128+N for a signal). Fails the test after the timeout, after SIGKILL.
 * Also reads the rest of the event stream and, under valgrind, checks its
 * report. */
int h_wait_exit(struct harness *h, int timeout_ms);

/* The control socket (h_opts.control): a connection to DIR/supd.sock
 * (waits for it to appear), one request line out, the next reply line in
 * (fails the test after the timeout); the caller json_decref()s replies. */
int h_connect(struct harness *h);
void h_send(struct harness *h, int fd, const char *json);
json_t *h_recv(struct harness *h, int fd, int timeout_ms);
/* A connection of its own for one request and its reply. */
json_t *h_request(struct harness *h, const char *json, int timeout_ms);
/* Waits until supd has read everything sent on fd (the socket's unread
 * count, SIOCOUTQ, is 0): a request it has read has been submitted. */
void h_wait_consumed(struct harness *h, int fd, int timeout_ms);
/* Waits until supd's stderr (DIR/supd.log) contains `needle`. */
void h_wait_log(struct harness *h, const char *needle, int timeout_ms);

/* DIR/name, in a static rotating buffer. */
const char *h_path(struct harness *h, const char *name);
/* Waits (inotify, deadline) until DIR/name exists. */
void h_wait_file(struct harness *h, const char *name, int timeout_ms);
/* Reads a whole file into a malloc'd NUL-terminated string (NULL on error). */
char *h_read_file(const char *path);
/* The number of entries in /proc/PID/fd, -1 on error. */
int h_count_fds(pid_t pid);
/* The number of zombies whose parent is ppid. */
int h_count_zombie_children(pid_t ppid);

/* Records a measurement (also with cr_log_info) in $SUPD_ITEST_REPORT. */
void h_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a command to completion (stdout/stderr into files when not NULL);
 * returns its exit status (128+N for a signal), fails the test on timeout. */
int h_run(char *const argv[], const char *out_path, const char *err_path, int timeout_ms);

/* The .fini of every suite: kills and reaps whatever is still running,
 * removes the temporary directories. */
void h_cleanup_all(void);

/* The paths the tests run: $SUPD_BIN and $TESTCHILD. */
const char *h_supd_bin(void);
const char *h_testchild(void);

#endif
