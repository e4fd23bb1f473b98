/*
 * index.h - O(1) lookup of a child by pid and by path.
 *
 * The reaper finds the child behind an exited pid here, and the control
 * socket finds a node by its path. Both tables are intrusive hash chains
 * through struct child (pid_next, path_next): inserting and removing never
 * allocates, so the exit-to-restart path cannot lose a child to ENOMEM. The
 * bucket arrays grow on insert when memory allows; if growing fails the
 * chains just get longer.
 */
#ifndef SUPD_INDEX_H
#define SUPD_INDEX_H

#include <sys/types.h>

struct child;

struct index {
	struct child **by_pid;
	size_t pid_buckets, pid_count;
	struct child **by_path;
	size_t path_buckets, path_count;
};

int index_init(struct index *ix);
void index_fini(struct index *ix);

void index_add_pid(struct index *ix, struct child *c); /* c->pid != 0 */
void index_remove_pid(struct index *ix, struct child *c);
struct child *index_find_pid(const struct index *ix, pid_t pid);

void index_add_path(struct index *ix, struct child *c);
void index_remove_path(struct index *ix, struct child *c);
struct child *index_find_path(const struct index *ix, const char *path);

#endif
