#!/usr/bin/env python3
"""test-supctl.py - supctl for operators (SPEC 7.8) against a real supd.

Usage: test-supctl.py SUPD SUPCTL COMPLETION

PATH and SUP ID forms of the commands that name a child, which-children in
start order, `status` exit codes for probes, `tree` with aligned columns,
`tree --paths`, and the bash completion script asking the running tree.
Prints TAP. Every wait has a deadline; nothing sleeps to synchronise.
"""
import json
import os
import subprocess
import sys
import tempfile

from tap import check, finish, kill_tree
from supdtest import DEADLINE, Ctl, find_node, wait_or_fail


CONFIG = """\
children:
  - id: web
    type: supervisor
    strategy: rest_for_one
    children:
      - id: db
        start: ["/bin/sleep", "1000"]
      - id: cache
        start: ["/bin/sleep", "1000"]
        restart: transient
  - id: pool
    type: dynamic
    template:
      start: ["/bin/sleep", "1000"]
      restart: temporary
  - id: w
    start: ["/bin/sleep", "1000"]
"""


def test_path_forms(ctl):
    rc, out, err = ctl.run("terminate-child", "/web/cache")
    check(rc == 0, "terminate-child /web/cache (PATH form): exit %d %s" % (rc, err.strip()))
    _, r = ctl.json("tree")
    check(find_node(r["tree"], "/web/cache")["state"] == "stopped", "/web/cache is stopped")
    rc, out, err = ctl.run("restart-child", "/web", "cache")
    check(rc == 0 and out.startswith("restarted cache"),
          "restart-child /web cache (SUP ID form): %d %r" % (rc, out))
    rc, out, _ = ctl.run("terminate-child", "/w")
    check(rc == 0, "terminate-child /w: a child of the root by PATH")
    rc, out, _ = ctl.run("delete-child", "/w")
    check(rc == 0, "delete-child /w by PATH")
    rc, out, _ = ctl.run("get-childspec", "/web/db")
    check(rc == 0 and json.loads(out)["id"] == "db", "get-childspec /web/db by PATH")
    rc, _, err = ctl.run("terminate-child", "/web/nope")
    check(rc == 1 and "not_found" in err, "a PATH that names nothing: not_found, exit 1")
    rc, _, err = ctl.run("terminate-child", "/")
    check(rc == 2 and "not the PATH of a child" in err, "the root is no child: usage, exit 2")
    rc, _, err = ctl.run("terminate-child", "web")
    check(rc == 2, "a relative name is neither form: usage, exit 2")


def test_which_children(ctl):
    for _ in range(3):
        ctl.run("start-child", "/pool")
    rc, out, _ = ctl.run("which-children", "/pool")
    ids = [line.split()[0] for line in out.splitlines()[1:]]
    check(rc == 0 and ids == ["1", "2", "3"], "which-children prints start order: %s" % ids)
    _, r = ctl.json("which-children", "/pool")
    ids = [c["id"] for c in r["children"]]
    check(ids == ["3", "2", "1"], "the protocol's which_children stays newest first: %s" % ids)


def test_status(ctl):
    rc, out, _ = ctl.run("status", "/web/db")
    check(rc == 0 and "running" in out, "status of a running worker: 0 (%d %r)" % (rc, out))
    rc, _, _ = ctl.run("status", "/web")
    check(rc == 0, "status of a started supervisor: 0")
    ctl.run("terminate-child", "/web/cache")
    rc, out, _ = ctl.run("status", "/web/cache")
    check(rc == 3 and "stopped" in out, "status of a stopped child: 3 (%d %r)" % (rc, out))
    rc, out, _ = ctl.run("status", "/nothing/here")
    check(rc == 3, "status of no such path: 3 (%d)" % rc)
    rc, _, _ = ctl.run("status", "web")
    check(rc == 2, "status without a PATH: usage, exit 2")
    ctl.run("restart-child", "/web/cache")


def test_tree(ctl):
    rc, out, _ = ctl.run("tree")
    lines = out.splitlines()
    check(rc == 0 and lines and lines[0].startswith("NAME"), "tree has a header line")
    heads = ["TYPE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT"]
    at = [lines[0].index(h) for h in heads]
    aligned = True
    for line in lines[1:]:
        # every column starts where its header does, and is preceded by blanks
        for col in at:
            if len(line) <= col or line[col] == " " or line[col - 2:col] != "  ":
                aligned = False
    check(aligned, "every row's columns start under their headers" +
          ("" if aligned else ":\n# " + "\n# ".join(lines)))
    rows = {line[:at[0]].strip().lstrip("|`-─├└│ "): line for line in lines[1:]}
    check("db" in rows and "worker" in rows["db"] and "running" in rows["db"],
          "tree shows /web/db as a running worker")
    rc, out, _ = ctl.run("tree", "--paths")
    paths = out.split()
    check(rc == 0 and paths[:4] == ["/", "/web", "/web/db", "/web/cache"] and "/pool/1" in paths,
          "tree --paths: every path, in start order: %s" % paths)
    rc, out, _ = ctl.run("tree", "--paths", "/web")
    check(out.split() == ["/web", "/web/db", "/web/cache"], "tree --paths PATH: that subtree")


def test_completion(ctl, completion, supctl, sock):
    script = ('source "$1"; COMP_WORDS=(supctl -s "$2" terminate-child /web/); COMP_CWORD=4; '
              '_supctl; echo "${COMPREPLY[@]}"; '
              'COMP_WORDS=(supctl tr); COMP_CWORD=1; _supctl; echo "${COMPREPLY[@]}"')
    env = dict(os.environ, PATH=os.path.dirname(supctl) + ":" + os.environ.get("PATH", ""))
    p = subprocess.run(["bash", "-c", script, "bash", completion, sock], capture_output=True,
                       text=True, timeout=DEADLINE, env=env)
    lines = p.stdout.splitlines()
    check(len(lines) == 2 and lines[0].split() == ["/web/db", "/web/cache"],
          "bash completion offers the running tree's paths: %r %s" % (lines, p.stderr.strip()))
    check(len(lines) == 2 and lines[1].split() == ["tree"], "bash completion of commands")


def main():
    supd, supctl, completion = (os.path.abspath(a) for a in sys.argv[1:4])
    with tempfile.TemporaryDirectory(prefix="supd-supctl-") as work:
        sock = os.path.join(work, "supd.sock")
        cfg = os.path.join(work, "supd.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG)
        with open(os.path.join(work, "supd.log"), "wb") as log:
            proc = subprocess.Popen([supd, "-c", cfg, "-s", sock], stderr=log,
                                    start_new_session=True)
        ctl = Ctl(supctl, sock)
        try:
            if wait_or_fail(lambda: ctl.run("ping")[0] == 0, "supd to answer"):
                test_path_forms(ctl)
                test_which_children(ctl)
                test_status(ctl)
                test_tree(ctl)
                test_completion(ctl, completion, supctl, sock)
            rc, _, _ = ctl.run("stop")
            check(rc == 0 and proc.wait(timeout=DEADLINE) == 0, "supd stops cleanly")
        finally:
            kill_tree(proc)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
