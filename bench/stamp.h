/*
 * stamp.h - the record every benchmark process appends to a stamp file.
 *
 * A stamp file is a flat array of fixed 16-byte records. Each writer appends
 * one record with one write(2) on an O_APPEND descriptor, which the kernel
 * serialises per inode, so thousands of children can stamp the same file at
 * once without tearing a record. Times are CLOCK_MONOTONIC nanoseconds, taken
 * by the process the record is about, never by an observer.
 */
#ifndef SUPD_BENCH_STAMP_H
#define SUPD_BENCH_STAMP_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

enum stamp_kind {
	STAMP_START = 1,   /* a child is running (first thing its main() does) */
	STAMP_TERM = 2,    /* a child received its stop signal */
	STAMP_T0 = 3,      /* a baseline program is about to start its timed work */
	STAMP_ARMED = 4,   /* the orphan maker has its orphans waiting */
	STAMP_RELEASE = 5, /* the orphan maker is releasing its orphans now */
};

struct stamp_rec {
	int64_t ns;
	int32_t pid;
	uint16_t kind;
	uint16_t tag;
};

_Static_assert(sizeof(struct stamp_rec) == 16, "stamp records are 16 bytes");

static inline int64_t
stamp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Async-signal-safe: used from signal handlers too. */
static inline int
stamp_write(int fd, int64_t ns, enum stamp_kind kind, unsigned tag)
{
	struct stamp_rec rec = {
		.ns = ns,
		.pid = (int32_t)getpid(),
		.kind = (uint16_t)kind,
		.tag = (uint16_t)tag,
	};

	return write(fd, &rec, sizeof rec) == (ssize_t)sizeof rec ? 0 : -errno;
}

static inline int
stamp_append(const char *path, int64_t ns, enum stamp_kind kind, unsigned tag)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	int r;

	if (fd < 0)
		return -errno;
	r = stamp_write(fd, ns, kind, tag);
	close(fd);
	return r;
}

#endif
