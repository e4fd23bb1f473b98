/*
 * test-cgroup.c - the pure part of cgroup.c (SPEC 7.7): supd's own cgroup
 * from /proc/self/cgroup, the cgroup2 mount from /proc/self/mountinfo, the
 * directory they make, worker cgroup names, memory_max sizes, controller
 * lists. No cgroup file system is touched.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cgroup.h"

Test(cgroup, own_cgroup_from_the_0_line)
{
	char path[64];

	cr_assert_eq(cgroup_parse_self("12:pids:/x\n0::/system.slice/supd.service\n", path,
				       sizeof(path)),
		     0);
	cr_assert_str_eq(path, "/system.slice/supd.service");
	/* hybrid hierarchy, as on the machine these tests were written on */
	cr_assert_eq(
		cgroup_parse_self("9:name=systemd:/\n4:memory:/a/b\n0::/\n", path, sizeof(path)),
		0);
	cr_assert_str_eq(path, "/");
	/* no newline at the end */
	cr_assert_eq(cgroup_parse_self("0::/c", path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/c");
}

Test(cgroup, no_cgroup_v2_line)
{
	char path[64];

	cr_assert_eq(cgroup_parse_self("4:memory:/a\n1:cpu:/\n", path, sizeof(path)), -ENOENT);
	cr_assert_eq(cgroup_parse_self("", path, sizeof(path)), -ENOENT);
	/* "10::" is not "0::" */
	cr_assert_eq(cgroup_parse_self("10::/x\n", path, sizeof(path)), -ENOENT);
	cr_assert_eq(cgroup_parse_self("0::/a-long-path\n", path, 4), -ENAMETOOLONG);
}

Test(cgroup, mountinfo_cgroup2_line)
{
	char mp[128], root[128];

	cr_assert_eq(cgroup_parse_mountinfo_line("40 30 0:37 / /sys/fs/cgroup/unified "
						 "rw,relatime - cgroup2 cgroup2 rw\n",
						 mp, sizeof(mp), root, sizeof(root)),
		     1);
	cr_assert_str_eq(mp, "/sys/fs/cgroup/unified");
	cr_assert_str_eq(root, "/");
	/* optional fields before the separator, an escaped space */
	cr_assert_eq(cgroup_parse_mountinfo_line("7 1 0:30 /sub /my\\040cg rw shared:4 master:1 - "
						 "cgroup2 none rw,nsdelegate",
						 mp, sizeof(mp), root, sizeof(root)),
		     1);
	cr_assert_str_eq(mp, "/my cg");
	cr_assert_str_eq(root, "/sub");
}

Test(cgroup, mountinfo_other_lines)
{
	char mp[128], root[128];

	cr_assert_eq(cgroup_parse_mountinfo_line("33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup "
						 "cgroup rw,memory",
						 mp, sizeof(mp), root, sizeof(root)),
		     0);
	cr_assert_eq(cgroup_parse_mountinfo_line("22 1 8:1 / / rw - ext4 /dev/sda1 rw", mp,
						 sizeof(mp), root, sizeof(root)),
		     0);
	cr_assert_eq(cgroup_parse_mountinfo_line("garbage", mp, sizeof(mp), root, sizeof(root)),
		     -EINVAL);
	cr_assert_eq(cgroup_parse_mountinfo_line("1 2 3 / /x rw cgroup2", mp, sizeof(mp), root,
						 sizeof(root)),
		     -EINVAL);
}

Test(cgroup, directory_of_the_own_cgroup)
{
	char dir[128];

	cr_assert_eq(cgroup_join_dir("/sys/fs/cgroup", "/", "/", dir, sizeof(dir)), 0);
	cr_assert_str_eq(dir, "/sys/fs/cgroup");
	cr_assert_eq(cgroup_join_dir("/sys/fs/cgroup", "/", "/a/b", dir, sizeof(dir)), 0);
	cr_assert_str_eq(dir, "/sys/fs/cgroup/a/b");
	/* a mount of a subtree (a container's view) */
	cr_assert_eq(cgroup_join_dir("/cg", "/ctr", "/ctr/app", dir, sizeof(dir)), 0);
	cr_assert_str_eq(dir, "/cg/app");
	cr_assert_eq(cgroup_join_dir("/cg", "/ctr", "/ctr", dir, sizeof(dir)), 0);
	cr_assert_str_eq(dir, "/cg");
	cr_assert_eq(cgroup_join_dir("/cg", "/ctr", "/ctrl/app", dir, sizeof(dir)), -ENOENT);
	cr_assert_eq(cgroup_join_dir("/cg", "/ctr", "/other", dir, sizeof(dir)), -ENOENT);
	cr_assert_eq(cgroup_join_dir("/sys/fs/cgroup", "/", "/a/b", dir, 8), -ENAMETOOLONG);
}

Test(cgroup, worker_names)
{
	char name[CGROUP_NAME_MAX];

	cgroup_name_for_path("/db", name, sizeof(name));
	cr_assert_str_eq(name, ":db");
	cgroup_name_for_path("/web/db", name, sizeof(name));
	cr_assert_str_eq(name, ":web:db");
	/* ids may hold dots: the name of /a.b differs from that of /a/b */
	cgroup_name_for_path("/a.b", name, sizeof(name));
	cr_assert_str_eq(name, ":a.b");
	/* never supd's own leaf nor an interface file */
	cgroup_name_for_path("/supd", name, sizeof(name));
	cr_assert_str_eq(name, ":supd");
	cgroup_name_for_path("/cgroup.procs", name, sizeof(name));
	cr_assert_str_eq(name, ":cgroup.procs");
}

Test(cgroup, long_paths_get_a_hash)
{
	char path[64 * 65 + 1], other[sizeof(path)], a[CGROUP_NAME_MAX], b[CGROUP_NAME_MAX];
	size_t n = 0;

	for (int level = 0; level < 64; level++) {
		path[n++] = '/';
		memset(path + n, 'x', 64);
		n += 64;
	}
	path[n] = '\0';
	memcpy(other, path, n + 1);
	other[n - 1] = 'y'; /* differs only past what the name keeps */
	cgroup_name_for_path(path, a, sizeof(a));
	cgroup_name_for_path(other, b, sizeof(b));
	cr_assert_eq(strlen(a), 255);
	cr_assert_eq(strlen(b), 255);
	cr_assert_null(strchr(a, '/'));
	cr_assert_str_neq(a, b);
	cr_assert_eq(strncmp(a, ":xxx", 4), 0);
	cr_assert_eq(a[255 - 17], '~');
	/* the longest path that fits keeps its plain name */
	memset(path, 'z', 255);
	path[0] = '/';
	path[255] = '\0';
	cgroup_name_for_path(path, a, sizeof(a));
	cr_assert_eq(strlen(a), 255);
	cr_assert_null(strchr(a, '~'));
}

Test(cgroup, sizes)
{
	uint64_t v;

	cr_assert_eq(cgroup_parse_size("4096", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_eq(cgroup_parse_size("512M", &v), 0);
	cr_assert_eq(v, 512ull << 20);
	cr_assert_eq(cgroup_parse_size("1g", &v), 0);
	cr_assert_eq(v, 1ull << 30);
	cr_assert_eq(cgroup_parse_size("64K", &v), 0);
	cr_assert_eq(v, 64ull << 10);
	cr_assert_eq(cgroup_parse_size("2T", &v), 0);
	cr_assert_eq(v, 2ull << 40);
	cr_assert_eq(cgroup_parse_size("0", &v), 0);
	cr_assert_eq(v, 0);
}

Test(cgroup, bad_sizes)
{
	uint64_t v;

	cr_assert_eq(cgroup_parse_size("", &v), -EINVAL);
	cr_assert_eq(cgroup_parse_size("M", &v), -EINVAL);
	cr_assert_eq(cgroup_parse_size("1.5G", &v), -EINVAL);
	cr_assert_eq(cgroup_parse_size("12X", &v), -EINVAL);
	cr_assert_eq(cgroup_parse_size("1MB", &v), -EINVAL);
	cr_assert_eq(cgroup_parse_size("-1", &v), -EINVAL);
	cr_assert_eq(cgroup_parse_size(" 1", &v), -EINVAL);
	cr_assert_eq(cgroup_parse_size("99999999999999999999", &v), -ERANGE);
	cr_assert_eq(cgroup_parse_size("9999999999T", &v), -ERANGE);
}

Test(cgroup, controller_lists)
{
	cr_assert(cgroup_list_has("cpuset cpu io memory pids\n", "cpu"));
	cr_assert(cgroup_list_has("cpuset cpu io memory pids\n", "pids"));
	cr_assert_not(cgroup_list_has("cpuset io memory\n", "cpu"));
	cr_assert_not(cgroup_list_has("", "memory"));
	cr_assert_not(cgroup_list_has("\n", "memory"));
	cr_assert_not(cgroup_list_has("memoryx", "memory"));
}
