/*
 * index.c - O(1) lookup of a child by pid and by path.
 *
 * Two intrusive hash tables with chains through struct child. Inserting and
 * removing only relink pointers, so a child can always be entered and found
 * again however short memory is: the reaper's pid -> child lookup on the exit
 * path never allocates and never fails. Growth (doubling the bucket array
 * when the load passes 1) is attempted on insert and simply skipped when
 * calloc fails; the chains then grow longer but stay correct.
 */
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "supervisor_internal.h"

#define INDEX_INITIAL_BUCKETS 64

static size_t
hash_pid(pid_t pid, size_t nbuckets)
{
	/* Fibonacci hashing spreads consecutive pids over the table. */
	return (size_t)(((uint64_t)(uint32_t)pid * UINT64_C(11400714819323198485)) >> 32) %
	       nbuckets;
}

static size_t
hash_path(const char *s, size_t nbuckets)
{
	uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return (size_t)(h % nbuckets);
}

int
index_init(struct index *ix)
{
	memset(ix, 0, sizeof(*ix));
	ix->by_pid = calloc(INDEX_INITIAL_BUCKETS, sizeof(*ix->by_pid));
	ix->by_path = calloc(INDEX_INITIAL_BUCKETS, sizeof(*ix->by_path));
	if (!ix->by_pid || !ix->by_path) {
		index_fini(ix);
		return -1;
	}
	ix->pid_buckets = INDEX_INITIAL_BUCKETS;
	ix->path_buckets = INDEX_INITIAL_BUCKETS;
	return 0;
}

void
index_fini(struct index *ix)
{
	free(ix->by_pid);
	free(ix->by_path);
	memset(ix, 0, sizeof(*ix));
}

static void
grow_pid(struct index *ix)
{
	size_t n = ix->pid_buckets * 2;
	struct child **table = calloc(n, sizeof(*table));

	if (!table)
		return;
	for (size_t i = 0; i < ix->pid_buckets; i++) {
		struct child *c = ix->by_pid[i], *next;
		for (; c; c = next) {
			size_t b = hash_pid(c->pid, n);
			next = c->pid_next;
			c->pid_next = table[b];
			table[b] = c;
		}
	}
	free(ix->by_pid);
	ix->by_pid = table;
	ix->pid_buckets = n;
}

static void
grow_path(struct index *ix)
{
	size_t n = ix->path_buckets * 2;
	struct child **table = calloc(n, sizeof(*table));

	if (!table)
		return;
	for (size_t i = 0; i < ix->path_buckets; i++) {
		struct child *c = ix->by_path[i], *next;
		for (; c; c = next) {
			size_t b = hash_path(c->path, n);
			next = c->path_next;
			c->path_next = table[b];
			table[b] = c;
		}
	}
	free(ix->by_path);
	ix->by_path = table;
	ix->path_buckets = n;
}

void
index_add_pid(struct index *ix, struct child *c)
{
	size_t b;

	if (ix->pid_count >= ix->pid_buckets)
		grow_pid(ix);
	b = hash_pid(c->pid, ix->pid_buckets);
	c->pid_next = ix->by_pid[b];
	ix->by_pid[b] = c;
	ix->pid_count++;
}

void
index_remove_pid(struct index *ix, struct child *c)
{
	struct child **p = &ix->by_pid[hash_pid(c->pid, ix->pid_buckets)];

	for (; *p; p = &(*p)->pid_next) {
		if (*p == c) {
			*p = c->pid_next;
			c->pid_next = NULL;
			ix->pid_count--;
			return;
		}
	}
}

struct child *
index_find_pid(const struct index *ix, pid_t pid)
{
	struct child *c = ix->by_pid[hash_pid(pid, ix->pid_buckets)];

	while (c && c->pid != pid)
		c = c->pid_next;
	return c;
}

void
index_add_path(struct index *ix, struct child *c)
{
	size_t b;

	if (ix->path_count >= ix->path_buckets)
		grow_path(ix);
	b = hash_path(c->path, ix->path_buckets);
	c->path_next = ix->by_path[b];
	ix->by_path[b] = c;
	ix->path_count++;
}

void
index_remove_path(struct index *ix, struct child *c)
{
	struct child **p = &ix->by_path[hash_path(c->path, ix->path_buckets)];

	for (; *p; p = &(*p)->path_next) {
		if (*p == c) {
			*p = c->path_next;
			c->path_next = NULL;
			ix->path_count--;
			return;
		}
	}
}

struct child *
index_find_path(const struct index *ix, const char *path)
{
	struct child *c = ix->by_path[hash_path(path, ix->path_buckets)];

	while (c && strcmp(c->path, path) != 0)
		c = c->path_next;
	return c;
}
