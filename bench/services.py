#!/usr/bin/env python3
"""bench/services.py - the costs of SPEC 7.2-7.4 (readiness, health checks,
backoff), measured from the outside like the rest of bench/.

    python3 bench/services.py [--supd PATH] [--quick]

1. ready-fd: start-to-started latency of a worker with `ready: {fd: 3}` that
   writes its line at once, against `ready: none` with the same program:
   the round trip of a dynamic `start_child` (whose reply is sent when the
   child counts as started), interleaved, N each. `ready: none` answers
   once the exec is past its point of no return; `ready: {fd}` only after
   the program has also run to its write. The raw baseline of the same run
   measures that difference without supd (a C loop: pipe, vfork, exec of
   the same program, read the line): "expected fd" is none's round trip
   plus the raw exec-to-line time, what `ready: {fd}` would take if supd
   added nothing of its own.
2. health-1000: 1,000 workers with `health: {exec: [/bin/true], interval:
   1000}`: supd's own CPU time per second (utime+stime of supd) and with
   its reaped probes (cutime+cstime), over a window; and the restart latency
   of another worker (SIGKILL -> its child_started event), against the same
   tree without health checks, and against the tree without health checks
   beside a raw C loop that runs /bin/true 1,000 times a second (the checks'
   own cost to the machine, without supd: on 2 CPUs they take most of one).
3. idle: context switches of supd over a window with 100 workers and no
   health check, then with one start waiting for its backoff delay.

Numbers only, no thresholds (bench/README.md). The machine is shared: run it
when it is quiet, and compare the ratios of one run.
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Supd:
    def __init__(self, supd, yaml_text, tmp):
        self.dir = tempfile.mkdtemp(dir=tmp)
        self.sock = os.path.join(self.dir, "sock")
        self.events = os.path.join(self.dir, "events")
        cfg = os.path.join(self.dir, "supd.yaml")
        with open(cfg, "w") as f:
            f.write(yaml_text)
        self.proc = subprocess.Popen([supd, "-q", "-c", cfg, "-s", self.sock,
                                      "--events", self.events],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not os.path.exists(self.sock):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("supd did not start")
            time.sleep(0.01)
        self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.conn.connect(self.sock)
        self.buf = b""

    def call(self, req):
        self.conn.sendall((json.dumps(req) + "\n").encode())
        while b"\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise RuntimeError("supd closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cpu(self):
        f = open("/proc/%d/stat" % self.proc.pid).read().rsplit(")", 1)[1].split()
        own = (int(f[11]) + int(f[12])) / TICK
        children = (int(f[13]) + int(f[14])) / TICK
        return own, children

    def schedstat(self):
        """(time on a CPU, time runnable and waiting for one), in ns."""
        f = open("/proc/%d/schedstat" % self.proc.pid).read().split()
        return int(f[0]), int(f[1])

    def ctx(self):
        n = 0
        for line in open("/proc/%d/status" % self.proc.pid):
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                n += int(line.split()[1])
        return n

    def wait_event(self, event, path, after_line=0, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.events) as f:
                lines = f.readlines()
            for i in range(after_line, len(lines)):
                ev = json.loads(lines[i])
                if ev["event"] == event and ev.get("path") == path:
                    return i, ev
            time.sleep(0.002)
        raise RuntimeError("no %s %s" % (event, path))

    def nlines(self):
        with open(self.events) as f:
            return sum(1 for _ in f)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)


RAW_READY_FD = r'''
/* The raw baseline of ready: {fd: 3}: pipe, vfork, exec, read the line. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}
int main(int argc, char **argv)
{
	int n = atoi(argv[2]);
	for (int i = 0; i < n; i++) {
		int p[2];
		char c;
		if (pipe2(p, O_CLOEXEC) < 0)
			return 1;
		double t0 = now_us();
		pid_t pid = vfork();
		if (pid == 0) {
			dup2(p[1], 3);
			execl(argv[1], argv[1], (char *)0);
			_exit(127);
		}
		double t1 = now_us();
		if (read(p[0], &c, 1) != 1)
			return 1;
		double t2 = now_us();
		printf("%.1f %.1f\n", t1 - t0, t2 - t0);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(p[0]);
		close(p[1]);
	}
	return 0;
}
'''

RAW_CHECKS = r'''
/* The raw baseline of 1,000 health checks: /bin/true RATE times a second,
 * spawned and reaped by a plain C loop, until killed. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	long step = 1000000000L / atoi(argv[1]);
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		next.tv_nsec += step;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		pid_t pid = vfork();
		if (pid == 0) {
			execl("/bin/true", "/bin/true", (char *)0);
			_exit(127);
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}
'''


def compile_c(tmp, name, text, static=False):
    src = os.path.join(tmp, name + ".c")
    out = os.path.join(tmp, name)
    with open(src, "w") as f:
        f.write(text)
    subprocess.check_call(["cc", "-O2"] + (["-static"] if static else []) + ["-o", out, src])
    return out


def ready_fd(args, tmp):
    # writes its line first thing, then waits
    prog = compile_c(tmp, "readyfd", "#include <unistd.h>\nint main(void)"
                     "{(void)!write(3,\"\\n\",1);for(;;)pause();}\n", static=True)
    raw = compile_c(tmp, "raw-ready-fd", RAW_READY_FD)
    yaml_text = ("children:\n"
                 "  - id: none\n    type: dynamic\n    template:\n"
                 "      start: [\"%s\"]\n      restart: temporary\n"
                 "      shutdown: brutal_kill\n"
                 "  - id: fd\n    type: dynamic\n    template:\n"
                 "      start: [\"%s\"]\n      restart: temporary\n"
                 "      shutdown: brutal_kill\n      ready: {fd: 3}\n") % (prog, prog)
    s = Supd(args.supd, yaml_text, tmp)
    lat = {"none": [], "fd": []}
    # supd's own CPU time and its time runnable but waiting for a CPU
    # during each start (/proc/PID/schedstat, nanoseconds): what supd
    # itself spends, which a loaded machine does not inflate as it does the
    # round trip (that one also waits for the child to be scheduled).
    cpu = {"none": [], "fd": []}
    wait = {"none": [], "fd": []}
    try:
        for i in range(args.n):
            for sup in ("none", "fd"):
                run0, wait0 = s.schedstat()
                t0 = time.perf_counter()
                r = s.call({"op": "start_child", "sup": "/" + sup})
                t1 = time.perf_counter()
                run1, wait1 = s.schedstat()
                if not r.get("ok"):
                    raise RuntimeError(r)
                lat[sup].append((t1 - t0) * 1e6)
                cpu[sup].append((run1 - run0) / 1e3)
                wait[sup].append((wait1 - wait0) / 1e3)
                s.call({"op": "terminate_child", "sup": "/" + sup, "id": r["id"]})
    finally:
        s.stop()
    rows = subprocess.run([raw, prog, str(args.n)], capture_output=True, text=True,
                          check=True).stdout.split()
    raw_exec, raw_line = [float(x) for x in rows[0::2]], [float(x) for x in rows[1::2]]
    out = {"raw": {"exec_p50_us": statistics.median(raw_exec),
                   "line_p50_us": statistics.median(raw_line), "n": len(raw_line)}}
    for k, v in lat.items():
        out[k] = {"p50_us": statistics.median(v), "p90_us": pct(v, 90), "n": len(v),
                  "supd_cpu_mean_us": statistics.mean(cpu[k]),
                  "supd_cpu_p50_us": statistics.median(cpu[k]),
                  "supd_wait_mean_us": statistics.mean(wait[k])}
    out["ratio_p50"] = out["fd"]["p50_us"] / out["none"]["p50_us"]
    out["ratio_supd_cpu_mean"] = out["fd"]["supd_cpu_mean_us"] / out["none"]["supd_cpu_mean_us"]
    # what fd would take if supd added nothing to the program's own start
    expected = out["none"]["p50_us"] + out["raw"]["line_p50_us"] - out["raw"]["exec_p50_us"]
    out["expected_fd_p50_us"] = expected
    out["ratio_fd_to_expected_p50"] = out["fd"]["p50_us"] / expected
    return out


def tree_yaml(n, health, extra=""):
    lines = ["max_restarts: 1000000", "max_seconds: 1", "children:",
             "  - id: victim", "    start: [\"/bin/sleep\", \"infinity\"]",
             "    shutdown: brutal_kill",
             "  - id: pool", "    type: supervisor", "    children:"]
    for i in range(n):
        lines.append("      - id: w%d" % i)
        lines.append("        start: [\"/bin/sleep\", \"infinity\"]")
        lines.append("        shutdown: brutal_kill")
        if health:
            lines.append("        health: {exec: [\"/bin/true\"], interval: 1000, "
                         "timeout: 5000, retries: 3}")
    return "\n".join(lines) + "\n" + extra


def restart_latency(s, kills):
    lat = []
    at = 0
    for _ in range(kills):
        at, ev = s.wait_event("child_started", "/victim", at)
        at += 1
        t0 = time.time()
        os.kill(ev["pid"], signal.SIGKILL)
        at, ev = s.wait_event("child_started", "/victim", at)
        ts = ev["ts"]
        started = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        started += float("0." + ts[20:26])
        lat.append((started - t0) * 1e6)
        time.sleep(0.02)
    return lat


def health_1000(args, tmp):
    out = {}
    raw = compile_c(tmp, "raw-checks", RAW_CHECKS)
    for key in ("no_health", "health", "no_health_beside_raw_checks"):
        health = key == "health"
        s = Supd(args.supd, tree_yaml(args.workers, health), tmp)
        beside = None
        if key == "no_health_beside_raw_checks":
            beside = subprocess.Popen([raw, str(args.workers)])
        try:
            s.wait_event("child_started", "/pool/w%d" % (args.workers - 1), 0, 120)
            time.sleep(2)  # past the first round of checks
            own0, ch0 = s.cpu()
            t0 = time.time()
            time.sleep(args.window)
            own1, ch1 = s.cpu()
            dt = time.time() - t0
            lat = restart_latency(s, args.kills)
            out[key] = {
                "supd_cpu_s_per_s": (own1 - own0) / dt,
                "with_probes_cpu_s_per_s": (own1 - own0 + ch1 - ch0) / dt,
                "restart_p50_us": statistics.median(lat),
                "restart_p90_us": pct(lat, 90),
            }
        finally:
            if beside:
                beside.kill()
                beside.wait()
            s.stop()
    out["restart_p50_health_to_beside_raw_checks"] = (
        out["health"]["restart_p50_us"] / out["no_health_beside_raw_checks"]["restart_p50_us"])
    out["restart_p50_health_to_no_health"] = (
        out["health"]["restart_p50_us"] / out["no_health"]["restart_p50_us"])
    return out


def idle(args, tmp):
    s = Supd(args.supd, tree_yaml(100, False,
                                  "  - id: later\n    backoff: {min: 600000}\n"
                                  "    start: [\"/bin/sh\", \"-c\", \"exec sleep infinity\"]\n"),
             tmp)
    out = {}
    try:
        s.wait_event("child_started", "/later", 0, 60)
        time.sleep(1)
        c0 = s.ctx()
        time.sleep(args.window)
        out["no_health_no_backoff"] = s.ctx() - c0
        # one start now waits 10 minutes for its backoff delay
        _, ev = s.wait_event("child_started", "/later", 0)
        os.kill(ev["pid"], signal.SIGKILL)
        s.wait_event("restart_delayed", "/later", 0)
        time.sleep(1)
        c0 = s.ctx()
        time.sleep(args.window)
        out["one_pending_backoff"] = s.ctx() - c0
        out["window_s"] = args.window
    finally:
        s.stop()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--supd", default=os.environ.get("SUPD", os.path.join(TOP, "bench", "build",
                                                                             "src", "supd")))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("what", nargs="*", default=["ready-fd", "health-1000", "idle"])
    args = ap.parse_args()
    args.n = 50 if args.quick else 300
    args.workers = 1000
    args.window = 5 if args.quick else 10
    args.kills = 10 if args.quick else 40
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "ready-fd" in args.what:
            results["ready_fd"] = ready_fd(args, tmp)
        if "health-1000" in args.what:
            results["health_1000"] = health_1000(args, tmp)
        if "idle" in args.what:
            results["idle_ctx_switches"] = idle(args, tmp)
    results["loadavg"] = open("/proc/loadavg").read().split()[:3]
    results["supd"] = args.supd
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
