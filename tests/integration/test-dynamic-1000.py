#!/usr/bin/env python3
"""test-dynamic-1000.py - a dynamic supervisor holding 1,000 real children.

Usage: test-dynamic-1000.py SUPD TESTCHILD

1,000 start_child requests pipelined on one connection; which_children and
count_children see them all; then an orderly shutdown stops them all at once:
every child ignores SIGTERM, so each needs its full shutdown time (1 s) and
SIGKILL, and the whole shutdown must take about one shutdown time, not the
sum of them. Prints TAP. Every wait has a deadline.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from tap import check, finish, kill_tree

N = 1000
SHUTDOWN_MS = 1000



def read_lines(sock, n, deadline):
    buf, out = b"", []
    while len(out) < n and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        out.extend(json.loads(line) for line in lines if line)
    return out


def main():
    supd, testchild = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="supd-dyn1000-")
    sock_path = os.path.join(work, "supd.sock")
    events_path = os.path.join(work, "events.jsonl")
    cfg = os.path.join(work, "supd.yaml")
    with open(cfg, "w") as f:
        f.write(f"""children:
  - id: pool
    type: dynamic
    max_children: {N}
    template:
      start: ["{testchild}", "ignore-term"]
      restart: temporary
      shutdown: {SHUTDOWN_MS}
""")
    proc = subprocess.Popen([supd, "-q", "-c", cfg, "-s", sock_path, "--events", events_path],
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock_path) and time.monotonic() < deadline:
            time.sleep(0.01)  # deadline wait for the socket to appear
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path)

        t0 = time.monotonic()
        s.sendall(b"".join(json.dumps({"op": "start_child", "sup": "/pool", "tag": i}).encode()
                           + b"\n" for i in range(N)))
        # A deadline against a hang, not a measure of speed (bench/ has
        # that): under ASan on a loaded 2-core machine 1,000 spawns took
        # about 60 s.
        replies = read_lines(s, N, time.monotonic() + 400)
        started = time.monotonic() - t0
        ok = [r for r in replies if r.get("ok")]
        check(len(ok) == N, f"{N} start_child pipelined on one connection ({started:.2f} s)")
        check([r["tag"] for r in replies] == list(range(N)), "replies in request order")
        check(sorted(int(r["id"]) for r in ok) == list(range(1, N + 1)), "ids 1..1000")

        s.sendall(b'{"op":"start_child","sup":"/pool"}\n')
        r = read_lines(s, 1, time.monotonic() + 10)
        check(r and r[0].get("error") == "max_children", "the 1001st: max_children")

        s.sendall(b'{"op":"which_children","sup":"/pool"}\n')
        r = read_lines(s, 1, time.monotonic() + 10)
        kids = r[0]["children"] if r else []
        check(len(kids) == N and all(k["state"] == "running" and k["pid"] for k in kids),
              "which_children lists 1000 running children")
        check([int(k["id"]) for k in kids] == list(range(N, 0, -1)), "newest first")
        pids = [k["pid"] for k in kids]

        # "Started" means exec'd; each child ignores SIGTERM a moment later.
        # Wait (with a deadline) until all of them do, or the ones still
        # starting would die of the stop signal on a loaded machine.
        def ignores_term(pid):
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("SigIgn:"):
                            return int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1))
            except OSError:
                pass
            return False
        deadline = time.monotonic() + 60
        waiting = list(pids)
        while waiting and time.monotonic() < deadline:
            waiting = [p for p in waiting if not ignores_term(p)]
            if waiting:
                time.sleep(0.01)  # a deadline wait for the children's own setup
        check(not waiting, "every child ignores SIGTERM")

        s.sendall(b'{"op":"count_children","sup":"/pool"}\n')
        r = read_lines(s, 1, time.monotonic() + 10)
        check(r and r[0]["specs"] == N and r[0]["active"] == N and r[0]["workers"] == N
              and r[0]["supervisors"] == 0, "count_children")
        s.close()

        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        status = proc.wait(timeout=300)
        took = time.monotonic() - t0
        check(status == 0, "supd exits 0")
        # One shutdown time at least; far less than N of them (a serial
        # stop would take N s). The exact figure is bench/'s, not a test's:
        # a loaded machine may add seconds. The event order below is the
        # precise check that the stop was parallel.
        check(SHUTDOWN_MS / 1000 <= took < 10 * SHUTDOWN_MS / 1000,
              f"all stopped in {took:.2f} s: about one shutdown time, not {N} of them")
        alive = [p for p in pids if os.path.exists(f"/proc/{p}")
                 and open(f"/proc/{p}/stat").read().split(") ")[1][0] != "Z"]
        check(not alive, "no child left alive")

        events = [json.loads(l) for l in open(events_path)]
        kinds = [(e["event"], e.get("signal")) for e in events if e["path"].startswith("/pool/")]
        first_exit = next(i for i, k in enumerate(kinds) if k[0] == "child_exited")
        sigterms = [i for i, k in enumerate(kinds) if k == ("child_stopping", "SIGTERM")]
        check(len(sigterms) == N and max(sigterms) < first_exit,
              "every child got its stop signal before any of them was gone (all at once)")
        check(sum(1 for e in events if e["event"] == "shutdown_timeout") == N,
              "each ran out its shutdown time and was SIGKILLed")
        check(events[-1]["event"] == "supd_exiting", "supd_exiting is last")
    finally:
        kill_tree(proc)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
