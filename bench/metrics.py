#!/usr/bin/env python3
"""bench/metrics.py - the cost of `metrics` on a large tree (SPEC 7.8).

Usage: bench/metrics.py SUPD [N]      (N children, default 10000)

Starts supd on a tree of a dynamic supervisor /pool filled with N sleeping
children by pipelined start_child requests, plus one permanent worker
/victim, with the metrics HTTP listener on 127.0.0.1. Then it measures:
  - the `metrics` op: time to the first byte of the reply (the work supd
    does on its loop before it can send anything: the walk, the text, the
    JSON line), reply time (request sent -> whole reply line read) and reply
    size, over 20 scrapes;
  - the same for GET /metrics over HTTP;
  - the restart latency of /victim (SIGKILL -> its child_started event read
    on a subscribed connection), 40 kills while nothing else happens, then 40
    kills while another connection scrapes `metrics` every 100 ms.
Prints medians and p90s, and the ratio of the restart latencies. Times are
taken by this observer (the event is read after supd wrote it), so they
include the client's own wake-up; compare the two restart columns with each
other, not with bench/run's stamp-based restart metric. Not part of
`meson test`: no thresholds here.
"""
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


class Lines:
    """Lines from a socket; a megabyte line costs the reader linear time
    (a bytearray, searched only where new bytes arrived)."""

    def __init__(self, sock):
        self.sock, self.buf = sock, bytearray()
        self.first_byte_at = None

    def next(self, timeout=30.0):
        self.sock.settimeout(timeout)
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 1]
                return line
            start = len(self.buf)
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError("supd closed the connection")
            if self.first_byte_at is None:
                self.first_byte_at = time.monotonic()
            self.buf += data


def call(sock, lines, req):
    lines.first_byte_at = None
    sock.sendall((json.dumps(req) + "\n").encode())
    while True:
        line = lines.next()
        msg = json.loads(line)
        if "ok" in msg:
            return msg, len(line) + 1


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def restart_latencies(sock_path, kills, scrape):
    """Kills /victim `kills` times; returns latencies in ms."""
    ev = connect(sock_path)
    evl = Lines(ev)
    call(ev, evl, {"op": "subscribe"})
    ctl = connect(sock_path)
    ctll = Lines(ctl)
    stop = threading.Event()
    scraper = None
    if scrape:
        def scrape_loop():
            s = connect(sock_path)
            sl = Lines(s)
            while not stop.is_set():
                call(s, sl, {"op": "metrics"})
                stop.wait(0.1)
            s.close()
        scraper = threading.Thread(target=scrape_loop)
        scraper.start()
    out = []
    try:
        for _ in range(kills):
            reply, _ = call(ctl, ctll, {"op": "tree", "path": "/victim"})
            pid = reply["tree"]["pid"]
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            while True:
                msg = json.loads(evl.next())
                if msg.get("event") == "child_started" and msg.get("path") == "/victim":
                    out.append((time.monotonic() - t0) * 1000)
                    break
            time.sleep(0.03)
    finally:
        stop.set()
        if scraper:
            scraper.join()
        ev.close()
        ctl.close()
    return out


def main():
    supd = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    with tempfile.TemporaryDirectory(prefix="supd-bench-metrics-") as work:
        sock_path = os.path.join(work, "supd.sock")
        cfg = os.path.join(work, "supd.yaml")
        # A free port for the listener (a bench may take the small race).
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        with open(cfg, "w") as f:
            f.write(f"""metrics:
  listen: "127.0.0.1:{port}"
max_restarts: 1000
max_seconds: 1
children:
  - id: victim
    start: ["/bin/sleep", "100000"]
  - id: pool
    type: dynamic
    max_children: {n}
    template:
      start: ["/bin/sleep", "100000"]
      restart: temporary
      shutdown: brutal_kill
""")
        proc = subprocess.Popen([supd, "-q", "-c", cfg, "-s", sock_path],
                                start_new_session=True)
        try:
            end = time.monotonic() + 10
            while not os.path.exists(sock_path) and time.monotonic() < end:
                time.sleep(0.01)
            s = connect(sock_path)
            lines = Lines(s)
            t0 = time.monotonic()
            batch = 500
            for i in range(0, n, batch):
                k = min(batch, n - i)
                s.sendall(b"".join(b'{"op":"start_child","sup":"/pool"}\n' for _ in range(k)))
                for _ in range(k):
                    lines.next(120)
            print(f"started {n} children in {time.monotonic() - t0:.1f} s")

            times, firsts, sizes = [], [], []
            for _ in range(20):
                t = time.monotonic()
                _, size = call(s, lines, {"op": "metrics"})
                times.append((time.monotonic() - t) * 1000)
                firsts.append((lines.first_byte_at - t) * 1000)
                sizes.append(size)
                time.sleep(0.05)
            print(f"metrics on {n + 1} children: first byte p50 {statistics.median(firsts):.1f} ms, "
                  f"p90 {pct(firsts, 0.9):.1f} ms; whole reply p50 {statistics.median(times):.1f} ms, "
                  f"p90 {pct(times, 0.9):.1f} ms, size {statistics.median(sizes) / 1024:.0f} KiB")
            times, firsts, sizes = [], [], []
            for _ in range(20):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                t = time.monotonic()
                conn.request("GET", "/metrics")
                resp = conn.getresponse()
                firsts.append((time.monotonic() - t) * 1000)
                body = resp.read()
                times.append((time.monotonic() - t) * 1000)
                sizes.append(len(body))
                conn.close()
                time.sleep(0.05)
            print(f"GET /metrics: headers p50 {statistics.median(firsts):.1f} ms, "
                  f"p90 {pct(firsts, 0.9):.1f} ms; whole reply p50 {statistics.median(times):.1f} ms, "
                  f"p90 {pct(times, 0.9):.1f} ms, size {statistics.median(sizes) / 1024:.0f} KiB")
            s.close()

            quiet = restart_latencies(sock_path, 40, scrape=False)
            busy = restart_latencies(sock_path, 40, scrape=True)
            q50, b50 = statistics.median(quiet), statistics.median(busy)
            print(f"restart of /victim, quiet: p50 {q50:.2f} ms, p90 {pct(quiet, 0.9):.2f} ms")
            print(f"restart of /victim, scraped every 100 ms: p50 {b50:.2f} ms, "
                  f"p90 {pct(busy, 0.9):.2f} ms ({b50 / q50:.2f}x quiet at p50)")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


if __name__ == "__main__":
    main()
