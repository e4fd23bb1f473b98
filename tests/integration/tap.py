"""tap.py - the TAP plumbing shared by the Python integration tests.

check() prints one "ok N - ..." or "not ok N - ..." line per assertion;
skip() an "ok N - ... # SKIP why" line for a case the machine cannot run;
finish() prints the plan and gives the exit status; kill_tree() is the
teardown that leaves no process behind, whatever happened before it.
"""
import os
import signal

_results = []


def check(cond, what):
    """Records one test case; returns cond so a test can stop early on it."""
    _results.append(bool(cond))
    print(("ok %d - %s" if cond else "not ok %d - %s") % (len(_results), what), flush=True)
    return cond


def skip(what, why):
    """Records a case that cannot run here, saying why (TAP "# SKIP")."""
    _results.append(True)
    print("ok %d - %s # SKIP %s" % (len(_results), what, why), flush=True)
    return True


def finish():
    """Prints the plan; 0 when every case passed (and at least one ran)."""
    print("1..%d" % len(_results), flush=True)
    return 0 if _results and all(_results) else 1


def kill_tree(proc):
    """SIGKILLs proc's process group (started with start_new_session) if it
    still runs, and reaps proc."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
