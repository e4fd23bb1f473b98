/*
 * test-metrics.c - the Prometheus text of a tree (metrics.c), on the real
 * core driven by the recorder with explicit time: exact lines for known
 * states, start times from the given wall clock, the intensity window.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "metrics.h"
#include "recorder.h"
#include "supervisor.h"

static struct recorder R;

static void
teardown(void)
{
	rec_fini(&R);
}

TestSuite(metrics, .fini = teardown);

static char *
render(double wall_now_s)
{
	size_t len;
	char *text = metrics_render(core_root(R.core), R.now, wall_now_s, &len);

	cr_assert(text != NULL);
	cr_assert(eq(sz, strlen(text), len));
	return text;
}

static void
assert_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line)))
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
		else
			p += n;
	cr_assert(false, "no line '%s' in:\n%s", line, text);
}

static void
assert_no(const char *text, const char *prefix)
{
	cr_assert(strstr(text, prefix) == NULL, "'%s' should not be in:\n%s", prefix, text);
}

Test(metrics, families_and_values)
{
	char *text;

	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 4, 10, w_spec("a", RESTART_PERMANENT),
			       sup_spec("s", STRATEGY_ONE_FOR_ONE, w_spec("b", RESTART_TRANSIENT),
					NULL),
			       NULL));
	rec_advance(&R, 2000);
	rec_exit(&R, "/a", 7); /* a crash at 2 s: restarted at once */
	rec_advance(&R, 3500);
	rec_exit(&R, "/s/b", 0); /* normal: a transient stays down */
	text = render(1000000.0);

	assert_line(text, "# TYPE supd_child_up gauge");
	assert_line(text, "# TYPE supd_child_restarts_total counter");
	assert_line(text, "# TYPE supd_child_start_time_seconds gauge");
	assert_line(text, "# TYPE supd_child_last_exit_code gauge");
	assert_line(text, "# TYPE supd_supervisor_restarts gauge");
	assert_line(text, "# TYPE supd_supervisor_max_restarts gauge");

	assert_line(text, "supd_child_up{path=\"/a\"} 1");
	assert_line(text, "supd_child_up{path=\"/s\"} 1");
	assert_line(text, "supd_child_up{path=\"/s/b\"} 0");
	assert_no(text, "supd_child_up{path=\"/\"}");
	assert_line(text, "supd_child_restarts_total{path=\"/a\"} 1");
	assert_line(text, "supd_child_restarts_total{path=\"/s/b\"} 0");
	/* /a restarted at 2.000 s; now is 3.500 s = wall 1000000 */
	assert_line(text, "supd_child_start_time_seconds{path=\"/a\"} 999998.500");
	assert_no(text, "supd_child_start_time_seconds{path=\"/s/b\"}");
	assert_line(text, "supd_child_last_exit_code{path=\"/a\"} 7");
	assert_line(text, "supd_child_last_exit_code{path=\"/s/b\"} 0");
	assert_line(text, "supd_supervisor_restarts{path=\"/\"} 1");
	assert_line(text, "supd_supervisor_restarts{path=\"/s\"} 0");
	assert_line(text, "supd_supervisor_max_restarts{path=\"/\"} 4");
	assert_line(text, "supd_supervisor_max_restarts{path=\"/s\"} 3");
	free(text);

	/* The window is 10 s: the restart at second 2 is gone at second 13. */
	rec_advance(&R, 13000);
	text = render(1000000.0);
	assert_line(text, "supd_supervisor_restarts{path=\"/\"} 0");
	assert_line(text, "supd_child_restarts_total{path=\"/a\"} 1");
	free(text);
}

Test(metrics, a_killed_worker_reports_128_plus_signal)
{
	char *text;

	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 3, 5, w_spec("a", RESTART_PERMANENT), NULL));
	rec_signal_exit(&R, "/a", 9);
	text = render(0);
	assert_line(text, "supd_child_last_exit_code{path=\"/a\"} 137");
	free(text);
}

/* The pieces the HTTP listener and the op write are the text, in order;
 * the buffers behind them are reused, so a second render after a change
 * must say the new thing and nothing of the old. */
static char *
joined_pieces(double wall_now_s, size_t *len)
{
	struct metrics_piece pieces[METRICS_PIECES];
	size_t total, off = 0;
	char *text;

	cr_assert(eq(int,
		     metrics_render_pieces(core_root(R.core), R.now, wall_now_s, pieces, &total),
		     0));
	text = malloc(total + 1);
	cr_assert(text != NULL);
	for (size_t i = 0; i < METRICS_PIECES; i++) {
		memcpy(text + off, pieces[i].data, pieces[i].len);
		off += pieces[i].len;
	}
	cr_assert(eq(sz, off, total));
	text[off] = '\0';
	*len = total;
	return text;
}

Test(metrics, pieces_are_the_text_and_buffers_are_reused)
{
	char *text, *joined;
	size_t len;

	rec_init(&R, root_spec(STRATEGY_ONE_FOR_ONE, 4, 10, w_spec("a", RESTART_PERMANENT),
			       w_spec("b", RESTART_TRANSIENT), NULL));
	joined = joined_pieces(1000.0, &len);
	text = render(1000.0);
	cr_assert(eq(str, joined, text));
	free(joined);
	free(text);

	rec_exit(&R, "/b", 0); /* b stays down: its start time goes away */
	joined = joined_pieces(1000.0, &len);
	text = render(1000.0);
	cr_assert(eq(str, joined, text));
	assert_line(text, "supd_child_up{path=\"/b\"} 0");
	assert_no(text, "supd_child_start_time_seconds{path=\"/b\"}");
	free(joined);
	free(text);
}
