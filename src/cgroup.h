/*
 * cgroup.h - containment with cgroup v2 (SPEC 7.7, `cgroup: true`).
 *
 * Layout, where D is the cgroup supd was started in (its "0::" line in
 * /proc/self/cgroup, under the cgroup2 mount):
 *   D/supd          supd itself (moved there at start: the no-internal-
 *                   process rule forbids controllers for D's children while
 *                   supd sits in D);
 *   D/:web:db       the worker /web/db: its path with '/' written ':' (ids
 *                   have no ':', so names are unique and never clash with
 *                   `supd` or the interface files); a path whose name would
 *                   be longer than 255 bytes is cut and ends in a 64-bit hash.
 * The memory, pids and cpu controllers that D offers are enabled in
 * D/cgroup.subtree_control at start, best effort; a limit whose controller
 * is not enabled there is refused when its spec is loaded.
 *
 * The pure part (parsing, names, sizes) is unit-tested; the rest does file
 * system calls on the cgroup tree, and none at all while `cgroup:` is off.
 */
#ifndef SUPD_CGROUP_H
#define SUPD_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct child_spec;
struct worker_spec;

/* A cgroup name: at most NAME_MAX bytes. */
#define CGROUP_NAME_MAX 256

/* ---- pure ---- */

/* The path of the "0::PATH" line of /proc/self/cgroup's text into path.
 * Returns 0, -ENOENT without such a line (no cgroup v2 hierarchy), or
 * -ENAMETOOLONG. */
int cgroup_parse_self(const char *text, char *path, size_t len);

/* One line of /proc/self/mountinfo: 1 with the mount point (octal escapes
 * such as \040 undone) and the root of the mount when its file system type
 * is cgroup2, 0 for another type, -EINVAL for a line that does not parse. */
int cgroup_parse_mountinfo_line(const char *line, char *mount_point, size_t mlen, char *root,
				size_t rlen);

/* The directory of the cgroup `own` (a path from /proc/self/cgroup) on a
 * cgroup2 mount at mount_point whose root is `root`: -ENOENT when own is
 * not below root (the mount shows another part of the tree). */
int cgroup_join_dir(const char *mount_point, const char *root, const char *own, char *dir,
		    size_t len);

/* A worker's cgroup name from its path ("/web/db" -> ":web:db"). */
void cgroup_name_for_path(const char *child_path, char *name, size_t len);

/* A size for memory_max: decimal bytes, or a number followed by K, M, G or
 * T (powers of 1024). Returns 0 with *out, -EINVAL or -ERANGE. */
int cgroup_parse_size(const char *text, uint64_t *out);

/* Whether the space-separated list (cgroup.controllers' text) names
 * controller. */
bool cgroup_list_has(const char *list, const char *controller);

/* ---- the machine ---- */

/* Where supd's cgroup v2 subtree is and whether supd may write it: 0 with
 * its directory in dir, or -1 with why not in msg. After cgroup_setup(),
 * the directory found then. Changes nothing. */
int cgroup_locate(char *dir, size_t len, char *msg, size_t msglen);

/* Whether controller can be used for workers' limits: before
 * cgroup_setup(), it is in the cgroup.controllers of supd's cgroup (it can
 * be enabled); after, it is enabled in its cgroup.subtree_control. 0, or
 * -1 with msg. */
int cgroup_check_controller(const char *controller, char *msg, size_t len);

/* The start of `cgroup: true`: supd into D/supd, the controllers D offers
 * enabled for its children (those the limits of the tree under root use
 * must be; the others for later start_child specs, best effort). 0, or -1
 * with msg. */
int cgroup_setup(const struct child_spec *root, char *msg, size_t len);

/* True after a successful cgroup_setup(). */
bool cgroup_active(void);

/* Before a worker's spawn: its cgroup exists (a pending removal of it is
 * cancelled), has the spec's limits, and *procs_fd is its cgroup.procs
 * open for writing (close-on-exec; the caller closes it after the spawn),
 * for the child to enter before exec. Returns 0, or a negative errno with
 * "cgroup:ERRNAME" in err. */
int cgroup_prepare(const char *child_path, const struct worker_spec *w, int *procs_fd, char *err,
		   size_t errlen);

/* Every process of the worker's cgroup gets SIGKILL (cgroup.kill): at its
 * SIGKILL step of a stop, and when it exited. Nothing when not active. */
void cgroup_kill(const char *child_path);

/* The worker is gone: what is left of its cgroup is killed, and the
 * directory removed once empty (now, or retried on a timer while killed
 * processes are still on their way out). Nothing when not active. */
void cgroup_worker_gone(const char *child_path);

/* At exit: the removals still pending are tried once more; their timer is
 * released. */
void cgroup_shutdown(void);

#endif
