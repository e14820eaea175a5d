"""`trove audit query` and `trove audit consumers` over hand-written file
audit logs in a temporary directory: no server. Checks the table and JSON
output, rotated and gzip siblings read oldest first, prefixes and malformed
lines, the filters, and the exit codes (0 also for no match, 1 for a usage
error or an unreadable file, 2 for an unreachable server)."""

import gzip
import json
import re
import socket
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from trove_harness import TROVE_BIN, free_port, run_cli, sanitizer_env

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def ts(ago_minutes, frac=""):
    t = NOW - timedelta(minutes=ago_minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def auth(token, name, entity=None, role=None, allowed=True, policy=None):
    a = {"client_token": token, "accessor": "hmac-sha256:acc", "display_name": name, "policies": ["default"]}
    if entity:
        a["entity_id"] = entity
    if role:
        a["metadata"] = {"role": role}
    pr = {"allowed": allowed}
    if policy:
        pr["granting_policies"] = [{"name": policy, "namespace_id": "root", "type": "acl"}]
    a["policy_results"] = pr
    return a


def entry(kind, when, rid, op, path, a, remote="10.1.2.3", mount="secret/", error=None, response=None):
    e = {"time": when, "type": kind}
    if a is not None:
        e["auth"] = a
    e["request"] = {"id": rid, "operation": op, "mount_point": mount, "path": path,
                    "remote_address": remote, "remote_port": 40000}
    if response is not None:
        e["response"] = response
    if error:
        e["error"] = error
    return e


def pair(when_min, rid, op, path, a, **kw):
    """The request and response entries of one request."""
    return [entry("request", ts(when_min, ".1"), rid, op, path, a, **{k: v for k, v in kw.items() if k != "response"}),
            entry("response", ts(when_min, ".2"), rid, op, path, a, **kw)]


WEB = auth("hmac-sha256:aa", "kubernetes-ns-web", entity="e-1", role="web", policy="web")
BOB = auth("hmac-sha256:bb", "userpass-bob", allowed=False)
ROOT = auth("hmac-sha256:cc", "root", policy="root")
APP = auth("hmac-sha256:dd", "kubernetes-ns-app", role="app", policy="app")

LOGIN = entry("response", ts(300), "l1", "update", "auth/kubernetes/login", {"policy_results": {"allowed": True}},
              mount="auth/kubernetes/",
              response={"mount_point": "auth/kubernetes/",
                        "auth": {"client_token": "hmac-sha256:dd", "display_name": "kubernetes-ns-app",
                                 "metadata": {"role": "app"}, "policies": ["app"]}})


def write_lines(path, entries, prefix="", opener=open):
    with opener(path, "wt") as f:
        for e in entries:
            f.write(e if isinstance(e, str) else prefix + json.dumps(e) + "\n")


@pytest.fixture
def log(tmp_path):
    """audit.log with rotated siblings: .2.gz (oldest), .1, then the live
    file with a prefix, a malformed line and a request whose response was
    never written."""
    p = tmp_path / "audit.log"
    write_lines(tmp_path / "audit.log.2.gz", [LOGIN] + pair(240, "r0", "read", "secret/data/app/db", APP),
                opener=gzip.open)
    write_lines(tmp_path / "audit.log.1", pair(120, "r1", "read", "secret/data/app/db", WEB))
    live = (pair(60, "r2", "read", "secret/data/app/db", BOB, remote="2001:db8::5", error="permission denied")
            + pair(30, "r3", "list", "secret/metadata/", ROOT, remote="192.168.7.7")
            + ["this line is not an audit entry\n"]
            + [entry("request", ts(10), "r4", "delete", "secret/data/app/db", WEB)])
    write_lines(p, live, prefix="trove-audit: ")
    return p


def ok(p):
    assert p.returncode == 0, f"rc={p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p


def rows(stdout):
    """Table rows (header and dashes dropped) as lists of cells."""
    lines = stdout.splitlines()
    assert len(lines) >= 2 and set(lines[1].replace(" ", "")) == {"-"}, stdout
    return [re.split(r"\s{2,}", line.strip()) for line in lines[2:]]


def query(*args):
    return run_cli(["audit", "query", *map(str, args)])


def test_query_table_one_row_per_request_in_time_order(log):
    p = ok(query(log))
    header = p.stdout.splitlines()[0].split()
    assert header[:5] == ["Time", "Type", "Operation", "Path", "Allowed"]
    r = rows(p.stdout)
    # login, r0 (from .2.gz), r1 (.1), r2, r3 and r4 (no response: its request)
    assert [(x[1], x[2], x[3]) for x in r] == [
        ("response", "update", "auth/kubernetes/login"),
        ("response", "read", "secret/data/app/db"),
        ("response", "read", "secret/data/app/db"),
        ("response", "read", "secret/data/app/db"),
        ("response", "list", "secret/metadata/"),
        ("request", "delete", "secret/data/app/db"),
    ]
    assert [x[0] for x in r] == sorted(x[0] for x in r)
    assert r[3][4] == "false" and r[3][-1] == "permission denied"
    assert r[2][5:9] == ["kubernetes-ns-web", "e-1", "10.1.2.3", "web"]
    assert "skipped 1 malformed line" in p.stderr


def test_query_json_prints_entries_as_logged(log):
    p = ok(query("-format=json", "-denied", log))
    got = json.loads(p.stdout)
    want = pair(60, "r2", "read", "secret/data/app/db", BOB, remote="2001:db8::5", error="permission denied")[1]
    assert got == [want]


def test_query_yaml(log):
    p = ok(query("-format=yaml", "-op=list", log))
    assert "path: secret/metadata/" in p.stdout
    assert "type: response" in p.stdout


@pytest.mark.parametrize("args, ids", [
    (["-path=secret/data/app"], ["r0", "r1", "r2", "r4"]),
    (["-path=secret/*/app/db", "-allowed"], ["r0", "r1", "r4"]),
    (["-path=secret/m?tadata/"], ["r3"]),
    (["-op=read", "-op=list"], ["r0", "r1", "r2", "r3"]),
    (["-remote=192.168.0.0/16"], ["r3"]),
    (["-remote=2001:db8::/32"], ["r2"]),
    (["-remote=10.1.2.3", "-entity=e-1"], ["r1", "r4"]),
    (["-display-name=kubernetes-ns-app"], ["l1", "r0"]),
    (["-role=app"], ["l1", "r0"]),
    (["-mount=auth/kubernetes"], ["l1"]),
    (["-token-hash=hmac-sha256:dd"], ["l1", "r0"]),
    (["-error"], ["r2"]),
    (["-since=45m"], ["r3", "r4"]),
    (["-until=45m", "-since=90m"], ["r2"]),
    (["-type=request", "-path=secret/data/app/db"], ["r0", "r1", "r2", "r4"]),
    (["-type=all", "-op=list"], ["r3", "r3"]),
])
def test_query_filters(log, args, ids):
    p = ok(query("-format=json", *args, log))
    assert [e["request"]["id"] for e in json.loads(p.stdout)] == ids


def test_query_no_match_exits_0(log):
    p = query("-path=nothing/here", log)
    assert p.returncode == 0
    assert p.stdout == ""
    assert "No matching entries." in p.stderr
    assert json.loads(ok(query("-format=json", "-path=nothing", log)).stdout) == []


@pytest.mark.parametrize("args, flag", [
    (["-op=write"], "-op"),
    (["-remote=10.0.0.0/33"], "-remote"),
    (["-since=yesterday"], "-since"),
    (["-type=both"], "-type"),
    (["-token-hash=abc"], "-token-hash"),
    (["-allowed", "-denied"], "-denied"),
    (["-client-token=s.x"], "-device"),
])
def test_query_usage_errors_exit_1(log, args, flag):
    p = query(*args, log)
    assert p.returncode == 1, p.stderr
    assert flag in p.stderr


def test_query_needs_a_file():
    p = query("-op=read")
    assert p.returncode == 1
    assert "expected at least 1" in p.stderr


def test_query_unreadable_file_exits_1(tmp_path, log):
    p = query(log, tmp_path / "missing.log")
    assert p.returncode == 1
    assert "missing.log" in p.stderr
    assert p.stdout == ""
    d = tmp_path / "dir.log"
    d.mkdir()
    assert query(d).returncode == 1


def test_query_token_asks_the_server(log):
    port = free_port()  # nothing listens there
    token = "hvs.not-in-any-output"
    p = run_cli(["audit", "query", "-address", f"http://127.0.0.1:{port}", f"-client-token={token}", "-device=file",
                 str(log)])
    assert p.returncode == 2  # the server is unreachable: a remote error
    assert "hashing the token" in p.stderr
    assert token not in p.stderr + p.stdout


def test_query_client_token_leaves_the_command_line(log):
    """-client-token is the token to look for and -token the one that asks
    the server; the looked-for token is wiped from /proc/<pid>/cmdline
    while the command waits for the server."""
    secret = "hvs.client-token-to-wipe"
    for form in ([f"-client-token={secret}"], ["-client-token", secret]):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            srv.settimeout(30)
            port = srv.getsockname()[1]
            proc = subprocess.Popen([TROVE_BIN, "audit", "query", "-address", f"http://127.0.0.1:{port}",
                                     "-token=hvs.auth", *form, "-device=file", str(log)],
                                    env=sanitizer_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            try:
                conn, _ = srv.accept()  # the hashing request: never answered
                with conn, open(f"/proc/{proc.pid}/cmdline", "rb") as f:
                    cmdline = f.read()
                assert secret.encode() not in cmdline
                assert b"-device=file" in cmdline and b"-token=hvs.auth" in cmdline
            finally:
                proc.kill()
                proc.communicate(timeout=30)


def test_query_json_streams_entries_in_time_order(tmp_path):
    """Entries logged out of time order, in a gzip sibling and the live
    file whose times overlap, come out sorted by time (ties in reading
    order), as the one indented JSON array -format=json has always
    printed."""
    def at(minutes, rid, frac=""):
        return entry("response", ts(minutes, frac), rid, "read", "secret/data/x", WEB)

    older = [at(50, "g1", ".3"), at(50, "g2", ".1"), at(20, "g3")]
    live = [at(40, "l1"), at(10, "l2"), at(30, "l3"), at(40, "l4")]
    write_lines(tmp_path / "audit.log.1.gz", older, opener=gzip.open)
    write_lines(tmp_path / "audit.log", live, prefix="x: ")
    want = [older[1], older[0], live[0], live[3], live[2], older[2], live[1]]
    p = ok(query("-format=json", "-type=all", tmp_path / "audit.log"))
    assert p.stdout == json.dumps(want, indent=2) + "\n"
    assert ok(query("-format=json", "-path=none", tmp_path / "audit.log")).stdout == "[]\n"
    t = ok(query(tmp_path / "audit.log"))
    assert [x[0] for x in rows(t.stdout)] == sorted(x[0] for x in rows(t.stdout))
    assert len(rows(t.stdout)) == 7


def test_query_help():
    p = ok(run_cli(["audit", "query", "-h"]))
    assert "rotated" in p.stdout and "-token-hash" in p.stdout
    p = ok(run_cli(["audit", "consumers", "-h"]))
    assert "who read this secret" in p.stdout


def consumers(*args):
    return run_cli(["audit", "consumers", *map(str, args)])


def test_consumers_json_and_table(log, tmp_path):
    # the same entity again, and one access older than the default 30 days
    extra = tmp_path / "more.log"
    write_lines(extra, pair(20, "r5", "read", "secret/data/app/db", WEB)
                + pair(60 * 24 * 40, "r6", "read", "secret/data/app/db", ROOT))
    p = ok(consumers("-format=json", "secret/data/app/db", log, extra))
    got = json.loads(p.stdout)
    assert [c["display_name"] for c in got] == ["kubernetes-ns-web", "kubernetes-ns-app"]
    web, app = got
    assert web["entity_id"] == "e-1" and web["role"] == "web" and web["count"] == 2
    assert web["policies"] == ["web"]
    assert web["first"] == ts(120, ".2") and web["last"] == ts(20, ".2")
    assert app["entity_id"] == "" and app["auth_mount"] == "auth/kubernetes/" and app["count"] == 1
    assert "auth_mount" not in web

    # older accesses with -since; every operation with -op=any
    older = json.loads(ok(consumers("-format=json", "-since=60d", "secret/data/app/db", log, extra)).stdout)
    assert "root" in [c["display_name"] for c in older]
    anyop = json.loads(ok(consumers("-format=json", "-op=any", "secret/data/app/db", log)).stdout)
    assert anyop[0]["display_name"] == "kubernetes-ns-web" and anyop[0]["count"] == 1  # r4 had no response

    t = ok(consumers("secret/data/app", log, extra))
    header = t.stdout.splitlines()[0]
    assert re.split(r"\s{2,}", header.strip()) == ["Identity", "Display Name", "Role", "Policies", "First Access",
                                                    "Last Access", "Count"]
    r = rows(t.stdout)
    assert r[0][0] == "e-1" and r[0][-1] == "2"
    assert r[1][0] == "auth/kubernetes/" and r[1][1] == "kubernetes-ns-app"


def test_consumers_exit_codes(log, tmp_path):
    assert consumers(log).returncode == 1  # PATH and no FILE
    assert consumers("-op=write", "secret/", log).returncode == 1
    assert consumers("secret/", tmp_path / "nope.log").returncode == 1
    p = consumers("nothing/", log)
    assert p.returncode == 0 and "No matching entries." in p.stderr


@pytest.mark.parametrize("args, says", [
    (["enable", "file", "k=1", "k=2"], 'Invalid option "k"'),
    (["enable", "file", "not-a-pair"], "not-a-pair"),
    (["enable"], "Not enough arguments"),
    (["disable"], "Not enough arguments"),
    (["list", "extra"], "Too many arguments"),
])
def test_device_commands_usage_errors_need_no_server(args, says):
    p = run_cli(["audit", *args])
    assert p.returncode == 1, p.stderr
    assert says in p.stderr
