#!/usr/bin/env python3
"""test-cgroup.py - containment with cgroup v2 (SPEC 7.7): `cgroup: true`.

Usage: test-cgroup.py SUPD SUPCTL

Each supd runs in a fresh cgroup of its own, T, made below the one this
script runs in (as a service manager delegates one): supd moves itself to
T/supd and puts each worker in T/:PATH. A worker starts a daemon that leaves
its session and process group (setsid). With `cgroup: true` the daemon dies
with the worker: when it exits by itself, when supd terminates it, and when
it crashes and is restarted (the restart runs in the same cgroup, the old
daemon does not); the worker's cgroup is removed once empty. Without the
key, today's behaviour: the daemon outlives the worker (reparented to supd,
the subreaper), and the test kills it. The limits (memory_max, pids_max,
cpu_weight) are read back from the cgroup files where T offers their
controller; where it does not, the load-time error is checked and the
read-back is skipped, naming the missing controller. cgroup: true where the
subtree is not writable (as uid 65534) is a load-time error (exit 78).

Where no cgroup v2 subtree is writable at all (not root, a read-only
/sys/fs/cgroup in a chroot, no cgroup2 mount), every case is skipped with
the reason. Prints TAP. Every wait has a deadline.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import supdtest
from tap import check, finish, kill_tree, skip

SUPD, SUPCTL = sys.argv[1], sys.argv[2]
DEADLINE = 20  # seconds; generous for ASan on a loaded machine


def wait_for(pred, seconds=DEADLINE):
    return supdtest.wait_for(pred, seconds)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def own_cgroup_dir():
    """This process's cgroup v2 directory, or (None, why)."""
    own = None
    for line in read("/proc/self/cgroup").splitlines():
        if line.startswith("0::"):
            own = line[3:]
    if own is None:
        return None, "no cgroup v2 hierarchy (no 0:: line in /proc/self/cgroup)"
    for line in read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        if not right.startswith("cgroup2 ") or len(fields) < 5:
            continue
        root = fields[3].replace("\\040", " ")
        mount = fields[4].replace("\\040", " ")
        if root == "/":
            rest = own
        elif own == root or own.startswith(root + "/"):
            rest = own[len(root):]
        else:
            continue
        path = mount if rest in ("", "/") else mount.rstrip("/") + rest
        return path, None
    return None, "no cgroup v2 file system mounted (no cgroup2 line in /proc/self/mountinfo)"


BASE, WHY = own_cgroup_dir()
if BASE and not (os.access(BASE, os.W_OK) and os.access(os.path.join(BASE, "cgroup.procs"),
                                                            os.W_OK)):
    BASE, WHY = None, "the cgroup v2 subtree %s is not writable by uid %d" % (BASE, os.getuid())
SERIAL = [0]


def fresh_cgroup():
    """A new empty cgroup below ours for one supd; None when mkdir fails."""
    global BASE, WHY
    if not BASE:
        return None  # WHY says why there is no subtree to use
    SERIAL[0] += 1
    path = os.path.join(BASE, "supd-test-%d-%d" % (os.getpid(), SERIAL[0]))
    try:
        os.mkdir(path)
    except OSError as e:
        BASE, WHY = None, "cannot create a cgroup in %s: %s" % (os.path.dirname(path), e)
        return None
    return path


def remove_cgroup(path):
    """Kills whatever is left in the test's cgroup and removes it."""
    if not path or not os.path.isdir(path):
        return
    try:
        with open(os.path.join(path, "cgroup.kill"), "w") as f:
            f.write("1")
    except OSError:
        pass
    wait_for(lambda: "populated 0" in read(os.path.join(path, "cgroup.events")), 10)
    for d in os.listdir(path):
        if os.path.isdir(os.path.join(path, d)):
            try:
                os.rmdir(os.path.join(path, d))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def cgroup_of(pid):
    for line in read("/proc/%d/cgroup" % pid).splitlines():
        if line.startswith("0::"):
            return line[3:]
    return None


def alive(pid):
    """True while pid runs (a zombie counts as gone)."""
    stat = read("/proc/%d/stat" % pid)
    if not stat:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Supd:
    def __init__(self, yaml, cgroup, name):
        self.dir = tempfile.mkdtemp(prefix="supd-%s-" % name)
        os.chmod(self.dir, 0o755)
        self.cfg = os.path.join(self.dir, "supd.yaml")
        self.sock = os.path.join(self.dir, "supd.sock")
        self.events = os.path.join(self.dir, "events")
        self.err = os.path.join(self.dir, "stderr")
        self.cgroup = cgroup
        with open(self.cfg, "w") as f:
            f.write(yaml.replace("@DIR@", self.dir))

        def enter():
            if cgroup:
                with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                    f.write("0")

        with open(self.err, "wb") as e:
            self.proc = subprocess.Popen(
                [SUPD, "-c", self.cfg, "-s", self.sock, "--events", self.events],
                stdout=e, stderr=e, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=enter)

    def events_of(self):
        out = []
        for line in read(self.events).splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_event(self, pred, seconds=DEADLINE):
        found = []

        def seen():
            found[:] = [e for e in self.events_of() if pred(e)]
            return bool(found)
        wait_for(seen, seconds)
        return found[0] if found else None

    def pid_file(self, name):
        """The pid a script wrote into DIR/name (waits for it)."""
        path = os.path.join(self.dir, name)
        wait_for(lambda: read(path).strip().isdigit())
        text = read(path).strip()
        return int(text) if text.isdigit() else None

    def supctl(self, *args):
        return subprocess.run([SUPCTL, "-s", self.sock] + list(args), capture_output=True,
                              text=True, timeout=DEADLINE)

    def stop(self):
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            pass
        kill_tree(self.proc)
        return self.proc.returncode

    def check(self, cond, what):
        """check() with the tail of supd's log when the case fails."""
        return check(cond, what if cond else what + self.context())

    def context(self):
        return "\n# " + read(self.err).replace("\n", "\n# ")[-2000:]

    def cleanup(self):
        self.stop()
        remove_cgroup(self.cgroup)
        shutil.rmtree(self.dir, ignore_errors=True)


# A worker that leaves a daemon behind: the daemon writes its pid to
# DIR/NAME.pid and leaves the session and process group; the worker then
# does THEN (a shell command).
def worker_with_daemon(name, then):
    return ("[/bin/sh, -c, 'setsid /bin/sh -c \"echo \\$$ > @DIR@/%s.pid; "
            "exec sleep 1000\" & while [ ! -s @DIR@/%s.pid ]; do sleep 0.01; done; %s']"
            % (name, name, then))


def orphan_killed(s, pid):
    return s.wait_event(lambda e: e.get("event") == "orphan_reaped" and e.get("pid") == pid
                        and e.get("status") == {"signal": "SIGKILL"})


def case_exit(what="daemon dies when the worker exits"):
    cg = fresh_cgroup()
    if not cg:
        return skip(what, WHY)
    s = Supd("""cgroup: true
children:
  - id: w
    restart: temporary
    start: %s
  - id: keep
    start: [/bin/sleep, "1000"]
""" % worker_with_daemon("d", "while [ ! -e @DIR@/go ]; do sleep 0.01; done; exit 0"),
             cg, "cg-exit")
    try:
        daemon = s.pid_file("d.pid")
        if not s.check(daemon and alive(daemon), "exit: the daemon runs"):
            return
        rel = cg[len(BASE):] if cg.startswith(BASE) else None
        s.check(cgroup_of(daemon) == (rel or "") + "/:w",
              "exit: the daemon is in the worker's cgroup (%s)" % cgroup_of(daemon))
        s.check(cgroup_of(s.proc.pid) == (rel or "") + "/supd",
              "exit: supd is in its own leaf (%s)" % cgroup_of(s.proc.pid))
        open(os.path.join(s.dir, "go"), "w").close()
        s.check(orphan_killed(s, daemon), "exit: the setsid daemon is killed and reaped as an orphan")
        s.check(not alive(daemon), "exit: the daemon is gone")
        s.check(wait_for(lambda: not os.path.exists(os.path.join(cg, ":w"))),
              "exit: the worker's cgroup is removed")
        s.check(os.path.isdir(os.path.join(cg, ":keep")), "exit: the other worker's cgroup stays")
        s.check(s.stop() == 0, "exit: supd stops with status 0")
        s.check(wait_for(lambda: not os.path.exists(os.path.join(cg, ":keep"))),
              "exit: at the stop, every worker's cgroup is removed")
    finally:
        s.cleanup()


def case_terminate():
    what = "daemon dies when supd terminates the worker"
    cg = fresh_cgroup()
    if not cg:
        return skip(what, WHY)
    s = Supd("""cgroup: true
children:
  - id: w
    start: %s
""" % worker_with_daemon("d", "exec sleep 1000"), cg, "cg-term")
    try:
        daemon = s.pid_file("d.pid")
        if not s.check(daemon and alive(daemon), "terminate: the daemon runs"):
            return
        r = s.supctl("terminate-child", "/w")
        s.check(r.returncode == 0, "terminate: supctl terminate-child /w: %s" % r.stderr)
        s.check(s.wait_event(lambda e: e.get("event") == "child_exited" and e.get("path") == "/w"
                           and e.get("reason") == "shutdown"), "terminate: /w exited with reason shutdown")
        s.check(orphan_killed(s, daemon), "terminate: the setsid daemon is killed")
        s.check(wait_for(lambda: not os.path.exists(os.path.join(cg, ":w"))),
              "terminate: the worker's cgroup is removed")
    finally:
        s.cleanup()


def case_restart():
    what = "a restarted worker's old daemon dies, the new one runs in the same cgroup"
    cg = fresh_cgroup()
    if not cg:
        return skip(what, WHY)
    # the first incarnation crashes once its daemon runs; the second stays
    s = Supd("""cgroup: true
children:
  - id: w
    start: %s
""" % worker_with_daemon("d$$", "echo $$ >> @DIR@/runs; [ -e @DIR@/crashed ] && exec sleep 1000; "
                          ": > @DIR@/crashed; exit 3"), cg, "cg-restart")
    try:
        ok = s.wait_event(lambda e: e.get("event") == "child_exited" and e.get("path") == "/w"
                          and e.get("reason") == "crash")
        s.check(ok, "restart: /w crashed")
        runs = []
        wait_for(lambda: len(read(os.path.join(s.dir, "runs")).split()) == 2)
        runs = [int(p) for p in read(os.path.join(s.dir, "runs")).split()]
        if not s.check(len(runs) == 2, "restart: /w ran twice (%s)" % runs):
            return
        old = s.pid_file("d%d.pid" % runs[0])
        new = s.pid_file("d%d.pid" % runs[1])
        s.check(old and orphan_killed(s, old), "restart: the first daemon is killed")
        s.check(new and alive(new) and cgroup_of(new).endswith("/:w"),
              "restart: the second daemon runs in /w's cgroup")
        s.check(alive(runs[1]) and cgroup_of(runs[1]).endswith("/:w"),
              "restart: the restarted worker runs in its cgroup")
    finally:
        s.cleanup()


def case_without_cgroup():
    what = "without cgroup: the daemon outlives the worker (today's behaviour)"
    s = Supd("""children:
  - id: w
    restart: temporary
    start: %s
  - id: keep
    start: [/bin/sleep, "1000"]
""" % worker_with_daemon("d", "exit 0"), None, "cg-none")
    daemon = None
    try:
        daemon = s.pid_file("d.pid")
        s.check(s.wait_event(lambda e: e.get("event") == "child_exited" and e.get("path") == "/w"), "none: /w exited")
        s.check(daemon and alive(daemon), "none: its setsid daemon still runs (reparented to supd)")
        s.check(daemon and cgroup_of(daemon) == cgroup_of(os.getpid()),
              "none: supd moved nothing (the daemon is in the test's cgroup)")
    finally:
        if daemon and alive(daemon):
            os.kill(daemon, signal.SIGKILL)
        s.cleanup()


LIMITS = [  # key, value, controller, file, what the file says
    ("memory_max", "64M", "memory", "memory.max", str(64 << 20)),
    ("pids_max", "50", "pids", "pids.max", "50"),
    ("cpu_weight", "200", "cpu", "cpu.weight", "200"),
]


def case_limits():
    cg = fresh_cgroup()
    if not cg:
        for key, _, _, _, _ in LIMITS:
            skip("limits: %s read back" % key, WHY)
        return
    offered = read(os.path.join(cg, "cgroup.controllers")).split()
    have = [l for l in LIMITS if l[2] in offered]
    missing = [l for l in LIMITS if l[2] not in offered]
    try:
        for key, value, controller, _, _ in missing:
            # the load-time error, checked by supd -n from inside T
            d = tempfile.mkdtemp(prefix="supd-cg-limit-")
            cfg = os.path.join(d, "supd.yaml")
            with open(cfg, "w") as f:
                f.write("cgroup: true\nchildren:\n  - id: w\n    start: [/bin/true]\n"
                        "    %s: %s\n" % (key, value))

            def enter():
                with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                    f.write("0")
            r = subprocess.run([SUPD, "-n", "-c", cfg], capture_output=True, text=True,
                               preexec_fn=enter, timeout=DEADLINE)
            want = "%s:5:%d: cgroup v2 %s controller not enabled in %s" % (
                cfg, 7 + len(key), controller, cg)
            check(r.returncode == 78 and r.stderr.startswith(want),
                  "limits: %s without the %s controller: exit 78, %r (got %d %r)"
                  % (key, controller, want, r.returncode, r.stderr))
            shutil.rmtree(d, ignore_errors=True)
            skip("limits: %s read back" % key,
                 "cgroup v2 %s controller not enabled in %s (cgroup.controllers: %s)"
                 % (controller, cg, " ".join(offered) or "none"))
        if not have:
            return
        keys = "".join("    %s: %s\n" % (l[0], l[1]) for l in have)
        s = Supd("cgroup: true\nchildren:\n  - id: w\n    start: [/bin/sleep, \"1000\"]\n"
                 + keys, cg, "cg-limits")
        try:
            started = s.wait_event(lambda e: e.get("event") == "child_started")
            check(started, "limits: /w started")
            for key, _, _, name, want in have:
                got = read(os.path.join(cg, ":w", name)).strip()
                check(got == want, "limits: %s read back from %s: %r" % (key, name, got))
        finally:
            s.cleanup()
    finally:
        remove_cgroup(cg)


def case_not_writable():
    what = "cgroup: true where the subtree is not writable: exit 78 at the key"
    if os.getuid() != 0 or not shutil.which("setpriv"):
        return skip(what, "needs root and setpriv to run supd -n as uid 65534")
    d = tempfile.mkdtemp(prefix="supd-cg-ro-")
    os.chmod(d, 0o755)
    cfg = os.path.join(d, "supd.yaml")
    with open(cfg, "w") as f:
        f.write("cgroup: true\nchildren:\n  - id: w\n    start: [/bin/true]\n")
    os.chmod(cfg, 0o644)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        SUPD, "-n", "-c", cfg], capture_output=True, text=True,
                       timeout=DEADLINE)
    want = "%s:1:9: cgroup: true needs a writable cgroup v2 subtree: " % cfg
    check(r.returncode == 78 and r.stderr.startswith(want),
          "%s (got %d %r)" % (what, r.returncode, r.stderr))
    shutil.rmtree(d, ignore_errors=True)


def main():
    case_exit()
    case_terminate()
    case_restart()
    case_without_cgroup()
    case_limits()
    case_not_writable()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
