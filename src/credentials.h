/*
 * credentials.h - user: and group: into ids, at load (credentials.c).
 */
#ifndef SUPD_CREDENTIALS_H
#define SUPD_CREDENTIALS_H

#include <stddef.h>
#include <sys/types.h>

#include "spec.h"

/* Resolves w->user and w->group into w->uid, w->gid and (as root) the
 * supplementary groups w->groups. Returns 0, or -1 with *bad_key ("user" or
 * "group") and a message. */
int credentials_resolve(struct worker_spec *w, const char **bad_key, char *msg, size_t len);
/* A group name, or a number; 0, or -1 with a message. */
int credentials_lookup_group(const char *name, gid_t *gid, char *msg, size_t len);

#endif
