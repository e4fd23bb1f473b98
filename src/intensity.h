/*
 * intensity.h - the restart intensity window of a supervisor (pure).
 *
 * Whole seconds of the monotonic clock, bucketed by second, so that the ring
 * needs min(max_restarts, max_seconds) + 1 slots however large max_restarts
 * is. Allocated by intensity_init(), never on a restart.
 */
#ifndef SUPD_INTENSITY_H
#define SUPD_INTENSITY_H

#include <stdbool.h>
#include <stdint.h>

struct intensity_slot {
	uint64_t second;
	uint32_t count;
};
struct intensity {
	uint32_t max_restarts;
	uint32_t max_seconds;
	struct intensity_slot *ring;
	uint32_t capacity, head, used;
	uint64_t total;
};

int intensity_init(struct intensity *in, uint32_t max_restarts, uint32_t max_seconds);
void intensity_reset(struct intensity *in);
void intensity_fini(struct intensity *in);
/* Records a restart at now_s; returns true when the limit is exceeded. */
bool intensity_add(struct intensity *in, uint64_t now_s);
/* The restarts recorded within the window that ends at now_s (what the next
 * intensity_add() would count, before its own). Changes nothing. */
uint32_t intensity_count(const struct intensity *in, uint64_t now_s);

#endif
