/*
 * relay.h - the pure part of capturing a worker's output: cutting its bytes
 * into lines and formatting them for `output: prefix` and `output: {file:}`.
 *
 * No system call and no clock: output.c reads the pipes and passes the
 * time in; the unit tests drive these functions directly.
 */
#ifndef SUPD_RELAY_H
#define SUPD_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A line longer than this is cut into pieces of this size (SPEC 7.1). */
#define RELAY_LINE_MAX (16 * 1024)
/* Bytes read from a worker's pipe and not yet cut into lines. */
#define RELAY_INPUT_MAX (64 * 1024)

enum relay_stream {
	RELAY_OUT, /* the worker's stdout */
	RELAY_ERR, /* the worker's stderr */
};

/* The bytes read from one pipe and not yet handed on as lines. The buffer
 * is allocated when bytes arrive and freed once every line is out, so an
 * idle worker costs nothing. */
struct relay_input {
	char *data;
	size_t off; /* the first byte not handed on */
	size_t len; /* the end of what was read */
};

/* Room left for reading (0: hand lines on first). */
size_t relay_input_room(const struct relay_input *in);
/* Where the next read goes (allocates the buffer); NULL on ENOMEM. */
char *relay_input_tail(struct relay_input *in);
/* n bytes were read into relay_input_tail(). */
void relay_input_added(struct relay_input *in, size_t n);
/* The next line (without its '\n') in *line / *len, cut at RELAY_LINE_MAX;
 * with at_end (the pipe closed, or the worker exited) a last partial line
 * too. Returns false when no line is complete. The line stays in the buffer
 * until relay_input_done(in, *used). */
bool relay_input_next(const struct relay_input *in, bool at_end, const char **line, size_t *len,
		      size_t *used);
/* The line returned by relay_input_next() was handed on. */
void relay_input_done(struct relay_input *in, size_t used);
/* Bytes read and not handed on. */
size_t relay_input_pending(const struct relay_input *in);
void relay_input_free(struct relay_input *in);

/* Formats `PATH | line\n` into buf; returns the length, or 0 if it does not
 * fit (buf should be RELAY_LINE_MAX + path + 4 bytes). */
size_t relay_format_prefix(char *buf, size_t size, const char *path, const char *line, size_t len);
/* Formats `2026-11-21T07:15:00.123456Z out line\n`. */
size_t relay_format_file(char *buf, size_t size, const struct timespec *ts, enum relay_stream s,
			 const char *line, size_t len);
/* The most bytes relay_format_*() can produce for one line. */
size_t relay_format_max(const char *path);

#endif
