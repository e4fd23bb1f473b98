#!/usr/bin/env python3
"""test-control.py - the control socket and supctl against a real supd (SPEC section 6).

Usage: test-control.py SUPD SUPCTL

Starts supd on a small tree in a temporary directory, speaks the wire
protocol directly and through supctl, and prints TAP. Every wait has a
deadline; nothing sleeps to synchronise. Needs /bin/sleep.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from tap import check, finish
from supdtest import DEADLINE, Conn, proc_words


CONFIG = """\
strategy: one_for_one
max_restarts: 100
max_seconds: 1
control:
  max_clients: 8
children:
  - id: web
    type: supervisor
    children:
      - id: db
        start: ["/bin/sleep", "1000"]
      - id: cache
        start: ["/bin/sleep", "1000"]
        restart: transient
  - id: buckets
    type: dynamic
    max_children: 3
    template:
      start: ["/bin/sleep"]
      restart: temporary
      shutdown: 2000
  - id: worker1
    start: ["/bin/sleep", "1000"]
"""




class Supd:
    def __init__(self, binary, workdir, sock):
        self.sock = sock
        cfg = os.path.join(workdir, "supd.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG)
        self.log = open(os.path.join(workdir, "supd.log"), "ab")
        self.proc = subprocess.Popen([binary, "-c", cfg, "-s", sock], stderr=self.log)
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            try:
                c = Conn(sock)
                r = c.call({"op": "ping"})
                c.close()
                if r and r.get("ok"):
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("supd exited with %d" % self.proc.returncode)
            time.sleep(0.02)
        raise RuntimeError("supd did not answer within %ss" % DEADLINE)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(conn, pred):
    """Reads messages until pred(msg) holds; returns the messages read."""
    seen = []
    while True:
        msg = conn.line()
        if msg is None:
            return seen
        seen.append(msg)
        if pred(msg):
            return seen


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def main():
    if len(sys.argv) != 3:
        print("usage: test-control.py SUPD SUPCTL", file=sys.stderr)
        return 2
    supd_bin, supctl = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="supd-control-")
    sock = os.path.join(work, "supd.sock")
    supd = Supd(supd_bin, work, sock)
    try:
        run(supd, supctl, sock, work)
    finally:
        supd.stop()
    return finish()


def run(supd, supctl, sock, work):
    c = Conn(sock)

    # envelope and framing
    r = c.call({"op": "ping", "tag": {"n": 1}})
    check(r["ok"] and r["pid"] == supd.proc.pid and r["tag"] == {"n": 1}, "ping echoes the tag")
    check(isinstance(r["version"], str) and r["uptime_ms"] >= 0, "ping: version and uptime")
    check(c.call(b"{nope\n")["error"] == "bad_request", "malformed JSON: bad_request")
    check(c.call({"op": "dance", "tag": 3}) == {"ok": False, "error": "unknown_op",
                                               "message": "unknown op 'dance'", "tag": 3},
          "unknown op, tag echoed")
    check(c.call(b'{"op":"ping","tag":"\xff"}\n')["error"] == "bad_request", "invalid UTF-8")
    check(c.call(b"\n\n" + b'{"op":"ping"}\n')["ok"], "blank lines are ignored")
    check(c.call({"op": "which_children"})["error"] == "bad_request", "missing argument")
    check(c.call({"op": "ping"})["ok"], "the connection survives bad requests")

    # reading the tree
    r = c.call({"op": "which_children", "sup": "/"})
    check([x["id"] for x in r["children"]] == ["worker1", "buckets", "web"],
          "which_children: newest first")
    r = c.call({"op": "count_children", "sup": "/web"})
    check((r["specs"], r["active"], r["supervisors"], r["workers"]) == (2, 2, 0, 2),
          "count_children")
    check(c.call({"op": "which_children", "sup": "/nope"})["error"] == "not_found",
          "unknown supervisor: not_found")
    check(c.call({"op": "count_children", "sup": "/worker1"})["error"] == "not_a_supervisor",
          "a worker is not a supervisor")
    r = c.call({"op": "get_childspec", "sup": "/web", "id": "cache"})
    check(r["spec"]["restart"] == "transient" and r["spec"]["start"] == ["/bin/sleep", "1000"]
          and r["spec"]["shutdown"] == 5000, "get_childspec with defaults")
    r = c.call({"op": "tree"})
    check(r["tree"]["path"] == "/" and len(r["tree"]["children"]) == 3
          and r["tree"]["children"][0]["children"][0]["path"] == "/web/db", "tree")

    # dynamic children, events before the reply
    s = Conn(sock)
    check(s.call({"op": "subscribe"})["ok"], "subscribe")
    s.send({"op": "start_child", "sup": "/buckets", "args": ["1000"], "tag": "s"})
    seen = wait_for(s, lambda m: m.get("tag") == "s")
    check([m.get("event") for m in seen[:-1]] == ["child_started"] and seen[-1]["id"] == "1",
          "start_child: child_started before the reply")
    pid1 = seen[-1]["pid"]
    check(proc_words(pid1, "cmdline")[:2] == [b"/bin/sleep", b"1000"],
          "args appended to the template")
    r = c.call({"op": "start_child", "sup": "/buckets", "id": "named", "args": ["1000"],
                "env": ["SUPD_TEST=1", "SUPD_LITERAL=${HOME}$$"]})
    check(r["ok"] and r["id"] == "named", "start_child with an id")
    env = proc_words(r["pid"], "environ")
    check(b"SUPD_TEST=1" in env, "env given to the child")
    check(b"SUPD_LITERAL=${HOME}$$" in env,
          "a request's env is taken literally (no ${NAME} from supd's environment)")
    check(c.call({"op": "start_child", "sup": "/buckets", "id": "named", "args": ["1"]})["error"]
          == "already_started", "duplicate dynamic id: already_started")
    c.call({"op": "start_child", "sup": "/buckets", "args": ["1000"]})
    check(c.call({"op": "start_child", "sup": "/buckets", "args": ["1000"]})["error"]
          == "max_children", "max_children")
    s.send({"op": "terminate_child", "sup": "/buckets", "id": "1", "tag": "t"})
    seen = wait_for(s, lambda m: m.get("tag") == "t")
    events = [m.get("event") for m in seen[:-1] if m.get("path") == "/buckets/1"]
    check(events[-2:] == ["child_stopping", "child_exited"] and seen[-1]["ok"],
          "terminate_child: events before the reply")
    check(c.call({"op": "terminate_child", "sup": "/buckets", "id": 1})["error"] == "not_found",
          "a temporary child is gone after terminate_child")
    check(c.call({"op": "restart_child", "sup": "/buckets", "id": "named"})["error"]
          == "not_supported", "restart_child on a dynamic supervisor")
    s.close()

    # static children
    r = c.call({"op": "start_child", "sup": "/web",
                "spec": {"id": "extra", "start": ["/bin/sleep", "1000"], "restart": "temporary"}})
    check(r["ok"] and r["id"] == "extra" and r["pid"] > 0, "static start_child")
    check(c.call({"op": "start_child", "sup": "/web",
                  "spec": {"id": "extra", "start": ["/bin/sleep", "1"]}})["error"]
          == "already_started", "already_started")
    # what the machine can tell is checked before anything runs, as for the file
    r = c.call({"op": "start_child", "sup": "/web",
                "spec": {"id": "broken", "start": ["/nonexistent/program"]}})
    check(r["error"] == "bad_request" and r["message"]
          == "spec.start[0]: program '/nonexistent/program' not found (No such file or directory)",
          "a missing program is refused: %s" % r)
    r = c.call({"op": "start_child", "sup": "/web",
                "spec": {"id": "broken", "start": ["/bin/sh", "-c", "exit 3"],
                         "cwd": "/nonexistent"}})
    check(r["error"] == "bad_request" and r["message"]
          == "spec.cwd: cwd '/nonexistent' does not exist", "a missing cwd is refused: %s" % r)
    check(c.call({"op": "start_child", "sup": "/web", "args": ["x"]})["error"] == "bad_request",
          "args on a static supervisor")
    check(c.call({"op": "restart_child", "sup": "/web", "id": "db"})["error"] == "running",
          "restart_child of a running child")
    check(c.call({"op": "delete_child", "sup": "/web", "id": "db"})["error"] == "running",
          "delete_child of a running child")
    check(c.call({"op": "terminate_child", "sup": "/web", "id": "cache"})["ok"], "terminate_child")
    r = c.call({"op": "restart_child", "sup": "/web", "id": "cache"})
    check(r["ok"] and r["pid"] > 0, "restart_child of a stopped child")
    c.call({"op": "terminate_child", "sup": "/web", "id": "cache"})
    check(c.call({"op": "delete_child", "sup": "/web", "id": "cache"})["ok"], "delete_child")
    check(c.call({"op": "delete_child", "sup": "/web", "id": "cache"})["error"] == "not_found",
          "deleted")

    # monitors
    w = [x for x in c.call({"op": "which_children", "sup": "/"})["children"]
         if x["id"] == "worker1"][0]
    m = Conn(sock)
    r = m.call({"op": "monitor", "path": "/worker1", "pidfd": True})
    check(r["ok"] and r["pidfd"] is True and len(m.fds) == 1, "monitor with pidfd")
    if m.fds:
        with open("/proc/self/fdinfo/%d" % m.fds[0]) as f:
            check("Pid:\t%d" % w["pid"] in f.read(), "the pidfd is the child's")
    os.kill(w["pid"], signal.SIGKILL)
    d = m.line()
    check(d and d["event"] == "down" and d["ref"] == r["ref"] and d["reason"] == "crash"
          and d["status"] == {"signal": "SIGKILL"} and d["pid"] == w["pid"],
          "down: crash with the status: %s" % d)
    r = m.call({"op": "monitor", "path": "/web/nothing"})
    d = m.line()
    check(d["reason"] == "noproc" and d["ref"] == r["ref"], "monitor of nothing: noproc at once")
    r = m.call({"op": "monitor", "path": "/web"})
    m2 = m.call({"op": "demonitor", "ref": r["ref"]})
    check(m2 == {"ok": True}, "demonitor")
    m.close()

    # link: the child goes with the connection
    l = Conn(sock)
    r = l.call({"op": "start_child", "sup": "/buckets", "id": "linked", "args": ["1000"],
                "link": True})
    check(r["ok"], "start_child with link")
    watcher = Conn(sock)
    ref = watcher.call({"op": "monitor", "path": "/buckets/linked"})["ref"]
    l.close()
    d = watcher.line()
    check(d and d["ref"] == ref and d["reason"] == "shutdown", "linked child terminated on close")
    watcher.close()

    # too long a line
    t = Conn(sock)
    t.send(b'{"op":"ping","tag":"' + b"x" * 70000 + b'"}\n')
    r = t.line()
    check(r and r["error"] == "line_too_long", "line_too_long")
    check(t.line() is None, "then the connection is closed")

    # max_clients: 8 (c is one)
    extra = [Conn(sock) for _ in range(7)]
    for e in extra:
        e.call({"op": "ping"})
    over = Conn(sock)
    r = over.line()
    check(r and r["error"] == "too_many_clients", "beyond max_clients: refused")
    over.close()
    for e in extra:
        e.close()

    # access: an unprivileged user not in control.group
    if os.geteuid() == 0:
        # Open the file and its directory to everyone: the refusal must
        # come from the SO_PEERCRED check, whatever the file mode.
        os.chmod(work, 0o755)
        os.chmod(sock, 0o666)
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            supctl, "-s", sock, "ping"], capture_output=True, text=True,
                           timeout=DEADLINE)
        check(p.returncode == 2 and "access_denied" in p.stderr, "access denied: %s" % p.stderr)
        os.chmod(sock, 0o600)
        os.chmod(work, 0o700)

    # supctl
    def ctl(*args):
        return subprocess.run([supctl, "-s", sock] + list(args), capture_output=True, text=True,
                              timeout=DEADLINE)

    p = ctl("ping")
    check(p.returncode == 0 and p.stdout.startswith("supd "), "supctl ping")
    p = ctl("which-children", "/web")
    check(p.returncode == 0 and p.stdout.split("\n")[0].split()[:2] == ["ID", "TYPE"],
          "supctl which-children")
    p = ctl("--json", "count-children", "/web")
    check(p.returncode == 0 and json.loads(p.stdout)["ok"], "supctl --json")
    p = ctl("terminate-child", "/web", "nothing")
    check(p.returncode == 1 and "not_found" in p.stderr, "supctl: error reply exits 1")
    p = subprocess.run([supctl, "-s", os.path.join(work, "absent.sock"), "ping"],
                       capture_output=True, text=True, timeout=DEADLINE)
    check(p.returncode == 2, "supctl: unreachable exits 2")
    p = ctl("frobnicate")
    check(p.returncode == 2, "supctl: usage error exits 2")
    p = ctl("tree")
    check(p.returncode == 0 and "worker1" in p.stdout and "db" in p.stdout, "supctl tree")
    p = ctl("monitor", "/web/nothing")
    check(p.returncode == 1 and p.stdout.strip() == "noproc", "supctl monitor: noproc exits 1")
    p = ctl("start-child", "/buckets", "--id", "viactl", "--", "1000")
    check(p.returncode == 0 and "/buckets/viactl" in p.stdout, "supctl start-child")
    # With --json the monitor's reply is printed as soon as it arrives, so
    # the child is terminated only once the monitor is in place.
    mon = subprocess.Popen([supctl, "-s", sock, "--json", "monitor", "/buckets/viactl"],
                           stdout=subprocess.PIPE, text=True)
    first = json.loads(mon.stdout.readline())
    check(first["ok"] and first["ref"] >= 1, "supctl --json monitor prints the reply at once")
    ctl("terminate-child", "/buckets", "viactl")
    down = json.loads(mon.stdout.readline())
    mon.wait(DEADLINE)
    check(down["reason"] == "shutdown" and mon.returncode == 0,
          "supctl monitor: shutdown exits 0 (%s)" % down)

    # stop
    r = c.call({"op": "stop"})
    check(r == {"ok": True}, "stop replies ok")
    try:
        supd.proc.wait(DEADLINE)
    except subprocess.TimeoutExpired:
        pass
    check(supd.proc.returncode == 0, "supd exits 0 after stop")
    check(not os.path.exists(sock), "the socket file is removed")


if __name__ == "__main__":
    sys.exit(main())
