/*
 * relay.c - cutting a captured worker's bytes into lines and formatting
 * them (SPEC 7.1): `PATH | line` for output: prefix, `TIMESTAMP STREAM line`
 * for output: {file:}.
 *
 * Owns the line rules: a line ends at '\n'; a line longer than
 * RELAY_LINE_MAX is cut into pieces of that size; what is left when the pipe
 * closes or the worker exits is a last line of its own. Bytes are passed on
 * as they are (binary garbage included), only a '\n' is added. Pure: no
 * system call, no clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"

size_t
relay_input_room(const struct relay_input *in)
{
	return RELAY_INPUT_MAX - (in->len - in->off);
}

char *
relay_input_tail(struct relay_input *in)
{
	if (!in->data) {
		in->data = malloc(RELAY_INPUT_MAX);
		if (!in->data)
			return NULL;
		in->off = in->len = 0;
	}
	if (in->off > 0) {
		/* Once per read, not once per line. */
		memmove(in->data, in->data + in->off, in->len - in->off);
		in->len -= in->off;
		in->off = 0;
	}
	return in->data + in->len;
}

void
relay_input_added(struct relay_input *in, size_t n)
{
	in->len += n;
}

size_t
relay_input_pending(const struct relay_input *in)
{
	return in->len - in->off;
}

bool
relay_input_next(const struct relay_input *in, bool at_end, const char **line, size_t *len,
		 size_t *used)
{
	size_t avail = in->len - in->off;
	size_t look = avail < RELAY_LINE_MAX + 1 ? avail : RELAY_LINE_MAX + 1;
	const char *start = in->data ? in->data + in->off : NULL;
	const char *nl;

	if (avail == 0)
		return false;
	*line = start;
	nl = memchr(start, '\n', look);
	if (nl) {
		*len = (size_t)(nl - start);
		*used = *len + 1;
		return true;
	}
	if (avail > RELAY_LINE_MAX) {
		*len = *used = RELAY_LINE_MAX;
		return true;
	}
	if (at_end) {
		*len = *used = avail;
		return true;
	}
	return false;
}

void
relay_input_done(struct relay_input *in, size_t used)
{
	in->off += used;
	if (in->off >= in->len)
		relay_input_free(in);
}

void
relay_input_free(struct relay_input *in)
{
	free(in->data);
	in->data = NULL;
	in->off = in->len = 0;
}

size_t
relay_format_max(const char *path)
{
	/* "PATH | " or "2026-11-21T07:15:00.123456Z err ", the line, '\n' */
	size_t prefix = strlen(path) + 3, stamp = 27 + 5;

	return (prefix > stamp ? prefix : stamp) + RELAY_LINE_MAX + 1;
}

size_t
relay_format_prefix(char *buf, size_t size, const char *path, const char *line, size_t len)
{
	size_t plen = strlen(path);

	if (plen + 3 + len + 1 > size)
		return 0;
	memcpy(buf, path, plen);
	memcpy(buf + plen, " | ", 3);
	memcpy(buf + plen + 3, line, len);
	buf[plen + 3 + len] = '\n';
	return plen + 3 + len + 1;
}

size_t
relay_format_file(char *buf, size_t size, const struct timespec *ts, enum relay_stream s,
		  const char *line, size_t len)
{
	struct tm tm;
	int n;

	gmtime_r(&ts->tv_sec, &tm);
	n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts->tv_nsec / 1000, s == RELAY_OUT ? "out" : "err");
	if (n < 0 || (size_t)n + len + 1 > size)
		return 0;
	memcpy(buf + n, line, len);
	buf[(size_t)n + len] = '\n';
	return (size_t)n + len + 1;
}
