/*
 * test-intensity.c - the restart intensity window, at and around its edges.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "intensity.h"

static struct intensity in;

static void
fini(void)
{
	intensity_fini(&in);
}

TestSuite(intensity, .fini = fini);

Test(intensity, exceeds_only_when_records_pass_max_restarts)
{
	cr_assert(eq(int, intensity_init(&in, 3, 5), 0));
	cr_assert(not(intensity_add(&in, 100)));
	cr_assert(not(intensity_add(&in, 100)));
	cr_assert(not(intensity_add(&in, 100)));
	cr_assert(intensity_add(&in, 100), "the fourth record exceeds 3");
}

Test(intensity, a_record_stays_while_now_minus_then_is_at_most_max_seconds)
{
	intensity_init(&in, 1, 5);
	cr_assert(not(intensity_add(&in, 10)));
	cr_assert(intensity_add(&in, 15), "15 - 10 = 5 <= 5: still in the window");
}

Test(intensity, a_record_leaves_one_second_later)
{
	intensity_init(&in, 1, 5);
	cr_assert(not(intensity_add(&in, 10)));
	cr_assert(not(intensity_add(&in, 16)), "16 - 10 = 6 > 5: dropped");
	cr_assert(intensity_add(&in, 21), "16 is still in at 21");
}

Test(intensity, max_restarts_zero_exceeds_at_once)
{
	intensity_init(&in, 0, 5);
	cr_assert(intensity_add(&in, 0));
}

Test(intensity, many_restarts_in_one_second_need_one_slot)
{
	intensity_init(&in, 1000, 1);
	cr_assert(le(u32, in.capacity, 2));
	for (int i = 0; i < 1000; i++)
		cr_assert(not(intensity_add(&in, 7)));
	cr_assert(intensity_add(&in, 8), "7 is still in the window at 8");
	intensity_reset(&in);
	cr_assert(not(intensity_add(&in, 9)), "reset forgets every record");
}

Test(intensity, sliding_window_over_a_long_run)
{
	/* 2 restarts per 3 seconds, one every 2 seconds: never more than 2 in a window. */
	intensity_init(&in, 2, 3);
	for (uint64_t t = 0; t < 1000; t += 2)
		cr_assert(not(intensity_add(&in, t)), "at %llu", (unsigned long long)t);
	cr_assert(intensity_add(&in, 998), "a third record within 3 seconds exceeds");
}

Test(intensity, huge_limits_allocate_a_bounded_ring)
{
	cr_assert(eq(int, intensity_init(&in, 1000000, 31536000), 0));
	cr_assert(le(u32, in.capacity, 1000001));
}

Test(intensity, count_is_the_current_window)
{
	/* What metrics report as supd_supervisor_restarts: the records that
	 * the next intensity_add() would still count, without adding one. */
	intensity_init(&in, 10, 5);
	cr_assert(eq(u32, intensity_count(&in, 0), 0));
	intensity_add(&in, 100);
	intensity_add(&in, 100);
	intensity_add(&in, 103);
	cr_assert(eq(u32, intensity_count(&in, 103), 3));
	cr_assert(eq(u32, intensity_count(&in, 105), 3), "100 is still in a 5 s window at 105");
	cr_assert(eq(u32, intensity_count(&in, 106), 1), "only 103 is left at 106");
	cr_assert(eq(u32, intensity_count(&in, 109), 0));
	cr_assert(eq(u32, intensity_count(&in, 103), 3), "counting changed nothing");
}
