/*
 * log.c - the human-readable log on stderr.
 *
 * Owns the log level, the program name and the stderr writer. Each message
 * is formatted into one line and handed whole to a writer (writer.c) that
 * never blocks: a stderr nobody reads (a full pipe, a stalled FIFO, a slow
 * terminal) queues lines in a bounded buffer and then drops the oldest,
 * instead of stopping supervision. Whatever is still queued when supd exits
 * gets a bounded last chance (log_flush_at_exit).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "writer.h"

/* supd's lines wait here while stderr is not writable. */
#define LOG_BUFFER_BYTES (64 * 1024)
/* What the exit path may spend on a stderr nobody reads. */
#define LOG_EXIT_DRAIN_MS 500

static const char *log_progname = "supd";
static enum log_level log_level = LOG_LEVEL_INFO;
static struct writer *log_out;

static void
log_flush_at_exit(void)
{
	writer_drain_all(LOG_EXIT_DRAIN_MS);
}

static struct writer *
log_writer(void)
{
	if (!log_out) {
		log_out = writer_for_fd(STDERR_FILENO, "stderr", LOG_BUFFER_BYTES);
		if (log_out)
			atexit(log_flush_at_exit);
	}
	return log_out;
}

void
log_init(const char *progname, enum log_level level)
{
	if (progname)
		log_progname = progname;
	log_level = level;
	log_writer();
}

struct writer *
log_stderr_writer(void)
{
	return log_writer();
}

enum log_level
log_get_level(void)
{
	return log_level;
}

static void
log_emit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {
		[LOG_LEVEL_ERROR] = "error: ",
		[LOG_LEVEL_WARNING] = "warning: ",
		[LOG_LEVEL_INFO] = "",
		[LOG_LEVEL_DEBUG] = "debug: ",
	};
	char line[1024];
	int saved_errno = errno;
	int n, m;

	if (level > log_level) {
		errno = saved_errno;
		return;
	}
	n = snprintf(line, sizeof(line), "%s: %s", log_progname, prefix[level]);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(line)) {
		m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (m > 0)
			n += m;
	}
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (errnum >= 0) {
		m = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		if (m > 0)
			n += m;
		if ((size_t)n >= sizeof(line) - 1)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	if (log_writer())
		writer_line(log_out, line, (size_t)n);
	errno = saved_errno;
}

#define LOG_BODY(level, errnum)                                                                    \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_emit(level, errnum, fmt, ap);                                                  \
		va_end(ap);                                                                        \
	} while (0)

void
log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, -1);
}

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARNING, errno);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARNING, -1);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, -1);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, -1);
}
