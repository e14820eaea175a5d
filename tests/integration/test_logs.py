"""Server logs: the JSON format is one object per line, lines written while
serving a request carry its request id, and the standard format is
key=value text. Secrets never appear (see test_storage's canary test)."""

import json
import time

import hvac


def wait_for(pred, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_json_log_lines_carry_request_ids(config_server):
    srv = config_server(top_extra='log_format = "json"\nlog_level = "info"\n')
    client = hvac.Client(url=srv.url)
    keys = client.sys.initialize(1, 1)
    client.sys.submit_unseal_key(keys["keys"][0])
    assert wait_for(lambda: "core unsealed" in srv.proc.stderr_text())
    lines = [ln for ln in srv.proc.stderr_text().splitlines() if ln.strip()]
    assert lines
    parsed = [json.loads(ln) for ln in lines]  # every line is one JSON object
    for obj in parsed:
        assert {"@timestamp", "@level", "@message"} <= obj.keys(), obj
    by_msg = {o["@message"]: o for o in parsed}
    assert "server started" in by_msg
    for msg in ("core initialized", "core unsealed"):
        rid = by_msg[msg].get("request_id", "")
        assert len(rid) == 36 and rid.count("-") == 4, by_msg[msg]
    assert keys["root_token"] not in srv.proc.stderr_text()
    for k in keys["keys"] + keys["keys_base64"]:
        assert k not in srv.proc.stderr_text()


def test_standard_log_format(config_server):
    srv = config_server(top_extra='log_level = "info"\n')
    assert wait_for(lambda: "server started" in srv.proc.stderr_text())
    line = next(ln for ln in srv.proc.stderr_text().splitlines() if "server started" in ln)
    assert "[INFO]" in line and "storage=lmdb" in line, line
