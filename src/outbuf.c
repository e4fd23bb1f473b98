/*
 * outbuf.c - a bounded ring of whole lines waiting to be written.
 *
 * Owns the line discipline of everything supd writes: only complete lines
 * enter, the oldest are dropped (and counted) when a new one does not fit,
 * and a line whose beginning already went out is finished before anything
 * else goes (the lines queued behind it are the ones dropped). No system
 * call and no clock: writer.c does the I/O, the unit tests drive this file
 * directly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "outbuf.h"

void
outbuf_init(struct outbuf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
}

void
outbuf_free(struct outbuf *b)
{
	free(b->ring);
	b->ring = NULL;
	b->head = b->len = 0;
	b->started = false;
}

static char
byte_at(const struct outbuf *b, size_t off)
{
	return b->ring[(b->head + off) % b->cap];
}

/* Offset (from the head) just past the first '\n' at or after `from`. The
 * ring holds whole lines, so there always is one when from < len. */
static size_t
line_end(const struct outbuf *b, size_t from)
{
	size_t off = from;

	while (off < b->len) {
		size_t start = (b->head + off) % b->cap;
		size_t chunk = b->cap - start;
		const char *nl;

		if (chunk > b->len - off)
			chunk = b->len - off;
		nl = memchr(b->ring + start, '\n', chunk);
		if (nl)
			return off + (size_t)(nl - (b->ring + start)) + 1;
		off += chunk;
	}
	return b->len;
}

static size_t
count_lines(const struct outbuf *b)
{
	size_t n = 0;

	for (size_t off = 0; off < b->len; off = line_end(b, off))
		n++;
	return n;
}

/* Removes the oldest droppable line. Returns false if none can go (only a
 * started line is left). */
static bool
drop_oldest(struct outbuf *b)
{
	size_t first = line_end(b, 0), second;

	if (!b->started) {
		b->head = (b->head + first) % b->cap;
		b->len -= first;
		b->dropped++;
		return true;
	}
	if (first >= b->len)
		return false;
	/* Keep the started line's rest: move it over the second line. */
	second = line_end(b, first) - first;
	for (size_t i = first; i-- > 0;)
		b->ring[(b->head + second + i) % b->cap] = b->ring[(b->head + i) % b->cap];
	b->head = (b->head + second) % b->cap;
	b->len -= second;
	b->dropped++;
	return true;
}

static void
copy_in(struct outbuf *b, const char *src, size_t n)
{
	size_t tail = (b->head + b->len) % b->cap;
	size_t first = b->cap - tail < n ? b->cap - tail : n;

	memcpy(b->ring + tail, src, first);
	memcpy(b->ring, src + first, n - first);
	b->len += n;
}

/* Queues text[0..len) and, with newline, a '\n' after it. */
static long
push_parts(struct outbuf *b, const char *text, size_t len, bool newline)
{
	uint64_t before = b->dropped;
	size_t n = len + (newline ? 1 : 0);

	if (n == 0)
		return 0;
	if (n > b->cap) {
		b->dropped++;
		return 1;
	}
	if (!b->ring) {
		b->ring = malloc(b->cap);
		if (!b->ring)
			return -ENOMEM;
	}
	while (b->cap - b->len < n) {
		if (!drop_oldest(b)) {
			b->dropped++;
			return (long)(b->dropped - before);
		}
	}
	copy_in(b, text, len);
	if (newline)
		copy_in(b, "\n", 1);
	return (long)(b->dropped - before);
}

long
outbuf_push(struct outbuf *b, const char *line, size_t n)
{
	return push_parts(b, line, n, false);
}

long
outbuf_push_text(struct outbuf *b, const char *text, size_t len)
{
	return push_parts(b, text, len, true);
}

size_t
outbuf_pending(const struct outbuf *b)
{
	return b->len;
}

size_t
outbuf_room(const struct outbuf *b)
{
	return b->cap - b->len;
}

int
outbuf_peek(const struct outbuf *b, size_t limit, struct iovec iov[2], size_t *total)
{
	size_t n = b->len < limit ? b->len : limit;
	size_t first = b->cap - b->head < n ? b->cap - b->head : n;

	*total = n;
	if (n == 0)
		return 0;
	iov[0].iov_base = b->ring + b->head;
	iov[0].iov_len = first;
	if (first == n)
		return 1;
	iov[1].iov_base = b->ring;
	iov[1].iov_len = n - first;
	return 2;
}

size_t
outbuf_whole_prefix(const struct outbuf *b, size_t limit)
{
	if (b->len <= limit)
		return b->len;
	for (size_t off = limit; off > 0; off--)
		if (byte_at(b, off - 1) == '\n')
			return off;
	return 0;
}

size_t
outbuf_first_line(const struct outbuf *b)
{
	return line_end(b, 0);
}

void
outbuf_consume(struct outbuf *b, size_t n)
{
	if (n == 0)
		return;
	if (n > b->len)
		n = b->len;
	b->started = byte_at(b, n - 1) != '\n';
	b->head = (b->head + n) % b->cap;
	b->len -= n;
	if (b->len == 0) {
		b->head = 0;
		b->started = false;
	}
}

bool
outbuf_in_line(const struct outbuf *b)
{
	return b->started;
}

void
outbuf_drop_all(struct outbuf *b)
{
	b->dropped += count_lines(b);
	b->head = b->len = 0;
	b->started = false;
}

uint64_t
outbuf_take_dropped(struct outbuf *b)
{
	uint64_t n = b->dropped;

	b->dropped = 0;
	return n;
}
