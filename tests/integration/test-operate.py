#!/usr/bin/env python3
"""test-operate.py - signal, restart, tree times and metrics (SPEC 7.8).

Usage: test-operate.py SUPD SUPCTL

Runs supd on a small tree and drives it with supctl: `signal PATH SIGNAL`
reaches the worker's process group (and a subtree), `restart PATH` gives a
new pid in any state, `tree` reports uptime and the last exit, and `metrics`
is read with the Prometheus client library's own parser (Debian
python3-prometheus-client), not by string matching: families, types, the
path label on every sample and the values after known events. Prints TAP.
Every wait has a deadline.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from prometheus_client.parser import text_string_to_metric_families

from tap import check, finish, kill_tree
from supdtest import DEADLINE, Ctl, find_node, wait_or_fail


CONFIG = """\
max_restarts: 10
max_seconds: 60
children:
  - id: web
    type: supervisor
    max_restarts: 7
    max_seconds: 30
    children:
      - id: db
        start: ["/bin/sh", "-c", "trap 'echo usr1 >> {dir}/db-usr1' USR1; : > {dir}/db-up; while :; do sleep 0.05; done"]
      - id: cache
        start: ["/bin/sleep", "1000"]
  - id: pool
    type: dynamic
    template:
      start: ["/bin/sleep", "1000"]
      restart: temporary
  - id: once
    start: ["/bin/sh", "-c", "exit 3"]
    restart: transient
    normal_exit: [0, 3]
"""


def tree_node(ctl, path):
    _, r = ctl.json("tree")
    return find_node(r["tree"], path)


def metrics(ctl):
    """{family name: (type, {path: value})}, parsed by prometheus_client."""
    rc, text, err = ctl.run("metrics")
    check(rc == 0, "supctl metrics: exit %d %s" % (rc, err.strip()))
    out = {}
    for fam in text_string_to_metric_families(text):
        samples = {}
        for s in fam.samples:
            check(set(s.labels) == {"path"}, "%s: the only label is path (%s)"
                  % (s.name, s.labels))
            samples[s.labels.get("path")] = s.value
        out[fam.name] = (fam.type, samples)
    return out


def test_signal(ctl, work):
    wait_or_fail(lambda: os.path.exists(os.path.join(work, "db-up")), "/web/db to trap SIGUSR1")
    rc, out, err = ctl.run("signal", "/web/db", "USR1")
    check(rc == 0 and "1 worker" in out, "signal /web/db USR1: %d %r %s" % (rc, out, err))
    wait_or_fail(lambda: os.path.exists(os.path.join(work, "db-usr1")), "db to get SIGUSR1")
    check(tree_node(ctl, "/web/db")["restarts"] == 0, "a trapped signal does not restart db")
    rc, out, _ = ctl.run("signal", "/web", "SIGUSR1")
    check(rc == 0 and "2 workers" in out, "signal /web: every running worker below (%r)" % out)
    rc, _, err = ctl.run("signal", "/web/nope", "HUP")
    check(rc == 1 and "not_found" in err, "signal to no such path: not_found")
    rc, _, err = ctl.run("signal", "/pool", "HUP")
    check(rc == 1 and "not_running" in err, "signal to an empty subtree: not_running")
    rc, _, err = ctl.run("signal", "/web/db", "SIGNOPE")
    check(rc == 1 and "bad_request" in err, "an unknown signal name: bad_request")
    rc, _, err = ctl.run("signal", "/web/db", "0")
    check(rc == 1 and "bad_request" in err, "signal 0: bad_request")


def test_restart_and_times(ctl):
    before = tree_node(ctl, "/web/cache")
    rc, out, err = ctl.run("restart", "/web/cache")
    after = tree_node(ctl, "/web/cache")
    check(rc == 0 and after["pid"] != before["pid"] and after["state"] == "running",
          "restart /web/cache: a new pid (%s -> %s) %s" % (before["pid"], after["pid"], err))
    check(after.get("last_exit") == {"signal": "SIGTERM"},
          "tree: last_exit of cache is its SIGTERM (%s)" % after.get("last_exit"))
    check(isinstance(after.get("uptime_ms"), int) and after["uptime_ms"] >= 0,
          "tree: a running worker has uptime_ms (%s)" % after.get("uptime_ms"))
    ctl.run("terminate-child", "/web/cache")
    stopped = tree_node(ctl, "/web/cache")
    check("uptime_ms" not in stopped, "tree: a stopped worker has no uptime_ms")
    rc, _, _ = ctl.run("restart", "/web", "cache")
    check(rc == 0 and tree_node(ctl, "/web/cache")["state"] == "running",
          "restart of a stopped child (SUP ID form) starts it")
    once = tree_node(ctl, "/once")
    check(once.get("last_exit") == {"code": 3}, "tree: last_exit {code: 3} (%s)"
          % once.get("last_exit"))
    ctl.run("start-child", "/pool")
    rc, _, err = ctl.run("restart", "/pool/1")
    check(rc == 1 and "not_supported" in err and tree_node(ctl, "/pool/1"),
          "restart of a dynamic child: not_supported, and it keeps running")


def test_metrics(ctl, wall_before):
    m = metrics(ctl)
    names = {"supd_child_up": "gauge", "supd_child_restarts": "counter",
             "supd_child_start_time_seconds": "gauge", "supd_child_last_exit_code": "gauge",
             "supd_supervisor_restarts": "gauge", "supd_supervisor_max_restarts": "gauge"}
    for name, kind in names.items():
        check(name in m and m[name][0] == kind, "family %s of type %s" % (name, kind))
    if not all(n in m for n in names):
        return
    up = m["supd_child_up"][1]
    check(up.get("/web/db") == 1 and up.get("/web") == 1 and up.get("/once") == 0,
          "supd_child_up: 1 running, 0 for the exited transient (%s)" % up)
    check("/" not in up, "the root is no child")
    restarts = m["supd_child_restarts"][1]
    check(restarts.get("/web/db") == 0, "supd_child_restarts_total of db is 0 (%s)" % restarts)
    last = m["supd_child_last_exit_code"][1]
    check(last.get("/once") == 3 and last.get("/web/cache") == 128 + signal.SIGTERM
          and "/web/db" not in last,
          "supd_child_last_exit_code: 3, 143, none for a worker that never exited (%s)" % last)
    start = m["supd_child_start_time_seconds"][1]
    now = time.time()
    check(all(wall_before - 1 <= start[p] <= now + 1 for p in ("/web/db", "/web/cache")),
          "supd_child_start_time_seconds are wall-clock times of this run (%s)" % start)
    check("/once" not in start, "no start time for a child that is not running")
    maxr = m["supd_supervisor_max_restarts"][1]
    check(maxr == {"/": 10, "/web": 7, "/pool": 3}, "supd_supervisor_max_restarts (%s)" % maxr)

    # A crash of db: one more restart in /web's window (cache died of the
    # SIGUSR1 sent to /web above: that was one already), and in db's counter.
    window = m["supd_supervisor_restarts"][1].get("/web")
    check(window == 1, "supd_supervisor_restarts of /web counts cache's crash (%s)" % window)
    pid = tree_node(ctl, "/web/db")["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_or_fail(lambda: tree_node(ctl, "/web/db")["pid"] not in (pid, None), "db's restart")
    m = metrics(ctl)
    check(m["supd_child_restarts"][1].get("/web/db") == 1,
          "after a crash supd_child_restarts_total of db is 1")
    check(m["supd_supervisor_restarts"][1].get("/web") == 2,
          "after a crash supd_supervisor_restarts of /web is 2 (%s)"
          % m["supd_supervisor_restarts"][1])
    check(m["supd_child_last_exit_code"][1].get("/web/db") == 128 + signal.SIGKILL,
          "supd_child_last_exit_code of db is 137")
    rc, out, _ = ctl.run("--json", "metrics")
    check(rc == 0 and json.loads(out)["metrics"].startswith("# HELP"),
          "op metrics: the text in the reply's \"metrics\"")


def main():
    supd, supctl = (os.path.abspath(a) for a in sys.argv[1:3])
    with tempfile.TemporaryDirectory(prefix="supd-operate-") as work:
        sock = os.path.join(work, "supd.sock")
        cfg = os.path.join(work, "supd.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(dir=work))
        wall_before = time.time()
        with open(os.path.join(work, "supd.log"), "wb") as log:
            proc = subprocess.Popen([supd, "-c", cfg, "-s", sock], stderr=log,
                                    start_new_session=True)
        ctl = Ctl(supctl, sock)
        try:
            if wait_or_fail(lambda: ctl.run("ping")[0] == 0, "supd to answer"):
                test_signal(ctl, work)
                test_restart_and_times(ctl)
                test_metrics(ctl, wall_before)
            rc, _, _ = ctl.run("stop")
            check(rc == 0 and proc.wait(timeout=DEADLINE) == 0, "supd stops cleanly")
        finally:
            kill_tree(proc)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
