/*
 * credentials.c - turning user: and group: into ids.
 *
 * The one rule for the config file (config.c) and for specs that arrive on
 * the control socket (control.c): a name from the user and group databases
 * or a plain number (which needs no entry, as is common in containers), and
 * an unprivileged supd may only name its own ids. NSS lookups may block, so
 * this runs at load time or for the request that names a user, never on the
 * restart path.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include "spec.h"

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
spec_lookup_group(const char *name, gid_t *gid)
{
	uint32_t id;

	if (!parse_id_number(name, &id)) {
		struct group *gr = getgrnam(name);

		if (!gr)
			return -1;
		id = gr->gr_gid;
	}
	*gid = id;
	return 0;
}

int
spec_resolve_credentials(struct worker_spec *w, const char **bad_key, char *msg, size_t len)
{
	bool privileged = geteuid() == 0;
	uint32_t id;

	if (w->user) {
		struct passwd *pw;

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
		/* The user's own group unless one is given; unprivileged, the
		 * group stays supd's, as setgid() would fail. */
		if (!w->group && pw && privileged) {
			w->gid = pw->pw_gid;
			w->has_gid = true;
		}
	}
	if (w->group) {
		gid_t gid;

		*bad_key = "group";
		if (spec_lookup_group(w->group, &gid) < 0) {
			snprintf(msg, len, "unknown group '%.80s'", w->group);
			return -1;
		}
		id = gid;
		if (!privileged && id != getegid()) {
			snprintf(msg, len, "group '%.80s' requires running as root", w->group);
			return -1;
		}
		w->gid = id;
		w->has_gid = true;
	}
	return 0;
}
