"""bench/lib/trove_api.py — the few API calls the benchmark set-ups make:
call() one request, ready_root() waits for the server, initialises and
unseals it with one share and returns the root token."""

import json
import time
import urllib.request


def call(url, method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if token:
        req.add_header("X-Vault-Token", token)
    with urllib.request.urlopen(req, timeout=10) as r:
        data = r.read()
        return json.loads(data) if data else None


def ready_root(url):
    for _ in range(200):
        try:
            call(url, "GET", "/v1/sys/seal-status")
            break
        except Exception:
            time.sleep(0.05)
    init = call(url, "PUT", "/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1})
    call(url, "PUT", "/v1/sys/unseal", {"key": init["keys"][0]})
    return init["root_token"]
