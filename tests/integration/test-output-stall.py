#!/usr/bin/env python3
"""test-output-stall.py - supd's own output never stops supervision.

Usage: test-output-stall.py SUPD

The reproduction of issue 8: a crash-looping worker, supd's stdout and stderr
on a FIFO that this script holds open and never reads (its buffer shrunk to
one page). supd must go on restarting (the events file shows it), answer a
ping within 1 s, report the lines it dropped once the FIFO is drained, and
stop on SIGTERM within its shutdown time while the FIFO is full again. The
same with the events file on a stalled FIFO, both as a normal process and as
PID 1. Also: started with fds 0, 1 and 2 closed, supd and its workers get
/dev/null there. Prints TAP. Every wait has a deadline.
"""
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time

from tap import check, finish, kill_tree
from supdtest import wait_for

F_SETPIPE_SZ = 1031
# Restarts after the FIFO is full: enough log (or event) lines to overflow
# supd's buffer (64 KiB of log, 256 KiB of events), so lines must be dropped.
# The crashing worker sits deep in the tree so that each line is long (its
# path is about 200 bytes): fewer restarts fill the buffers.
LOG_OVERFLOW_RESTARTS = 300
EVENTS_OVERFLOW_RESTARTS = 800
LONG = ["a" * 64, "b" * 64, "c" * 64]


def fifo_bytes(fd):
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def stalled_fifo(path):
    """A FIFO whose read end we hold (never reading) with a one-page buffer;
    returns (read_fd, write_fd)."""
    os.mkfifo(path)
    r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(r, F_SETPIPE_SZ, 4096)
    w = os.open(path, os.O_WRONLY)
    return r, w


def fifo_full(fd):
    return fifo_bytes(fd) > 4096 - 200


def drain(fd, seconds, until):
    """Reads fd until until(data) holds or the time runs out."""
    data = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
            data += chunk
            if until(data):
                return data
        except BlockingIOError:
            time.sleep(0.01)
    return data


def count(path, needle):
    try:
        with open(path, "rb") as f:
            return f.read().count(needle)
    except OSError:
        return 0


def ping(sock_path):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(1.0)
        s.connect(sock_path)
        s.sendall(b'{"op":"ping"}\n')
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        s.close()
        return json.loads(buf.split(b"\n")[0]).get("ok") is True
    except (OSError, ValueError):
        return False


def supd_pid(proc, pid1):
    """supd itself: proc, or the child of unshare."""
    if not pid1:
        return proc.pid
    found = []

    def child():
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                found[:] = f.read().split()
        except OSError:
            pass
        return bool(found)
    wait_for(child, 10)
    return int(found[0]) if found else proc.pid


def start(supd, work, events, stdout, stderr, pid1, extra=()):
    cfg = os.path.join(work, "supd.yaml")
    with open(cfg, "w") as f:
        f.write("""max_restarts: 1000000
max_seconds: 1
children:
""")
        indent = "  "
        for sup in LONG:
            f.write(f"""{indent}- id: {sup}
{indent}  type: supervisor
{indent}  max_restarts: 1000000
{indent}  max_seconds: 1
{indent}  children:
""")
            indent += "    "
        f.write(f"""{indent}- id: crash
{indent}  start: [/bin/false]
""")
    argv = [supd, "-c", cfg, "-s", os.path.join(work, "supd.sock"), "--events", events]
    argv += list(extra)
    if pid1:
        argv = ["unshare", "--pid", "--fork", "--mount-proc"] + argv
    return subprocess.Popen(argv, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def stop_within(proc, pid, seconds):
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - t0
    return True, time.monotonic() - t0


def stderr_on_stalled_fifo(supd, pid1):
    mode = "as PID 1" if pid1 else "as a normal process"
    work = tempfile.mkdtemp(prefix="supd-stall-")
    events = os.path.join(work, "events.jsonl")
    sock = os.path.join(work, "supd.sock")
    r, w = stalled_fifo(os.path.join(work, "stderr.fifo"))
    proc = start(supd, work, events, w, w, pid1)
    os.close(w)
    try:
        if not check(wait_for(lambda: fifo_full(r) or proc.poll() is not None, 30)
                     and proc.poll() is None, f"{mode}: supd's stderr FIFO fills up"):
            return
        base = count(events, b'"child_started"')
        check(wait_for(lambda: count(events, b'"child_started"') >= base + LOG_OVERFLOW_RESTARTS,
                       120),
              f"{mode}: restarts go on while nobody reads stderr "
              f"({count(events, b'child_started') - base} more)")
        check(proc.poll() is None and ping(sock), f"{mode}: ping answers within 1 s")
        data = drain(r, 30, lambda d: b"lines dropped" in d)
        dropped = [l for l in data.decode(errors="replace").splitlines() if "lines dropped" in l]
        check(dropped and dropped[0].startswith("supd: warning: stderr was not writable: "),
              f"{mode}: once drained, stderr says how many lines were dropped: {dropped[:1]}")
        check(wait_for(lambda: count(events, b'"event":"output_dropped"') > 0, 10),
              f"{mode}: an output_dropped event reports it")
        ev = [json.loads(l) for l in open(events, "rb") if b"output_dropped" in l]
        check(ev and ev[0]["output"] == "stderr" and ev[0]["lines"] > 0,
              f"{mode}: output_dropped names stderr and counts lines: {ev[:1]}")
        # Stalled again: SIGTERM must still stop it (no child needs time
        # to stop; 500 ms of final flush at most).
        check(wait_for(lambda: fifo_full(r), 30), f"{mode}: the FIFO fills up again")
        ok, took = stop_within(proc, supd_pid(proc, pid1), 5)
        check(ok and proc.returncode == 0,
              f"{mode}: SIGTERM stops supd in {took:.2f} s, status {proc.returncode}")
    finally:
        kill_tree(proc)
        os.close(r)


def events_on_stalled_fifo(supd, pid1):
    mode = "as PID 1" if pid1 else "as a normal process"
    work = tempfile.mkdtemp(prefix="supd-stall-ev-")
    fifo = os.path.join(work, "events.fifo")
    log = os.path.join(work, "stderr")
    sock = os.path.join(work, "supd.sock")
    r, w = stalled_fifo(fifo)
    os.close(w)
    with open(log, "wb") as logf:
        proc = start(supd, work, fifo, subprocess.DEVNULL, logf, pid1)
    try:
        if not check(wait_for(lambda: fifo_full(r) or proc.poll() is not None, 30)
                     and proc.poll() is None, f"{mode}: the events FIFO fills up"):
            return
        base = count(log, b": started, pid")
        check(wait_for(lambda: count(log, b": started, pid") >= base + EVENTS_OVERFLOW_RESTARTS,
                       120),
              f"{mode}: restarts go on while nobody reads the events FIFO")
        check(proc.poll() is None and ping(sock), f"{mode}: ping answers within 1 s")
        data = drain(r, 30, lambda d: b'"event":"output_dropped"' in d)
        lines = data.split(b"\n")
        bad = [l for l in lines[:-1] if l and not l.startswith(b'{"ts":')]
        check(not bad, f"{mode}: every event line read is whole ({bad[:1]})")
        ev = [json.loads(l) for l in lines[:-1] if b"output_dropped" in l]
        check(ev and ev[0]["output"] == fifo and ev[0]["lines"] > 0,
              f"{mode}: once drained, output_dropped counts the lost events: {ev[:1]}")
        ok, took = stop_within(proc, supd_pid(proc, pid1), 5)
        check(ok and proc.returncode == 0,
              f"{mode}: SIGTERM stops supd in {took:.2f} s, status {proc.returncode}")
    finally:
        kill_tree(proc)
        os.close(r)


def closed_stdio(supd):
    work = tempfile.mkdtemp(prefix="supd-stdio-")
    cfg = os.path.join(work, "supd.yaml")
    ok_file = os.path.join(work, "ok")
    with open(cfg, "w") as f:
        f.write(f"""children:
  - id: probe
    start: [/bin/sh, -c, 'test -e /proc/self/fd/0 && test -e /proc/self/fd/1 && test -e /proc/self/fd/2 && : > {ok_file}; exec sleep 1000']
""")
    proc = subprocess.Popen(["/bin/sh", "-c", 'exec "$0" -c "$1" --no-control <&- >&- 2>&-',
                             supd, cfg], start_new_session=True)
    try:
        check(wait_for(lambda: os.path.exists(ok_file), 10),
              "closed stdio: the worker starts with fds 0, 1 and 2 open")
        links = []
        for fd in (0, 1, 2):
            try:
                links.append(os.readlink(f"/proc/{proc.pid}/fd/{fd}"))
            except OSError:
                links.append(None)
        check(links == ["/dev/null"] * 3, f"closed stdio: supd has /dev/null on 0, 1, 2: {links}")
        ok, took = stop_within(proc, proc.pid, 10)
        check(ok and proc.returncode == 0, f"closed stdio: SIGTERM stops supd ({took:.2f} s)")
    finally:
        kill_tree(proc)


def main():
    supd = sys.argv[1]
    for pid1 in (False, True):
        stderr_on_stalled_fifo(supd, pid1)
        events_on_stalled_fifo(supd, pid1)
    closed_stdio(supd)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
