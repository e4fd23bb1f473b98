/*
 * log.c - the human-readable log on stderr.
 *
 * Owns the log level and the program name. Each message is formatted into
 * one buffer and written with a single write(2), so that lines from supd and
 * from its children (which share stderr) never interleave mid-line. A full
 * or broken stderr loses the line rather than blocking or killing PID 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *log_progname = "supd";
static enum log_level log_level = LOG_LEVEL_INFO;

void
log_init(const char *progname, enum log_level level)
{
	if (progname)
		log_progname = progname;
	log_level = level;
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
	/* One write; a failure here has nowhere to be reported. */
	if (write(STDERR_FILENO, line, n) < 0) {
	}
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
