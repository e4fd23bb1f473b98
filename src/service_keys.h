/*
 * service_keys.h - what the service keys of SPEC 7.2-7.6 need when a spec
 * is loaded: environment files, `${NAME}` expansion, the environment of a
 * user switch, resource limit names and checks, probe addresses.
 *
 * Everything a restart needs is settled here, at load time: the file is
 * read, the address resolved, the passwd entry looked up once, so that no
 * restart reads a file or waits for a name service. Each function returns
 * 0, or -1 with a message (without a position: the front end adds it).
 */
#ifndef SUPD_SERVICE_KEYS_H
#define SUPD_SERVICE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "spec.h"

/* Appends the NAME=value lines of the file at path to *env (a
 * NULL-terminated vector of *envc entries). Blank lines and lines whose
 * first non-blank character is '#' are skipped; a value may be quoted
 * with '' or "" (the quotes are removed, nothing else is interpreted). */
int env_file_append(const char *path, char ***env, size_t *envc, char *msg, size_t len);

/* `${NAME}` in the value of entry ("NAME=value") replaced by NAME's value
 * in supd's environment (empty when unset), `$$` by `$`; any other `$` is
 * kept. *out is a new string. */
int env_expand(const char *entry, char **out, char *msg, size_t len);

/* The environment a worker is given, in order of precedence (later wins):
 * HOME, USER, LOGNAME and SHELL from the passwd entry of the user it runs
 * as (when `user:` switches users), the env files, then `env` with its
 * values expanded. Replaces w->env. files may be NULL. */
int env_compose(struct worker_spec *w, char *const *files, size_t nfiles, char *msg, size_t len);

/* prlimit(1)'s resource names ("nofile", "core", ...) into RLIMIT_*; -1
 * when unknown. The list for messages is RLIMIT_NAMES. */
int rlimit_from_name(const char *name);
const char *rlimit_name(int resource);
/* The i-th name, or NULL past the last (for "did you mean"). */
const char *rlimit_name_at(size_t i);
#define RLIMIT_NAMES                                                                               \
	"as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, " \
	"rttime, sigpending or stack"

/* A limit supd can give: soft <= hard, and, unless supd may raise limits
 * (CAP_SYS_RESOURCE), not above supd's own hard limit. */
int rlimit_check(const struct rlimit_spec *rl, char *msg, size_t len);

/* p->address ("HOST:PORT", "[V6]:PORT" or an absolute socket path) into
 * p->sockaddr (names are resolved now, once). */
int probe_resolve_address(struct probe_spec *p, char *msg, size_t len);

/* Everything above for one worker spec whose keys were read: its
 * environment (env_compose, after its user is resolved), its limits, its
 * probe addresses. On failure *bad_key names the key the message is about
 * ("env_file", "env", "rlimits", "ready" or "health"). */
int service_prepare_worker(struct worker_spec *w, const char **bad_key, char *msg, size_t len);

#endif
