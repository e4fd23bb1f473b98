#!/usr/bin/env python3
"""test-reload.py - reload (SPEC 7.5) on real processes.

Usage: test-reload.py SUPD SUPCTL

Runs supd on a small tree, as a normal process and as PID 1 (unshare --pid
--fork --mount-proc), edits its file and sends SIGHUP: the unchanged
worker keeps its pid, the changed one gets a new pid, the added one runs,
the removed one is gone and not a zombie, the children are in the file's
order, and a `reloaded` event lists what changed. Then `supctl reload`
with an invalid file (nothing changes, exit status 1, every problem in the
message, a `reload_failed` event), `supctl reload FILE`, and a file that
changes the control socket (refused). Prints TAP; every wait has a deadline.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from tap import check, finish, kill_tree
from supdtest import find_node, wait_or_fail

DEADLINE = 20.0

BEFORE = """\
children:
  - id: keep
    start: [/bin/sleep, "1000"]
  - id: change
    start: [/bin/sleep, "1001"]
  - id: gone
    start: [/bin/sleep, "1002"]
  - id: sub
    type: supervisor
    children:
      - id: inner
        start: [/bin/sleep, "1003"]
"""

AFTER = """\
children:
  - id: added
    start: [/bin/sleep, "1004"]
  - id: keep
    start: [/bin/sleep, "1000"]
  - id: change
    start: [/bin/sleep, "1005"]
  - id: sub
    type: supervisor
    strategy: one_for_all
    children:
      - id: inner
        start: [/bin/sleep, "1003"]
"""

INVALID = """\
children:
  - id: keep
    start: [/bin/sleep, "1000"]
    restrat: permanent
  - id: other
    start: [/bin/sleep, "1006"]
    shutdown: soon
"""

# AFTER without `added`, for `supctl reload FILE`.
SMALLER = AFTER.replace("""  - id: added
    start: [/bin/sleep, "1004"]
""", "")


def wait_for(pred, what):
    return wait_or_fail(pred, what, DEADLINE)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


class Supd:
    def __init__(self, supd, supctl, pid1):
        self.dir = tempfile.mkdtemp(prefix="supd-reload-")
        self.cfg = os.path.join(self.dir, "supd.yaml")
        self.sock = os.path.join(self.dir, "supd.sock")
        self.events = os.path.join(self.dir, "events")
        self.supctl = supctl
        self.write(BEFORE)
        argv = [supd, "-c", self.cfg, "-s", self.sock, "--events", self.events]
        if pid1:
            argv = ["unshare", "--pid", "--fork", "--mount-proc"] + argv
        with open(os.path.join(self.dir, "stderr"), "wb") as e:
            self.proc = subprocess.Popen(argv, stderr=e, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.pid1 = pid1

    def write(self, text, path=None):
        with open(path or self.cfg, "w") as f:
            f.write(text)

    def pid(self):
        """supd itself: the process, or the child of unshare."""
        if not self.pid1:
            return self.proc.pid
        found = []

        def child():
            try:
                with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                    found[:] = f.read().split()
            except OSError:
                pass
            return bool(found)
        wait_for(child, "unshare's child")
        return int(found[0]) if found else self.proc.pid

    def ctl(self, *args):
        p = subprocess.run([self.supctl, "-s", self.sock] + list(args), capture_output=True,
                           text=True, timeout=DEADLINE)
        return p.returncode, p.stdout, p.stderr

    def tree(self):
        rc, out, _ = self.ctl("--json", "tree")
        try:
            return json.loads(out.splitlines()[-1])["tree"] if rc == 0 else None
        except (ValueError, IndexError, KeyError):
            return None

    def events_named(self, name):
        return [json.loads(line) for line in read(self.events).splitlines()
                if f'"event":"{name}"'.encode() in line]

    def zombie_children(self):
        """supd's children that are zombies (a removed worker not reaped)."""
        pid = self.pid()
        zombies = []
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return zombies
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    kids = f.read().split()
            except OSError:
                continue
            for kid in kids:
                try:
                    with open(f"/proc/{kid}/stat") as f:
                        if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                            zombies.append(kid)
                except (OSError, IndexError):
                    pass
        return zombies

    def stop(self):
        try:
            os.kill(self.pid(), signal.SIGTERM)
            return self.proc.wait(timeout=DEADLINE)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            return None
        finally:
            kill_tree(self.proc)


def child(tree, path):
    return find_node(tree, path) if tree is not None else None


def pids(s, *paths):
    t = s.tree()
    return {p: (child(t, p) or {}).get("pid") for p in paths}


def running(s, *paths):
    t = s.tree()
    return all((child(t, p) or {}).get("state") == "running" for p in paths)


def reloads(s):
    return s.events_named("reloaded")


def run(supd, supctl, pid1):
    mode = "PID 1" if pid1 else "normal"
    s = Supd(supd, supctl, pid1)
    try:
        if not wait_for(lambda: running(s, "/keep", "/change", "/gone", "/sub/inner"),
                        f"{mode}: the tree to start"):
            return
        before = pids(s, "/keep", "/change", "/gone", "/sub/inner")

        # SIGHUP with an edited file
        s.write(AFTER)
        os.kill(s.pid(), signal.SIGHUP)
        wait_for(lambda: any(e["path"] == "/" for e in reloads(s)), f"{mode}: reloaded /")
        after = pids(s, "/keep", "/change", "/added", "/sub/inner")
        check(after["/keep"] == before["/keep"], f"{mode}: SIGHUP: the unchanged worker "
              f"keeps its pid ({before['/keep']} -> {after['/keep']})")
        check(after["/sub/inner"] == before["/sub/inner"],
              f"{mode}: SIGHUP: the worker of a supervisor whose flags changed keeps its pid")
        check(after["/change"] not in (None, before["/change"]) and running(s, "/change"),
              f"{mode}: SIGHUP: the changed worker runs with a new pid")
        check(running(s, "/added"), f"{mode}: SIGHUP: the added worker runs")
        t = s.tree()
        check(child(t, "/gone") is None, f"{mode}: SIGHUP: the removed worker is deleted")
        check([k["id"] for k in (t or {}).get("children", [])] ==
              ["added", "keep", "change", "sub"],
              f"{mode}: SIGHUP: the children are in the file's order")
        check(wait_for(lambda: not s.zombie_children(), "no zombie"),
              f"{mode}: SIGHUP: the removed worker is reaped (no zombie)")
        root = [e for e in reloads(s) if e["path"] == "/"]
        check(len(root) == 1 and root[0]["added"] == ["added"]
              and root[0]["removed"] == ["gone"] and root[0]["changed"] == ["change"],
              f"{mode}: SIGHUP: one reloaded event for / with the lists ({root})")
        wait_for(lambda: any(e["path"] == "/sub" for e in reloads(s)), f"{mode}: reloaded /sub")
        sub = [e for e in reloads(s) if e["path"] == "/sub"]
        check(len(sub) == 1 and sub[0]["added"] == sub[0]["removed"] == sub[0]["changed"] == [],
              f"{mode}: SIGHUP: /sub's flags changed in place: its own event, empty lists")

        # supctl reload of an invalid file: nothing changes
        s.write(INVALID)
        rc, out, err = s.ctl("reload")
        check(rc == 1 and "reload_failed" in err, f"{mode}: supctl reload of an invalid "
              f"file exits 1 with reload_failed ({rc} {err.strip()[:200]!r})")
        check(f"{s.cfg}:4:5:" in err and "restrat" in err and f"{s.cfg}:7:" in err,
              f"{mode}: supctl reload: every problem as FILE:LINE:COL ({err.strip()[:300]!r})")
        failed = s.events_named("reload_failed")
        check(len(failed) == 1 and "restrat" in failed[0].get("error", ""),
              f"{mode}: a reload_failed event with the error")
        check(pids(s, "/keep", "/change", "/added", "/sub/inner") == after,
              f"{mode}: the invalid file changed nothing")

        # supctl reload FILE
        other = os.path.join(s.dir, "other.yaml")
        s.write(SMALLER, other)
        rc, out, err = s.ctl("reload", other)
        check(rc == 0 and "removed added" in out,
              f"{mode}: supctl reload FILE applies FILE ({rc} {out.strip()!r} {err.strip()!r})")
        check(child(s.tree(), "/added") is None and
              pids(s, "/keep")["/keep"] == before["/keep"],
              f"{mode}: supctl reload FILE: added removed, keep kept")
        rc, out, _ = s.ctl("--json", "reload", other)
        check(rc == 0 and json.loads(out.splitlines()[-1]).get("supervisors") == [],
              f"{mode}: reloading the same file again changes nothing ({out.strip()!r})")

        # what cannot change live is refused
        s.write(SMALLER + "control:\n  max_clients: 5\n", other)
        rc, _, err = s.ctl("reload", other)
        check(rc == 1 and "control.max_clients cannot change" in err,
              f"{mode}: a setting that cannot change live is refused ({err.strip()!r})")
        check(s.stop() == 0, f"{mode}: supd stops cleanly after the reloads")
    finally:
        kill_tree(s.proc)


def main():
    supd, supctl = (os.path.abspath(a) for a in sys.argv[1:3])
    run(supd, supctl, False)
    run(supd, supctl, True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
