#!/usr/bin/env python3
"""test-control-hardening.py - the control socket under pressure and abuse.

Usage: test-control-hardening.py SUPD SUPCTL TESTCHILD

Each part runs its own supd on a small tree and prints TAP:
  - descriptors: under RLIMIT_NOFILE 64, 200 clients and a client that asks
    for 200 pidfds never take the descriptors supervision needs: a crashing
    worker is restarted every time, the root never gives up (issue 9.2);
  - hangup: requests a client sent before it hung up are carried out
    (SPEC 6);
  - monitors: at most 1,024 per connection (too_many_monitors), freed by
    demonitor and by firing;
  - link: `supctl start-child --link` on a permanent template stays across
    restarts of its child and takes the current incarnation with it when it
    goes; it leaves when the child is gone for good;
  - trust: a member of control.group (uid 65534) may not `stop` or start a
    child from a spec, and sets only the environment names the template's
    allow_env lists (SPEC 7.9).
Every wait has a deadline; nothing sleeps to synchronise.
"""
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile

from tap import check, finish, kill_tree
from supdtest import DEADLINE, Conn, wait_for



class Supd:
    def __init__(self, supd, work, name, config, nofile=None):
        self.sock = os.path.join(work, name + ".sock")
        self.cfg = os.path.join(work, name + ".yaml")
        self.log = os.path.join(work, name + ".log")
        with open(self.cfg, "w") as f:
            f.write(config)

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen([supd, "-c", self.cfg, "-s", self.sock],
                                     stderr=open(self.log, "w"), start_new_session=True,
                                     preexec_fn=limit)
        wait_for(self.ping)

    def ping(self):
        try:
            c = Conn(self.sock)
            r = c.call({"op": "ping"})
            c.close()
            return bool(r and r["ok"])
        except OSError:
            return False

    def stderr(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        kill_tree(self.proc)


def children(conn, sup):
    r = conn.call({"op": "which_children", "sup": sup})
    return {c["id"]: c for c in r["children"]} if r and r["ok"] else {}


def pid_of(conn, sup, cid):
    c = children(conn, sup).get(cid)
    return c["pid"] if c and c["state"] == "running" else None


def crash_and_wait_restart(conn, sup, cid):
    """SIGKILLs the running child; True once a new pid runs."""
    old = pid_of(conn, sup, cid)
    if not old:
        return False
    os.kill(old, signal.SIGKILL)
    return wait_for(lambda: pid_of(conn, sup, cid) not in (None, old))


def part_descriptors(supd, testchild, work):
    d = Supd(supd, work, "fds", f"""max_restarts: 10
max_seconds: 3600
children:
  - id: w
    start: ["{testchild}", "sleep"]
""", nofile=64)
    try:
        q = Conn(d.sock)  # ours, opened before the flood
        greedy = Conn(d.sock)
        check(pid_of(q, "/", "w"), "fds: the worker runs under RLIMIT_NOFILE 64")
        check("leaves room for" in d.stderr(),
              "fds: supd says at start that max_clients cannot be honoured")
        flood = []
        for _ in range(200):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(d.sock)
            flood.append(s)
        check(q.call({"op": "ping"})["ok"], "fds: 200 clients later supd answers")
        restarts = sum(crash_and_wait_restart(q, "/", "w") for _ in range(3))
        check(restarts == 3, "fds: a crashed worker is restarted under the flood (%d/3)"
              % restarts)
        # One client asks for 200 pidfds and reads none of them.
        for _ in range(200):
            greedy.send({"op": "monitor", "path": "/w", "pidfd": True})
        check(q.call({"op": "ping"})["ok"], "fds: 200 pidfd monitors later supd answers")
        restarts = sum(crash_and_wait_restart(q, "/", "w") for _ in range(3))
        check(restarts == 3, "fds: and the worker is still restarted (%d/3)" % restarts)
        nfds = len(os.listdir("/proc/%d/fd" % d.proc.pid))
        check(nfds <= 64 - 16, "fds: supd keeps 16 descriptors free (%d open)" % nfds)
        check(d.proc.poll() is None and "restart_limit" not in d.stderr()
              and "giving up" not in d.stderr(), "fds: the root never gave up")
        for s in flood:
            s.close()
        greedy.close()
        q.close()
    finally:
        d.stop()


def part_hangup(supd, testchild, work):
    d = Supd(supd, work, "hup", f"""children:
  - id: slow
    start: ["{testchild}", "ignore-term"]
    shutdown: 1000
  - id: pool
    type: dynamic
    template:
      start: ["{testchild}", "sleep"]
      restart: temporary
""")
    try:
        q = Conn(d.sock)
        c = Conn(d.sock)
        # terminate_child keeps the connection busy for the shutdown time;
        # the two start_child wait behind it when the client hangs up.
        c.s.sendall(b"".join((json.dumps(r) + "\n").encode() for r in (
            {"op": "terminate_child", "sup": "/", "id": "slow"},
            {"op": "start_child", "sup": "/pool", "id": "a"},
            {"op": "start_child", "sup": "/pool", "id": "b"})))
        c.close()
        check(wait_for(lambda: set(children(q, "/pool")) == {"a", "b"}),
              "hangup: requests sent before the client hung up are carried out")
        check(children(q, "/")["slow"]["state"] == "stopped",
              "hangup: the request in progress finished too")
        q.close()
    finally:
        d.stop()


def part_monitors(supd, testchild, work):
    d = Supd(supd, work, "mon", f"""children:
  - id: w
    start: ["{testchild}", "sleep"]
""")
    try:
        c = Conn(d.sock)
        for _ in range(1024):
            c.send({"op": "monitor", "path": "/w"})
        refs = [c.reply() for _ in range(1024)]
        check(all(r and r["ok"] for r in refs), "monitors: 1,024 on one connection")
        r = c.call({"op": "monitor", "path": "/w"})
        check(r and r.get("error") == "too_many_monitors", "monitors: the 1,025th: %s" % r)
        r = c.call({"op": "monitor", "path": "/nothing"})
        down = c.line()
        check(r and r["ok"] and down and down.get("reason") == "noproc",
              "monitors: a monitor of nothing is not held, even when full")
        check(c.call({"op": "demonitor", "ref": refs[0]["ref"]})["ok"], "monitors: demonitor")
        r = c.call({"op": "monitor", "path": "/w"})
        check(r and r["ok"], "monitors: demonitor frees a place")
        q = Conn(d.sock)
        pid = pid_of(q, "/", "w")
        os.kill(pid, signal.SIGKILL)
        downs = [c.line() for _ in range(1024)]
        check(all(m and m.get("event") == "down" and m.get("pid") == pid for m in downs),
              "monitors: every monitor fires once")
        wait_for(lambda: pid_of(q, "/", "w"))
        r = c.call({"op": "monitor", "path": "/w"})
        check(r and r["ok"], "monitors: fired monitors free their places")
        c.close()
        q.close()
    finally:
        d.stop()


def part_link(supd, supctl, testchild, work):
    d = Supd(supd, work, "link", f"""children:
  - id: pool
    type: dynamic
    max_restarts: 100
    template:
      start: ["{testchild}", "sleep"]
      restart: permanent
""")
    try:
        q = Conn(d.sock)
        ctl = subprocess.Popen([supctl, "-s", d.sock, "start-child", "/pool", "--id", "L",
                                "--link"], stdout=subprocess.PIPE, text=True)
        first = ctl.stdout.readline()
        check(first.startswith("started /pool/L"), "link: started (%s)" % first.strip())
        restarted = crash_and_wait_restart(q, "/pool", "L")
        check(restarted, "link: the permanent child is restarted after a crash")
        check(ctl.poll() is None, "link: supctl stays across the restart")
        restarted = crash_and_wait_restart(q, "/pool", "L")
        check(restarted and ctl.poll() is None, "link: and across another one")
        ctl.send_signal(signal.SIGTERM)
        ctl.wait(DEADLINE)
        check(wait_for(lambda: "L" not in children(q, "/pool")),
              "link: supctl's exit terminates the current incarnation")

        ctl = subprocess.Popen([supctl, "-s", d.sock, "start-child", "/pool", "--id", "M",
                                "--link"], stdout=subprocess.PIPE, text=True)
        ctl.stdout.readline()
        r = q.call({"op": "terminate_child", "sup": "/pool", "id": "M"})
        out = ctl.communicate(timeout=DEADLINE)[0]
        check(r["ok"] and ctl.returncode == 0 and out.strip() == "shutdown",
              "link: a child gone for good ends supctl (%s, %r)" % (ctl.returncode, out))
        q.close()
    finally:
        d.stop()


def part_trust(supd, supctl, testchild, work):
    if os.geteuid() != 0:
        check(True, "trust: # SKIP needs root to run a client as uid 65534")
        return
    os.chmod(work, 0o755)
    d = Supd(supd, work, "trust", f"""control:
  group: nogroup
  mode: 0660
children:
  - id: pool
    type: dynamic
    template:
      start: ["{testchild}", "sleep"]
      restart: temporary
      allow_env: [FOO]
  - id: static
    type: supervisor
    children: []
""")

    def member(*args):
        return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               supctl, "-s", d.sock] + list(args), capture_output=True,
                              text=True, timeout=DEADLINE)

    try:
        p = member("ping")
        check(p.returncode == 0, "trust: a member of control.group may connect (%s)" % p.stderr)
        p = member("stop")
        check(p.returncode == 1 and "not_permitted" in p.stderr and d.ping(),
              "trust: a member may not stop supd (%s)" % p.stderr.strip())
        spec = json.dumps({"id": "x", "start": [testchild, "sleep"]})
        p = member("start-child", "/static", "--spec", spec)
        check(p.returncode == 1 and "not_permitted" in p.stderr,
              "trust: a member may not start a child from a spec (%s)" % p.stderr.strip())
        p = member("start-child", "/pool", "--id", "a", "--env", "LD_PRELOAD=/tmp/x.so")
        check(p.returncode == 1 and "not_permitted" in p.stderr,
              "trust: a member may not set a name outside allow_env (%s)" % p.stderr.strip())
        p = member("start-child", "/pool", "--id", "b", "--env", "FOO=1")
        check(p.returncode == 0, "trust: a member may set a name in allow_env (%s)" % p.stderr)
        p = member("start-child", "/pool", "--id", "c")
        check(p.returncode == 0, "trust: a member may start a dynamic child")
        p = member("terminate-child", "/pool", "c")
        check(p.returncode == 0, "trust: a member may terminate a child")
        p = subprocess.run([supctl, "-s", d.sock, "start-child", "/static", "--spec", spec],
                           capture_output=True, text=True, timeout=DEADLINE)
        check(p.returncode == 0, "trust: root may start a child from a spec (%s)" % p.stderr)
    finally:
        d.stop()
        os.chmod(work, 0o700)


def main():
    supd, supctl, testchild = sys.argv[1], sys.argv[2], sys.argv[3]
    work = tempfile.mkdtemp(prefix="supd-hardening-")
    parts = [("descriptors", lambda: part_descriptors(supd, testchild, work)),
             ("hangup", lambda: part_hangup(supd, testchild, work)),
             ("monitors", lambda: part_monitors(supd, testchild, work)),
             ("link", lambda: part_link(supd, supctl, testchild, work)),
             ("trust", lambda: part_trust(supd, supctl, testchild, work))]
    for name, part in parts:
        try:
            part()
        except (OSError, ValueError, KeyError, TypeError, subprocess.SubprocessError) as e:
            # supd died or answered nonsense: that part failed, the rest runs
            check(False, "%s: %r" % (name, e))
    return finish()


if __name__ == "__main__":
    sys.exit(main())
