#!/usr/bin/env python3
"""test-output-capture.py - output: prefix and output: {file:} (SPEC 7.1).

Usage: test-output-capture.py SUPD SUPCTL

prefix: `PATH | line` on supd's stdout (worker stdout) and stderr (worker
stderr), a partial last line flushed when the worker exits, lines over 16 KiB
split, a worker that closes its stdout, binary garbage passed through, the
default inherited from the top level and from a supervisor (dynamic template
included). file: timestamped lines, rotation at max_size keeping N files, no
line split across files. Flow control: with supd's stdout on a FIFO nobody
reads, a captured worker is slowed while another worker keeps restarting and
ping answers; once drained, every line arrives, in order. No descriptor
growth over 1,000 restarts of a captured worker. supctl logs and logs -f;
reopening on SIGHUP (which also reloads) and supctl reopen; the severity and wording of supd's own
log lines.
The basic cases also as PID 1. Prints TAP. Every wait has a deadline.
"""
import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from tap import check, finish, kill_tree
from supdtest import wait_for

F_SETPIPE_SZ = 1031
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def count(path, needle):
    return read(path).count(needle)


class Supd:
    def __init__(self, supd, yaml, pid1=False, stdout=None, name="cap"):
        self.dir = tempfile.mkdtemp(prefix=f"supd-{name}-")
        self.cfg = os.path.join(self.dir, "supd.yaml")
        self.sock = os.path.join(self.dir, "supd.sock")
        self.events = os.path.join(self.dir, "events")
        self.out = os.path.join(self.dir, "stdout")
        self.err = os.path.join(self.dir, "stderr")
        with open(self.cfg, "w") as f:
            f.write(yaml.replace("@DIR@", self.dir))
        argv = [supd, "-c", self.cfg, "-s", self.sock, "--events", self.events]
        if pid1:
            argv = ["unshare", "--pid", "--fork", "--mount-proc"] + argv
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.proc = subprocess.Popen(argv, stdout=stdout if stdout is not None else o,
                                         stderr=e, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.pid1 = pid1

    def supd_pid(self):
        if not self.pid1:
            return self.proc.pid
        found = []

        def child():
            try:
                with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                    found[:] = f.read().split()
            except OSError:
                pass
            return bool(found)
        wait_for(child, 10)
        return int(found[0]) if found else self.proc.pid

    def events_named(self, name):
        return [json.loads(l) for l in read(self.events).splitlines()
                if f'"event":"{name}"'.encode() in l]

    def stop(self, seconds=10):
        try:
            os.kill(self.supd_pid(), signal.SIGTERM)
            self.proc.wait(timeout=seconds)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
        kill_tree(self.proc)
        return self.proc.returncode


def prefix_basics(supd, pid1):
    mode = "PID 1" if pid1 else "normal"
    s = Supd(supd, """output: prefix
children:
  - id: talk
    start: [/bin/sh, -c, 'echo hello; echo oops >&2; printf "no newline"; exit 0']
    restart: transient
  - id: big
    start: [/bin/sh, -c, 'head -c 40000 /dev/zero | tr "\\000" x; echo; echo after-big']
    restart: transient
  - id: closer
    start: [/bin/sh, -c, 'echo before-close; exec >&-; echo still-err >&2; exec sleep 1000']
  - id: garbage
    start: [/bin/sh, -c, 'printf "bin\\001\\377\\000ary\\n"; echo done-garbage']
    restart: transient
  - id: plain
    output: inherit
    start: [/bin/sh, -c, 'echo plain-line; exit 0']
    restart: transient
""", pid1=pid1, name="prefix")
    try:
        ok = wait_for(lambda: b"/talk | no newline\n" in read(s.out)
                      and b"/talk | oops\n" in read(s.err)
                      and b"/big | after-big\n" in read(s.out)
                      and b"/closer | before-close\n" in read(s.out)
                      and b"/closer | still-err\n" in read(s.err)
                      and b"/garbage | done-garbage\n" in read(s.out)
                      and b"plain-line\n" in read(s.out), 20)
        out, err = read(s.out), read(s.err)
        check(ok, f"{mode}: every captured line arrived")
        check(b"/talk | hello\n" in out and b"/talk | oops\n" in err
              and b"/talk | oops" not in out,
              f"{mode}: prefix: stdout lines on stdout, stderr lines on stderr")
        check(b"/talk | no newline\n" in out,
              f"{mode}: a partial last line is flushed when the worker exits")
        big = [l for l in out.split(b"\n") if l.startswith(b"/big | x")]
        check([len(l) - len(b"/big | ") for l in big] == [16384, 16384, 40000 - 32768],
              f"{mode}: a 40000-byte line is split at 16 KiB: {[len(l) for l in big]}")
        check(b"/closer | before-close\n" in out and b"/closer | still-err\n" in err,
              f"{mode}: a worker that closes its stdout keeps its stderr relayed")
        check(b"/garbage | bin\x01\xff\x00ary\n" in out,
              f"{mode}: binary bytes pass through unchanged")
        check(b"plain-line\n" in out and b"| plain-line" not in out,
              f"{mode}: output: inherit on a worker overrides the top-level prefix")
        check(s.stop() == 0, f"{mode}: supd stops cleanly")
    finally:
        kill_tree(s.proc)


def defaults_from_supervisors(supd):
    s = Supd(supd, """children:
  - id: sup
    type: supervisor
    output: prefix
    children:
      - id: w
        start: [/bin/sh, -c, 'echo from-w; exec sleep 1000']
  - id: pool
    type: dynamic
    output: {file: "@DIR@/pool.log"}
    template:
      start: [/bin/sh, -c, 'echo from-pool-child; exec sleep 1000']
      restart: temporary
  - id: free
    start: [/bin/sh, -c, 'echo from-free; exec sleep 1000']
""", name="defaults")
    try:
        wait_for(lambda: os.path.exists(s.sock), 10)
        r = subprocess.run([SUPCTL, "-s", s.sock, "start-child", "/pool"], capture_output=True,
                           timeout=10)
        check(r.returncode == 0, f"start-child on the dynamic pool: {r.stderr!r}")
        ok = wait_for(lambda: b"/sup/w | from-w\n" in read(s.out)
                      and b"from-free\n" in read(s.out)
                      and b"from-pool-child" in read(os.path.join(s.dir, "pool.log")), 10)
        check(ok, "a supervisor's output applies to its workers")
        check(b"| from-free" not in read(s.out), "the default stays inherit elsewhere")
        log = read(os.path.join(s.dir, "pool.log")).decode()
        check(re.fullmatch(TS + r" out from-pool-child\n", log) is not None,
              f"a dynamic child's output follows its supervisor's file default: {log!r}")
    finally:
        s.stop()


def file_rotation(supd):
    """output: {file:} rotated at max_size, keeping 2 old files."""
    s = Supd(supd, """children:
  - id: w
    output: {file: "@DIR@/w.log", max_size: 3000, keep: 2}
    start: [/bin/sh, -c, 'i=0; while [ $i -lt 100 ]; do echo "line $i"; echo "err $i" >&2; i=$((i+1)); done; exec sleep 1000']
""", name="file")
    path = os.path.join(s.dir, "w.log")
    try:
        def all_there():
            text = read(path) + read(path + ".1") + read(path + ".2")
            return b" err err 99\n" in text and b" out line 99\n" in text
        check(wait_for(all_there, 10), "file: the last line reached the files")
        files = [read(path), read(path + ".1"), read(path + ".2")]
        check(not os.path.exists(path + ".3"), "file: keep 2 keeps PATH.1 and PATH.2 only")
        check(all(0 < len(f) <= 3000 for f in files),
              f"file: each file stays within max_size: {[len(f) for f in files]}")
        ok = True
        for f in files:
            for line in f.decode().split("\n")[:-1]:
                ok = ok and re.fullmatch(TS + r" (out line|err err) \d+", line) is not None
            ok = ok and f.endswith(b"\n")
        check(ok, "file: every line is TIMESTAMP STREAM line, none split across files")
        # 200 lines of 39 bytes fit in 3 files of 3000: none is lost.
        lines = b"".join(reversed(files)).decode().split("\n")[:-1]
        outs = [l.split(" ", 2)[2] for l in lines if " out " in l]
        errs = [l.split(" ", 2)[2] for l in lines if " err " in l]
        check(outs == [f"line {i}" for i in range(100)] and errs == [f"err {i}" for i in range(100)],
              "file: stdout and stderr both in the files, each in order, oldest in PATH.2")
    finally:
        s.stop()


def flow_control(supd):
    """supd's stdout on a FIFO nobody reads: the captured writer is slowed,
    the rest goes on; once drained, all its lines arrive in order."""
    work = tempfile.mkdtemp(prefix="supd-flow-")
    fifo = os.path.join(work, "stdout.fifo")
    os.mkfifo(fifo)
    r = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(r, F_SETPIPE_SZ, 4096)
    w = os.open(fifo, os.O_WRONLY)
    n = 20000
    s = Supd(supd, f"""max_restarts: 1000000
max_seconds: 1
children:
  - id: flood
    output: prefix
    restart: transient
    start: [/bin/sh, -c, 'seq 1 {n}; exec sleep 1000']
  - id: crash
    start: [/bin/false]
""", stdout=w, name="flow")
    os.close(w)
    try:
        base = [0]
        check(wait_for(lambda: len(s.events_named("child_started")) > 10, 20),
              "flow: the tree runs")
        # The flood cannot finish: 20000 lines do not fit in the FIFO, the
        # stdout buffer and the worker's pipe.
        base[0] = len(s.events_named("child_started"))
        check(wait_for(lambda: len(s.events_named("child_started")) > base[0] + 200, 60),
              "flow: the other worker keeps restarting while the flood is held up")
        try:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(1.0)
            c.connect(s.sock)
            c.sendall(b'{"op":"ping"}\n')
            pong = c.recv(4096)
            c.close()
        except OSError:
            pong = b""
        check(b'"ok":true' in pong, "flow: ping answers within 1 s")
        data = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and f"/flood | {n}\n".encode() not in data:
            try:
                data += os.read(r, 65536)
            except BlockingIOError:
                time.sleep(0.01)
        nums = [int(l[len(b"/flood | "):]) for l in data.split(b"\n")
                if l.startswith(b"/flood | ")]
        check(nums == list(range(1, n + 1)),
              f"flow: once drained, all {n} lines arrive in order "
              f"(got {len(nums)}, first gap at {next((i for i, v in enumerate(nums) if v != i + 1), None)})")
        check(not s.events_named("output_dropped"), "flow: no captured line was dropped")
    finally:
        s.stop()
        os.close(r)


def no_fd_growth(supd):
    """1,000 restarts of a captured worker leave supd with the descriptors
    it had: both counts are taken while the worker runs quietly (a spawn
    in progress holds a few more for a moment)."""
    s = Supd(supd, """max_restarts: 1000000
max_seconds: 1
children:
  - id: w
    output: prefix
    start: [/bin/sh, -c, 'echo out; echo err >&2; if [ -e @DIR@/go ]; then exit 1; fi; exec sleep 1000']
""", name="fds")
    go = os.path.join(s.dir, "go")
    try:
        def started():
            return s.events_named("child_started")

        def quiet():
            """The latest worker runs sleep (it will not exit by itself)."""
            st = started()
            if not st:
                return False
            try:
                with open(f"/proc/{st[-1]['pid']}/cmdline", "rb") as f:
                    return f.read().startswith(b"sleep")
            except OSError:
                return False
        check(wait_for(quiet, 20), "fds: the worker runs")
        pid = s.supd_pid()
        # A warm-up of 100 restarts first: sd-event opens a timerfd per
        # clock on the first deadline it arms, once for supd's lifetime.
        # Growth is what comes after that.
        open(go, "w").close()
        start = len(started())
        os.kill(started()[-1]["pid"], signal.SIGKILL)
        check(wait_for(lambda: len(started()) >= start + 100, 240), "fds: 100 restarts of warm-up")
        os.unlink(go)
        check(wait_for(quiet, 20), "fds: the worker runs quietly after the warm-up")
        before = len(os.listdir(f"/proc/{pid}/fd"))
        open(go, "w").close()
        start = len(started())
        os.kill(started()[-1]["pid"], signal.SIGKILL)
        check(wait_for(lambda: len(started()) >= start + 1000, 240), "fds: 1,000 restarts")
        os.unlink(go)
        check(wait_for(quiet, 20), "fds: the worker runs quietly again")
        after = len(os.listdir(f"/proc/{pid}/fd"))
        check(after == before, f"fds: no descriptor growth over 1,000 restarts ({before} -> {after})")
    finally:
        s.stop()


def logs(supd):
    s = Supd(supd, """children:
  - id: w
    output: prefix
    start: [/bin/sh, -c, 'i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i+1)); done; exec sleep 1000']
  - id: quiet
    start: [/bin/sleep, "1000"]
""", name="logs")
    try:
        check(wait_for(lambda: b"/w | line 30\n" in read(s.out), 10), "logs: the worker wrote")
        r = subprocess.run([SUPCTL, "-s", s.sock, "logs", "/w"], capture_output=True,
                           timeout=10)
        check(r.returncode == 0 and r.stdout.decode().split("\n")[:-1] ==
              [f"line {i}" for i in range(21, 31)],
              f"logs: the last 10 lines by default: {r.stdout!r} {r.stderr!r}")
        r = subprocess.run([SUPCTL, "-s", s.sock, "logs", "-n", "3", "/w"], capture_output=True,
                           timeout=10)
        r2 = subprocess.run([SUPCTL, "-s", s.sock, "logs", "/w", "-n", "3"],
                            capture_output=True, timeout=10)
        check(r.stdout == b"line 28\nline 29\nline 30\n" and r2.stdout == r.stdout,
              f"logs -n 3, before or after PATH: {r.stdout!r} {r2.stdout!r}")
        r = subprocess.run([SUPCTL, "-s", s.sock, "logs", "/quiet"], capture_output=True,
                           timeout=10)
        check(r.returncode != 0, f"logs of a worker whose output is not captured fails: "
              f"{r.stderr!r}")
        f = subprocess.Popen([SUPCTL, "-s", s.sock, "logs", "-f", "-n", "1", "/w"],
                             stdout=subprocess.PIPE, start_new_session=True)
        try:
            os.set_blocking(f.stdout.fileno(), False)
            got = [b""]

            def saw(text):
                try:
                    got[0] += os.read(f.stdout.fileno(), 65536)
                except BlockingIOError:
                    pass
                return text in got[0]
            check(wait_for(lambda: saw(b"line 30\n"), 10), "logs -f prints the last lines")
            # A restarted worker writes again: followers see its lines.
            for op in ("terminate-child", "restart-child"):
                subprocess.run([SUPCTL, "-s", s.sock, op, "/", "w"], capture_output=True,
                               timeout=10)
            check(wait_for(lambda: saw(b"line 1\n"), 10),
                  f"logs -f follows live, across a restart: {got[0][-80:]!r}")
            f.send_signal(signal.SIGINT)
            f.wait(timeout=10)
            check(True, "logs -f ends on Ctrl-C")
        finally:
            kill_tree(f)
    finally:
        s.stop()


def reopen(supd):
    """logrotate's move-and-signal: SIGHUP and supctl reopen reopen the
    events file and the output files."""
    s = Supd(supd, """events: {file: "@DIR@/ev", max_size: 100000000}
children:
  - id: w
    output: {file: "@DIR@/w.log"}
    start: [/bin/sh, -c, 'echo "run $$"; exec sleep 1000']
""", name="reopen")
    # --events (the harness passes it) overrides the path, not the rotation
    ev, log = s.events, os.path.join(s.dir, "w.log")
    try:
        check(wait_for(lambda: b" out run " in read(log), 10), "reopen: the worker wrote")
        for how in ("SIGHUP", "supctl reopen"):
            os.rename(ev, ev + ".old")
            os.rename(log, log + ".old")
            if how == "SIGHUP":
                os.kill(s.supd_pid(), signal.SIGHUP)
            else:
                r = subprocess.run([SUPCTL, "-s", s.sock, "reopen"], capture_output=True,
                                   timeout=10)
                check(r.returncode == 0, f"reopen: supctl reopen succeeds {r.stderr!r}")
            check(wait_for(lambda: os.path.exists(ev) and os.path.exists(log), 10),
                  f"reopen: {how} creates the files again")
            for op in ("terminate-child", "restart-child"):
                subprocess.run([SUPCTL, "-s", s.sock, op, "/", "w"], capture_output=True,
                               timeout=10)
            check(wait_for(lambda: b'"child_started"' in read(ev)
                           and b" out run " in read(log), 10),
                  f"reopen: after {how}, new events and lines go to the new files")
            os.unlink(ev + ".old")
            os.unlink(log + ".old")
        check(b"reloaded " in read(s.err) and b"0 supervisors changed" in read(s.err),
              "reopen: SIGHUP also reloads the (unchanged) file, and says so")
    finally:
        s.stop()


def log_lines(supd):
    """The severity of supd's own lines matches the outcome; its last line
    says with what status it exits and why."""
    s = Supd(supd, """children:
  - id: sub
    type: supervisor
    max_restarts: 1
    children:
      - id: crash
        start: [/bin/false]
""", name="loglines")
    try:
        s.proc.wait(timeout=30)
        err = read(s.err).decode()
        check("supd: warning: /sub: /sub/crash exited: more than 1 restarts in 5 s, giving up"
              in err, f"the giving-up line names the child: {err[-300:]!r}")
        check("supd: error: /: /sub exited: more than 3 restarts in 5 s, giving up" in err
              or "supd: error: /: /sub exited:" in err,
              "the root giving up (what ends supd) is an error")
        check(err.rstrip("\n").split("\n")[-1] ==
              "supd: error: exiting with status 1: the root supervisor reached its restart limit",
              f"the last line says the status and why: {err.splitlines()[-1:]!r}")
    finally:
        kill_tree(s.proc)
    # A program that exists when the file is loaded (the loader checks
    # that) but cannot be executed: its interpreter is missing, so exec
    # fails with ENOENT.
    progdir = tempfile.mkdtemp(prefix="supd-noint-")
    prog = os.path.join(progdir, "prog")
    with open(prog, "w") as f:
        f.write("#!/no/such/interpreter-for-supd\n")
    os.chmod(prog, 0o755)
    s = Supd(supd, f"""children:
  - id: w
    start: [{prog}]
""", name="loglines2")
    try:
        s.proc.wait(timeout=30)
        err = read(s.err).decode()
        check(f"supd: warning: /w: start failed: exec:ENOENT ({prog})" in err,
              f"exec:ENOENT names the program: {err!r}")
    finally:
        kill_tree(s.proc)
    s = Supd(supd, """children:
  - id: w
    start: [/bin/sleep, "1000"]
""", name="loglines3")
    try:
        wait_for(lambda: b"started" in read(s.err), 10)
        s.stop()
        err = read(s.err).decode()
        check(err.rstrip("\n").split("\n")[-1] == "supd: exiting with status 0: stopped by SIGTERM",
              f"a stop ends with an info line: {err.splitlines()[-1:]!r}")
    finally:
        kill_tree(s.proc)
    r = subprocess.run([supd, "--", "/bin/sh", "-c", "echo hi; exit 0"], capture_output=True,
                       timeout=30)
    check(r.returncode == 0 and r.stdout == b"hi\n" and r.stderr == b"",
          f"-- mode is silent when all goes well: {r.stderr!r}")


SUPCTL = None


def main():
    global SUPCTL
    supd, SUPCTL = sys.argv[1], sys.argv[2]
    prefix_basics(supd, False)
    prefix_basics(supd, True)
    defaults_from_supervisors(supd)
    file_rotation(supd)
    flow_control(supd)
    no_fd_growth(supd)
    logs(supd)
    reopen(supd)
    log_lines(supd)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
