"""bench/lib/trove_api.py — the few API calls the benchmark set-ups make:
call() one request, ready_root() waits for the server, initialises and
unseals it with one share and returns the root token (init_unseal() also
returns the unseal key, for benchmarks that restart the server)."""

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


def wait_up(url):
    for _ in range(400):
        try:
            return call(url, "GET", "/v1/sys/seal-status")
        except Exception:
            time.sleep(0.05)
    raise RuntimeError("server did not answer")


def init_unseal(url):
    wait_up(url)
    init = call(url, "PUT", "/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1})
    call(url, "PUT", "/v1/sys/unseal", {"key": init["keys"][0]})
    return init["root_token"], init["keys"][0]


def ready_root(url):
    return init_unseal(url)[0]
