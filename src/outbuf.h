/*
 * outbuf.h - a bounded buffer of whole lines waiting to be written.
 *
 * Pure logic, no system call: the writer (writer.c) decides when and where
 * the bytes go. The buffer holds complete lines (each ends in '\n') in a
 * ring of `cap` bytes, allocated on the first push. When a push does not
 * fit, the oldest queued lines are dropped and counted. A line whose start
 * was already written (a short write) is never dropped: its remainder stays
 * at the head and goes out first (the lines behind it are dropped instead),
 * so a reader never sees half a line followed by another one.
 */
#ifndef SUPD_OUTBUF_H
#define SUPD_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct outbuf {
	size_t cap;       /* bytes of the ring */
	char *ring;       /* NULL until the first push */
	size_t head;      /* offset of the oldest queued byte */
	size_t len;       /* queued bytes in the ring */
	bool started;     /* the line at the head is partly written */
	uint64_t dropped; /* lines dropped since outbuf_take_dropped() */
};

void outbuf_init(struct outbuf *b, size_t cap);
void outbuf_free(struct outbuf *b);

/* Queues one line of n bytes (line[n-1] must be '\n'), dropping the oldest
 * queued lines if needed. A line longer than the ring is dropped itself.
 * Returns the number of lines dropped by this call, or -ENOMEM (nothing
 * changed) when the ring cannot be allocated. */
long outbuf_push(struct outbuf *b, const char *line, size_t n);
/* outbuf_push() of text followed by a '\n' (len + 1 bytes). */
long outbuf_push_text(struct outbuf *b, const char *text, size_t len);
/* Bytes waiting. */
size_t outbuf_pending(const struct outbuf *b);
/* Room in the ring for new lines without dropping any. */
size_t outbuf_room(const struct outbuf *b);
/* Fills up to 2 iovecs with the next (at most `limit`) bytes to write.
 * Returns the number of iovecs and the byte count in *total. */
int outbuf_peek(const struct outbuf *b, size_t limit, struct iovec iov[2], size_t *total);
/* The largest prefix of the pending bytes of at most `limit` bytes that
 * ends at a line boundary (0 if the first line alone is longer). */
size_t outbuf_whole_prefix(const struct outbuf *b, size_t limit);
/* The length of the oldest line (0 when empty). */
size_t outbuf_first_line(const struct outbuf *b);
/* n bytes were written: they leave the buffer; a line cut in the middle
 * keeps its unwritten end at the head, marked as started. */
void outbuf_consume(struct outbuf *b, size_t n);
/* Whether a line is half written (its rest is pending). */
bool outbuf_in_line(const struct outbuf *b);
/* Drops every queued line, a started one too (its reader is gone); counts
 * them. */
void outbuf_drop_all(struct outbuf *b);
/* The drop count since the last call; resets it. */
uint64_t outbuf_take_dropped(struct outbuf *b);

#endif
