#!/usr/bin/env python3
"""bench/reload.py - the cost of a reload on a large tree (SPEC 7.5).

Usage: bench/reload.py SUPD [N] [ROUNDS]   (N workers, default 1000; 10 rounds)

Starts supd on a file whose root has N static workers (/w1 ... /wN, each a
sleeping /bin/sleep), waits until all of them run, and records their pids.
Then, ROUNDS times, it rewrites the file with one worker changed (a
different argument for /w(N/2)), sends the `reload` op and measures the time
from the request to its reply (the reply comes after every supervisor has
applied its part, after the `reloaded` event). After each round it checks,
with `tree`, that the N-1 other workers kept their pids and the changed one
has a new pid, and that the reply named exactly that child as changed.
Also times a reload of the unchanged file (the load, check and diff alone).
Prints medians and p90s. Not part of `meson test`: no thresholds here.
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


class Lines:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def next(self, timeout=120.0):
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError("supd closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line


def call(sock, lines, req):
    sock.sendall((json.dumps(req) + "\n").encode())
    while True:
        msg = json.loads(lines.next())
        if "ok" in msg:
            return msg


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def write_config(path, n, changed, arg):
    with open(path + ".new", "w") as f:
        f.write("max_restarts: 10\nmax_seconds: 60\nchildren:\n")
        for i in range(1, n + 1):
            a = arg if i == changed else 100000
            f.write(f"  - id: w{i}\n    start: [/bin/sleep, \"{a}\"]\n    shutdown: 2000\n")
    os.rename(path + ".new", path)


def worker_pids(sock, lines):
    reply = call(sock, lines, {"op": "tree"})
    return {k["id"]: (k.get("pid"), k.get("state")) for k in reply["tree"]["children"]}


def main():
    supd = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    changed = max(1, n // 2)
    with tempfile.TemporaryDirectory(prefix="supd-bench-reload-") as work:
        cfg = os.path.join(work, "supd.yaml")
        sock_path = os.path.join(work, "supd.sock")
        write_config(cfg, n, changed, 100000)
        t0 = time.monotonic()
        proc = subprocess.Popen([supd, "-q", "-c", cfg, "-s", sock_path],
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 600
            sock = None
            while sock is None and time.monotonic() < deadline:
                try:
                    sock = connect(sock_path)
                except OSError:
                    time.sleep(0.05)  # waiting for the socket, with a deadline
            lines = Lines(sock)
            while time.monotonic() < deadline:
                pids = worker_pids(sock, lines)
                if len(pids) == n and all(st == "running" for _, st in pids.values()):
                    break
                time.sleep(0.2)  # polling the tree, with a deadline
            print(f"started {n} workers in {time.monotonic() - t0:.1f} s")

            same = []
            for _ in range(rounds):
                t = time.monotonic()
                reply = call(sock, lines, {"op": "reload"})
                same.append((time.monotonic() - t) * 1000)
                assert reply["ok"] and reply["supervisors"] == [], reply

            times, kept = [], []
            before = worker_pids(sock, lines)
            for r in range(rounds):
                write_config(cfg, n, changed, 200000 + r)
                t = time.monotonic()
                reply = call(sock, lines, {"op": "reload"})
                times.append((time.monotonic() - t) * 1000)
                assert reply["ok"], reply
                sups = reply["supervisors"]
                assert len(sups) == 1 and sups[0]["changed"] == [f"w{changed}"] \
                    and sups[0]["added"] == [] and sups[0]["removed"] == [], sups
                after = worker_pids(sock, lines)
                unchanged = sum(1 for k, v in after.items()
                                if k != f"w{changed}" and v == before[k])
                assert after[f"w{changed}"][0] not in (None, before[f"w{changed}"][0])
                assert after[f"w{changed}"][1] == "running"
                kept.append(unchanged)
                before = after
            print(f"reload of {n} workers, nothing changed: p50 {statistics.median(same):.1f} ms,"
                  f" p90 {pct(same, 90):.1f} ms ({rounds} rounds)")
            print(f"reload of {n} workers, one changed: p50 {statistics.median(times):.1f} ms,"
                  f" p90 {pct(times, 90):.1f} ms, min {min(times):.1f} ms ({rounds} rounds)")
            print(f"pids unchanged after each round: {min(kept)} to {max(kept)} of {n - 1}"
                  f" (the changed worker had a new pid every time)")
            call(sock, lines, {"op": "stop"})
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
