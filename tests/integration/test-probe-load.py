#!/usr/bin/env python3
"""test-probe-load.py - exec probes under load, beside orphans and kills.

Usage: test-probe-load.py SUPD SUPCTL

Exec probes are started by supd's probe spawner thread and reaped by the
loop's reaper (src/probe_spawner.c), so a probe can exit before the loop
has learnt its pid. This runs 20 workers with a health check every 20 ms
each (1,000 checks a second), every check leaving an orphan behind
(`sleep 0.05 &`), while a worker is SIGKILLed every 100 ms (its check in
flight is abandoned). A probe whose exit the reaper took for an orphan's
would never finish, time out after 1 s and make its worker unhealthy
(retries: 1): so after 30 kills there must be no child_unhealthy event, orphans
must have been reaped as orphans, every kill must have been restarted, and
supd must stop cleanly. Twice: as a normal process (a
subreaper) and as PID 1 (unshare). Prints TAP. Every wait has a deadline.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from tap import check, finish, kill_tree
from supdtest import DEADLINE, Ctl, ping, wait_for

# valgrind (the valgrind suite) runs supd some 50 times slower: a lighter
# load, the same checks (and its exit status 99 on an error or a definite
# leak fails "stops cleanly")
WRAPPER = os.environ.get("SUPD_WRAPPER")
WORKERS = 5 if WRAPPER else 20
INTERVAL = 100 if WRAPPER else 20
KILLS = 10 if WRAPPER else 30  # one every 100 ms: 3 s of checks at least
ORPHANS = 10 if WRAPPER else 100
TIMEOUT = 3000 if WRAPPER else 1000  # ms


def config(sock, events, checks):
    lines = ["control: {socket: %s}" % sock, "events: %s" % events,
             "max_restarts: 100000", "max_seconds: 1", "children:"]
    for i in range(WORKERS):
        lines += ["  - id: w%d" % i,
                  "    start: [/bin/sleep, \"1000\"]",
                  "    shutdown: brutal_kill",
                  "    health: {exec: [/bin/sh, -c, \"echo w%d >> %s; sleep 0.05 & exit 0\"], "
                  "interval: %d, timeout: %d, retries: 1}" % (i, checks, INTERVAL, TIMEOUT)]
    return "\n".join(lines) + "\n"


def events(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError:
        return []


def run(supd, supctl, pid1):
    where = " (PID 1)" if pid1 else ""
    work = tempfile.mkdtemp(prefix="supd-probe-load-")
    sock = os.path.join(work, "sock")
    evpath = os.path.join(work, "events")
    cfg = os.path.join(work, "supd.yaml")
    checks = os.path.join(work, "checks")
    with open(cfg, "w") as f:
        f.write(config(sock, evpath, checks))
    argv = [supd, "-q", "-c", cfg]
    if WRAPPER:
        argv = WRAPPER.replace("@DIR@", work).split() + argv
    if pid1:
        argv = ["unshare", "--pid", "--fork", "--mount-proc"] + argv
    with open(os.path.join(work, "stderr"), "wb") as err:
        proc = subprocess.Popen(argv, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    ctl = Ctl(supctl, sock)
    try:
        if not check(wait_for(lambda: ping(sock)), "supd%s answers" % where):
            return
        started = lambda: sum(1 for e in events(evpath) if e["event"] == "child_started")
        check(wait_for(lambda: started() >= WORKERS), "all %d workers start%s" % (WORKERS, where))
        kills = 0
        for k in range(KILLS):
            rc, _, _ = ctl.run("signal", "/w%d" % (k % WORKERS), "KILL")
            kills += rc == 0
            time.sleep(0.1)  # the pace of the kills, not a wait for supd
        check(kills >= KILLS // 2, "%d workers killed while their checks ran%s" % (kills, where))
        check(wait_for(lambda: started() >= WORKERS + kills),
              "every kill restarted (%d starts)%s" % (started(), where))
        evs = events(evpath)
        unhealthy = [e for e in evs if e["event"] == "child_unhealthy"]
        check(not unhealthy, "no check lost between the spawner and the reaper%s: %s"
              % (where, unhealthy[:2]))
        # A check whose exit went astray never finishes: its worker is
        # checked no more. Past the timeout, every worker's count grows.
        def counts():
            n = {}
            with open(checks) as f:
                for line in f:
                    n[line.strip()] = n.get(line.strip(), 0) + 1
            return n
        time.sleep(TIMEOUT / 1000 + 0.2)  # past a check's timeout: what is stuck stays stuck
        before = counts()
        stalled = lambda: [w for w in ("w%d" % i for i in range(WORKERS))
                           if counts().get(w, 0) <= before.get(w, 0)]
        wait_for(lambda: not stalled(), 5)
        check(not stalled(), "every worker is still being checked%s (stalled: %s)"
              % (where, stalled()))
        orphans = sum(1 for e in evs if e["event"] == "orphan_reaped")
        check(orphans > ORPHANS, "the checks' orphans reaped as orphans (%d)%s" % (orphans, where))
        rc, _, _ = ctl.run("stop")
        # a join of the spawner that hung would show here
        status = proc.wait(timeout=DEADLINE * 3)
        if not check(rc == 0 and status == 0,
                     "supd%s stops cleanly, checks in flight or not (%s)" % (where, status)):
            for name in sorted(os.listdir(work)):
                if name.startswith("vg."):
                    with open(os.path.join(work, name), errors="replace") as f:
                        for line in f:
                            print("# " + line.rstrip())
    finally:
        kill_tree(proc)


def main():
    supd, supctl = (os.path.abspath(a) for a in sys.argv[1:3])
    run(supd, supctl, pid1=False)
    run(supd, supctl, pid1=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
