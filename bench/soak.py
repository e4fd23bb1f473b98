"""soak.py - the `soak` metric of bench/harness.py (bench/README.md).

supd runs for a long time under churn and under client load, and its
resident memory and descriptor count must stay flat:

  phase `restarts`: a permanent worker that crashes at once (`stamp FILE
    exit`) is restarted SOAK_RESTARTS times (default 1,000,000);
  phase `cycles`: SOAK_CYCLES (default 100,000) start_child + terminate_child
    pairs on a dynamic supervisor, pipelined on one control connection.

During both phases 100 clients issue requests (ping, which_children,
count_children, tree, get_childspec; each client waits for its reply and
then SOAK_CLIENT_PAUSE_MS before the next one) and 10 clients are
subscribed to the event stream: 9 read everything, one never reads (supd
must drop it once SUPD_OUTPUT_MAX bytes wait for it, not grow). A sampler
reads VmRSS from /proc/PID/status and counts /proc/PID/fd once a second.

Reported: RSS and descriptors at the start (after a warm-up), at the end of
each phase, and their maximum; the restart and cycle rates; the clients'
request count and errors. Flat means: as many descriptors at the end as at
the start, and an end RSS within 5 % (or 256 KiB) of the start.

Environment: SOAK_RESTARTS, SOAK_CYCLES, SOAK_CLIENTS (100), SOAK_SUBSCRIBERS
(10), SOAK_CLIENT_PAUSE_MS (100), SOAK_WARMUP (10,000 restarts).
"""

import json
import os
import selectors
import socket
import threading
import time

# harness.py hands these over (it runs as __main__, so importing it here
# would make a second copy of its Skip class that its handler does not catch).
Skip = Exception
log = print

WINDOW = 64  # start/terminate pairs in flight on the cycle connection


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def proc_sample(pid):
    """(VmRSS in KiB, open descriptors) of pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration, ValueError):
        return None
    return rss, fds


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def request(path, obj, timeout=10):
    """One request on its own connection; returns the reply object."""
    with connect(path) as s:
        s.settimeout(timeout)
        s.sendall((json.dumps(obj) + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise Skip(f"supd closed the connection on {obj}")
            buf += chunk
    return json.loads(buf.split(b"\n", 1)[0])


class Load:
    """100 request clients and 10 subscribers, served by one thread."""

    REQUESTS = [
        {"op": "ping"},
        {"op": "which_children", "sup": "/pool"},
        {"op": "count_children", "sup": "/"},
        {"op": "tree"},
        {"op": "get_childspec", "sup": "/", "id": "crash"},
    ]

    def __init__(self, path, clients, subscribers, pause):
        self.path, self.pause = path, pause
        self.sel = selectors.DefaultSelector()
        self.stop_flag = threading.Event()
        self.requests = self.errors = self.event_lines = self.dropped = 0
        self.max_latency = 0.0
        self.lazy = None
        for i in range(subscribers):
            s = connect(path)
            s.sendall(b'{"op":"subscribe"}\n')
            if i == 0:
                self.lazy = s  # subscribed, never read
                continue
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, ["sub", b""])
        self.timers = []
        for i in range(clients):
            s = connect(path)
            s.setblocking(False)
            st = {"kind": "req", "buf": b"", "n": i, "sent": 0.0}
            self.sel.register(s, selectors.EVENT_READ, st)
            self.send(s, st)
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def send(self, s, st):
        req = self.REQUESTS[st["n"] % len(self.REQUESTS)]
        st["n"] += 1
        st["sent"] = time.monotonic()
        s.sendall((json.dumps(req) + "\n").encode())  # small: fits the socket buffer

    def loop(self):
        while not self.stop_flag.is_set():
            now = time.monotonic()
            due = [t for t in self.timers if t[0] <= now]
            self.timers = [t for t in self.timers if t[0] > now]
            for _, s, st in due:
                try:
                    self.send(s, st)
                except OSError:
                    self.errors += 1
            for key, _ in self.sel.select(timeout=0.01):
                s, st = key.fileobj, key.data
                try:
                    chunk = s.recv(1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self.sel.unregister(s)
                    s.close()
                    self.dropped += 1
                    continue
                if isinstance(st, list):  # a subscriber
                    self.event_lines += chunk.count(b"\n")
                    continue
                st["buf"] += chunk
                while b"\n" in st["buf"]:
                    line, st["buf"] = st["buf"].split(b"\n", 1)
                    if b'"event"' in line:
                        continue
                    self.requests += 1
                    if not json.loads(line).get("ok"):
                        self.errors += 1
                    self.max_latency = max(self.max_latency, time.monotonic() - st["sent"])
                    self.timers.append((time.monotonic() + self.pause, s, st))

    def close(self):
        self.stop_flag.set()
        self.thread.join(timeout=10)
        lazy_dropped = False
        if self.lazy is not None:
            # supd must have hung up on the subscriber that never read.
            self.lazy.setblocking(False)
            try:
                while self.lazy.recv(1 << 20):
                    pass
                lazy_dropped = True
            except BlockingIOError:
                lazy_dropped = False
            except OSError:
                lazy_dropped = True
            self.lazy.close()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()
        return lazy_dropped


class Sampler:
    def __init__(self, pid, interval=1.0):
        self.pid, self.interval = pid, interval
        self.phase = "setup"
        self.samples = []  # (t, phase, rss_kib, fds, progress)
        self.progress = lambda: 0
        self.stop_flag = threading.Event()
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def take(self):
        v = proc_sample(self.pid)
        if v:
            self.samples.append((round(time.monotonic() - self.t0, 2), self.phase, v[0], v[1],
                                 self.progress()))
        return v

    def loop(self):
        while not self.stop_flag.wait(self.interval):
            self.take()

    def close(self):
        self.stop_flag.set()
        self.thread.join()


def phase_restarts(bb, p, sampler, stamp, target, warmup):
    size = lambda: os.path.getsize(stamp) // 16 if os.path.exists(stamp) else 0  # noqa: E731
    sampler.progress = size
    sampler.phase = "warm-up"
    t_start = time.monotonic()
    last, last_t = 0, time.monotonic()
    while True:
        n = size()
        if sampler.phase == "warm-up" and n >= warmup:
            sampler.phase = "restarts"
            start = sampler.take()
            t_warm, n_warm = time.monotonic(), n
        if n > target:  # the first start is not a restart
            break
        if p.poll() is not None:
            raise Skip(f"supd exited ({p.returncode}) after {n} restarts")
        if n != last:
            last, last_t = n, time.monotonic()
        elif time.monotonic() - last_t > 30:
            raise Skip(f"no restart for 30 s after {n}")
        time.sleep(0.2)
    elapsed = time.monotonic() - t_start
    rate = (n - n_warm) / (time.monotonic() - t_warm) if n > n_warm else n / elapsed
    r = request(p.sock, {"op": "terminate_child", "sup": "/", "id": "crash"})
    if not r.get("ok"):
        raise Skip(f"terminate_child /crash: {r}")
    end = sampler.take()
    return dict(restarts=n - 1, seconds=elapsed, rate=rate, start=start, end=end)


def phase_cycles(bb, p, sampler, cycles):
    """start_child + terminate_child pairs, WINDOW pairs in flight."""
    done = [0]
    sampler.progress = lambda: done[0]
    sampler.phase = "cycles"
    start = sampler.take()
    s = connect(p.sock)
    s.settimeout(60)
    errors = []
    lock = threading.Condition()
    sent = [0]

    def reader():
        buf, replies = b"", 0
        while replies < 2 * cycles:
            chunk = s.recv(1 << 16)
            if not chunk:
                errors.append("supd closed the cycle connection")
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                replies += 1
                r = json.loads(line)
                if not r.get("ok") and len(errors) < 5:
                    errors.append(r)
                if replies % 2 == 0:
                    with lock:
                        done[0] = replies // 2
                        lock.notify()
        with lock:
            done[0] = max(done[0], replies // 2)
            lock.notify()

    t = threading.Thread(target=reader, daemon=True)
    t0 = time.monotonic()
    t.start()
    while sent[0] < cycles and not errors:
        with lock:
            while sent[0] - done[0] >= WINDOW and t.is_alive():
                lock.wait(1)
        if not t.is_alive():
            break
        batch = []
        for i in range(sent[0], min(cycles, done[0] + WINDOW)):
            cid = f"c{i}"
            batch.append(json.dumps({"op": "start_child", "sup": "/pool", "id": cid}))
            batch.append(json.dumps({"op": "terminate_child", "sup": "/pool", "id": cid}))
        sent[0] += len(batch) // 2
        s.sendall(("\n".join(batch) + "\n").encode())
    t.join(timeout=120)
    elapsed = time.monotonic() - t0
    s.close()
    end = sampler.take()
    return dict(cycles=done[0], seconds=elapsed, rate=done[0] / elapsed if elapsed else 0,
                start=start, end=end, errors=errors)


def flat_rss(start, end):
    return end <= max(start * 1.05, start + 256)


def metric_soak(bb, skip_class, log_fn):
    global Skip, log
    Skip, log = skip_class, log_fn
    restarts = env_int("SOAK_RESTARTS", 1_000_000)
    cycles = env_int("SOAK_CYCLES", 100_000)
    nclients = env_int("SOAK_CLIENTS", 100)
    nsubs = env_int("SOAK_SUBSCRIBERS", 10)
    pause = env_int("SOAK_CLIENT_PAUSE_MS", 100) / 1000
    warmup = min(env_int("SOAK_WARMUP", 10_000), max(restarts // 10, 1))
    stamp = bb.path("soak-crash.stamp")
    pool_stamp = bb.path("soak-pool.stamp")
    body = f"""max_restarts: 1000000
max_seconds: 1
children:
  - id: pool
    type: dynamic
    template:
      start: [{json.dumps(bb.b("stamp"))}, {json.dumps(pool_stamp)}, "hold"]
      restart: temporary
      shutdown: brutal_kill
  - id: crash
    start: [{json.dumps(bb.b("stamp"))}, {json.dumps(stamp)}, "exit"]
    restart: permanent
    shutdown: brutal_kill
"""
    res = {"params": dict(restarts=restarts, cycles=cycles, clients=nclients,
                          subscribers=nsubs, client_pause_ms=pause * 1000, warmup=warmup)}
    bb.data["soak"] = res
    p = bb.start_supd("soak-supd", body)
    sampler = load = None
    try:
        sampler = Sampler(p.pid)
        first = sampler.take()
        load = Load(p.sock, nclients, nsubs, pause)
        log(f"soak: {nclients} clients, {nsubs} subscribers; {restarts} restarts of a "
            f"crashing worker")
        res["restarts"] = phase_restarts(bb, p, sampler, stamp, restarts, warmup)
        log(f"soak: {res['restarts']['restarts']} restarts in "
            f"{res['restarts']['seconds']:.0f} s; {cycles} start/stop cycles")
        res["cycles"] = phase_cycles(bb, p, sampler, cycles)
        log(f"soak: {res['cycles']['cycles']} cycles in {res['cycles']['seconds']:.0f} s")
        sampler.phase = "end"
        time.sleep(1.0)
        res["end"] = sampler.take()
        res["ping"] = request(p.sock, {"op": "ping"}).get("ok", False)
        res["first"] = first
    finally:
        if load is not None:
            res["lazy_subscriber_dropped"] = load.close()
            res["load"] = dict(requests=load.requests, errors=load.errors,
                               max_latency_ms=round(load.max_latency * 1000, 1),
                               event_lines=load.event_lines, dropped=load.dropped)
        if sampler is not None:
            sampler.close()
            res["samples"] = sampler.samples
        bb.stop(p)
    report(bb, res)


def report(bb, res):
    samples = res.get("samples", [])
    ra, cy = res.get("restarts"), res.get("cycles")
    if not ra or not cy:
        bb.skip_row("soak", "supd", "whole metric", "not finished")
        return
    start = ra["start"]
    end = res["end"]
    steady = [s for s in samples if s[1] in ("restarts", "cycles", "end")]
    max_rss = max(s[2] for s in steady) if steady else end[0]
    max_fds = max(s[3] for s in steady) if steady else end[1]
    load = res.get("load", {})
    bb.row("soak", "supd", "crashing worker restarts", ra["restarts"], "",
           note=f"{ra['rate']:,.0f}/s, {ra['seconds']:.0f} s")
    bb.row("soak", "supd", "start/stop cycles (pipelined)", cy["cycles"], "",
           note=f"{cy['rate']:,.0f}/s, {cy['seconds']:.0f} s, errors {len(cy['errors'])}")
    for name, i, unit in [("RSS", 0, "KiB"), ("descriptors", 1, "")]:
        mx = max_rss if i == 0 else max_fds
        met = flat_rss(start[i], end[i]) if i == 0 else end[i] <= start[i]
        bb.row("soak", "supd", f"{name} at the end", end[i], unit, target="flat", met=met,
               note=f"start {start[i]:,}, after restarts {ra['end'][i]:,}, end {end[i]:,}, "
                    f"max {mx:,} (first sample {res['first'][i]:,})")
    bb.row("soak", "supd", "client requests during the soak", load.get("requests", 0), "",
           note=f"errors {load.get('errors')}, max latency {load.get('max_latency_ms')} ms, "
                f"{load.get('event_lines', 0):,} event lines to readers, "
                f"non-reading subscriber dropped: {res.get('lazy_subscriber_dropped')}, "
                f"ping at end: {res.get('ping')}")
