/*
 * test-relay.c - cutting a captured worker's bytes into lines (16 KiB
 * splits, partial last lines, binary bytes) and the two line formats of
 * SPEC 7.1.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "relay.h"

static void
feed(struct relay_input *in, const char *bytes, size_t n)
{
	char *tail = relay_input_tail(in);

	cr_assert(ne(ptr, tail, NULL));
	cr_assert(ge(sz, relay_input_room(in), n));
	memcpy(tail, bytes, n);
	relay_input_added(in, n);
}

/* The next line as a string ("" and false when none). */
static bool
next(struct relay_input *in, bool at_end, char *out, size_t size)
{
	const char *line;
	size_t len, used;

	out[0] = '\0';
	if (!relay_input_next(in, at_end, &line, &len, &used))
		return false;
	cr_assert(lt(sz, len, size));
	memcpy(out, line, len);
	out[len] = '\0';
	relay_input_done(in, used);
	return true;
}

Test(relay, complete_lines_come_out_and_a_partial_one_waits)
{
	struct relay_input in = {0};
	char line[64];

	feed(&in, "one\ntwo\nthr", 11);
	cr_assert(next(&in, false, line, sizeof(line)));
	cr_assert(eq(str, line, "one"));
	cr_assert(next(&in, false, line, sizeof(line)));
	cr_assert(eq(str, line, "two"));
	cr_assert(not(next(&in, false, line, sizeof(line))));
	feed(&in, "ee\n\n", 4);
	cr_assert(next(&in, false, line, sizeof(line)));
	cr_assert(eq(str, line, "three"));
	cr_assert(next(&in, false, line, sizeof(line)));
	cr_assert(eq(str, line, "")); /* an empty line is a line */
	cr_assert(not(next(&in, false, line, sizeof(line))));
	/* Everything handed on: an idle worker holds no buffer. */
	cr_assert(eq(ptr, in.data, NULL));
}

Test(relay, the_last_partial_line_comes_out_at_the_end)
{
	struct relay_input in = {0};
	char line[64];

	feed(&in, "no newline", 10);
	cr_assert(not(next(&in, false, line, sizeof(line))));
	cr_assert(next(&in, true, line, sizeof(line)));
	cr_assert(eq(str, line, "no newline"));
	cr_assert(not(next(&in, true, line, sizeof(line))));
}

Test(relay, lines_longer_than_16_KiB_are_split)
{
	static char big[RELAY_LINE_MAX * 2 + 100], line[RELAY_LINE_MAX + 1];
	struct relay_input in = {0};

	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	feed(&in, big, sizeof(big));
	cr_assert(next(&in, false, line, sizeof(line)));
	cr_assert(eq(sz, strlen(line), RELAY_LINE_MAX));
	cr_assert(next(&in, false, line, sizeof(line)));
	cr_assert(eq(sz, strlen(line), RELAY_LINE_MAX));
	cr_assert(next(&in, false, line, sizeof(line)));
	cr_assert(eq(sz, strlen(line), 99));
	cr_assert(not(next(&in, false, line, sizeof(line))));
}

Test(relay, a_line_of_exactly_16_KiB_is_not_split)
{
	static char big[RELAY_LINE_MAX + 1], line[RELAY_LINE_MAX + 1];
	struct relay_input in = {0};

	memset(big, 'y', RELAY_LINE_MAX);
	/* 16 KiB without its newline yet: it may still come. */
	feed(&in, big, RELAY_LINE_MAX);
	cr_assert(not(next(&in, false, line, sizeof(line))));
	feed(&in, "\n", 1);
	cr_assert(next(&in, false, line, sizeof(line)));
	cr_assert(eq(sz, strlen(line), RELAY_LINE_MAX));
	cr_assert(not(next(&in, false, line, sizeof(line))));
}

Test(relay, binary_bytes_pass_through)
{
	struct relay_input in = {0};
	const char bytes[] = {'a', 0, (char)0xff, '\r', 'b', '\n'};
	const char *line;
	size_t len, used;

	feed(&in, bytes, sizeof(bytes));
	cr_assert(relay_input_next(&in, false, &line, &len, &used));
	cr_assert(eq(sz, len, 5));
	cr_assert(eq(int, memcmp(line, bytes, 5), 0));
	relay_input_done(&in, used);
}

Test(relay, formats)
{
	char buf[256];
	struct timespec ts = {.tv_sec = 1795245300, .tv_nsec = 123456789};
	size_t n;

	n = relay_format_prefix(buf, sizeof(buf), "/web/db", "ready to accept connections", 27);
	cr_assert(eq(sz, n, strlen("/web/db | ready to accept connections\n")));
	buf[n] = '\0';
	cr_assert(eq(str, buf, "/web/db | ready to accept connections\n"));
	n = relay_format_file(buf, sizeof(buf), &ts, RELAY_ERR, "oops", 4);
	buf[n] = '\0';
	cr_assert(eq(str, buf, "2026-11-21T07:15:00.123456Z err oops\n"));
	n = relay_format_file(buf, sizeof(buf), &ts, RELAY_OUT, "", 0);
	buf[n] = '\0';
	cr_assert(eq(str, buf, "2026-11-21T07:15:00.123456Z out \n"));
	cr_assert(eq(sz, relay_format_prefix(buf, 10, "/web/db", "too long", 8), 0));
	cr_assert(ge(sz, relay_format_max("/web/db"), RELAY_LINE_MAX + 11));
}
