#!/usr/bin/env python3
"""test-control-clients.py - clients that misbehave never disturb the tree.

Usage: test-control-clients.py SUPD SUPCTL TESTCHILD

A client that connects and sends nothing, a client that never reads its
replies, and a subscriber compared line by line with the --events file;
`supctl tree --watch` redraws on events. After each, the tree must still run
and answer. Prints TAP. Every wait has a deadline.
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
from supdtest import wait_for

EMPTY = "an-empty-supervisor-with-a-long-id-so-that-each-event-is-larger"



def call(path, req, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(json.dumps(req).encode() + b"\n")
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf.split(b"\n")[0]) if buf else None


def call_ok(path):
    try:
        r = call(path, {"op": "ping"}, timeout=2)
        return bool(r and r["ok"])
    except OSError:
        return False


def _closed_by_peer(s):
    """True once the peer has closed (or reset) s, without consuming data:
    a socket whose peer closed shows POLLHUP/POLLRDHUP in poll()."""
    import select
    p = select.poll()
    p.register(s, select.POLLRDHUP | select.POLLHUP)
    return any(ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR)
               for _, ev in p.poll(0))


def main():
    supd, supctl, testchild = sys.argv[1], sys.argv[2], sys.argv[3]
    work = tempfile.mkdtemp(prefix="supd-clients-")
    sock = os.path.join(work, "supd.sock")
    events_path = os.path.join(work, "events.jsonl")
    cfg = os.path.join(work, "supd.yaml")
    with open(cfg, "w") as f:
        f.write(f"""max_restarts: 1000000
max_seconds: 1
children:
  - id: w
    start: ["{testchild}", "sleep"]
  - id: {EMPTY}
    type: supervisor
    children: []
  - id: pool
    type: dynamic
    template:
      start: ["{testchild}", "sleep"]
      restart: temporary
""")
    # A stale socket file, left by a supd that died: nobody listens on it.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(sock)
    stale.close()
    proc = subprocess.Popen([supd, "-q", "-c", cfg, "-s", sock, "--events", events_path],
                            start_new_session=True)
    try:
        check(wait_for(lambda: call_ok(sock), 10), "a stale socket file is replaced")

        # A live one is not stolen: a second supd on the same path refuses.
        second = subprocess.run([supd, "-q", "-c", cfg, "-s", sock], capture_output=True,
                                timeout=10)
        check(second.returncode == 70 and call_ok(sock),
              "a second supd on a live socket exits 70; the first keeps it")
        notsock = os.path.join(work, "plain-file")
        open(notsock, "w").close()
        third = subprocess.run([supd, "-q", "-c", cfg, "-s", notsock], capture_output=True,
                               timeout=10)
        check(third.returncode == 70 and os.path.isfile(notsock),
              "a file that is not a socket is left alone; supd exits 70")
        w_pid = call(sock, {"op": "which_children", "sup": "/"})["children"]

        # 1. connects and sends nothing: kept, costs nothing, others are served
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.connect(sock)
        r = call(sock, {"op": "ping"})
        check(r and r["ok"], "a silent client does not block others")

        # 2. a subscriber compared with the events file
        sub = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sub.settimeout(10)
        sub.connect(sock)
        sub.sendall(b'{"op":"subscribe"}\n')
        sub_buf = b""
        while b"\n" not in sub_buf:
            sub_buf += sub.recv(65536)
        reply, sub_buf = sub_buf.split(b"\n", 1)
        check(json.loads(reply)["ok"], "subscribe")
        before = sum(1 for _ in open(events_path))
        call(sock, {"op": "start_child", "sup": "/pool", "id": "x"})
        call(sock, {"op": "terminate_child", "sup": "/pool", "id": "x"})
        want = open(events_path).read().splitlines()[before:]
        deadline = time.monotonic() + 10
        while sub_buf.count(b"\n") < len(want) and time.monotonic() < deadline:
            sub_buf += sub.recv(65536)
        got = sub_buf.decode().splitlines()
        check(len(want) >= 3 and got[:len(want)] == want,
              "subscribe sees exactly the lines of --events (%d lines)" % len(want))

        # 3a. a client that never reads its replies: supd stops reading its
        #     requests once 256 KiB of replies wait (so its sends block), and
        #     never blocks on it.
        hog = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        hog.connect(sock)
        hog.setblocking(False)
        req = b'{"op":"tree"}\n' * 200
        throttled = False
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not throttled:
            try:
                hog.send(req)
            except BlockingIOError:
                throttled = True
        r = call(sock, {"op": "ping"}, timeout=2)
        check(throttled and r and r["ok"],
              "a client that never reads is throttled, and others are still served")
        hog.close()

        # 3b. a subscriber that never reads: events pile up for it until
        #     1 MiB is pending, then supd drops it. Cheap events: stopping
        #     and restarting an empty supervisor spawns nothing.
        lazy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lazy.connect(sock)
        lazy.sendall(b'{"op":"subscribe"}\n')
        busy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        busy.settimeout(10)
        busy.connect(sock)
        pair = (json.dumps({"op": "terminate_child", "sup": "/", "id": EMPTY}) + "\n" +
                json.dumps({"op": "restart_child", "sup": "/", "id": EMPTY}) + "\n").encode()
        dropped = False
        deadline = time.monotonic() + 60
        rounds = 0
        while not dropped and time.monotonic() < deadline:
            busy.sendall(pair * 100)
            got = b""
            while got.count(b"\n") < 200:
                got += busy.recv(1 << 16)
            rounds += 100
            dropped = _closed_by_peer(lazy)
        check(dropped, "a subscriber that never reads is disconnected (%d events)" % (4 * rounds))
        check(all(json.loads(l)["ok"] for l in got.splitlines()), "the tree still answers")
        busy.close()
        lazy.close()

        # 4. supctl tree --watch redraws when an event arrives
        watch = subprocess.Popen([supctl, "-s", sock, "tree", "--watch"], stdout=subprocess.PIPE,
                                 text=True)
        os.set_blocking(watch.stdout.fileno(), False)
        out = ""

        def drain():
            nonlocal out
            try:
                out += watch.stdout.read() or ""
            except TypeError:
                pass
            return out

        check(wait_for(lambda: "pool" in drain(), 10), "tree --watch draws the tree")
        drawn = out.count("pool")
        call(sock, {"op": "start_child", "sup": "/pool", "id": "watched"})
        check(wait_for(lambda: "watched" in drain(), 10) and out.count("pool") > drawn,
              "tree --watch redraws with the new child")
        watch.send_signal(signal.SIGINT)
        check(watch.wait(timeout=10) == 0, "tree --watch exits 0 on SIGINT")

        # the tree was never disturbed
        after = call(sock, {"op": "which_children", "sup": "/"})["children"]
        pid_of = lambda kids: {c["id"]: c["pid"] for c in kids if c["id"] in ("w", "pool")}
        check(pid_of(after) == pid_of(w_pid) and pid_of(after)["w"],
              "the tree kept running untouched")
        idle.close()
        sub.close()
        os.kill(proc.pid, signal.SIGTERM)
        check(proc.wait(timeout=20) == 0, "supd exits 0")
    finally:
        kill_tree(proc)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
