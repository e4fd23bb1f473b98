/*
 * test-index.c - pid and path lookup stay exact through growth and removal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "index.h"
#include "supervisor_internal.h"

#define N 5000

Test(index, finds_every_pid_and_path_through_growth_and_removal)
{
	struct index ix;
	struct child *kids = calloc(N, sizeof(*kids));
	char(*paths)[32] = calloc(N, sizeof(*paths));

	cr_assert(eq(int, index_init(&ix), 0));
	for (int i = 0; i < N; i++) {
		kids[i].pid = 100 + i * 7;
		snprintf(paths[i], sizeof(paths[i]), "/d/%d", i);
		kids[i].path = paths[i];
		index_add_pid(&ix, &kids[i]);
		index_add_path(&ix, &kids[i]);
	}
	cr_assert(ge(sz, ix.pid_buckets, (size_t)N), "grew");
	for (int i = 0; i < N; i++) {
		cr_assert(eq(ptr, index_find_pid(&ix, 100 + i * 7), &kids[i]));
		cr_assert(eq(ptr, index_find_path(&ix, paths[i]), &kids[i]));
	}
	for (int i = 0; i < N; i += 2) {
		index_remove_pid(&ix, &kids[i]);
		index_remove_path(&ix, &kids[i]);
	}
	for (int i = 0; i < N; i++) {
		void *want = i % 2 ? &kids[i] : NULL;
		cr_assert(eq(ptr, index_find_pid(&ix, 100 + i * 7), want));
		cr_assert(eq(ptr, index_find_path(&ix, paths[i]), want));
	}
	cr_assert(eq(ptr, index_find_pid(&ix, 99), NULL));
	cr_assert(eq(sz, ix.pid_count, N / 2));
	index_fini(&ix);
	free(kids);
	free(paths);
}
