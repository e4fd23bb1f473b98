#!/usr/bin/python3
"""harness.py - runs the supd benchmark metrics and writes the report.

Started by bench/run inside a fresh PID namespace whose init is the raw
reaper (bench/baseline/reaper.c), so every process a benchmark starts dies
with the namespace even if this script is killed. Between measurements it
also stops everything it started itself (SIGTERM, then SIGKILL of whatever
is left in the namespace), so one subject never runs next to another one by
accident.

Timed work is done by the C programs next to it (supbench, the baselines,
the stamp child); this script starts the subjects, hands them to supbench,
reads /proc, aggregates medians and percentiles, and prints the table and
bench/results/RESULTS.md. It imports nothing outside the standard library.
"""

import argparse
import calendar
import datetime
import json
import os
import platform
import shutil
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

REC = struct.Struct("<qiHH")
START, TERM, T0, ARMED, RELEASE = 1, 2, 3, 4, 5
MS = 1_000_000

METRICS = ["restart", "spawn", "memory", "idle", "shutdown", "orphans", "control", "output"]
# Run only when named (`bench/run soak`): they take far longer than the rest.
EXTRA_METRICS = ["soak"]


class Skip(Exception):
    """A measurement that cannot be taken; the message says why."""


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def pct(values, p):
    """Nearest-rank percentile (the same rule as supbench)."""
    if not values:
        return None
    s = sorted(values)
    i = int(p * (len(s) - 1) + 0.5)
    return s[min(i, len(s) - 1)]


def median(values):
    return statistics.median(values) if values else None


def read_stamps(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    n = len(data) // REC.size
    return [REC.unpack_from(data, i * REC.size) for i in range(n)]


def wait_stamps(path, count, timeout, kind=START):
    """Waits until `count` records of `kind` exist; returns them or raises Skip."""
    deadline = time.monotonic() + timeout
    while True:
        recs = [r for r in read_stamps(path) if r[2] == kind]
        if len(recs) >= count:
            return recs
        if time.monotonic() > deadline:
            raise Skip(f"only {len(recs)} of {count} children started within {timeout:g} s")
        time.sleep(0.01)


# ---------------------------------------------------------------- processes


def proc_children_map():
    """ppid -> [pid] for every process visible in /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append(int(d))
    return kids


def ppid_map():
    return {c: parent for parent, cs in proc_children_map().items() for c in cs}


def descendants(pid, kids=None):
    kids = kids if kids is not None else proc_children_map()
    out, pending = [], [pid]
    while pending:
        for c in kids.get(pending.pop(), []):
            out.append(c)
            pending.append(c)
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rfind(")") + 2]
    except OSError:
        return None


class Bench:
    def __init__(self, args):
        self.bin = args.bin
        self.supd = args.supd
        self.quick = args.quick
        self.run_id = args.run_id
        self.work = args.work or tempfile.mkdtemp(prefix="supd-bench.")
        self.procs = []
        self.rows = []
        self.data = {}
        self.notes = []
        self.seq = 0
        self.in_ns = os.getpid() == 2 and os.path.realpath("/proc/1/exe") == os.path.join(
            self.bin, "reaper")
        if self.in_ns:
            # A private tmpfs, gone with the namespace: service directories
            # and stamp files live in memory as they would under /run.
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1g,mode=0700", "supd-bench",
                            self.work], check=False)
        self.supd_ok, self.supd_why = self.check_supd()
        self.cgroot = self.find_pids_cgroup()

    # ---- bookkeeping

    def path(self, name):
        self.seq += 1
        return os.path.join(self.work, f"{self.seq:03d}-{name}")

    def b(self, name):
        return os.path.join(self.bin, name)

    def row(self, metric, subject, what, value, unit="", ratio=None, target=None, met=None,
            note=""):
        self.rows.append(dict(metric=metric, subject=subject, what=what, value=value, unit=unit,
                              ratio=ratio, target=target, met=met, note=note))

    def skip_row(self, metric, subject, what, why, target=None):
        self.rows.append(dict(metric=metric, subject=subject, what=what, value=None, unit="",
                              ratio=None, target=target, met=None, note=why))

    # ---- starting and stopping subjects

    def spawn(self, argv, name, env=None, cwd=None):
        logf = open(self.path(name + ".log"), "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                             env=full_env, cwd=cwd, start_new_session=True)
        p.logpath = logf.name
        logf.close()
        self.procs.append(p)
        return p

    def run(self, argv, timeout, name):
        """Runs a driver to completion; returns stdout or raises Skip."""
        errpath = self.path(name + ".err")
        with open(errpath, "wb") as err:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=err)
            self.procs.append(p)
            try:
                out, _ = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise Skip(f"{os.path.basename(argv[0])} {argv[1] if len(argv) > 1 else ''}"
                           f" timed out after {timeout} s")
            finally:
                self.procs.remove(p)
        if p.returncode != 0:
            with open(errpath, errors="replace") as f:
                tail = f.read().strip().splitlines()[-1:] or [f"exit {p.returncode}"]
            raise Skip(f"{os.path.basename(argv[0])} failed: {tail[0]}")
        return out.decode()

    def stop(self, p, sig=signal.SIGTERM, timeout=5.0):
        """Stops one subject and every process below it, and nothing else
        (other subjects may still be running side by side)."""
        tree = set(descendants(p.pid))
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for _ in range(250):
            parents = ppid_map()
            # After the subject is gone its leftovers are re-parented to
            # PID 1: a pid re-used by another subject's child has another parent.
            alive = [v for v in tree if parents.get(v) in tree | {1, p.pid}
                     and proc_state(v) not in (None, "Z")]
            for v in alive:
                tree.update(descendants(v))
                try:
                    os.kill(v, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not alive:
                break
            time.sleep(0.02)
        if p in self.procs:
            self.procs.remove(p)

    def sweep(self):
        """Kills every process this harness started that is still there."""
        me = os.getpid()
        for _ in range(100):
            if self.in_ns:
                victims = [int(d) for d in os.listdir("/proc")
                           if d.isdigit() and int(d) not in (1, me)]
            else:
                victims = descendants(me)
            victims = [v for v in victims if proc_state(v) not in (None, "Z")]
            for v in victims:
                try:
                    os.kill(v, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for p in list(self.procs):
                if p.poll() is not None or not victims:
                    try:
                        p.wait(timeout=0.05)
                    except subprocess.TimeoutExpired:
                        continue
                    self.procs.remove(p)
            if not victims:
                break
            time.sleep(0.02)
        for p in list(self.procs):
            p.kill()
            p.wait()
            self.procs.remove(p)

    def cleanup(self):
        self.sweep()
        if self.work is None:
            return
        if self.in_ns:
            subprocess.run(["umount", "-l", self.work], check=False)
        shutil.rmtree(self.work, ignore_errors=True)
        self.work = None

    # ---- supd

    def check_supd(self):
        if not self.supd or not os.access(self.supd, os.X_OK):
            return False, "supd not built (see bench/.build.log)"
        try:
            r = subprocess.run([self.supd, "--version"], capture_output=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, f"supd --version failed ({e})"
        if r.returncode != 0:
            return False, f"supd --version failed (exit {r.returncode})"
        lines = r.stdout.decode(errors="replace").strip().splitlines()
        return True, lines[0] if lines else "supd"

    def supd_config(self, name, body, sock=True):
        """Writes a supd config; returns (config path, socket path)."""
        cfg = self.path(name + ".yaml")
        sockpath = self.path(name + ".sock")
        text = ""
        if sock:
            text += f"control:\n  socket: {json.dumps(sockpath)}\n  max_clients: 256\n"
        text += body
        with open(cfg, "w") as f:
            f.write(text)
        return cfg, sockpath

    def start_supd(self, name, body, wait_socket=True, argv_prefix=()):
        if not self.supd_ok:
            raise Skip(f"supd not available: {self.supd_why}")
        cfg, sockpath = self.supd_config(name, body)
        events = self.path(name + ".events.jsonl")
        p = self.spawn(list(argv_prefix) + [self.supd, "-c", cfg, "--events", events], name)
        if wait_socket:
            r = subprocess.run([self.b("supbench"), "waitsock", sockpath, "5000"])
            if r.returncode != 0:
                why = self.log_tail(p)
                self.stop(p, signal.SIGKILL)
                raise Skip("supd not available: control socket never appeared"
                           + (f" ({why})" if why else ""))
        p.sock = sockpath
        return p

    def log_tail(self, p):
        try:
            with open(p.logpath, errors="replace") as f:
                lines = f.read().strip().splitlines()
            return lines[-1][:120] if lines else ""
        except OSError:
            return ""

    # ---- peers (each at its fastest legitimate setting, see README.md)

    def service_dirs(self, kind, n, stamp):
        top = self.path(kind)
        os.mkdir(top)
        for i in range(n):
            d = os.path.join(top, f"svc{i}")
            os.mkdir(d)
            os.symlink(self.b("stamp"), os.path.join(d, "run"))
        return top

    def start_s6(self, n, stamp):
        scan = self.service_dirs("s6", n, stamp)
        p = self.spawn(["s6-svscan", "-c", str(max(n + 10, 1000)), scan], "s6-svscan",
                       env={"STAMP_FILE": stamp, "STAMP_MODE": "hold"})
        p.members = lambda: [p.pid] + [c for c in descendants(p.pid)
                                       if comm(c) == "s6-supervise"]
        return p

    def start_runit(self, n, stamp):
        sv = self.service_dirs("runit", n, stamp)
        p = self.spawn(["runsvdir", "-P", sv], "runsvdir",
                       env={"STAMP_FILE": stamp, "STAMP_MODE": "hold"})
        p.members = lambda: [p.pid] + [c for c in descendants(p.pid) if comm(c) == "runsv"]
        return p

    def start_supervisord(self, n, stamp, mode="hold", extra=""):
        conf = self.path("supervisord.conf")
        with open(conf, "w") as f:
            f.write(f"""[supervisord]
nodaemon=true
user=root
logfile={self.work}/supervisord-{self.seq}.log
pidfile={self.work}/supervisord-{self.seq}.pid
childlogdir={self.work}
loglevel=warn

[program:stamp]
command={self.b("stamp")} {stamp} {mode}
process_name=%(program_name)s_%(process_num)d
numprocs={n}
autostart=true
autorestart=true
startsecs=0
startretries=1000000
stdout_logfile=NONE
stderr_logfile=NONE
{extra}""")
        p = self.spawn(["supervisord", "-n", "-c", conf], "supervisord")
        p.members = lambda: [p.pid]
        return p

    def start_tini_loop(self, stamp):
        loop = f"while :; do {self.b('stamp')} {stamp} hold; done"
        p = self.spawn(["tini", "-s", "--", "sh", "-c", loop], "tini")
        p.members = lambda: [p.pid]
        return p

    def start_tini_hold(self, n, stamp):
        script = (f"i=0; while [ $i -lt {n} ]; do {self.b('stamp')} {stamp} hold & "
                  f"i=$((i+1)); done; wait")
        p = self.spawn(["tini", "-s", "--", "sh", "-c", script], "tini")
        p.members = lambda: [p.pid]
        return p

    def start_erlang(self, n, stamp):
        """OTP 25 supervisor (one_for_one, permanent, brutal_kill) of n workers
        that each own a port running the stamp child (bench/erlsup.escript)."""
        if not shutil.which("escript"):
            raise Skip("erlang-base not installed")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "erlsup.escript")
        p = self.spawn(["escript", script, self.b("stamp"), stamp, str(n)], "erlang")
        p.members = lambda: [p.pid] + [c for c in descendants(p.pid)
                                       if comm(c) == "erl_child_setup"]
        return p

    def start_raw(self, n, stamp, mode="hold"):
        p = self.spawn([self.b("respawn"), "-n", str(n), "--", self.b("stamp"), stamp, mode],
                       "respawn")
        p.members = lambda: [p.pid]
        return p

    def find_pids_cgroup(self):
        for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
            if os.path.exists(os.path.join(root, "pids.max")) or (
                    root == "/sys/fs/cgroup/pids" and os.path.isdir(root)
                    and os.path.exists(os.path.join(root, "cgroup.procs"))):
                return root
            ctl = os.path.join(root, "cgroup.controllers")
            if os.path.exists(ctl):
                with open(ctl) as f:
                    if "pids" in f.read().split():
                        return root
        return None


# ------------------------------------------------------------- /proc reading


def smaps(pid):
    """(PSS, USS) in bytes from /proc/PID/smaps_rollup."""
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[0].endswith(":"):
                vals[parts[0][:-1]] = int(parts[1]) * 1024
    return vals.get("Pss", 0), vals.get("Private_Clean", 0) + vals.get("Private_Dirty", 0)


def ctx_switches(pids):
    """Sum of voluntary + nonvoluntary context switches over every thread."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches",
                                            "nonvoluntary_ctxt_switches")):
                            total += int(line.split()[1])
            except OSError:
                pass
    return total


def group_memory(pids):
    pss = uss = 0
    for pid in pids:
        try:
            a, b = smaps(pid)
        except OSError:
            continue
        pss += a
        uss += b
    return pss, uss


# ------------------------------------------------------------------ metrics


def metric_restart(bb):
    """SIGKILL the running child, time until the replacement stamps itself."""
    rounds = 1 if bb.quick else 3
    kills = 40 if bb.quick else 100
    slow_kills = 10 if bb.quick else 30
    samples = {}

    def measure(subject, starter, count, min_uptime, gap):
        stamp = bb.path(f"restart-{subject}.stamp")
        try:
            p = starter(stamp)
        except Skip as e:
            samples.setdefault(subject, {})["skip"] = str(e)
            return None
        drv = subprocess.Popen([bb.b("supbench"), "restart", stamp, str(count), str(min_uptime),
                                str(gap)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return (subject, p, drv)

    def collect(handle, timeout):
        subject, p, drv = handle
        try:
            out, err = drv.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            drv.kill()
            out, err = drv.communicate()
        bb.stop(p)
        entry = samples.setdefault(subject, {"ns": []})
        if drv.returncode != 0:
            entry["skip"] = (err.decode(errors="replace").strip().splitlines() or ["failed"])[-1]
        entry.setdefault("ns", []).extend(int(x) for x in out.split())

    supd_body = f"""max_restarts: 100000
max_seconds: 1
children:
  - id: w
    start: [{json.dumps(bb.b("stamp"))}, "STAMP", "hold"]
    restart: permanent
    shutdown: brutal_kill
"""

    def start_supd(stamp):
        p = bb.start_supd("restart-supd", supd_body.replace("STAMP", stamp), wait_socket=False)
        try:
            wait_stamps(stamp, 1, 5)
        except Skip:
            why = bb.log_tail(p)
            bb.stop(p, signal.SIGKILL)
            raise Skip("supd not available: its child never started"
                       + (f" ({why})" if why else ""))
        return p

    def start_erlang(stamp):
        p = bb.start_erlang(1, stamp)
        try:
            wait_stamps(stamp, 1, 20)
        except Skip:
            bb.stop(p, signal.SIGKILL)
            raise
        return p

    fast = [("raw", lambda s: bb.start_raw(1, s)), ("supd", start_supd),
            ("tini+sh", bb.start_tini_loop), ("erlang", start_erlang)]
    for r in range(rounds):
        for subject, starter in fast:
            if "skip" in samples.get(subject, {}):
                continue
            log(f"restart: {subject} round {r + 1}/{rounds} ({kills} kills)")
            h = measure(subject, starter, kills, 0, 3)
            if h:
                collect(h, 120)
    # The peers with a built-in one-second floor are measured side by side
    # (their kills are a second apart, so they practically never overlap).
    log(f"restart: s6, runit, supervisord side by side ({slow_kills} kills each, ~1 s apart)")
    # s6-supervise 2.11 waits 1 s after every death whatever the uptime;
    # runsv waits 1 s only when the service ran for less than 1 s.
    handles = [measure("s6", lambda s: bb.start_s6(1, s), slow_kills, 0, 3),
               measure("runit", lambda s: bb.start_runit(1, s), slow_kills, 1050, 3)]
    handles.append(measure("supervisord", lambda s: bb.start_supervisord(1, s), slow_kills, 0,
                           300))
    for h in handles:
        if h:
            collect(h, 30 + slow_kills * 3)

    raw = samples.get("raw", {}).get("ns", [])
    raw_p50, raw_p99 = pct(raw, 0.5), pct(raw, 0.99)
    bb.data["restart"] = {k: v.get("ns", []) for k, v in samples.items()}
    for subject in ["raw", "supd", "s6", "runit", "supervisord", "tini+sh", "erlang"]:
        entry = samples.get(subject, {})
        ns = entry.get("ns", [])
        if not ns:
            why = entry.get("skip", "not measured")
            if subject == "supd":
                bb.skip_row("restart", subject, "p50", why, target="<= 1.10x raw")
                bb.skip_row("restart", subject, "p99", why, target="<= 2x raw")
            else:
                bb.skip_row("restart", subject, "restart latency", why)
            continue
        p50, p90, p99, mx = (pct(ns, q) for q in (0.5, 0.9, 0.99, 1.0))
        note = f"p90 {p90 / 1e3:.0f} us, max {mx / 1e3:.0f} us, n={len(ns)}"
        if entry.get("skip"):
            note += f"; stopped early: {entry['skip']}"
        target50 = target99 = met50 = met99 = None
        if subject == "supd":
            target50, target99 = "<= 1.10x raw", "<= 2x raw"
            met50 = raw_p50 is not None and p50 <= 1.10 * raw_p50
            met99 = raw_p99 is not None and p99 <= 2.0 * raw_p99
        bb.row("restart", subject, "p50", p50 / 1e3, "us",
               ratio=p50 / raw_p50 if raw_p50 else None, target=target50, met=met50, note=note)
        bb.row("restart", subject, "p99", p99 / 1e3, "us",
               ratio=p99 / raw_p99 if raw_p99 else None, target=target99, met=met99)


def metric_spawn(bb):
    """N children started as fast as possible; time until all N have stamped."""
    sizes = [500, 2000] if bb.quick else [500, 2000, 10000]
    reps = 1 if bb.quick else 3
    results = {}

    def raw_once(n):
        stamp = bb.path(f"spawn-raw-{n}.stamp")
        p = bb.spawn([bb.b("spawnloop"), stamp, str(n), "--", bb.b("stamp"), stamp, "hold"],
                     "spawnloop")
        try:
            recs = wait_stamps(stamp, n, 60)
        finally:
            bb.stop(p)
        t0 = [r[0] for r in read_stamps(stamp) if r[2] == T0]
        if not t0:
            raise Skip("spawnloop wrote no T0 record")
        return max(r[0] for r in recs) - t0[0]

    def supd_once(n, clients):
        stamp = bb.path(f"spawn-supd-{n}.stamp")
        p = bb.start_supd("spawn-supd", pool_body(bb, stamp))
        try:
            out = bb.run([bb.b("supbench"), "spawn", p.sock, "/pool", stamp, str(n),
                          str(clients)], 120, "supbench-spawn")
        finally:
            bb.stop(p)
        return int(out.split()[0])

    for n in sizes:
        for subject, fn in [("raw", lambda n=n: raw_once(n)),
                            ("supd 1 conn", lambda n=n: supd_once(n, 1)),
                            ("supd 8 conns", lambda n=n: supd_once(n, 8))]:
            key = (subject, n)
            for r in range(reps):
                if "skip" in results.get(key, {}):
                    break
                log(f"spawn: {subject} N={n} run {r + 1}/{reps}")
                try:
                    results.setdefault(key, {"ns": []})["ns"].append(fn())
                except Skip as e:
                    results.setdefault(key, {})["skip"] = str(e)
                    if subject.startswith("supd") and not bb.supd_ok:
                        for m in sizes:
                            results[(subject, m)] = {"skip": str(e)}
    bb.data["spawn"] = {f"{k[0]}/{k[1]}": v.get("ns", []) for k, v in results.items()}
    for n in sizes:
        raw = median(results.get(("raw", n), {}).get("ns", []))
        for subject in ["raw", "supd 1 conn", "supd 8 conns"]:
            entry = results.get((subject, n), {})
            ns = entry.get("ns", [])
            if not ns:
                bb.skip_row("spawn", subject, f"N={n} all running",
                            entry.get("skip", "not measured"),
                            target=">= 0.90x raw" if subject != "raw" and n == 2000 else None)
                continue
            t = median(ns)
            rate = n / (t / 1e9)
            ratio = (raw / t) if raw else None
            target = met = None
            if subject.startswith("supd") and n == 2000:
                target, met = ">= 0.90x raw", ratio is not None and ratio >= 0.90
            bb.row("spawn", subject, f"N={n} all running", t / 1e6, "ms", ratio=ratio,
                   target=target, met=met,
                   note=f"{rate:.0f} children/s; median of {len(ns)}, "
                   f"range {min(ns) / 1e6:.0f}-{max(ns) / 1e6:.0f} ms")


def pool_body(bb, stamp, shutdown="brutal_kill"):
    return f"""max_restarts: 100000
max_seconds: 1
children:
  - id: pool
    type: dynamic
    max_restarts: 100000
    max_seconds: 1
    template:
      start: [{json.dumps(bb.b("stamp"))}, {json.dumps(stamp)}, "hold"]
      restart: temporary
      shutdown: {shutdown}
"""


def settle_pss(pids_fn, seconds=0.5):
    time.sleep(seconds)
    return group_memory(pids_fn())


def metric_memory(bb):
    """PSS and USS of the supervisor with 1 .. N children."""
    mem = {}
    supd_sizes = [1, 1000] if bb.quick else [1, 1000, 10000]
    for n in supd_sizes:
        log(f"memory: supd with {n} children")
        stamp = bb.path(f"mem-supd-{n}.stamp")
        try:
            p = bb.start_supd("mem-supd", pool_body(bb, stamp))
            try:
                bb.run([bb.b("supbench"), "spawn", p.sock, "/pool", stamp, str(n), "1"], 120,
                       "supbench-spawn")
                mem[("supd", n)] = settle_pss(lambda: [p.pid])
            finally:
                bb.stop(p)
        except Skip as e:
            mem[("supd", n)] = str(e)
    for n in supd_sizes:
        log(f"memory: raw respawner with {n} children")
        stamp = bb.path(f"mem-raw-{n}.stamp")
        p = bb.start_raw(n, stamp)
        try:
            wait_stamps(stamp, n, 60)
            mem[("raw", n)] = settle_pss(p.members)
        except Skip as e:
            mem[("raw", n)] = str(e)
        bb.stop(p)
    # s6 and runit run one supervisor process per service, so 100 services
    # show their (linear) cost; supervisord and the Erlang VM keep every
    # service in one process, whose per-child cost is small next to the noise
    # of a garbage-collected heap, so they get 1,000.
    peer_sizes = {"s6": 100, "runit": 100, "supervisord": 1000, "erlang": 1000}
    peers = [("s6", bb.start_s6), ("runit", bb.start_runit),
             ("supervisord", bb.start_supervisord), ("erlang", bb.start_erlang)]
    for big in (False, True):
        log("memory: s6, runit, supervisord, erlang with " +
            (", ".join(f"{peer_sizes[name]}" for name, _ in peers) if big else "1") +
            " services")
        running = []
        for name, starter in peers:
            n = peer_sizes[name] if big else 1
            stamp = bb.path(f"mem-{name}-{n}.stamp")
            try:
                running.append((name, n, starter(n, stamp), stamp))
            except Skip as e:
                mem[(name, n)] = str(e)
        for name, n, p, stamp in running:
            try:
                wait_stamps(stamp, n, 60)
                mem[(name, n)] = settle_pss(p.members, 0.2)
            except Skip as e:
                mem[(name, n)] = str(e)
        for name, n, p, stamp in running:
            bb.stop(p)
    bb.data["memory"] = {f"{k[0]}/{k[1]}": v for k, v in mem.items()}
    for subject, sizes in [("supd", supd_sizes), ("raw", supd_sizes)] + [
            (name, [1, peer_sizes[name]]) for name, _ in peers]:
        base = mem.get((subject, 1))
        for n in sizes:
            v = mem.get((subject, n))
            if not isinstance(v, tuple):
                bb.skip_row("memory", subject,
                            "PSS, " + ("1 child" if n == 1 else f"{n} children"),
                            v or "not measured")
                continue
            pss, uss = v
            note = f"USS {uss / 1024:.0f} KiB"
            kids = "1 child" if n == 1 else f"{n} children"
            bb.row("memory", subject, f"PSS, {kids}", pss / 1024, "KiB", note=note)
        if isinstance(base, tuple) and sizes[-1] > 1 and isinstance(mem.get((subject, sizes[-1])),
                                                                    tuple):
            top = sizes[-1]
            per = (mem[(subject, top)][0] - base[0]) / (top - 1)
            per_uss = (mem[(subject, top)][1] - base[1]) / (top - 1)
            target = met = None
            if subject == "supd":
                target, met = "<= 1 KiB", per <= 1024
            bb.row("memory", subject, f"PSS per child (1 -> {top})", per / 1024, "KiB",
                   target=target, met=met, note=f"USS per child {per_uss / 1024:.2f} KiB")
        elif subject == "supd":
            bb.skip_row("memory", subject, f"PSS per child (1 -> {sizes[-1]})",
                        "needs the rows above", target="<= 1 KiB")


def metric_idle(bb):
    """Context switches of the supervisor over 10 s with 100 idle children."""
    n, window = 100, 5.0 if bb.quick else 10.0
    subjects = []
    starters = [("raw", lambda s: bb.start_raw(n, s)), ("s6", lambda s: bb.start_s6(n, s)),
                ("runit", lambda s: bb.start_runit(n, s)),
                ("supervisord", lambda s: bb.start_supervisord(n, s)),
                ("tini", lambda s: bb.start_tini_hold(n, s)),
                ("erlang", lambda s: bb.start_erlang(n, s))]
    results = {}
    stamp = bb.path("idle-supd.stamp")
    try:
        p = bb.start_supd("idle-supd", pool_body(bb, stamp))
        bb.run([bb.b("supbench"), "spawn", p.sock, "/pool", stamp, str(n), "1"], 60,
               "supbench-spawn")
        p.members = lambda p=p: [p.pid]
        subjects.append(("supd", p, stamp))
    except Skip as e:
        results["supd"] = str(e)
    for name, starter in starters:
        s = bb.path(f"idle-{name}.stamp")
        try:
            subjects.append((name, starter(s), s))
        except Skip as e:
            results[name] = str(e)
    ready = []
    for name, p, s in subjects:
        try:
            wait_stamps(s, n, 30)
            ready.append((name, p))
        except Skip as e:
            results[name] = str(e)
    log(f"idle: {len(ready)} supervisors with {n} children each, side by side, {window:g} s")
    time.sleep(1.0)
    members = {name: p.members() for name, p in ready}
    before = {name: ctx_switches(m) for name, m in members.items()}
    t0 = time.monotonic()
    time.sleep(window)
    after = {name: ctx_switches(m) for name, m in members.items()}
    elapsed = time.monotonic() - t0
    for name, p in ready:
        results[name] = (after[name] - before[name], elapsed, len(members[name]))
    for name, p, s in subjects:
        bb.stop(p)
    bb.data["idle"] = results
    for name in ["raw", "supd", "s6", "runit", "supervisord", "tini", "erlang"]:
        v = results.get(name)
        if not isinstance(v, tuple):
            bb.skip_row("idle", name, "wakeups/s", v or "not measured",
                        target="0 /s" if name == "supd" else None)
            continue
        switches, elapsed, nproc = v
        rate = switches / elapsed
        target = met = None
        if name == "supd":
            target, met = "0 /s", switches == 0
        note = f"{switches} switches in {elapsed:.1f} s over {nproc} supervisor process(es)"
        bb.row("idle", name, "wakeups/s", rate, "/s", target=target, met=met, note=note)


def metric_shutdown(bb):
    """Stop 1,000 dynamic / 200 static children; kill-timeout error."""
    reps = 1 if bb.quick else 3
    res = {}

    def add(key, fn):
        for r in range(reps):
            if "skip" in res.get(key, {}):
                return
            log(f"shutdown: {key[0]} {key[1]} run {r + 1}/{reps}")
            try:
                res.setdefault(key, {"ns": []})["ns"].append(fn())
            except Skip as e:
                res.setdefault(key, {})["skip"] = str(e)

    def raw_kw(n, mode):
        stamp = bb.path(f"shut-raw-{mode}.stamp")
        out = bb.run([bb.b("killwait"), stamp, str(n), mode, "--", bb.b("stamp"), stamp,
                      "hold"], 120, "killwait")
        return int(out.split()[0])

    def supd_stop(name, body, stamp, n, dynamic):
        p = bb.start_supd(name, body)
        try:
            if dynamic:
                bb.run([bb.b("supbench"), "spawn", p.sock, "/pool", stamp, str(n), "1"], 120,
                       "supbench-spawn")
            wait_stamps(stamp, n, 60)
            time.sleep(0.1)
            # Popen.wait(timeout) polls with sleeps that double up to 50 ms,
            # which quantised this measurement; a pidfd is readable the
            # moment supd is gone.
            pidfd = os.pidfd_open(p.pid)
            try:
                t0 = now_ns()
                p.send_signal(signal.SIGTERM)
                ready, _, _ = select.select([pidfd], [], [], 60)
                t1 = now_ns()
            finally:
                os.close(pidfd)
            if not ready:
                raise Skip("supd did not exit within 60 s of SIGTERM")
            p.wait()
            if p.returncode != 0:
                raise Skip(f"supd exited with status {p.returncode}")
            return t1 - t0
        finally:
            bb.stop(p)

    def supd_dyn():
        stamp = bb.path("shut-supd-dyn.stamp")
        return supd_stop("shut-dyn", pool_body(bb, stamp, shutdown=5000), stamp, 1000, True)

    def supd_static():
        stamp = bb.path("shut-supd-static.stamp")
        kids = "".join(f"""  - id: c{i}
    start: [{json.dumps(bb.b("stamp"))}, {json.dumps(stamp)}, "hold"]
    shutdown: 5000
""" for i in range(1, 201))
        return supd_stop("shut-static", "children:\n" + kids, stamp, 200, False)

    add(("raw", "1000 parallel"), lambda: raw_kw(1000, "par"))
    add(("supd", "1000 parallel"), supd_dyn)
    add(("raw", "200 sequential"), lambda: raw_kw(200, "seq"))
    add(("supd", "200 sequential"), supd_static)

    # Kill-timeout error: shutdown 500 ms on a child that ignores SIGTERM.
    kt_reps = 4 if bb.quick else 10
    kt = {}
    log(f"shutdown: kill timeout, raw timerfd ({kt_reps} x 500 ms)")
    stamp = bb.path("kt-raw.stamp")
    p = bb.spawn([bb.b("killtimeout"), "500", "--", bb.b("stamp"), stamp, "ignore-term"],
                 "killtimeout")
    try:
        out = bb.run([bb.b("supbench"), "killtimeout", stamp, str(kt_reps), "500", "raw",
                      str(p.pid)], 60, "supbench-kt")
        kt["raw"] = [int(x) for x in out.split()]
    except Skip as e:
        kt["raw"] = str(e)
    bb.stop(p)
    log(f"shutdown: kill timeout, supd terminate_child ({kt_reps} x 500 ms)")
    stamp = bb.path("kt-supd.stamp")
    body = f"""children:
  - id: deaf
    start: [{json.dumps(bb.b("stamp"))}, {json.dumps(stamp)}, "ignore-term"]
    restart: permanent
    shutdown: 500
"""
    try:
        p = bb.start_supd("kt-supd", body)
        try:
            out = bb.run([bb.b("supbench"), "killtimeout", stamp, str(kt_reps), "500", "supd",
                          p.sock, "/", "deaf"], 60, "supbench-kt")
            kt["supd"] = [int(x) for x in out.split()]
        finally:
            bb.stop(p)
    except Skip as e:
        kt["supd"] = str(e)
    log(f"shutdown: kill timeout, supervisord stopwaitsecs=1 ({min(kt_reps, 4)} x)")
    kt["supervisord"] = supervisord_killtimeout(bb, min(kt_reps, 4))

    bb.data["shutdown"] = {f"{k[0]}/{k[1]}": v.get("ns", []) for k, v in res.items()}
    bb.data["killtimeout"] = kt
    for what, target_ratio in [("1000 parallel", 1.5), ("200 sequential", None)]:
        raw = median(res.get(("raw", what), {}).get("ns", []))
        for subject in ["raw", "supd"]:
            entry = res.get((subject, what), {})
            ns = entry.get("ns", [])
            if not ns:
                bb.skip_row("shutdown", subject, f"stop {what}", entry.get("skip", "not measured"),
                            target=f"<= {target_ratio}x raw" if subject == "supd" and target_ratio
                            else None)
                continue
            t = median(ns)
            target = met = None
            if subject == "supd" and target_ratio:
                target, met = f"<= {target_ratio}x raw", raw is not None and t <= target_ratio * raw
            bb.row("shutdown", subject, f"stop {what}", t / 1e6, "ms",
                   ratio=t / raw if raw else None, target=target, met=met,
                   note=f"median of {len(ns)}, range {min(ns) / 1e6:.1f}-{max(ns) / 1e6:.1f} ms")
    for subject in ["raw", "supd", "supervisord"]:
        v = kt.get(subject)
        if not isinstance(v, list) or not v:
            bb.skip_row("shutdown", subject, "kill-timeout error (500 ms)", v or "not measured",
                        target="<= 2 ms" if subject == "supd" else None)
            continue
        med = median(v)
        mx = max(v, key=abs)
        target = met = None
        if subject == "supd":
            target, met = "<= 2 ms", abs(med) <= 2 * MS
        label = "kill-timeout error (500 ms)" if subject != "supervisord" else \
            "kill-timeout error (stopwaitsecs=1)"
        bb.row("shutdown", subject, label, med / 1e6, "ms", target=target, met=met,
               note=f"worst {mx / 1e6:+.2f} ms, n={len(v)}")


def supervisord_killtimeout(bb, reps):
    """supervisord's nearest equivalent: stopwaitsecs (whole seconds), stopped by
    supervisorctl stop; measured from the child's SIGTERM record to its death."""
    sock = bb.path("supervisord-kt.sock")
    stamp = bb.path("kt-supervisord.stamp")
    extra = f"""stopwaitsecs=1

[unix_http_server]
file={sock}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{sock}
"""
    p = bb.start_supervisord(1, stamp, mode="ignore-term", extra=extra)
    errors = []
    try:
        for i in range(reps):
            recs = wait_stamps(stamp, i + 1, 15)
            pid = recs[i][1]
            time.sleep(0.05)
            ctl = subprocess.Popen(["supervisorctl", "-c", p.args[-1], "stop", "stamp:*"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            terms = wait_stamps(stamp, i + 1, 10, kind=TERM)
            t_term = terms[i][0]
            while proc_state(pid) not in (None, "Z"):
                time.sleep(0.0002)
            t_dead = now_ns()
            ctl.wait(timeout=15)
            errors.append(t_dead - t_term - 1000 * MS)
            subprocess.run(["supervisorctl", "-c", p.args[-1], "start", "stamp:*"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=15)
    except (Skip, subprocess.TimeoutExpired) as e:
        errors = errors or str(e)
    finally:
        bb.stop(p)
    return errors


def metric_orphans(bb):
    """PID 1 of a fresh namespace reaps 5,000 orphans that exit at once."""
    n, reps = 5000, (1 if bb.quick else 7)
    res, lags = {}, {}
    counter_desc = "pids cgroup" if bb.cgroot else "/proc/loadavg task count"

    def once(subject, argv_fn):
        stamp = bb.path(f"orphans-{subject}.stamp")
        cg = None
        counter = "-"
        if bb.cgroot:
            cg = os.path.join(bb.cgroot, f"supd-bench-{bb.run_id}-{bb.seq}")
            os.mkdir(cg)
            counter = os.path.join(cg, "pids.current")
        argv = argv_fn(stamp)
        enter = f"echo $$ > {cg}/cgroup.procs; " if cg else ""
        sh = enter + "exec unshare --pid --fork --kill-child --mount-proc " + " ".join(
            f"'{a}'" for a in argv)
        p = bb.spawn(["sh", "-c", sh], f"orphans-{subject}")
        try:
            out = bb.run([bb.b("supbench"), "orphans", stamp, str(n), counter], 90,
                         "supbench-orphans")
            reap_ns, before, after, lag_ns = (int(x) for x in out.split())
            time.sleep(0.2)
            zombies = count_zombies(p.pid)
            if zombies:
                raise Skip(f"{zombies} zombies left")
            if lag_ns >= 0:
                lags.setdefault(subject, []).append(lag_ns)
            return reap_ns
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
            bb.sweep()
            if cg:
                for _ in range(200):
                    try:
                        os.rmdir(cg)
                        break
                    except OSError:
                        time.sleep(0.01)

    def supd_argv(stamp):
        if not bb.supd_ok:
            raise Skip(f"supd not available: {bb.supd_why}")
        cfg, _ = bb.supd_config("orphans-supd", f"""children:
  - id: maker
    start: [{json.dumps(bb.b("orphans"))}, {json.dumps(stamp)}, "{n}"]
    restart: temporary
    shutdown: brutal_kill
""")
        return [bb.supd, "-c", cfg, "--events", bb.path("orphans-supd.events.jsonl")]

    subjects = [("raw", lambda s: [bb.b("reaper"), "--", bb.b("orphans"), s, str(n)]),
                ("supd", supd_argv),
                ("tini", lambda s: ["tini", "--", bb.b("orphans"), s, str(n)])]
    for r in range(reps):
        for subject, fn in subjects:
            if "skip" in res.get(subject, {}):
                continue
            log(f"orphans: {subject} as PID 1, run {r + 1}/{reps}")
            try:
                res.setdefault(subject, {"ns": []})["ns"].append(once(subject, fn))
            except Skip as e:
                res.setdefault(subject, {})["skip"] = str(e)
    bb.data["orphans"] = {k: v.get("ns", []) for k, v in res.items()}
    bb.data["orphans_lag"] = lags
    raw = median(res.get("raw", {}).get("ns", []))
    for subject in ["raw", "supd", "tini"]:
        entry = res.get(subject, {})
        ns = entry.get("ns", [])
        if not ns:
            bb.skip_row("orphans", subject, f"reap {n} orphans", entry.get("skip", "not measured"),
                        target="<= 1.1x raw" if subject == "supd" else None)
            continue
        t = median(ns)
        target = met = None
        if subject == "supd":
            target, met = "<= 1.1x raw", raw is not None and t <= 1.1 * raw
        bb.row("orphans", subject, f"reap {n} orphans", t / 1e6, "ms",
               ratio=t / raw if raw else None, target=target, met=met,
               note=f"median of {len(ns)}, range {min(ns) / 1e6:.0f}-{max(ns) / 1e6:.0f} ms, "
               f"no zombie left; end seen through the {counter_desc}")
        if lags.get(subject):
            lag = median(lags[subject])
            bb.row("orphans", subject, "last exit -> all reaped", lag / 1e6, "ms",
                   note="how far reaping trails the exits (less noisy than the total)")


def count_zombies(shell_pid):
    """Zombies among the descendants of the namespace (below unshare)."""
    kids = proc_children_map()
    return sum(1 for d in descendants(shell_pid, kids) if proc_state(d) == "Z")


def metric_control(bb):
    """Request round trips from 50 clients at once on a 1,000-child supervisor."""
    clients, per = 50, (40 if bb.quick else 200)
    stamp = bb.path("ctl-supd.stamp")
    results = {}
    try:
        p = bb.start_supd("ctl-supd", pool_body(bb, stamp))
        try:
            log("control: starting 1000 children")
            bb.run([bb.b("supbench"), "spawn", p.sock, "/pool", stamp, "1000", "1"], 120,
                   "supbench-spawn")
            for op, req, k in [("ping", '{"op":"ping"}', per),
                               ("which_children", '{"op":"which_children","sup":"/pool"}',
                                max(per // 10, 10))]:
                log(f"control: {op}, {clients} clients x {k}")
                out = bb.run([bb.b("supbench"), "ctl", p.sock, str(clients), str(k), req], 120,
                             "supbench-ctl")
                results[op] = [int(x) for x in out.split()]
        finally:
            bb.stop(p)
    except Skip as e:
        results["skip"] = str(e)
    bb.data["control"] = results
    for op in ["ping", "which_children"]:
        v = results.get(op)
        if not v:
            bb.skip_row("control", "supd", f"{op} p50/p99", results.get("skip", "not measured"))
            continue
        p50, p90, p99, mx, count, errors = v
        bb.row("control", "supd", f"{op} p50", p50 / 1e3, "us",
               note=f"{clients} clients, n={count}, errors={errors}")
        bb.row("control", "supd", f"{op} p99", p99 / 1e3, "us", note=f"max {mx / 1e3:.0f} us")


def metric_soak(bb):
    """Long churn under client load, RSS and descriptors sampled (bench/soak.py)."""
    import soak
    soak.metric_soak(bb, Skip, log)


# ------------------------------------------------------------------- report


def metric_output(bb):
    """Captured output (SPEC 7.1): relay throughput against a pipe read by
    cat, restart latency of an uncaptured worker under a captured flood,
    idle wakeups and PSS with captured silent workers."""
    lines = 200000 if bb.quick else 1000000
    line = "x" * 99  # 100 bytes with the newline
    writer = f"yes {line} | head -n {lines}"
    rows = {}

    # 1. Throughput. The baseline: the same writer into a pipe read by cat.
    base = []
    for _ in range(1 if bb.quick else 3):
        t0 = time.monotonic()
        subprocess.run(["/bin/sh", "-c", f"{writer} | cat >/dev/null"], check=True)
        base.append(time.monotonic() - t0)
    rows["cat"] = median(base)
    # supd: from child_started to child_exited (both supd's clock), which
    # supd emits once it relayed the last line (its stdout is /dev/null).
    got = []

    def ts_s(ev):
        t = ev["ts"]
        return calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) + int(t[20:26]) / 1e6

    for r in range(1 if bb.quick else 3):
        body = f"""children:
  - id: flood
    output: prefix
    restart: temporary
    start: ["/bin/sh", "-c", {json.dumps(writer)}]
"""
        try:
            p = bb.start_supd(f"output-flood-{r}", body, wait_socket=False)
        except Skip as e:
            rows["supd"] = str(e)
            break
        events = p.args[-1]
        pair = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with open(events) as f:
                    evs = [json.loads(l) for l in f if '"child_' in l]
            except OSError:
                evs = []
            st = [e for e in evs if e["event"] == "child_started"]
            ex = [e for e in evs if e["event"] == "child_exited"]
            if st and ex:
                pair = (st[0], ex[0])
                break
            time.sleep(0.05)
        bb.stop(p)
        if not pair:
            rows["supd"] = "the flood did not finish in 120 s"
            break
        got.append(ts_s(pair[1]) - ts_s(pair[0]))
    if got:
        rows["supd"] = median(got)
    mb = lines * 100 / 1e6
    if isinstance(rows.get("supd"), float):
        ratio = rows["cat"] / rows["supd"]
        bb.row("output", "supd", "relay MB/s (100-byte lines)", mb / rows["supd"], "MB/s",
               ratio=ratio, target=">= 0.5x cat", met=ratio >= 0.5,
               note=f"{lines / rows['supd']:.0f} lines/s; {lines} lines, "
                    f"output: prefix, stdout /dev/null")
    else:
        bb.skip_row("output", "supd", "relay MB/s (100-byte lines)",
                    rows.get("supd", "not measured"), target=">= 0.5x cat")
    bb.row("output", "raw", "pipe to cat MB/s", mb / rows["cat"], "MB/s",
           note=f"{lines / rows['cat']:.0f} lines/s; the same writer piped to cat")

    # 2. Restart latency of an uncaptured worker, quiet and under a flood.
    kills = 30 if bb.quick else 100
    p50 = {}
    for flood in (False, True):
        stamp = bb.path(f"output-restart-{flood}.stamp")
        body = f"""max_restarts: 100000
max_seconds: 1
children:
  - id: w
    start: [{json.dumps(bb.b("stamp"))}, {json.dumps(stamp)}, "hold"]
    shutdown: brutal_kill
"""
        if flood:
            body += f"""  - id: flood
    output: prefix
    start: ["/bin/sh", "-c", "yes {line}"]
    shutdown: brutal_kill
"""
        p = None
        try:
            p = bb.start_supd(f"output-restart-{flood}", body, wait_socket=False)
            wait_stamps(stamp, 1, 10)
            out = bb.run([bb.b("supbench"), "restart", stamp, str(kills), "0", "3"], 120,
                         "supbench-restart")
            p50[flood] = pct([int(x) for x in out.split()], 0.5)
        except Skip as e:
            p50[flood] = str(e)
        finally:
            if p:
                bb.stop(p)
    if all(isinstance(v, (int, float)) for v in p50.values()):
        ratio = p50[True] / p50[False]
        bb.row("output", "supd", "restart p50 under a captured flood", p50[True] / 1e3, "us",
               ratio=ratio, target="<= 1.2x quiet", met=ratio <= 1.2,
               note=f"quiet p50 {p50[False] / 1e3:.0f} us; ratio is to quiet; {kills} kills")
    else:
        bb.skip_row("output", "supd", "restart p50 under a captured flood",
                    str(p50.get(True, p50.get(False))), target="<= 1.2x quiet")

    # 3 and 4. Captured silent workers: wakeups, and PSS at 1,000.
    for n in ([100] if bb.quick else [100, 1000]):
        stamp = bb.path(f"output-idle-{n}.stamp")
        body = pool_body(bb, stamp).replace("      restart: temporary",
                                            "      restart: temporary\n      output: prefix")
        try:
            p = bb.start_supd(f"output-idle-{n}", body)
            try:
                bb.run([bb.b("supbench"), "spawn", p.sock, "/pool", stamp, str(n), "1"], 120,
                       "supbench-spawn")
                if n == 100:
                    time.sleep(1.0)
                    before = ctx_switches([p.pid])
                    window = 5.0
                    time.sleep(window)
                    switches = ctx_switches([p.pid]) - before
                    bb.row("output", "supd", f"wakeups/s, {n} captured silent workers",
                           switches / window, "/s", target="0 /s", met=switches == 0,
                           note=f"{switches} switches in {window:.0f} s")
                else:
                    pss, uss = settle_pss(lambda: [p.pid])
                    bb.row("output", "supd", f"PSS, {n} captured idle workers", pss / 1024,
                           "KiB", note=f"USS {uss / 1024:.0f} KiB; 2 pipes each, "
                                       "no buffer until a worker writes")
            finally:
                bb.stop(p)
        except Skip as e:
            bb.skip_row("output", "supd", f"{n} captured workers", str(e))


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) // 1024} MiB"
    except OSError:
        pass
    versions = {}
    for pkg in ["s6", "runit", "supervisor", "tini", "erlang-base"]:
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True)
        versions[pkg] = r.stdout.decode().strip() if r.returncode == 0 else "not installed"
    return {
        "load": loadavg(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu": cpu,
        "memory": mem,
        "versions": versions,
    }


def fmt_value(r):
    v, unit = r["value"], r["unit"]
    if v is None:
        return "—"
    if unit == "us" and abs(v) >= 10000:
        v, unit = v / 1000, "ms"
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return f"{s} {unit}".strip()


def fmt_status(r):
    if r["value"] is None:
        return "not measured"
    if r["met"] is None:
        return ""
    return "met" if r["met"] else "NOT met"


def table(rows):
    header = ["metric", "subject", "measure", "value", "x raw", "target", "status", "notes"]
    lines = []
    for r in rows:
        lines.append([r["metric"], r["subject"], r["what"], fmt_value(r),
                      f"{r['ratio']:.2f}x" if r["ratio"] is not None else "",
                      r["target"] or "", fmt_status(r), r["note"]])
    return header, lines


def print_table(rows):
    header, lines = table(rows)
    widths = [max(len(str(x[i])) for x in [header] + lines) for i in range(len(header) - 1)]
    out = []
    for row in [header] + lines:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
        if row is header:
            out.append("  ".join("-" * w for w in widths) + "  -----")
    print("\n".join(out))


SETTINGS = """## Subjects and their settings

- **raw**: the C baselines in bench/baseline/ (respawn: epoll over pidfds +
  waitid(P_PIDFD) + posix_spawn; spawnloop: back-to-back posix_spawn; killwait:
  pidfd_send_signal + waitid; killtimeout: timerfd; reaper: signalfd + waitpid(-1,
  WNOHANG) as PID 1). Their numbers are the physical limit on this machine.
- **supd**: release build of this tree, `supd -c FILE --events FILE`, control socket
  in the run's private tmpfs; restart test: one permanent worker, `shutdown:
  brutal_kill`, `max_restarts: 100000` / `max_seconds: 1`; dynamic tests: a `type:
  dynamic` child `/pool` whose template is the stamp child.
- **s6** (s6-svscan + one s6-supervise per service): `run` is a symlink to the static
  stamp child (no shell). Built-in delay: s6-supervise 2.11 waits 1 s after every
  death before it spawns `./run` again, whatever the uptime (strace: `ppoll(...,
  {tv_sec=1})` after `./finish`); there is no service-directory file to change that.
- **runit** (runsvdir -P + one runsv per service): `run` symlinked to the stamp
  child. Built-in delay: runsv sleeps 1 s before a restart when the service ran for
  less than 1 s, so its children are killed only after 1.05 s of uptime; runsvdir
  rescans the directory every 5 s (its idle wakeups).
- **supervisord** 4.2.5 (`-n`): `startsecs=0` (no BACKOFF state), `autorestart=true`,
  `startretries=1000000`, `stdout_logfile=NONE`/`stderr_logfile=NONE` (no output
  pipes), `loglevel=warn`. Built-in delay: its main loop polls with a 1 s timeout and
  Python retries the poll after SIGCHLD (PEP 475), so a death is handled at the next
  tick, up to 1 s later. Kill timeout: `stopwaitsecs=1` (whole seconds only),
  stopped with `supervisorctl stop`.
- **tini** 0.19 (`tini -s -- sh -c 'while :; do stamp; done'`): tini itself never
  restarts anything; the row measures a shell loop under tini. Idle: tini waits in
  sigtimedwait with a 1 s timeout. Orphans: `tini -- orphans` as PID 1.
- **erlang** (OTP 25, erlang-base, optional): bench/erlsup.escript, a `supervisor`
  (one_for_one, permanent, brutal_kill, intensity 1000000/1 s) of workers that each
  own a port (`open_port({spawn_executable, stamp}, [exit_status])`) and exit when
  the port program dies; the VM starts OS processes through erl_child_setup.
  Default emulator flags; logger level `none` (no supervisor reports). Memory and
  idle count beam.smp and erl_child_setup.
- The three peers with a 1 s floor (s6, runit, supervisord) are measured side by
  side in the restart test (their kills are a second apart); everything else runs
  alone. Service directories and stamp files live on a tmpfs (as under /run).
"""


def markdown(bb, info, metrics, elapsed):
    header, lines = table(bb.rows)
    md = ["# supd benchmark results", ""]
    md.append(f"- date: {info['date']}")
    md.append(f"- machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']}, "
              f"Linux {info['kernel']}")
    md.append(f"- load average (1, 5, 15 min) at start: {info['load']} "
              f"(the machine is shared: other jobs add noise)")
    md.append("- peers: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    supd_state = f"measured, {bb.supd_why}" if bb.supd_ok else f"not yet measured: {bb.supd_why}"
    md.append(f"- supd: {supd_state}")
    cmd = "bench/run" + (" --quick" if bb.quick else "")
    if len(metrics) < len(METRICS):
        cmd += " " + " ".join(metrics)
    md.append(f"- run: `{cmd}`, {elapsed:.0f} s")
    md.append("")
    md.append("`x raw` is the ratio to the raw C baseline measured in the same run (for spawn: "
              "throughput relative to raw). Targets apply to supd only; peers are shown for "
              "comparison at their fastest legitimate settings (bench/README.md lists them).")
    md.append("")
    md.append("| " + " | ".join(header) + " |")
    md.append("|" + "---|" * len(header))
    for ln in lines:
        md.append("| " + " | ".join(str(c).replace("|", "\\|") for c in ln) + " |")
    md.append("")
    md.append(SETTINGS)
    if bb.notes:
        md.append("## Notes from this run")
        md.append("")
        md.extend(f"- {n}" for n in bb.notes)
        md.append("")
    return "\n".join(md)


def main():
    ap = argparse.ArgumentParser(description="supd benchmark harness (run it via bench/run)")
    ap.add_argument("--bin", required=True, help="directory with the bench programs")
    ap.add_argument("--supd", default="", help="the supd binary to measure")
    ap.add_argument("--results", required=True, help="directory for RESULTS.md")
    ap.add_argument("--run-id", default=str(os.getpid()))
    ap.add_argument("--work", default="", help="an empty directory for the run's files")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    ap.add_argument("metrics", nargs="*",
                    help=f"any of {' '.join(METRICS + EXTRA_METRICS)} (default: all but "
                         f"{' '.join(EXTRA_METRICS)})")
    args = ap.parse_args()
    metrics = args.metrics or METRICS
    for m in metrics:
        if m not in METRICS + EXTRA_METRICS:
            ap.error(f"unknown metric {m!r}; choose from {' '.join(METRICS + EXTRA_METRICS)}")
    metrics = [m for m in METRICS + EXTRA_METRICS if m in metrics]

    bb = Bench(args)
    if not bb.in_ns:
        log("warning: not inside bench/run's PID namespace; cleanup relies on this script")
    if not bb.supd_ok:
        log(f"supd not available ({bb.supd_why}): supd rows will say so")
    info = machine_info()
    started = time.monotonic()

    def on_signal(sig, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for m in metrics:
            try:
                globals()["metric_" + m](bb)
            except (Skip, OSError, ValueError, subprocess.SubprocessError) as e:
                # A broken metric must not cost the others their results.
                log(f"{m}: failed: {e!r}")
                bb.skip_row(m, "-", "whole metric", f"failed: {e!r}"[:160])
            bb.sweep()
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        bb.cleanup()
        return 130
    finally:
        bb.cleanup()
    elapsed = time.monotonic() - started
    print()
    print_table(bb.rows)
    os.makedirs(args.results, exist_ok=True)
    name = "RESULTS" if metrics == METRICS and not args.quick else \
        "RESULTS-" + ("quick-" if args.quick else "") + "-".join(metrics)
    with open(os.path.join(args.results, name + ".md"), "w") as f:
        f.write(markdown(bb, info, metrics, elapsed))
        # The findings (why a target is or is not met, what was fixed)
        # are written by hand and kept across runs.
        analysis = os.path.join(args.results, "ANALYSIS.md")
        if name == "RESULTS" and os.path.exists(analysis):
            with open(analysis) as a:
                f.write("\n" + a.read())
    with open(os.path.join(args.results, name + ".json"), "w") as f:
        json.dump({"info": info, "rows": bb.rows, "samples": {
            k: (v if not isinstance(v, dict) else {str(kk): vv for kk, vv in v.items()})
            for k, v in bb.data.items()}}, f, indent=1, default=str)
    print(f"\nwrote {os.path.join(args.results, name + '.md')} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
