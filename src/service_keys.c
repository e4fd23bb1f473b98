/*
 * service_keys.c - load-time work for the service keys of SPEC 7.2-7.6.
 *
 * Owns reading env files, `${NAME}` expansion, the environment of a user
 * switch, the names and checks of resource limits, probe addresses and
 * umask values. It reads files, the passwd database and the resolver, so
 * it runs only when a spec is loaded (config file or control socket),
 * never on the restart path. No event loop, no processes, no logging.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "service_keys.h"

#define ENV_FILE_MAX_BYTES (1024 * 1024)

static int fail(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
strv_push(char ***v, size_t *n, char *entry)
{
	char **grown = realloc(*v, (*n + 2) * sizeof(*grown));

	if (!grown) {
		free(entry);
		return -1;
	}
	*v = grown;
	grown[(*n)++] = entry;
	grown[*n] = NULL;
	return 0;
}

static void
strv_free_n(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static bool
env_name_valid(const char *s, size_t n)
{
	if (n == 0 || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* ---- env files ---- */

static int
env_file_line(char *line, size_t lineno, const char *path, char ***env, size_t *envc, char *msg,
	      size_t len)
{
	char *eq, *value, *end;
	size_t vlen;

	while (*line == ' ' || *line == '\t')
		line++;
	end = line + strlen(line);
	while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	if (*line == '\0' || *line == '#')
		return 0;
	if (strncmp(line, "export ", 7) == 0)
		line += 7;
	eq = strchr(line, '=');
	if (!eq || !env_name_valid(line, (size_t)(eq - line)))
		return fail(msg, len, "env_file %s: line %zu is not NAME=value", path, lineno);
	value = eq + 1;
	vlen = strlen(value);
	if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
		value[vlen - 1] = '\0';
		memmove(value, value + 1, vlen - 1);
	}
	{
		size_t n = (size_t)(eq - line);
		char *entry = malloc(n + 1 + strlen(value) + 1);
		if (!entry)
			return fail(msg, len, "out of memory");
		memcpy(entry, line, n);
		entry[n] = '=';
		strcpy(entry + n + 1, value);
		if (strv_push(env, envc, entry) < 0)
			return fail(msg, len, "out of memory");
	}
	return 0;
}

int
env_file_append(const char *path, char ***env, size_t *envc, char *msg, size_t len)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, lineno = 0, total = 0;
	ssize_t n;
	int r = 0;

	if (!f)
		return fail(msg, len, "env_file %s: %s", path, strerror(errno));
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		total += (size_t)n;
		if (total > ENV_FILE_MAX_BYTES) {
			r = fail(msg, len, "env_file %s: larger than 1 MiB", path);
			break;
		}
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (memchr(line, '\0', n > 0 && line[n - 1] == '\0' ? (size_t)n - 1 : (size_t)n)) {
			r = fail(msg, len, "env_file %s: line %zu holds a NUL byte", path, lineno);
			break;
		}
		r = env_file_line(line, lineno, path, env, envc, msg, len);
		if (r < 0)
			break;
	}
	if (r == 0 && ferror(f))
		r = fail(msg, len, "env_file %s: %s", path, strerror(errno));
	free(line);
	fclose(f);
	return r;
}

/* ---- expansion ---- */

int
env_expand(const char *entry, char **out, char *msg, size_t len)
{
	const char *eq = strchr(entry, '=');
	char *buf;
	size_t cap, n;

	*out = NULL;
	if (!eq)
		return fail(msg, len, "%s is not NAME=value", entry);
	cap = strlen(entry) + 1;
	buf = malloc(cap);
	if (!buf)
		return fail(msg, len, "out of memory");
	n = (size_t)(eq - entry) + 1;
	memcpy(buf, entry, n);
	for (const char *s = eq + 1; *s;) {
		const char *add = s;
		size_t addlen = 1;

		if (s[0] == '$' && s[1] == '$') {
			addlen = 1;
			s += 2;
		} else if (s[0] == '$' && s[1] == '{') {
			const char *close = strchr(s + 2, '}');
			char name[256];
			size_t nlen;

			if (!close) {
				free(buf);
				return fail(msg, len, "%s: ${ without a closing }", entry);
			}
			nlen = (size_t)(close - (s + 2));
			if (!env_name_valid(s + 2, nlen) || nlen >= sizeof(name)) {
				free(buf);
				return fail(msg, len, "%s: ${%.*s} is not a variable name", entry,
					    (int)nlen, s + 2);
			}
			memcpy(name, s + 2, nlen);
			name[nlen] = '\0';
			add = getenv(name);
			if (!add)
				add = "";
			addlen = strlen(add);
			s = close + 1;
		} else {
			s++;
		}
		if (n + addlen + 1 > cap) {
			char *grown;
			cap = (n + addlen + 1) * 2;
			grown = realloc(buf, cap);
			if (!grown) {
				free(buf);
				return fail(msg, len, "out of memory");
			}
			buf = grown;
		}
		memcpy(buf + n, add, addlen);
		n += addlen;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* ---- a worker's environment ---- */

static int
user_env(const struct worker_spec *w, char ***env, size_t *envc, char *msg, size_t len)
{
	char buf[16384], *entry;
	struct passwd pw, *found = NULL;
	const char *names[] = {"HOME", "USER", "LOGNAME", "SHELL"};
	const char *values[4];

	if (!w->user || !w->has_uid)
		return 0;
	if (getpwuid_r(w->uid, &pw, buf, sizeof(buf), &found) != 0 || !found) {
		/* a numeric user without an entry: SPEC section 3 says HOME=/ */
		values[0] = "/";
		values[1] = values[2] = w->user;
		values[3] = "/bin/sh";
	} else {
		values[0] = pw.pw_dir && *pw.pw_dir ? pw.pw_dir : "/";
		values[1] = values[2] = pw.pw_name;
		values[3] = pw.pw_shell && *pw.pw_shell ? pw.pw_shell : "/bin/sh";
	}
	for (size_t i = 0; i < 4; i++) {
		if (asprintf(&entry, "%s=%s", names[i], values[i]) < 0)
			return fail(msg, len, "out of memory");
		if (strv_push(env, envc, entry) < 0)
			return fail(msg, len, "out of memory");
	}
	return 0;
}

int
env_compose(struct worker_spec *w, char *const *files, size_t nfiles, char *msg, size_t len)
{
	char **env = NULL, *entry;
	size_t envc = 0;

	if (user_env(w, &env, &envc, msg, len) < 0)
		goto fail;
	for (size_t i = 0; i < nfiles; i++)
		if (env_file_append(files[i], &env, &envc, msg, len) < 0)
			goto fail;
	for (size_t i = 0; i < w->envc; i++) {
		if (env_expand(w->env[i], &entry, msg, len) < 0)
			goto fail;
		if (strv_push(&env, &envc, entry) < 0) {
			fail(msg, len, "out of memory");
			goto fail;
		}
	}
	if (!env && w->env) {
		/* `env: []`: keep an empty vector, as before */
		env = calloc(1, sizeof(*env));
		if (!env) {
			fail(msg, len, "out of memory");
			goto fail;
		}
	}
	/* one entry per name, the last one given */
	{
		size_t kept = 0;
		for (size_t i = 0; i < envc; i++) {
			size_t n = strcspn(env[i], "=");
			bool later = false;
			for (size_t j = i + 1; j < envc && !later; j++)
				later = strncmp(env[j], env[i], n) == 0 && env[j][n] == '=';
			if (later)
				free(env[i]);
			else
				env[kept++] = env[i];
		}
		envc = kept;
		if (env)
			env[envc] = NULL;
	}
	strv_free_n(w->env);
	w->env = env;
	w->envc = envc;
	return 0;
fail:
	strv_free_n(env);
	return -1;
}

/* ---- resource limits ---- */

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{"as", RLIMIT_AS},
	{"core", RLIMIT_CORE},
	{"cpu", RLIMIT_CPU},
	{"data", RLIMIT_DATA},
	{"fsize", RLIMIT_FSIZE},
	{"locks", RLIMIT_LOCKS},
	{"memlock", RLIMIT_MEMLOCK},
	{"msgqueue", RLIMIT_MSGQUEUE},
	{"nice", RLIMIT_NICE},
	{"nofile", RLIMIT_NOFILE},
	{"nproc", RLIMIT_NPROC},
	{"rss", RLIMIT_RSS},
	{"rtprio", RLIMIT_RTPRIO},
	{"rttime", RLIMIT_RTTIME},
	{"sigpending", RLIMIT_SIGPENDING},
	{"stack", RLIMIT_STACK},
};

int
rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
		if (strcmp(rlimit_names[i].name, name) == 0)
			return rlimit_names[i].resource;
	return -1;
}

const char *
rlimit_name(int resource)
{
	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
		if (rlimit_names[i].resource == resource)
			return rlimit_names[i].name;
	return "?";
}

const char *
rlimit_name_at(size_t i)
{
	return i < sizeof(rlimit_names) / sizeof(rlimit_names[0]) ? rlimit_names[i].name : NULL;
}

static void
limit_text(uint64_t v, char *buf, size_t len)
{
	if (v == SPEC_RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* Whether supd may raise hard limits: CAP_SYS_RESOURCE in its effective
 * set (root in a container often lacks it). */
static bool
can_raise_limits(void)
{
	struct __user_cap_header_struct head = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};

	if (syscall(SYS_capget, &head, data) < 0)
		return geteuid() == 0;
	return (data[CAP_SYS_RESOURCE / 32].effective >> (CAP_SYS_RESOURCE % 32)) & 1;
}

int
rlimit_check(const struct rlimit_spec *rl, char *msg, size_t len)
{
	struct rlimit cur;
	char a[32], b[32];

	if (rl->soft > rl->hard) {
		limit_text(rl->soft, a, sizeof(a));
		limit_text(rl->hard, b, sizeof(b));
		return fail(msg, len, "%s: soft limit %s is above the hard limit %s",
			    rlimit_name(rl->resource), a, b);
	}
	if (can_raise_limits())
		return 0;
	if (getrlimit((__rlimit_resource_t)rl->resource, &cur) < 0)
		return fail(msg, len, "%s: %s", rlimit_name(rl->resource), strerror(errno));
	if (cur.rlim_max != RLIM_INFINITY &&
	    (rl->hard == SPEC_RLIM_INFINITY || rl->hard > (uint64_t)cur.rlim_max)) {
		limit_text(rl->hard, a, sizeof(a));
		return fail(msg, len,
			    "%s: %s is above supd's hard limit %llu (raising it needs "
			    "CAP_SYS_RESOURCE)",
			    rlimit_name(rl->resource), a, (unsigned long long)cur.rlim_max);
	}
	return 0;
}

/* ---- probe addresses ---- */

int
probe_resolve_address(struct probe_spec *p, char *msg, size_t len)
{
	const char *address = p->address;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char host[256];
	const char *colon, *port;
	size_t hlen;
	int r;

	if (address[0] == '/') {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		if (strlen(address) >= sizeof(sa.sun_path))
			return fail(msg, len, "socket path %s is too long", address);
		strcpy(sa.sun_path, address);
		memcpy(p->sockaddr, &sa, sizeof(sa));
		p->sockaddr_len = sizeof(sa);
		return 0;
	}
	colon = strrchr(address, ':');
	if (!colon || colon == address || !colon[1])
		return fail(msg, len, "%s is not HOST:PORT or an absolute socket path", address);
	port = colon + 1;
	hlen = (size_t)(colon - address);
	if (address[0] == '[' && hlen >= 2 && address[hlen - 1] == ']') {
		address++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return fail(msg, len, "host name too long");
	memcpy(host, address, hlen);
	host[hlen] = '\0';
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0 || !res)
		return fail(msg, len, "cannot resolve %s: %s", host, gai_strerror(r));
	if (res->ai_addrlen > sizeof(p->sockaddr)) {
		freeaddrinfo(res);
		return fail(msg, len, "address too long");
	}
	memcpy(p->sockaddr, res->ai_addr, res->ai_addrlen);
	p->sockaddr_len = (uint32_t)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
service_prepare_worker(struct worker_spec *w, const char **bad_key, char *msg, size_t len)
{
	*bad_key = "env";
	if (env_compose(w, w->env_files, w->nenv_files, msg, len) < 0) {
		if (strncmp(msg, "env_file", 8) == 0)
			*bad_key = "env_file";
		return -1;
	}
	*bad_key = "rlimits";
	for (size_t i = 0; i < w->nrlimits; i++)
		if (rlimit_check(&w->rlimits[i], msg, len) < 0)
			return -1;
	*bad_key = "ready";
	if (w->ready == READY_TCP && probe_resolve_address(&w->ready_probe, msg, len) < 0)
		return -1;
	*bad_key = "health";
	if (w->has_health && w->health.address && probe_resolve_address(&w->health, msg, len) < 0)
		return -1;
	return 0;
}
