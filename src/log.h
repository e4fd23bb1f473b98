/*
 * log.h - the human-readable log on stderr, written without ever blocking.
 *
 * One line per message: "supd: warning: unable to open x: No such file".
 * log_warn() appends strerror(errno); log_warnx() does not. Every function
 * preserves errno, so logging an error never changes it. Nothing here exits:
 * the start phase returns its status to main(), and once the tree runs supd
 * must not die.
 */
#ifndef SUPD_LOG_H
#define SUPD_LOG_H

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

struct writer;

/* Sets the name and level; creates the stderr writer and registers a
 * bounded drain of every writer at exit. */
void log_init(const char *progname, enum log_level level);
/* The writer of supd's stderr (created on first use). */
struct writer *log_stderr_writer(void);
enum log_level log_get_level(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
