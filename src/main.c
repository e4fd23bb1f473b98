/*
 * main.c - supd's entry point: the command line and the three phases.
 *
 * Phase 1, start: parse the command line, load and check the config (or
 * build the one-program tree of `supd -- PROGRAM`), set up the loop. Any
 * failure here exits with a meaningful status (64 usage, 78 config, 70
 * internal) before a single child runs.
 * Phase 2, running: the loop owns everything. From now on supd must not
 * die: errors are logged and survived, never fatal.
 * Phase 3, shutdown: the core stops the tree in order; the loop returns the
 * exit status of SPEC section 4, mapped here for `--` mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "spec.h"

#define EXIT_USAGE    64
#define EXIT_CONFIG   78
#define EXIT_INTERNAL 70

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: supd [-c FILE] [-s PATH] [--events FILE] [-n] [-v|-q]\n"
		"       supd [-s PATH] [--events FILE] [--restart permanent|transient]\n"
		"            [--shutdown MS|infinity] [-v|-q] -- PROGRAM [ARGS...]\n"
		"\n"
		"  -c, --config FILE    the supervision tree (default ./supd.yaml if present,\n"
		"                       else /etc/supd.yaml)\n"
		"  -s, --socket PATH    control socket path\n"
		"      --events FILE    append events as JSON lines to FILE\n"
		"  -n, --check          check the config file and exit\n"
		"      --restart TYPE   with --: restart PROGRAM (permanent or transient)\n"
		"      --shutdown MS    with --: SIGKILL PROGRAM this long after a forwarded\n"
		"                       SIGTERM or SIGINT (default 5000; infinity: never)\n"
		"      --no-control     do not open a control socket\n"
		"  -v, --verbose        more log output;  -q, --quiet: errors only\n"
		"                       (with --, errors only unless -v)\n"
		"  -h, --help           this text;  -V, --version: the version\n"
		"\n"
		"See supd(8) and supd.yaml(5).\n");
}

/* In `--` mode every catchable signal goes to the program, as tini does:
 * SIGTERM and SIGINT too, but as the stop signal of an orderly stop (see
 * loop.c), so they are not in this set. Synchronous fault signals are never
 * forwarded (they are about supd itself), nor SIGPIPE (supd ignores it: its
 * own writes to a vanished reader raise it) or SIGCHLD (supd's reaper). */
static uint64_t
dashdash_forward_set(void)
{
	static const int never[] = {SIGCHLD, SIGTERM, SIGINT, SIGKILL, SIGSTOP, SIGPIPE, SIGSEGV,
				    SIGBUS,  SIGFPE,  SIGILL, SIGABRT, SIGTRAP, SIGSYS};
	uint64_t set = 0;

	for (int sig = 1; sig <= SIGRTMAX && sig <= 64; sig++) {
		bool skip = sig > SIGSYS && sig < SIGRTMIN; /* glibc-reserved */
		for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
			skip = skip || never[i] == sig;
		if (!skip)
			set |= UINT64_C(1) << (sig - 1);
	}
	return set;
}

/* The tree of `supd -- PROGRAM ARGS`: a root with auto_shutdown
 * any_significant and one child `main`. */
static struct config *
dashdash_config(char **argv, int argc, enum restart_type restart, int64_t shutdown_ms)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct child_spec *root = spec_new(NODE_SUPERVISOR);
	struct child_spec *main_spec = spec_new(NODE_WORKER);

	if (!cfg || !root || !main_spec)
		goto fail;
	cfg->file = strdup("(command line)");
	cfg->control.mode = 0600;
	cfg->control.max_clients = 256;
	cfg->forward_signals = dashdash_forward_set();
	root->sup.auto_shutdown = AUTO_SHUTDOWN_ANY_SIGNIFICANT;
	root->sup.children = calloc(1, sizeof(*root->sup.children));
	if (!root->sup.children)
		goto fail;
	root->sup.children[0] = main_spec;
	root->sup.nchildren = 1;
	cfg->root = root;
	root = NULL;

	main_spec->id = strdup("main");
	main_spec->restart = restart;
	main_spec->shutdown_ms = shutdown_ms;
	/* A permanent program is not significant: supd then runs until it is
	 * told to stop or the restart limit is reached. */
	main_spec->significant = restart != RESTART_PERMANENT;
	main_spec->worker.argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!main_spec->id || !main_spec->worker.argv)
		goto fail_cfg;
	for (int i = 0; i < argc; i++) {
		main_spec->worker.argv[i] = strdup(argv[i]);
		if (!main_spec->worker.argv[i])
			goto fail_cfg;
		main_spec->worker.argc = (size_t)i + 1;
	}
	return cfg;
fail_cfg:
	config_free(cfg);
	return NULL;
fail:
	spec_free(main_spec);
	spec_free(root);
	free(cfg);
	return NULL;
}

/* Descriptors 0, 1 and 2 closed at start would be lost for the log and the
 * workers' stdio, and the next file supd opens would become someone's
 * stdout: open /dev/null on them first, as init systems do. */
static void
open_missing_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int null = open("/dev/null", O_RDWR | O_NOCTTY);
		if (null >= 0 && null != fd) {
			/* A lower descriptor was open after all: keep ours on fd. */
			dup2(null, fd);
			close(null);
		}
	}
}

/* --shutdown: milliseconds (the range of the config's shutdown key) or
 * infinity. Returns false when the text is neither. */
static bool
parse_shutdown(const char *text, int64_t *out)
{
	char *end;
	long long v;

	if (strcmp(text, "infinity") == 0) {
		*out = SHUTDOWN_INFINITY;
		return true;
	}
	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || *end || v > SPEC_MAX_MS_LIMIT)
		return false;
	*out = v;
	return true;
}

static const char *
default_config_path(void)
{
	return access("supd.yaml", F_OK) == 0 ? "supd.yaml" : "/etc/supd.yaml";
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"socket", required_argument, NULL, 's'},
		{"events", required_argument, NULL, 'E'},
		{"check", no_argument, NULL, 'n'},
		{"restart", required_argument, NULL, 'R'},
		{"shutdown", required_argument, NULL, 'S'},
		{"no-control", no_argument, NULL, 'N'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct loop_options opt = {0};
	const char *config_path = NULL;
	const char *restart_arg = NULL;
	const char *shutdown_arg = NULL;
	enum log_level level = LOG_LEVEL_INFO;
	bool level_given = false;
	bool check = false, dashdash = false;
	struct config *cfg = NULL;
	struct loop *loop = NULL;
	char err[16384]; /* every problem of a config file */
	int ch, status;

	open_missing_stdio();
	/* "+": stop at the first non-option, so PROGRAM's own options after
	 * `--` are never ours. */
	while ((ch = getopt_long(argc, argv, "+c:s:nvqhV", options, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 's':
			opt.socket_path = optarg;
			break;
		case 'E':
			opt.events_path = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'R':
			restart_arg = optarg;
			break;
		case 'S':
			shutdown_arg = optarg;
			break;
		case 'N':
			opt.no_control = true;
			break;
		case 'v':
			level = LOG_LEVEL_DEBUG;
			level_given = true;
			break;
		case 'q':
			level = LOG_LEVEL_ERROR;
			level_given = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("supd %s\n", SUPD_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	dashdash = optind > 0 && optind <= argc && strcmp(argv[optind - 1], "--") == 0;
	/* `--` mode is silent like tini: only what went wrong with supd itself
	 * (PROGRAM's own exit, whatever its status, is a normal run). */
	if (dashdash && !level_given)
		level = LOG_LEVEL_ERROR;
	log_init("supd", level);
	if (dashdash && optind == argc) {
		fprintf(stderr, "supd: -- needs a PROGRAM\n");
		return EXIT_USAGE;
	}
	if (!dashdash && optind < argc) {
		fprintf(stderr, "supd: unexpected argument '%s' (use -- PROGRAM ARGS)\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (dashdash && (config_path || check)) {
		fprintf(stderr, "supd: -c and -n do not go with -- PROGRAM\n");
		return EXIT_USAGE;
	}
	if ((restart_arg || shutdown_arg) && !dashdash) {
		fprintf(stderr, "supd: --%s goes with -- PROGRAM\n",
			restart_arg ? "restart" : "shutdown");
		return EXIT_USAGE;
	}

	if (dashdash) {
		enum restart_type restart = RESTART_TEMPORARY;
		int64_t shutdown_ms = SPEC_DEFAULT_SHUTDOWN_MS;

		if (shutdown_arg && !parse_shutdown(shutdown_arg, &shutdown_ms)) {
			fprintf(stderr,
				"supd: --shutdown takes milliseconds (0 to %d) or infinity\n",
				SPEC_MAX_MS_LIMIT);
			return EXIT_USAGE;
		}
		if (restart_arg && strcmp(restart_arg, "permanent") == 0)
			restart = RESTART_PERMANENT;
		else if (restart_arg && strcmp(restart_arg, "transient") == 0)
			restart = RESTART_TRANSIENT;
		else if (restart_arg) {
			fprintf(stderr, "supd: --restart takes permanent or transient\n");
			return EXIT_USAGE;
		}
		cfg = dashdash_config(argv + optind, argc - optind, restart, shutdown_ms);
		if (!cfg) {
			log_error("out of memory");
			return EXIT_INTERNAL;
		}
		/* No control socket unless asked for one. */
		if (!opt.socket_path)
			opt.no_control = true;
		opt.exec_failure_status = true;
		opt.dashdash = true;
	} else {
		if (!config_path)
			config_path = default_config_path();
		if (config_load_file(config_path, &cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return EXIT_CONFIG;
		}
		if (check) {
			printf("%s: configuration OK\n", config_path);
			config_free(cfg);
			return 0;
		}
		/* SPEC 7.7: supd into its own leaf, controllers for the
		 * workers' limits; before anything runs. */
		if (cfg->cgroup && cgroup_setup(cfg->root, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: cgroup: %s\n", config_path, err);
			config_free(cfg);
			return EXIT_CONFIG;
		}
	}

	status = loop_new(&loop, cfg, &opt);
	if (status < 0) {
		config_free(cfg);
		return status == LOOP_CONFIG_ERROR ? EXIT_CONFIG : EXIT_INTERNAL;
	}
	/* From here on, supd must not die. */
	status = loop_run(loop);
	loop_free(loop);
	config_free(cfg);
	return status;
}
