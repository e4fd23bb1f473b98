/*
 * metrics.c - the supervision tree as Prometheus text (SPEC 7.8).
 *
 * Owns the names, help texts and types of supd's metric families and their
 * rendering. A family's samples must follow its HELP and TYPE lines without
 * interruption, so the tree is walked once per family, in start order; paths
 * are [A-Za-z0-9_./-] (spec_id_valid), but label values are escaped as the
 * format requires all the same.
 */
#include <stdio.h>
#include <stdlib.h>

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

static const struct {
	const char *name, *type, *help;
} families[FAMILY_COUNT] = {
	[FAMILY_CHILD_UP] = {"supd_child_up", "gauge",
			     "1 while the child runs and is ready (a started supervisor), else 0."},
	[FAMILY_CHILD_RESTARTS] = {"supd_child_restarts_total", "counter",
				   "Restarts of the child by its supervisor since supd started."},
	[FAMILY_CHILD_START_TIME] = {"supd_child_start_time_seconds", "gauge",
				     "When the running process of the child started, in seconds "
				     "since the epoch."},
	[FAMILY_CHILD_LAST_EXIT] = {"supd_child_last_exit_code", "gauge",
				    "How the last process of the worker ended: its exit code, or "
				    "128 plus the signal that killed it."},
	[FAMILY_SUP_RESTARTS] = {"supd_supervisor_restarts", "gauge",
				 "Restarts counted in the supervisor's current intensity window "
				 "(max_seconds)."},
	[FAMILY_SUP_MAX_RESTARTS] = {"supd_supervisor_max_restarts", "gauge",
				     "The supervisor's max_restarts: one more restart within the "
				     "window makes it give up."},
};

/* A label value with \, " and newline escaped. */
static void
put_label(FILE *f, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', f);
		if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
}

static void
sample(FILE *f, enum family fam, const struct child *c, const char *value)
{
	fprintf(f, "%s{path=\"", families[fam].name);
	put_label(f, node_path(c));
	fprintf(f, "\"} %s\n", value);
}

static void
render_node(FILE *f, enum family fam, const struct child *c, uint64_t now_ms, double wall_now_s)
{
	bool is_child = node_parent(c) != NULL, sup = node_is_supervisor(c);
	struct exit_status st;
	char v[64];

	switch (fam) {
	case FAMILY_CHILD_UP:
		if (is_child)
			sample(f, fam, c, node_state(c) == CHILD_RUNNING ? "1" : "0");
		break;
	case FAMILY_CHILD_RESTARTS:
		if (is_child) {
			snprintf(v, sizeof(v), "%u", node_restarts(c));
			sample(f, fam, c, v);
		}
		break;
	case FAMILY_CHILD_START_TIME:
		if (is_child && node_started_ms(c) && now_ms >= node_started_ms(c)) {
			snprintf(v, sizeof(v), "%.3f",
				 wall_now_s - (double)(now_ms - node_started_ms(c)) / 1000.0);
			sample(f, fam, c, v);
		}
		break;
	case FAMILY_CHILD_LAST_EXIT:
		if (is_child && node_last_exit(c, &st)) {
			snprintf(v, sizeof(v), "%d", exit_status_code(st));
			sample(f, fam, c, v);
		}
		break;
	case FAMILY_SUP_RESTARTS:
		if (sup) {
			snprintf(v, sizeof(v), "%u", node_intensity_count(c, now_ms));
			sample(f, fam, c, v);
		}
		break;
	case FAMILY_SUP_MAX_RESTARTS:
		if (sup) {
			snprintf(v, sizeof(v), "%u", node_spec(c)->sup.max_restarts);
			sample(f, fam, c, v);
		}
		break;
	case FAMILY_COUNT:
		break;
	}
	for (const struct child *k = node_first_child(c); k; k = node_next_sibling(k))
		render_node(f, fam, k, now_ms, wall_now_s);
}

char *
metrics_render(const struct child *root, uint64_t now_ms, double wall_now_s, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		return NULL;
	for (int fam = 0; fam < FAMILY_COUNT; fam++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", families[fam].name, families[fam].help,
			families[fam].name, families[fam].type);
		render_node(f, (enum family)fam, root, now_ms, wall_now_s);
	}
	if (ferror(f)) {
		fclose(f);
		free(text);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
