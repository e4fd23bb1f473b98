/*
 * config.c - the config file of SPEC section 3: a file in, a validated
 * struct config out.
 *
 * Reads the file, has yaml_tree.c turn it into a value tree and grammar.c
 * check that tree and build the specs (the grammar is shared with the
 * control socket), and writes every problem as one line
 * "FILE:LINE:COL: message". It knows no key itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "grammar.h"
#include "yaml_tree.h"

/* A config file is a few kilobytes; the bound only stops a mistaken path
 * (a log, a device) from being read into memory whole. */
#define CONFIG_MAX_BYTES (16u * 1024 * 1024)

#define CONTROL_DEFAULT_MODE        0600
#define CONTROL_DEFAULT_MAX_CLIENTS 256

struct loader {
	const char *name; /* FILE in messages */
	char *err;
	size_t errlen, used;
	unsigned lines;
};

/* Appends one line "FILE:LINE:COL: message" (or "FILE: message") to the
 * error text; the lines are separated by '\n'. */
static void add_line(struct loader *ld, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
add_line(struct loader *ld, unsigned line, unsigned col, const char *fmt, ...)
{
	size_t room;
	va_list ap;
	int n;

	ld->lines++;
	if (!ld->err || ld->used + 1 >= ld->errlen)
		return;
	room = ld->errlen - ld->used;
	if (ld->lines > 1)
		n = snprintf(ld->err + ld->used, room, "\n");
	else
		n = 0;
	if (line)
		n += snprintf(ld->err + ld->used + n, room - n, "%s:%u:%u: ", ld->name, line, col);
	else
		n += snprintf(ld->err + ld->used + n, room - n, "%s: ", ld->name);
	if ((size_t)n < room) {
		va_start(ap, fmt);
		n += vsnprintf(ld->err + ld->used + n, room - n, fmt, ap);
		va_end(ap);
	}
	ld->used = (size_t)n < room ? ld->used + n : ld->errlen - 1;
}

static int
fail_file(struct loader *ld, const char *message)
{
	add_line(ld, 0, 0, "%s", message);
	return -1;
}

static void
report_problem(void *ctx, const struct grammar_problem *p)
{
	struct loader *ld = ctx;
	unsigned line = p->at ? p->at->line : 0, col = p->at ? p->at->col : 0;

	if (p->first)
		add_line(ld, line, col, "%s (first defined at line %u)", p->message,
			 p->first->line);
	else
		add_line(ld, line, col, "%s", p->message);
}

/* ---- the API ----------------------------------------------------------- */

void
config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->file);
	spec_free(cfg->root);
	free(cfg->control.socket_path);
	free(cfg->control.group);
	free(cfg->events_path);
	free(cfg->metrics_listen);
	free(cfg);
}

struct child_spec *
config_take_root(struct config *cfg)
{
	struct child_spec *root = cfg->root;

	cfg->root = NULL;
	return root;
}

int
config_load_buffer(const char *text, size_t len, const char *name, const struct spec_host *host,
		   struct config **out, char *err, size_t errlen)
{
	struct loader ld = {.name = name ? name : "<config>", .err = err, .errlen = errlen};
	struct grammar g = {.host = host, .root_path = "", .report = report_problem, .ctx = &ld};
	struct yaml_tree_error yerr;
	struct vnode *doc = NULL;
	struct config *cfg;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return fail_file(&ld, "out of memory");
	cfg->control.mode = CONTROL_DEFAULT_MODE;
	cfg->control.max_clients = CONTROL_DEFAULT_MAX_CLIENTS;
	cfg->file = strdup(ld.name);
	if (!cfg->file) {
		rc = fail_file(&ld, "out of memory");
	} else if (yaml_tree_parse(text, len, &doc, &yerr) < 0) {
		add_line(&ld, yerr.line, yerr.col, "%s", yerr.message);
		rc = -1;
	} else {
		rc = grammar_config(&g, doc, cfg);
		if (g.out_of_memory)
			fail_file(&ld, "out of memory");
	}
	vnode_free(doc);
	if (rc < 0) {
		config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

int
config_load_string(const char *yaml, size_t len, const char *name, struct config **out, char *err,
		   size_t errlen)
{
	return config_load_buffer(yaml, len, name, &spec_host_system, out, err, errlen);
}

/* Reads the whole file (also a pipe or /dev/stdin) into memory. */
static int
read_file(struct loader *ld, const char *path, char **text, size_t *len)
{
	char message[128];

	size_t cap = 0, n = 0;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e = 0;

	if (fd < 0) {
		snprintf(message, sizeof(message), "cannot read: %s", strerror(errno));
		return fail_file(ld, message);
	}
	for (;;) {
		ssize_t got;

		if (n == cap) {
			char *bigger;

			/* One byte past the limit tells "too large" apart. */
			if (cap == CONFIG_MAX_BYTES + 1) {
				e = EFBIG;
				break;
			}
			cap = cap ? cap * 2 : 8192;
			if (cap > CONFIG_MAX_BYTES + 1)
				cap = CONFIG_MAX_BYTES + 1;
			bigger = realloc(buf, cap + 1);
			if (!bigger) {
				e = ENOMEM;
				break;
			}
			buf = bigger;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (e) {
		free(buf);
		if (e == EFBIG)
			snprintf(message, sizeof(message), "cannot read: larger than %u bytes",
				 CONFIG_MAX_BYTES);
		else
			snprintf(message, sizeof(message), "cannot read: %s", strerror(e));
		return fail_file(ld, message);
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf)
			return fail_file(ld, "out of memory");
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

int
config_load_file(const char *path, struct config **out, char *err, size_t errlen)
{
	struct loader ld = {.name = path, .err = err, .errlen = errlen};
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (read_file(&ld, path, &text, &len) < 0)
		return -1;
	rc = config_load_string(text, len, path, out, err, errlen);
	free(text);
	return rc;
}
