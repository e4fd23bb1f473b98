/*
 * test-writer.c - the line buffer (outbuf.c) and the non-blocking writer
 * (writer.c): whole lines only, the oldest dropped and counted, a started
 * line always finished, a stalled pipe never blocking, size rotation, the
 * drop report once writing resumes, reopening after a move.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "outbuf.h"
#include "writer.h"

/* The pending bytes of b as a string. */
static char *
pending(const struct outbuf *b)
{
	static char out[4096];
	struct iovec iov[2];
	size_t total;
	int n = outbuf_peek(b, sizeof(out) - 1, iov, &total);

	out[0] = '\0';
	for (int i = 0; i < n; i++)
		strncat(out, iov[i].iov_base, iov[i].iov_len);
	return out;
}

static void
push(struct outbuf *b, const char *s)
{
	cr_assert(ge(long, outbuf_push(b, s, strlen(s)), 0));
}

Test(outbuf, lines_queue_in_order_and_wrap_around)
{
	struct outbuf b;

	outbuf_init(&b, 16);
	push(&b, "abc\n");
	push(&b, "defg\n");
	cr_assert(eq(str, pending(&b), "abc\ndefg\n"));
	outbuf_consume(&b, 4);
	push(&b, "hijklm\n"); /* wraps: 5 + 7 = 12 bytes from offset 4 */
	push(&b, "no\n");
	cr_assert(eq(str, pending(&b), "defg\nhijklm\nno\n"));
	cr_assert(eq(sz, outbuf_room(&b), 1));
	cr_assert(eq(u64, outbuf_take_dropped(&b), 0));
	outbuf_free(&b);
}

Test(outbuf, overflow_drops_the_oldest_whole_lines_and_counts_them)
{
	struct outbuf b;

	outbuf_init(&b, 16);
	push(&b, "one\n");
	push(&b, "two\n");
	push(&b, "three\n");
	cr_assert(eq(long, outbuf_push(&b, "fourfour\n", 9), 2));
	cr_assert(eq(str, pending(&b), "three\nfourfour\n"));
	cr_assert(eq(u64, outbuf_take_dropped(&b), 2));
	cr_assert(eq(u64, outbuf_take_dropped(&b), 0));
	/* Longer than the whole ring: the line itself is dropped. */
	cr_assert(eq(long, outbuf_push(&b, "0123456789abcdefg\n", 18), 1));
	cr_assert(eq(str, pending(&b), "three\nfourfour\n"));
	outbuf_free(&b);
}

Test(outbuf, a_started_line_is_finished_before_anything_else)
{
	struct outbuf b;

	outbuf_init(&b, 16);
	push(&b, "hello\n");
	push(&b, "world\n");
	outbuf_consume(&b, 3); /* a short write: "hel" went out */
	cr_assert(outbuf_in_line(&b));
	/* Room is needed: "world" goes, the rest of "hello" stays first. */
	cr_assert(eq(long, outbuf_push(&b, "0123456789\n", 11), 1));
	cr_assert(eq(str, pending(&b), "lo\n0123456789\n"));
	outbuf_consume(&b, 3);
	cr_assert(not(outbuf_in_line(&b)));
	cr_assert(eq(str, pending(&b), "0123456789\n"));
	outbuf_free(&b);
}

Test(outbuf, only_the_started_line_left_drops_the_new_line)
{
	struct outbuf b;

	outbuf_init(&b, 16);
	push(&b, "0123456789abcd\n");
	outbuf_consume(&b, 2);
	cr_assert(eq(long, outbuf_push(&b, "xyz\n", 4), 1));
	cr_assert(eq(str, pending(&b), "23456789abcd\n"));
	outbuf_free(&b);
}

Test(outbuf, whole_prefix_ends_at_a_line_boundary)
{
	struct outbuf b;

	outbuf_init(&b, 64);
	push(&b, "aa\n");
	push(&b, "bbbb\n");
	push(&b, "c\n");
	cr_assert(eq(sz, outbuf_whole_prefix(&b, 2), 0));
	cr_assert(eq(sz, outbuf_whole_prefix(&b, 3), 3));
	cr_assert(eq(sz, outbuf_whole_prefix(&b, 7), 3));
	cr_assert(eq(sz, outbuf_whole_prefix(&b, 8), 8));
	cr_assert(eq(sz, outbuf_whole_prefix(&b, 100), 10));
	cr_assert(eq(sz, outbuf_first_line(&b), 3));
	outbuf_drop_all(&b);
	cr_assert(eq(u64, outbuf_take_dropped(&b), 3));
	cr_assert(eq(sz, outbuf_pending(&b), 0));
	outbuf_free(&b);
}

static uint64_t reported;
static int reports;

static void
count_drops(struct writer *w, uint64_t lines)
{
	(void)w;
	reported += lines;
	reports++;
}

Test(writer, a_stalled_pipe_never_blocks_and_the_drop_is_reported_once_drained)
{
	int p[2];
	char line[100], buf[65536];
	struct writer *w;

	cr_assert(eq(int, pipe(p), 0));
	fcntl(p[0], F_SETPIPE_SZ, 4096);
	/* The pipe stays blocking for everyone else (the workers). */
	cr_assert(eq(int, fcntl(p[1], F_GETFL) & O_NONBLOCK, 0));
	w = writer_for_fd(p[1], "pipe", 8192);
	cr_assert(ne(ptr, w, NULL));
	cr_assert(eq(int, fcntl(p[1], F_GETFL) & O_NONBLOCK, 0));
	writer_set_drop_hook(count_drops);
	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	for (int i = 0; i < 1000; i++)
		writer_line(w, line, sizeof(line));
	cr_assert(eq(int, reports, 0));
	cr_assert(le(sz, writer_room(w), 100));

	/* Drain: whatever came out is whole lines. */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	size_t got = 0;
	for (int round = 0; round < 100 && reports == 0; round++) {
		ssize_t n;
		while ((n = read(p[0], buf, sizeof(buf))) > 0)
			got += (size_t)n;
		writer_flush(w);
	}
	cr_assert(eq(int, reports, 1));
	for (ssize_t n; (n = read(p[0], buf, sizeof(buf))) > 0;)
		got += (size_t)n;
	cr_assert(eq(sz, got % 100, 0));
	cr_assert(eq(u64, reported + got / 100, 1000));
	writer_set_drop_hook(NULL);
	writer_free(w);
	close(p[0]);
	close(p[1]);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[4096];
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

Test(writer, rotates_by_size_between_lines_and_keeps_n_files)
{
	char dir[] = "/tmp/supd-writer-XXXXXX", path[128], old[160];
	struct writer *w;
	int err = 0;

	cr_assert(ne(ptr, mkdtemp(dir), NULL));
	snprintf(path, sizeof(path), "%s/out.log", dir);
	w = writer_open_path(path, 10, 2, 1024, &err);
	cr_assert(ne(ptr, w, NULL), "error %d", err);
	writer_line(w, "aaaa\n", 5);
	writer_line(w, "bbbb\n", 5);            /* exactly 10: fits */
	writer_line(w, "cccc\n", 5);            /* rotates */
	writer_line(w, "dddddddddddddd\n", 15); /* longer than max_size: alone in a file */
	writer_line(w, "ee\n", 3);
	writer_free(w);
	cr_assert(eq(str, slurp(path), "ee\n"));
	snprintf(old, sizeof(old), "%s.1", path);
	cr_assert(eq(str, slurp(old), "dddddddddddddd\n"));
	snprintf(old, sizeof(old), "%s.2", path);
	cr_assert(eq(str, slurp(old), "cccc\n"));
	snprintf(old, sizeof(old), "%s.3", path);
	cr_assert(eq(ptr, slurp(old), NULL)); /* keep: 2 */
}

Test(writer, reopen_follows_a_moved_file)
{
	char dir[] = "/tmp/supd-writer-XXXXXX", path[128], moved[160];
	struct writer *w;
	int err = 0;

	cr_assert(ne(ptr, mkdtemp(dir), NULL));
	snprintf(path, sizeof(path), "%s/events", dir);
	snprintf(moved, sizeof(moved), "%s/events.old", dir);
	w = writer_open_path(path, 0, 0, 1024, &err);
	cr_assert(ne(ptr, w, NULL));
	writer_line(w, "before\n", 7);
	cr_assert(eq(int, rename(path, moved), 0));
	writer_line(w, "still old\n", 10);
	cr_assert(eq(int, writer_reopen_all(), 0));
	writer_line(w, "after\n", 6);
	writer_free(w);
	cr_assert(eq(str, slurp(moved), "before\nstill old\n"));
	cr_assert(eq(str, slurp(path), "after\n"));
}

Test(writer, a_short_write_to_a_file_never_leaves_half_a_line)
{
	char dir[] = "/tmp/supd-writer-XXXXXX", path[128];
	struct rlimit small = {.rlim_cur = 50, .rlim_max = RLIM_INFINITY};
	struct rlimit big = {.rlim_cur = RLIM_INFINITY, .rlim_max = RLIM_INFINITY};
	struct writer *w;
	int err = 0;

	/* A file size limit makes the kernel cut a write short, as a full
	 * disk does. */
	signal(SIGXFSZ, SIG_IGN);
	cr_assert(ne(ptr, mkdtemp(dir), NULL));
	snprintf(path, sizeof(path), "%s/events", dir);
	w = writer_open_path(path, 0, 0, 1024, &err);
	cr_assert(ne(ptr, w, NULL));
	cr_assert(eq(int, setrlimit(RLIMIT_FSIZE, &small), 0));
	writer_line(w, "0123456789012345678\n", 20);
	writer_line(w, "abcdefghijabcdefghi\n", 20);
	writer_line(w, "ABCDEFGHIJABCDEFGHI\n", 20); /* only 10 bytes fit */
	cr_assert(eq(str, slurp(path), "0123456789012345678\nabcdefghijabcdefghi\n"));
	cr_assert(eq(int, setrlimit(RLIMIT_FSIZE, &big), 0));
	writer_line(w, "next\n", 5);
	writer_free(w);
	cr_assert(eq(str, slurp(path),
		     "0123456789012345678\nabcdefghijabcdefghi\nABCDEFGHIJABCDEFGHI\nnext\n"));
}
