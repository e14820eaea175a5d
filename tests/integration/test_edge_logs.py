"""Only the edges log: a request that fails inside the core is reported
once, by the listener's "request failed" line, which carries the detail
the core returned (what failed and the error), instead of the core
logging the same failure a second time."""

import json
import time

from test_logs import wait_for


def log_lines(srv):
    return [json.loads(ln) for ln in srv.proc.stderr_text().splitlines() if ln.startswith("{")]


def test_unaudited_request_is_reported_once_with_its_detail(config_server):
    # /dev/full takes the device's open but fails every write (ENOSPC),
    # so every audited request is refused for want of an audit entry.
    srv = config_server(top_extra='log_format = "json"\n'
                                  'audit "file" {\n  options = { file_path = "/dev/full" }\n}\n')
    srv.init(1, 1)
    srv.unseal()
    resp = srv.request("GET", "/v1/sys/mounts", token=srv.root_token)
    assert resp.status_code == 500
    assert resp.json() == {"errors": ["internal error"]}
    rid = None

    def failed_line():
        nonlocal rid
        for line in log_lines(srv):
            if line.get("@message") == "request failed" and line.get("path") == "sys/mounts":
                rid = line.get("request_id")
                return line
        return None

    assert wait_for(lambda: failed_line() is not None)
    line = failed_line()
    assert line["detail"] == "no audit device recorded the entry; refusing"
    assert line["error"] and line["status"]
    # The device's own failure is its own event and stays; the refusal is
    # not reported a second time by the core.
    lines = log_lines(srv)
    assert any(ln.get("@message") == "audit file write failed" for ln in lines)
    refusals = [ln for ln in lines if "no audit device recorded" in json.dumps(ln)]
    assert refusals == [line]
    assert rid


def test_refusals_below_500_are_not_logged_as_failed_requests(config_server):
    srv = config_server(top_extra='log_format = "json"\n')
    srv.init(1, 1)
    srv.unseal()
    assert srv.request("GET", "/v1/sys/mounts", token="not-a-token").status_code == 403
    assert srv.request("GET", "/v1/sys/mounts", token=srv.root_token).status_code == 200
    time.sleep(0.2)
    assert not [ln for ln in log_lines(srv)
                if ln.get("@message") == "request failed" and ln.get("path") == "sys/mounts"]
