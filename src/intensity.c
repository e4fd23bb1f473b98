/*
 * intensity.c - restart intensity: max_restarts in max_seconds, exactly.
 *
 * OTP's rule: every restart decision records the current time in whole
 * seconds; earlier records are kept while now - then <= max_seconds; if the
 * records, the new one included, number more than max_restarts, the
 * supervisor gives up. Records made in the same second are kept as one slot
 * with a count, so the ring needs at most min(max_restarts, max_seconds) + 1
 * slots however large max_restarts is. Allocation happens only in
 * intensity_init(), when the supervisor is created, never on a restart.
 */
#include <stdlib.h>

#include "intensity.h"

int
intensity_init(struct intensity *in, uint32_t max_restarts, uint32_t max_seconds)
{
	uint64_t cap = (uint64_t)(max_restarts < max_seconds ? max_restarts : max_seconds) + 1;

	in->max_restarts = max_restarts;
	in->max_seconds = max_seconds;
	in->ring = calloc(cap, sizeof(*in->ring));
	if (!in->ring)
		return -1;
	in->capacity = (uint32_t)cap;
	intensity_reset(in);
	return 0;
}

void
intensity_reset(struct intensity *in)
{
	in->head = 0;
	in->used = 0;
	in->total = 0;
}

void
intensity_fini(struct intensity *in)
{
	free(in->ring);
	in->ring = NULL;
	in->capacity = 0;
}

bool
intensity_add(struct intensity *in, uint64_t now_s)
{
	struct intensity_slot *newest;

	/* Drop records older than the window, oldest first (head). */
	while (in->used > 0) {
		struct intensity_slot *oldest = &in->ring[in->head];
		if (now_s - oldest->second <= in->max_seconds)
			break;
		in->total -= oldest->count;
		in->head = (in->head + 1) % in->capacity;
		in->used--;
	}

	newest = in->used ? &in->ring[(in->head + in->used - 1) % in->capacity] : NULL;
	if (newest && newest->second == now_s) {
		newest->count++;
	} else {
		/* Cannot overflow: every kept slot is a distinct second inside
		 * the window (at most max_seconds + 1 of them) holding at least
		 * one record, and there are at most max_restarts records, or
		 * the supervisor would already have given up. */
		if (in->used == in->capacity) {
			in->total -= in->ring[in->head].count;
			in->head = (in->head + 1) % in->capacity;
			in->used--;
		}
		newest = &in->ring[(in->head + in->used) % in->capacity];
		newest->second = now_s;
		newest->count = 1;
		in->used++;
	}
	in->total++;
	return in->total > in->max_restarts;
}

uint32_t
intensity_count(const struct intensity *in, uint64_t now_s)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < in->used; i++) {
		const struct intensity_slot *slot = &in->ring[(in->head + i) % in->capacity];
		if (now_s - slot->second <= in->max_seconds)
			n += slot->count;
	}
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}
