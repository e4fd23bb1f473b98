#!/usr/bin/env python3
"""test-metrics-http.py - `metrics: {listen: ADDR:PORT}` (SPEC 7.8).

Usage: test-metrics-http.py SUPD SUPCTL

Runs supd with the metrics listener on 127.0.0.1 port 0 (supd logs the
port it got) and checks, over real TCP: GET /metrics parsed by the
Prometheus client library's own parser, the same families and values as
`supctl metrics`; HEAD; HTTP/1.0 and a query string; 404, 405 (with
Allow), 400, 505; a request head over 8 KiB gets 431; a slowloris client
(a byte every half second) holds neither a restart nor a ping on the
control socket, and is closed at its deadline; connections beyond the cap
get 503 while the ones before it are open, and many clients at once all
get an answer. All of that twice: with supd as a normal process, and as
PID 1 of a new PID namespace (unshare; the network stays shared). At load: bad `listen` values are FILE:LINE:COL errors (exit
78), and an address in use is exit 78 with a clear message. Prints TAP.
Every wait has a deadline; nothing sleeps for a fixed time to let supd
act.
"""
import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from supdtest import Ctl, wait_or_fail
from tap import check, finish, kill_tree

DEADLINE = 10.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_CONNS = 16           # METRICS_HTTP_MAX_CONNS
CONN_TIMEOUT = 10.0      # METRICS_HTTP_TIMEOUT_MS

CONFIG = """\
metrics:
  listen: "{listen}"
children:
  - id: victim
    start: ["/bin/sleep", "1000"]
  - id: pool
    type: dynamic
    template:
      start: ["/bin/sleep", "1000"]
      restart: temporary
"""


def parse(text):
    """{family: (type, {path: value})} through prometheus_client."""
    out = {}
    for fam in text_string_to_metric_families(text):
        out[fam.name] = (fam.type, {s.labels.get("path"): s.value for s in fam.samples})
    return out


def raw(addr, data, timeout=DEADLINE):
    """Sends data on a new connection, returns everything until the close
    (b"RESET" when the connection was reset)."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                return b"RESET"
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


def status_of(reply):
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", reply)
    return int(m.group(1)) if m else None


def get(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=DEADLINE) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_get(base, ctl):
    status, headers, body = get(base + "/metrics")
    check(status == 200, "GET /metrics: 200 (%s)" % status)
    check(headers.get("Content-Type") == CONTENT_TYPE,
          "Content-Type is the 0.0.4 text format (%s)" % headers.get("Content-Type"))
    check(headers.get("Content-Length") == str(len(body)),
          "Content-Length is the body's length (%s, %d)" % (headers.get("Content-Length"),
                                                             len(body)))
    http_m = parse(body.decode())
    rc, text, err = ctl.run("metrics")
    check(rc == 0, "supctl metrics: exit 0 %s" % err.strip())
    ctl_m = parse(text)
    check(set(http_m) == set(ctl_m) and len(http_m) == 6,
          "the same six families over HTTP and supctl (%s)" % sorted(http_m))
    same = all(http_m[f][0] == ctl_m[f][0] and set(http_m[f][1]) == set(ctl_m[f][1])
               for f in ctl_m)
    check(same, "the same types and paths over HTTP and supctl")
    up = http_m.get("supd_child_up", (None, {}))[1]
    check(up.get("/victim") == 1 and up.get("/pool/1") == 1 and up.get("/pool") == 1,
          "supd_child_up over HTTP: the workers and the dynamic child (%s)" % up)

    status, headers, body = get(base + "/metrics", method="HEAD")
    check(status == 200 and body == b"" and int(headers.get("Content-Length", 0)) > 0,
          "HEAD /metrics: 200, a length, no body")


def test_errors(addr, base):
    for path in ("/", "/metric", "/metrics/x", "/favicon.ico"):
        status, _, body = get(base + path)
        check(status == 404, "GET %s: 404 (%s)" % (path, status))
    status, headers, _ = get(base + "/metrics", method="POST")
    check(status == 405 and headers.get("Allow") == "GET, HEAD",
          "POST /metrics: 405 with Allow: GET, HEAD (%s %s)" % (status, headers.get("Allow")))
    status, _, _ = get(base + "/metrics", method="DELETE")
    check(status == 405, "DELETE /metrics: 405")
    reply = raw(addr, b"GET /metrics?name=x HTTP/1.0\r\n\r\n")
    check(status_of(reply) == 200 and b"supd_child_up" in reply,
          "HTTP/1.0 with a query string: 200 and the metrics")
    reply = raw(addr, b"GET /metrics HTTP/1.1\nHost: x\n\n")
    check(status_of(reply) == 200, "bare LF line ends: 200")
    for bad in (b"GARBAGE\r\n\r\n", b"GET /metrics\r\n\r\n", b"GET  /metrics HTTP/1.1\r\n\r\n",
                b"GET /metrics HTTP/1.1x\r\n\r\n", b"G\x00T /metrics HTTP/1.1\r\n\r\n"):
        reply = raw(addr, bad)
        check(status_of(reply) == 400, "%r: 400 (%r)" % (bad, reply[:40]))
    reply = raw(addr, b"GET /metrics HTTP/2.0\r\n\r\n")
    check(status_of(reply) == 505, "HTTP/2.0: 505")


def test_oversized(addr):
    head = b"GET /metrics HTTP/1.1\r\n" + b"X-Filler: " + b"a" * 9000 + b"\r\n\r\n"
    reply = raw(addr, head)
    check(status_of(reply) == 431, "a request head over 8 KiB: 431 (%r)" % reply[:40])
    # A client that goes on sending after the 431 is closed all the same
    # (its own timeout would end the loop below otherwise).
    s = socket.create_connection(addr, timeout=DEADLINE)
    got, timed_out = b"", False
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\n" + b"X: " + b"b" * 8200)
        while True:
            try:
                s.sendall(b"c" * 4096)
                s.settimeout(0.05)
                b = s.recv(65536)
                s.settimeout(DEADLINE)
            except socket.timeout:
                if s.gettimeout() == DEADLINE:
                    timed_out = True
                    break
                s.settimeout(DEADLINE)
                continue
            except OSError:
                break
            if not b:
                break
            got += b
    finally:
        s.close()
    check(not timed_out and status_of(got) in (431, None),
          "a client that keeps sending after the 431 is closed by supd")


def victim_pid(ctl):
    import json
    rc, out, _ = ctl.run("--json", "tree")
    if rc != 0:
        return None
    tree = json.loads(out.splitlines()[-1])["tree"]
    for c in tree.get("children", []):
        if c.get("path") == "/victim":
            return c.get("pid")
    return None


def test_slowloris(addr, ctl):
    s = socket.create_connection(addr, timeout=DEADLINE)
    stop = threading.Event()
    state = {"closed_by_supd": False, "sent": 0}

    def trickle():
        request = b"GET /metrics HTTP/1.1\r\nHost: slow\r\n" + b"X: " + b"z" * 4000
        for byte in request:
            if stop.wait(0.5):
                return
            try:
                s.send(bytes([byte]))
                state["sent"] += 1
            except OSError:
                state["closed_by_supd"] = True
                return

    t = threading.Thread(target=trickle)
    t.start()
    try:
        wait_or_fail(lambda: state["sent"] >= 2, "the slow client to start")
        pid = victim_pid(ctl)
        # through supd: as PID 1 the pid is its namespace's, not ours
        ctl.run("signal", "/victim", "KILL")
        restarted = wait_or_fail(lambda: victim_pid(ctl) not in (None, pid),
                             "a restart while a slow client trickles")
        rc, _, _ = ctl.run("ping")
        during = not state["closed_by_supd"] and t.is_alive()
        check(restarted and rc == 0 and during,
              "a restart and a ping while the slowloris client is still connected")
        status, _, _ = get("http://%s:%d/metrics" % addr)
        check(status == 200, "a scrape while the slowloris client is still connected")
        # supd ends it at its deadline: the peer sees the close.
        s.settimeout(CONN_TIMEOUT + DEADLINE)
        try:
            closed = s.recv(1) == b""
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            closed = False
        check(closed, "the slowloris connection is closed at its deadline")
    finally:
        stop.set()
        t.join()
        s.close()


def test_many(addr, base, ctl):
    # MAX_CONNS idle connections, accepted in order; the next one is over
    # the cap, whatever the timing: 503.
    idle = [socket.create_connection(addr, timeout=DEADLINE) for _ in range(MAX_CONNS)]
    try:
        # It sends nothing: a refused client whose request supd did not
        # read could see a reset instead of the 503.
        reply = raw(addr, b"")
        check(status_of(reply) == 503,
              "with %d connections open the next one gets 503 (%r)" % (MAX_CONNS, reply[:40]))
    finally:
        for s in idle:
            s.close()
    check(wait_or_fail(lambda: get(base + "/metrics")[0] == 200, "a slot after the idle ones close"),
          "once they close, GET /metrics is served again")

    results = []
    lock = threading.Lock()

    def client():
        try:
            r = raw(addr, b"GET /metrics HTTP/1.1\r\nHost: many\r\n\r\n")
        except OSError as e:
            r = repr(e).encode()
        with lock:
            results.append(r)

    threads = [threading.Thread(target=client) for _ in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [r for r in results if r == b"RESET" or status_of(r) == 503]
    ok = [r for r in results if status_of(r) == 200]
    parsed = all("supd_child_up" in parse(r.split(b"\r\n\r\n", 1)[1].decode()) for r in ok)
    check(len(ok) + len(refused) == 60 and ok and parsed,
          "60 clients at once: each gets the metrics, or 503 / a reset when over the cap "
          "(%d got 200)" % len(ok))
    rc, _, _ = ctl.run("ping")
    check(rc == 0, "supd answers its control socket after the crowd")


def test_reload_refused(work, name, base, ctl):
    with open(os.path.join(work, name + ".yaml"), "w") as f:
        f.write(CONFIG.format(listen="127.0.0.1:1"))
    rc, out, err = ctl.run("reload")
    check(rc != 0 and "metrics.listen cannot change" in out + err,
          "a reload that changes metrics.listen is refused (%d %s)" % (rc, (out + err).strip()))
    status, _, _ = get(base + "/metrics")
    check(status == 200, "the listener keeps serving after the refused reload")


def test_load_errors(supd, work):
    bad = {
        '"localhost:9100"': "not a numeric IPv4 address",
        '"127.0.0.1"': "no port",
        '"127.0.0.1:65536"': "from 0 to 65535",
        '"[::1]9100"': "[ADDR]:PORT",
        '"::1:9100"': "[ADDR]:PORT",
        '"300.1.1.1:80"': "not a numeric IPv4 address",
        '"[fe80::zz]:80"': "not a numeric IPv6 address",
    }
    cfg = os.path.join(work, "bad.yaml")
    for value, why in bad.items():
        with open(cfg, "w") as f:
            f.write("children: []\nmetrics:\n  listen: %s\n" % value)
        p = subprocess.run([supd, "-n", "-c", cfg], capture_output=True, text=True,
                           timeout=DEADLINE)
        check(p.returncode == 78 and p.stderr.startswith(cfg + ":3:11: invalid listen")
              and why in p.stderr,
              "listen %s: %s:3:11, exit 78 (%d %s)" % (value, "bad.yaml", p.returncode,
                                                      p.stderr.strip()))
    for text, pos in (("metrics: 9100\n", ":1:10: invalid metrics"),
                      ("metrics: {}\n", ":1:10: metrics needs listen"),
                      ("metrics: {lisen: \"127.0.0.1:1\"}\n", ":1:11: unknown key 'lisen'")):
        with open(cfg, "w") as f:
            f.write(text)
        p = subprocess.run([supd, "-n", "-c", cfg], capture_output=True, text=True,
                           timeout=DEADLINE)
        check(p.returncode == 78 and p.stderr.startswith(cfg + pos),
              "%r: %s (%s)" % (text, pos, p.stderr.strip()))

    # An address in use: exit 78 before any child runs.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with open(cfg, "w") as f:
            f.write(CONFIG.format(listen="127.0.0.1:%d" % port).replace(
                '["/bin/sleep", "1000"]', '["/bin/sh", "-c", "touch %s/ran; sleep 1000"]' % work, 1))
        p = subprocess.run([supd, "-c", cfg, "-s", os.path.join(work, "busy.sock")],
                           capture_output=True, text=True, timeout=DEADLINE)
        check(p.returncode == 78 and "cannot listen on 127.0.0.1:%d" % port in p.stderr
              and "Address already in use" in p.stderr,
              "an address in use: exit 78, 'cannot listen on' (%d %s)" % (p.returncode,
                                                                        p.stderr.strip()))
        check(not os.path.exists(os.path.join(work, "ran")), "no child ran")
    finally:
        holder.close()


def start(supd, work, listen, name, pid1=False):
    sock = os.path.join(work, name + ".sock")
    cfg = os.path.join(work, name + ".yaml")
    log_path = os.path.join(work, name + ".log")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(listen=listen))
    argv = [supd, "-c", cfg, "-s", sock]
    wrapper = os.environ.get("SUPD_WRAPPER")
    if wrapper:
        # valgrind (the valgrind suite): its exit status 99 on an error or
        # a definite leak fails "stops cleanly"
        argv = wrapper.replace("@DIR@", work).split() + argv
    if pid1:
        # the network namespace stays ours: the listener is reachable
        argv = ["unshare", "--pid", "--fork", "--mount-proc"] + argv
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stderr=log, start_new_session=True)
    found = {}

    def served():
        with open(log_path, "rb") as f:
            m = re.search(rb"metrics: serving http://(\S+)/metrics", f.read())
        if m:
            found["addr"] = m.group(1).decode()
        return bool(m)

    wait_or_fail(served, "supd to log its metrics address")
    return proc, sock, found.get("addr")


def test_ipv6(supd, supctl, work):
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError as e:
        check(True, "IPv6 listener # SKIP no ::1 on this machine (%s)" % e)
        return
    proc, sock, addr = start(supd, work, "[::1]:0", "v6")
    try:
        m = re.match(r"\[::1\]:(\d+)$", addr or "")
        check(m is not None, "[::1]:0: supd serves on [::1]:PORT (%s)" % addr)
        if m:
            status, _, body = get("http://[::1]:%s/metrics" % m.group(1))
            check(status == 200 and "supd_child_up" in parse(body.decode()),
                  "GET /metrics over IPv6")
        rc, _, _ = Ctl(supctl, sock).run("stop")
        check(rc == 0 and proc.wait(timeout=DEADLINE) == 0, "supd (IPv6) stops cleanly")
    finally:
        kill_tree(proc)


def test_served(supd, supctl, work, pid1):
    """Everything a scrape meets, with supd as a normal process or as PID 1."""
    name = "v4-pid1" if pid1 else "v4"
    proc, sock, addr_text = start(supd, work, "127.0.0.1:0", name, pid1)
    ctl = Ctl(supctl, sock)
    where = " (PID 1)" if pid1 else ""
    try:
        if check(addr_text is not None,
                 "supd%s logs the address it serves (%s)" % (where, addr_text)):
            host, port = addr_text.rsplit(":", 1)
            addr = (host, int(port))
            base = "http://%s" % addr_text
            ctl.run("start-child", "/pool")
            test_get(base, ctl)
            test_errors(addr, base)
            test_oversized(addr)
            test_slowloris(addr, ctl)
            test_many(addr, base, ctl)
            test_reload_refused(work, name, base, ctl)
        rc, _, _ = ctl.run("stop")
        status = proc.wait(timeout=DEADLINE * 3)
        if not check(rc == 0 and status == 0, "supd%s stops cleanly (%s)" % (where, status)):
            show_valgrind_logs(work)
    finally:
        kill_tree(proc)


def show_valgrind_logs(work):
    for name in sorted(os.listdir(work)):
        if name.startswith("vg."):
            with open(os.path.join(work, name), errors="replace") as f:
                for line in f:
                    print("# " + line.rstrip())


def main():
    supd, supctl = (os.path.abspath(a) for a in sys.argv[1:3])
    with tempfile.TemporaryDirectory(prefix="supd-metrics-http-") as work:
        test_served(supd, supctl, work, pid1=False)
        test_served(supd, supctl, work, pid1=True)
        test_ipv6(supd, supctl, work)
        test_load_errors(supd, work)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
