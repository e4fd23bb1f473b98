/*
 * metrics.c - the supervision tree as Prometheus text (SPEC 7.8).
 *
 * Owns the names, help texts and types of supd's metric families and their
 * rendering. A family's samples must follow its HELP and TYPE lines without
 * interruption, so the tree is walked once per family, in start order; paths
 * are [A-Za-z0-9_./-] (spec_id_valid), but label values are escaped as the
 * format requires all the same.
 *
 * A scrape runs on the loop, between restarts, and a tree of 10,000
 * children makes a text of about 1.5 MiB: so the tree is walked once (its
 * nodes are scattered in memory: each walk is a cache miss per node), each
 * family's samples go to a text of their own with plain appends (no stdio,
 * no per-character calls) into buffers kept from one scrape to the next,
 * numbers are formatted by hand, start times are computed in whole
 * milliseconds rather than printed from doubles, and callers that only
 * write the text take it as pieces rather than joined.
 */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "spec.h"
#include "supervisor.h"

enum family {
	FAMILY_CHILD_UP,
	FAMILY_CHILD_RESTARTS,
	FAMILY_CHILD_START_TIME,
	FAMILY_CHILD_LAST_EXIT,
	FAMILY_SUP_RESTARTS,
	FAMILY_SUP_MAX_RESTARTS,
	FAMILY_COUNT,
};

/* A family's name and the HELP and TYPE lines that open it. */
#define FAMILY(name_, type_, help_)                                                                \
	{                                                                                          \
		name_, "# HELP " name_ " " help_ "\n# TYPE " name_ " " type_ "\n"                  \
	}

static const struct {
	const char *name, *head;
} families[FAMILY_COUNT] = {
	[FAMILY_CHILD_UP] = FAMILY("supd_child_up", "gauge",
				   "1 while the child runs and is ready (a started supervisor), "
				   "else 0."),
	[FAMILY_CHILD_RESTARTS] = FAMILY("supd_child_restarts_total", "counter",
					 "Restarts of the child by its supervisor since supd "
					 "started."),
	[FAMILY_CHILD_START_TIME] = FAMILY("supd_child_start_time_seconds", "gauge",
					   "When the running process of the child started, in "
					   "seconds since the epoch."),
	[FAMILY_CHILD_LAST_EXIT] = FAMILY("supd_child_last_exit_code", "gauge",
					  "How the last process of the worker ended: its exit "
					  "code, or 128 plus the signal that killed it."),
	[FAMILY_SUP_RESTARTS] = FAMILY("supd_supervisor_restarts", "gauge",
				       "Restarts counted in the supervisor's current intensity "
				       "window (max_seconds)."),
	[FAMILY_SUP_MAX_RESTARTS] = FAMILY("supd_supervisor_max_restarts", "gauge",
					   "The supervisor's max_restarts: one more restart within "
					   "the window makes it give up."),
};

/* The longest value a sample can have: a signed 64-bit integer with a
 * decimal point and three decimals. */
#define VALUE_MAX 24

struct text {
	char *data;
	size_t len, cap;
	bool failed;
};

/* One walk of the tree appends each node's samples to its family's text.
 * The texts are kept from one scrape to the next: a scrape then writes
 * into memory that is already there, instead of faulting in fresh pages
 * for megabytes each time. */
struct render {
	struct text *family;
	uint64_t now_ms;
	int64_t wall_now_ms;
};

static struct text family_text[FAMILY_COUNT];

static bool
reserve(struct text *t, size_t more)
{
	size_t cap;
	char *data;

	if (t->failed)
		return false;
	if (t->cap - t->len > more)
		return true;
	cap = t->cap ? t->cap : 4096;
	while (cap - t->len <= more)
		cap *= 2;
	data = realloc(t->data, cap);
	if (!data) {
		t->failed = true;
		return false;
	}
	t->data = data;
	t->cap = cap;
	return true;
}

/* Callers reserve first. */
static void
put(struct text *t, const char *s, size_t n)
{
	memcpy(t->data + t->len, s, n);
	t->len += n;
}

static void
put_str(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

static void
put_u64(struct text *t, uint64_t v)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		t->data[t->len++] = digits[--n];
}

static void
put_i64(struct text *t, int64_t v)
{
	if (v < 0) {
		t->data[t->len++] = '-';
		put_u64(t, (uint64_t)0 - (uint64_t)v);
	} else {
		put_u64(t, (uint64_t)v);
	}
}

/* Milliseconds as seconds with three decimals, as %.3f would print them. */
static void
put_ms_as_seconds(struct text *t, int64_t ms)
{
	uint64_t abs_ms = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	uint64_t frac = abs_ms % 1000;

	if (ms < 0)
		t->data[t->len++] = '-';
	put_u64(t, abs_ms / 1000);
	t->data[t->len++] = '.';
	t->data[t->len++] = (char)('0' + frac / 100);
	t->data[t->len++] = (char)('0' + frac / 10 % 10);
	t->data[t->len++] = (char)('0' + frac % 10);
}

/* A label value with \, " and newline escaped. */
static void
put_label(struct text *t, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"') {
			t->data[t->len++] = '\\';
			t->data[t->len++] = *p;
		} else if (*p == '\n') {
			t->data[t->len++] = '\\';
			t->data[t->len++] = 'n';
		} else {
			t->data[t->len++] = *p;
		}
	}
}

enum value_kind {
	VALUE_NONE,
	VALUE_INT,
	VALUE_MS_AS_SECONDS,
};

/* Whether node c has a sample in family fam, and its value. */
static enum value_kind
sample_value(const struct render *r, enum family fam, const struct child *c, int64_t *v)
{
	bool is_child = node_parent(c) != NULL, sup = node_is_supervisor(c);
	struct exit_status st;
	uint64_t started;

	switch (fam) {
	case FAMILY_CHILD_UP:
		if (!is_child)
			return VALUE_NONE;
		*v = node_state(c) == CHILD_RUNNING;
		return VALUE_INT;
	case FAMILY_CHILD_RESTARTS:
		if (!is_child)
			return VALUE_NONE;
		*v = node_restarts(c);
		return VALUE_INT;
	case FAMILY_CHILD_START_TIME:
		started = node_started_ms(c);
		if (!is_child || !started || r->now_ms < started)
			return VALUE_NONE;
		*v = r->wall_now_ms - (int64_t)(r->now_ms - started);
		return VALUE_MS_AS_SECONDS;
	case FAMILY_CHILD_LAST_EXIT:
		if (!is_child || !node_last_exit(c, &st))
			return VALUE_NONE;
		*v = exit_status_code(st);
		return VALUE_INT;
	case FAMILY_SUP_RESTARTS:
		if (!sup)
			return VALUE_NONE;
		*v = node_intensity_count(c, r->now_ms);
		return VALUE_INT;
	case FAMILY_SUP_MAX_RESTARTS:
		if (!sup)
			return VALUE_NONE;
		*v = node_spec(c)->sup.max_restarts;
		return VALUE_INT;
	case FAMILY_COUNT:
		break;
	}
	return VALUE_NONE;
}

/* The most a sample line takes: the longest name, a path whose every
 * byte is escaped, the value. */
#define SAMPLE_MAX (64 + 2 * CHILD_PATH_MAX + VALUE_MAX + 16)

static void
render_node(struct render *r, const struct child *c)
{
	for (int fam = 0; fam < FAMILY_COUNT; fam++) {
		struct text *t = &r->family[fam];
		enum value_kind kind;
		int64_t v;

		kind = sample_value(r, (enum family)fam, c, &v);
		if (kind == VALUE_NONE || !reserve(t, SAMPLE_MAX))
			continue;
		put_str(t, families[fam].name);
		put(t, "{path=\"", 7);
		put_label(t, node_path(c));
		put(t, "\"} ", 3);
		if (kind == VALUE_INT)
			put_i64(t, v);
		else
			put_ms_as_seconds(t, v);
		t->data[t->len++] = '\n';
	}
	for (const struct child *k = node_first_child(c); k; k = node_next_sibling(k))
		render_node(r, k);
}

int
metrics_render_pieces(const struct child *root, uint64_t now_ms, double wall_now_s,
		      struct metrics_piece pieces[METRICS_PIECES], size_t *total)
{
	/* Rounded to the nearest millisecond, as %.3f would. */
	double wall_ms = wall_now_s * 1000.0 + (wall_now_s < 0 ? -0.5 : 0.5);
	struct render r = {
		.family = family_text, .now_ms = now_ms, .wall_now_ms = (int64_t)wall_ms};
	bool failed = false;

	for (int fam = 0; fam < FAMILY_COUNT; fam++) {
		family_text[fam].len = 0;
		family_text[fam].failed = false;
	}
	render_node(&r, root);
	*total = 0;
	for (int fam = 0; fam < FAMILY_COUNT; fam++) {
		struct text *t = &family_text[fam];

		failed = failed || t->failed;
		pieces[2 * fam].data = families[fam].head;
		pieces[2 * fam].len = strlen(families[fam].head);
		pieces[2 * fam + 1].data = t->data ? t->data : "";
		pieces[2 * fam + 1].len = t->len;
		*total += pieces[2 * fam].len + t->len;
	}
	return failed ? -1 : 0;
}

char *
metrics_render(const struct child *root, uint64_t now_ms, double wall_now_s, size_t *len)
{
	struct metrics_piece pieces[METRICS_PIECES];
	size_t total;
	char *text, *p;

	if (metrics_render_pieces(root, now_ms, wall_now_s, pieces, &total) < 0)
		return NULL;
	text = malloc(total + 1);
	if (!text)
		return NULL;
	p = text;
	for (size_t i = 0; i < METRICS_PIECES; i++) {
		if (pieces[i].len)
			memcpy(p, pieces[i].data, pieces[i].len);
		p += pieces[i].len;
	}
	*p = '\0';
	*len = total;
	return text;
}
