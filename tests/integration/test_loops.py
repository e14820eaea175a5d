"""The event loops under concurrent work: every loop receives its
requests' answers back from the worker pool at the same time. h2o keeps
its socket buffer recycler per thread, so each loop must build its own
h2o objects (the pool's answer queue above all) on its own thread; built
by the thread that starts the loops, they shared one recycler and the
server crashed in h2o_mem_alloc_recycle within seconds of concurrent
writes (found under ASan, where this test runs)."""

import re
import shutil
import subprocess

import pytest


def test_concurrent_pool_answers_on_every_loop(dev_server, tmp_path):
    wrk = shutil.which("wrk")
    if not wrk:
        pytest.fail("wrk is needed (scripts/deps.sh --test installs it)")
    srv, root = dev_server, dev_server.root_token
    script = tmp_path / "post.lua"
    script.write_text('wrk.method = "POST"\n'
                      'wrk.body = [[{"data":{"a":"b"}}]]\n'
                      f'wrk.headers["X-Vault-Token"] = "{root}"\n'
                      'wrk.headers["Content-Type"] = "application/json"\n')
    # Writes run on the pool and come back through each loop's queue.
    out = subprocess.run([wrk, "-t2", "-c64", "-d8s", "-s", str(script), srv.url + "/v1/secret/data/loops"],
                         capture_output=True, text=True, timeout=60).stdout
    done = int(re.search(r"(\d+) requests in", out).group(1))
    assert done > 1000, out
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    assert srv.request("GET", "/v1/sys/health").status_code == 200
    r = srv.request("GET", "/v1/secret/metadata/loops", token=root)
    assert r.json()["data"]["current_version"] >= 1000
