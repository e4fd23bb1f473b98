/*
 * credentials.c - turning user: and group: into ids, once, at load.
 *
 * The one rule for the config file and for specs that arrive on the control
 * socket (both through the grammar's host, spec_host.c): a name from the
 * user and group databases, or a number (quoted or not), which is taken as
 * an id even without an entry, as is common in containers; a uid without an
 * entry and without group: gets gid = uid. An unprivileged supd may only
 * name its own ids. The supplementary groups are resolved here too, so that
 * spawn.c never reads a database: NSS lookups may block, and a restart must
 * not wait for them.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "credentials.h"

/* A uid or gid written as a number: plain decimal, below (uint32_t)-1. */
static bool
parse_id_number(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v >= UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

int
credentials_lookup_group(const char *name, gid_t *gid, char *msg, size_t len)
{
	uint32_t id;

	if (!parse_id_number(name, &id)) {
		struct group *gr = getgrnam(name);

		if (!gr) {
			snprintf(msg, len, "unknown group '%.80s'", name);
			return -1;
		}
		id = gr->gr_gid;
	}
	*gid = id;
	return 0;
}

/* The user's supplementary groups, with `gid` among them. */
static int
resolve_groups(struct worker_spec *w, const char *user, char *msg, size_t len)
{
	int n = 16;

	for (int tries = 0; tries < 4; tries++) {
		gid_t *groups = malloc((size_t)n * sizeof(gid_t));
		int want = n;

		if (!groups)
			break;
		if (getgrouplist(user, w->gid, groups, &want) >= 0) {
			free(w->groups);
			w->groups = groups;
			w->ngroups = (size_t)want;
			return 0;
		}
		free(groups);
		/* want now holds the number needed; the database may grow
		 * in between, hence the margin and the retries. */
		n = want + 16;
	}
	snprintf(msg, len, "cannot read the groups of user '%.80s'", user);
	return -1;
}

int
credentials_resolve(struct worker_spec *w, const char **bad_key, char *msg, size_t len)
{
	bool privileged = geteuid() == 0;
	struct passwd *pw = NULL;
	char name[256] = "";
	uint32_t id;

	if (w->user) {
		*bad_key = "user";
		if (parse_id_number(w->user, &id)) {
			pw = getpwuid(id);
		} else {
			pw = getpwnam(w->user);
			if (!pw) {
				snprintf(msg, len, "unknown user '%.80s'", w->user);
				return -1;
			}
			id = pw->pw_uid;
		}
		if (!privileged && id != geteuid()) {
			snprintf(msg, len, "user '%.80s' requires running as root", w->user);
			return -1;
		}
		w->uid = id;
		w->has_uid = true;
		/* getpwuid's buffer is reused by the next lookup */
		if (pw)
			snprintf(name, sizeof(name), "%s", pw->pw_name);
		/* The user's own group unless one is given; without an entry,
		 * the group of the same number; unprivileged, supd's own. */
		w->gid = pw ? pw->pw_gid : privileged ? id : getegid();
		if (!privileged && pw && pw->pw_gid != getegid())
			w->gid = getegid();
		w->has_gid = true;
	}
	if (w->group) {
		gid_t gid;

		*bad_key = "group";
		if (credentials_lookup_group(w->group, &gid, msg, len) < 0)
			return -1;
		if (!privileged && gid != getegid()) {
			snprintf(msg, len, "group '%.80s' requires running as root", w->group);
			return -1;
		}
		w->gid = gid;
		w->has_gid = true;
	}
	if (privileged && name[0]) {
		*bad_key = "user";
		return resolve_groups(w, name, msg, len);
	}
	return 0;
}
