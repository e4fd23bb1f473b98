"""supdtest.py - what the Python integration tests share besides TAP
(tap.py): a control-socket connection, a supctl runner, and a deadline wait.

Every wait here is bounded by a deadline: a test waits for a condition, it
never sleeps for a fixed time and hopes.
"""
import array
import json
import socket
import subprocess
import time

from tap import check

DEADLINE = 10.0  # seconds: how long any single wait may take


def wait_for(pred, seconds=DEADLINE):
    """Polls pred() until it holds or `seconds` pass; returns its last value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)  # a deadline wait, not synchronisation by sleeping
    return pred()


def wait_or_fail(pred, what, seconds=DEADLINE):
    """wait_for(), recording a failed check naming `what` on timeout."""
    return wait_for(pred, seconds) or check(False, "timed out waiting for " + what)


class Conn:
    """One control-socket connection: JSON lines out, replies and events in,
    descriptors passed with SCM_RIGHTS collected in .fds."""

    def __init__(self, path, timeout=DEADLINE):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        self.fds = []

    def send(self, obj):
        data = obj if isinstance(obj, bytes) else (json.dumps(obj) + "\n").encode()
        self.s.sendall(data)

    def line(self):
        """The next message (replies and events alike), or None at the end of
        the stream (closed, reset, or nothing within the timeout)."""
        while b"\n" not in self.buf:
            try:
                data, anc, _, _ = self.s.recvmsg(65536, socket.CMSG_LEN(16))
            except (ConnectionResetError, socket.timeout):
                return None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                    self.fds.extend(fds)
            if not data:
                return None
            self.buf += data
        text, self.buf = self.buf.split(b"\n", 1)
        return json.loads(text)

    def reply(self):
        """The next reply, skipping events."""
        while True:
            msg = self.line()
            if msg is None or "ok" in msg:
                return msg

    def call(self, obj):
        self.send(obj)
        return self.reply()

    def close(self):
        self.s.close()


def ping(sock):
    """True when supd answers a ping on its socket now."""
    try:
        c = Conn(sock)
        r = c.call({"op": "ping"})
        c.close()
        return bool(r and r.get("ok"))
    except OSError:
        return False


def proc_words(pid, name):
    """/proc/PID/NAME (cmdline or environ) split at NULs, once the new image
    has them.

    supd reports a worker started once its exec is past the point of no
    return (the CLONE_VFORK parent resumes there), but the kernel lays out
    the new argv and environment a moment later: read at once, both files
    can still be empty. So this waits, with the deadline, for them to fill.
    """
    words = []

    def filled():
        nonlocal words
        try:
            with open("/proc/%d/%s" % (pid, name), "rb") as f:
                data = f.read()
        except OSError:
            return False
        words = data.split(b"\0")
        return bool(data)
    wait_for(filled)
    return words


class Ctl:
    """supctl against one socket."""

    def __init__(self, supctl, sock):
        self.base = [supctl, "-s", sock]

    def run(self, *args):
        """(exit status, stdout, stderr) of `supctl ARGS`."""
        p = subprocess.run(self.base + list(args), capture_output=True, text=True,
                           timeout=DEADLINE)
        return p.returncode, p.stdout, p.stderr

    def json(self, *args):
        """(exit status, the last JSON line of `supctl --json ARGS` or None)."""
        rc, out, _ = self.run("--json", *args)
        return rc, json.loads(out.splitlines()[-1]) if out.strip() else None


def find_node(tree, path):
    """The node of a `tree` reply with this path, or None."""
    if tree.get("path") == path:
        return tree
    for k in tree.get("children", []):
        found = find_node(k, path)
        if found:
            return found
    return None
