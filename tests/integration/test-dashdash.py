#!/usr/bin/env python3
"""test-dashdash.py - `supd -- PROGRAM` as a drop-in for tini (SPEC section 4).

Usage: test-dashdash.py SUPD TINI

Runs the same programs under tini and under supd and compares the exit
statuses: PROGRAM exiting with N, PROGRAM killed by each signal the
supervisor forwards, SIGTERM and SIGINT to the supervisor (PROGRAM dies of
it, or traps it and exits with a code of its own). Then what tini has no
counterpart for: --shutdown ending in SIGKILL (137), silence on a normal
run, and the controlling terminal (job control in an interactive bash on a
pseudo-terminal). Prints TAP. Every wait has a deadline.
"""
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import time

from tap import check, finish

# Generous: under a loaded machine a start can take seconds; a passing run
# never waits this long.
DEADLINE = 30.0

# Signals a supervisor forwards whose default action ends PROGRAM. SIGPIPE
# is the exception: supd ignores it (its own writes raise it) and says so.
FORWARDED = [
    signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
    signal.SIGALRM, signal.SIGTERM, signal.SIGVTALRM, signal.SIGPROF, signal.SIGXCPU,
    signal.SIGRTMIN + 1,
]


def wait_file(path, proc):
    """Waits until path exists (PROGRAM is running) or proc has exited."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if os.path.exists(path) or proc.poll() is not None:
            return os.path.exists(path)
        time.sleep(0.01)
    return False


def default_signals():
    """Both supervisors start as from an interactive shell's foreground: a
    test run in the background of a non-interactive shell inherits SIGINT and
    SIGQUIT ignored, and one run under nohup SIGHUP; tini keeps what it
    inherits ignored for PROGRAM (which then never dies of what tini
    forwards), supd gives PROGRAM default dispositions."""
    for sig in FORWARDED + [signal.SIGQUIT]:
        signal.signal(sig, signal.SIG_DFL)


def run(cmd, program, workdir, send=None):
    """Runs cmd + program; with send, sends that signal to the supervisor
    once PROGRAM has written its ready file. Returns (status as a shell
    shows it, stderr text)."""
    ready = os.path.join(workdir, "ready")
    if os.path.exists(ready):
        os.unlink(ready)
    err = os.path.join(workdir, "stderr")
    with open(err, "wb") as errf:
        proc = subprocess.Popen(cmd + program, cwd=workdir, stdin=subprocess.DEVNULL,
                                stderr=errf, start_new_session=True,
                                preexec_fn=default_signals)
        try:
            if send is not None:
                if not wait_file(ready, proc):
                    return None, "PROGRAM never became ready"
                proc.send_signal(send)
            rc = proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None, "timed out"
    with open(err) as f:
        text = f.read()
    return (128 - rc if rc < 0 else rc), text


def sh(script):
    return ["/bin/sh", "-c", script]


# PROGRAM writes ./ready, then waits: dies of whatever reaches it.
WAITER = sh(": > ready; exec sleep 1000")
# PROGRAM traps SIGTERM and SIGINT and exits with codes of its own.
TRAPPER = sh("trap 'exit 3' TERM; trap 'exit 4' INT; : > ready; "
             "while :; do sleep 0.05; done")


def compare(supd, tini, workdir):
    cases = [("exit %d" % n, sh("exit %d" % n), None) for n in (0, 1, 3, 255)]
    cases += [("killed by %s" % signal.Signals(s).name if s < signal.SIGRTMIN
               else "killed by SIGRTMIN+1", WAITER, s) for s in FORWARDED]
    cases += [("traps SIGTERM, exits 3", TRAPPER, signal.SIGTERM),
              ("traps SIGINT, exits 4", TRAPPER, signal.SIGINT)]
    for name, program, send in cases:
        want, terr = run([tini, "-s", "--"], program, workdir, send)
        got, serr = run([supd, "--"], program, workdir, send)
        check(want is not None and got == want,
              "%s: supd exits %s, tini %s%s" % (name, got, want, "" if got == want else
                                              " (supd: %r, tini: %r)" % (serr.strip(),
                                                                         terr.strip())))
        # PROGRAM's own words (sh's "Terminated") share the stream.
        ours = [line for line in serr.splitlines() if line.startswith("supd")]
        check(not ours, "%s: supd printed nothing (%r)" % (name, ours[:3]))


def shutdown_kill(supd, workdir):
    ignorer = sh("trap '' TERM INT; : > ready; exec sleep 1000")
    got, _ = run([supd, "--shutdown", "200", "--"], ignorer, workdir, signal.SIGTERM)
    check(got == 137, "--shutdown 200: PROGRAM ignoring SIGTERM is killed, supd exits %s "
          "(expected 137)" % got)
    got, _ = run([supd, "--shutdown", "200", "--"], ignorer, workdir, signal.SIGINT)
    check(got == 137, "--shutdown 200: PROGRAM ignoring SIGINT is killed, supd exits %s "
          "(expected 137)" % got)
    got, err = run([supd, "--shutdown", "soon", "--"], sh("exit 0"), workdir)
    check(got == 64, "--shutdown soon is a usage error (exit %s: %s)" % (got, err.strip()))
    got, err = run([supd, "--"], ["/nonexistent/program"], workdir)
    check(got == 127 and "exec:ENOENT" in err,
          "a missing PROGRAM: 127 and an error on stderr (%s, %r)" % (got, err.strip()))


def on_terminal(argv, typed):
    """Runs argv on a new pseudo-terminal (its controlling terminal), types
    `typed`, and returns (status, everything the terminal showed)."""
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(126)
    os.write(master, typed.encode())
    out = b""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                data = os.read(master, 4096)
            except OSError:
                data = b""
            if not data:
                break
            out += data
    # The terminal closes as supd exits, a moment before it can be reaped.
    done, status = os.waitpid(pid, os.WNOHANG)
    while done == 0 and time.monotonic() < end:
        time.sleep(0.01)
        done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(master)
        return None, out.decode(errors="replace")
    os.close(master)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def terminal(supd):
    probe = [supd, "--", sys.executable, "-c",
             "import os, sys; "
             "fg = os.tcgetpgrp(0) == os.getpgrp(); "
             "print('FOREGROUND' if fg else 'BACKGROUND', flush=True); sys.exit(5)"]
    status, out = on_terminal(probe, "")
    check(status == 5 and "FOREGROUND" in out,
          "on a terminal PROGRAM is the foreground process group (exit %s, %r)"
          % (status, out[-200:]))
    status, out = on_terminal([supd, "--", "/bin/bash", "--norc", "--noprofile", "-i"],
                              "set -o | grep monitor; sleep 100 &\n"
                              "jobs; kill %1; wait; exit 6\n")
    check(status == 6 and "no job control" not in out and
          "monitor        \ton" in out and "Terminated" in out,
          "supd -- bash: job control works, bash's status comes back (exit %s, %r)"
          % (status, out[-400:]))


def main():
    supd, tini = os.path.abspath(sys.argv[1]), sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="supd-dashdash-") as workdir:
        compare(supd, tini, workdir)
        shutdown_kill(supd, workdir)
    terminal(supd)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
