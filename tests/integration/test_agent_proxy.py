"""`trove agent` as an API proxy and cache: listener "tcp"/"unix" blocks,
api_proxy, cache { }, and the /agent/v1/ endpoints, against a real dev
server; clients with their own tokens first, then with auto-auth's token
(token_file and approle) under use_auto_auth_token true, "force" and false."""

import http.client
import json
import socket
import subprocess
import time

import pytest
import requests

from agent_proc import start_agent, wait_for
from trove_harness import TROVE_BIN, free_port, sanitizer_env


def agent_with_listener(procs, log_dir, tmp_path, dev_server, listener="", extra="", name="agent"):
    port = free_port()
    agent = start_agent(procs, log_dir, tmp_path, f'''
vault {{ address = "{dev_server.url}" }}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_disable = true
{listener}
}}
{extra}
''', name=name)
    agent.url = f"http://127.0.0.1:{port}"
    return agent


def call(agent, method, path, token=None, **kw):
    h = dict(kw.pop("headers", {}))
    if token:
        h["X-Vault-Token"] = token
    return requests.request(method, agent.url + path, headers=h, timeout=30, **kw)


def metrics(agent):
    r = call(agent, "GET", "/agent/v1/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    return {c["Name"]: c["Count"] for c in r.json()["Counters"]}


def test_forwards_kv_with_the_clients_token(procs, log_dir, tmp_path, dev_server):
    agent = agent_with_listener(procs, log_dir, tmp_path, dev_server)
    root = dev_server.root_token
    r = call(agent, "POST", "/v1/secret/data/app/db", root, json={"data": {"user": "u1", "pass": "p1"}})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    r = call(agent, "GET", "/v1/secret/data/app/db", root)
    assert r.status_code == 200 and r.json()["data"]["data"] == {"user": "u1", "pass": "p1"}
    # the server holds what was written through the agent
    assert dev_server.get("/v1/secret/data/app/db", token=root).json()["data"]["data"]["pass"] == "p1"
    # LIST and a query string, forwarded verbatim
    r = call(agent, "LIST", "/v1/secret/metadata/app", root)
    assert r.status_code == 200 and r.json()["data"]["keys"] == ["db"]
    r = call(agent, "GET", "/v1/secret/metadata/app?list=true", root)
    assert r.status_code == 200 and r.json()["data"]["keys"] == ["db"]
    # a percent-encoded path reaches the same secret; a broken escape is refused
    r = call(agent, "POST", "/v1/secret/data/app/a%20b", root, json={"data": {"k": "v"}})
    assert r.status_code == 200, r.text
    assert dev_server.get("/v1/secret/data/app/a%20b", token=root).json()["data"]["data"] == {"k": "v"}
    conn = http.client.HTTPConnection(agent.url.split("//")[1], timeout=30)
    conn.request("GET", "/v1/secret/data/app/%zz", headers={"X-Vault-Token": root})
    r = conn.getresponse()
    assert r.status == 400 and b"percent-encoding" in r.read()
    conn.close()
    # no token and a bad token: the server's 403, relayed
    before = metrics(agent)
    r = call(agent, "GET", "/v1/secret/data/app/db")
    assert r.status_code == 403
    r = call(agent, "GET", "/v1/secret/data/app/db", "not-a-token")
    assert r.status_code == 403 and "permission denied" in r.text and r.reason == "Forbidden"
    after = metrics(agent)
    assert after["vault.agent.proxy.client_error"] == before["vault.agent.proxy.client_error"] + 2
    assert after["vault.agent.proxy.success"] >= 4
    # a path outside /v1/ is not proxied
    assert call(agent, "GET", "/ui/", root).status_code == 404
    assert call(agent, "GET", "/agent/v1/nothing", root).status_code == 404
    # Prometheus text
    r = call(agent, "GET", "/agent/v1/metrics?format=prometheus")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE vault_agent_proxy_success counter" in r.text
    assert "vault_agent_proxy_client_error 2" in r.text


def test_hvac_unchanged(procs, log_dir, tmp_path, dev_server):
    import hvac

    agent = agent_with_listener(procs, log_dir, tmp_path, dev_server)
    c = hvac.Client(url=agent.url, token=dev_server.root_token)
    assert c.is_authenticated()
    c.secrets.kv.v2.create_or_update_secret(path="hv", secret={"k": "v"})
    assert c.secrets.kv.v2.read_secret_version(path="hv")["data"]["data"] == {"k": "v"}
    assert "hv" in c.secrets.kv.v2.list_secrets(path="")["data"]["keys"]
    c.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    c.secrets.kv.v1.create_or_update_secret(path="a", secret={"x": "1"}, mount_point="kv1")
    assert c.secrets.kv.v1.read_secret(path="a", mount_point="kv1")["data"] == {"x": "1"}
    assert c.sys.read_health_status(method="GET")["initialized"] is True


def test_require_request_header(procs, log_dir, tmp_path, dev_server):
    agent = agent_with_listener(procs, log_dir, tmp_path, dev_server, listener="require_request_header = true")
    root = dev_server.root_token
    r = call(agent, "GET", "/v1/auth/token/lookup-self", root)
    assert r.status_code == 412 and r.json()["errors"] == ['missing "X-Vault-Request" header']
    r = call(agent, "GET", "/v1/auth/token/lookup-self", root, headers={"X-Vault-Request": "false"})
    assert r.status_code == 412
    r = call(agent, "GET", "/v1/auth/token/lookup-self", root, headers={"X-Vault-Request": "true"})
    assert r.status_code == 200
    # the agent's own endpoints are not behind the header
    assert call(agent, "GET", "/agent/v1/metrics").status_code == 200


def test_metrics_only_role(procs, log_dir, tmp_path, dev_server):
    agent = agent_with_listener(procs, log_dir, tmp_path, dev_server, listener='role = "metrics_only"')
    assert call(agent, "GET", "/agent/v1/metrics").status_code == 200
    assert call(agent, "GET", "/v1/sys/health").status_code == 404
    assert call(agent, "POST", "/agent/v1/quit").status_code == 404
    assert call(agent, "POST", "/agent/v1/metrics").status_code == 405


def test_quit_when_enabled(procs, log_dir, tmp_path, dev_server):
    agent = agent_with_listener(procs, log_dir, tmp_path, dev_server, listener="agent_api { enable_quit = true }")
    assert call(agent, "GET", "/agent/v1/quit").status_code == 405
    r = call(agent, "POST", "/agent/v1/quit")
    assert r.status_code == 200
    assert agent.wait_exit() == 0


def test_quit_refused_unless_enabled(procs, log_dir, tmp_path, dev_server):
    agent = agent_with_listener(procs, log_dir, tmp_path, dev_server)
    assert call(agent, "POST", "/agent/v1/quit").status_code == 404
    time.sleep(0.3)
    assert agent.proc.poll() is None
    assert call(agent, "GET", "/v1/sys/health").status_code == 200


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def test_unix_socket_listener(procs, log_dir, tmp_path, dev_server):
    path = tmp_path / "agent.sock"
    # a stale socket left behind is replaced
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    start_agent(procs, log_dir, tmp_path, f'''
vault {{ address = "{dev_server.url}" }}
listener "unix" {{
  address = "{path}"
  tls_disable = true
  socket_mode = "0600"
}}
''')
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    conn = UnixHTTPConnection(str(path))
    conn.request("GET", "/v1/auth/token/lookup-self", headers={"X-Vault-Token": dev_server.root_token})
    r = conn.getresponse()
    body = json.loads(r.read())
    assert r.status == 200 and body["data"]["policies"] == ["root"]
    conn.close()


def test_unix_listener_refuses_a_regular_file(tmp_path, dev_server):
    path = tmp_path / "not-a-socket"
    path.write_text("keep me")
    cfg = tmp_path / "agent.hcl"
    cfg.write_text(f'vault {{ address = "{dev_server.url}" }}\n\nlistener "unix" {{\n  address = "{path}"\n'
                   '  tls_disable = true\n}\n')
    r = subprocess.run([TROVE_BIN, "agent", "-config", str(cfg)], capture_output=True, text=True, timeout=30,
                       env=sanitizer_env())
    assert r.returncode == 1
    assert f"{cfg}:3" in r.stderr and "address" in r.stderr and "not a socket" in r.stderr
    assert path.read_text() == "keep me"


def test_tls_listener(procs, log_dir, tmp_path, dev_server):
    key, crt = tmp_path / "agent.key", tmp_path / "agent.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    port = free_port()
    start_agent(procs, log_dir, tmp_path, f'''
vault {{ address = "{dev_server.url}" }}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_cert_file = "{crt}"
  tls_key_file = "{key}"
}}
''')
    r = requests.get(f"https://127.0.0.1:{port}/v1/auth/token/lookup-self", verify=str(crt), timeout=30,
                     headers={"X-Vault-Token": dev_server.root_token})
    assert r.status_code == 200 and r.json()["data"]["policies"] == ["root"]
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/v1/sys/health", timeout=5)


def test_cache_tokens_and_leases(procs, log_dir, tmp_path, dev_server):
    agent = agent_with_listener(procs, log_dir, tmp_path, dev_server, extra="cache {}")
    root = dev_server.root_token
    r = dev_server.put("/v1/sys/policies/acl/creator", token=root,
                       json={"policy": 'path "auth/token/create" { capabilities = ["update"] }'})
    assert r.status_code == 204, r.text
    body = {"policies": ["creator"], "ttl": "1h"}
    # an orphan token created through the proxy is cached: the same
    # request again is a HIT, answered without the server (same token)
    r1 = call(agent, "POST", "/v1/auth/token/create-orphan", root, json=body)
    assert r1.status_code == 200 and r1.headers["X-Cache"] == "MISS"
    r2 = call(agent, "POST", "/v1/auth/token/create-orphan", root, json=body)
    assert r2.status_code == 200 and r2.headers["X-Cache"] == "HIT" and "Age" in r2.headers
    t1 = r1.json()["auth"]["client_token"]
    assert r2.json()["auth"]["client_token"] == t1
    # another body is another request
    r3 = call(agent, "POST", "/v1/auth/token/create-orphan", root, json={"policies": ["creator"], "ttl": "2h"})
    assert r3.headers["X-Cache"] == "MISS" and r3.json()["auth"]["client_token"] != t1
    # a child of the managed token is cached under it
    c1 = call(agent, "POST", "/v1/auth/token/create", t1, json={"ttl": "30m", "policies": ["default"]})
    assert c1.status_code == 200, c1.text
    c2 = call(agent, "POST", "/v1/auth/token/create", t1, json={"ttl": "30m", "policies": ["default"]})
    assert c2.headers["X-Cache"] == "HIT" and c2.json() == c1.json()
    # a static secret is never cached
    call(agent, "POST", "/v1/secret/data/s", root, json={"data": {"v": "1"}})
    assert call(agent, "GET", "/v1/secret/data/s", root).headers["X-Cache"] == "MISS"
    assert call(agent, "GET", "/v1/secret/data/s", root).headers["X-Cache"] == "MISS"
    m = metrics(agent)
    assert m["vault.agent.cache.hit"] == 2
    # revoking the parent through the proxy evicts it and its child
    r = call(agent, "POST", "/v1/auth/token/revoke", root, json={"token": t1})
    assert r.status_code == 204
    r4 = call(agent, "POST", "/v1/auth/token/create-orphan", root, json=body)
    assert r4.headers["X-Cache"] == "MISS" and r4.json()["auth"]["client_token"] != t1
    c3 = call(agent, "POST", "/v1/auth/token/create", t1, json={"ttl": "30m", "policies": ["default"]})
    assert c3.status_code == 403  # t1 is gone; not served from the cache
    # revoke-self through the proxy
    t4 = r4.json()["auth"]["client_token"]
    assert call(agent, "POST", "/v1/auth/token/revoke-self", t4).status_code == 204
    r5 = call(agent, "POST", "/v1/auth/token/create-orphan", root, json=body)
    assert r5.headers["X-Cache"] == "MISS"


def test_cache_clear(procs, log_dir, tmp_path, dev_server):
    agent = agent_with_listener(procs, log_dir, tmp_path, dev_server, extra="cache {}")
    root = dev_server.root_token
    body = {"policies": ["default"], "ttl": "1h"}

    def create():
        return call(agent, "POST", "/v1/auth/token/create-orphan", root, json=body)

    t1 = create().json()["auth"]
    assert create().headers["X-Cache"] == "HIT"
    # bad input: 400 naming the problem
    r = call(agent, "POST", "/agent/v1/cache-clear", data="not json")
    assert r.status_code == 400 and "failed to parse JSON input" in r.text
    r = call(agent, "POST", "/agent/v1/cache-clear", json={"type": "bogus", "value": "x"})
    assert r.status_code == 400 and "invalid type" in r.text
    r = call(agent, "POST", "/agent/v1/cache-clear", json={"type": "token"})
    assert r.status_code == 400 and "value" in r.text
    assert create().headers["X-Cache"] == "HIT"
    # by accessor, by request path, all
    assert call(agent, "POST", "/agent/v1/cache-clear",
                json={"type": "token_accessor", "value": t1["accessor"]}).status_code == 200
    t2 = create()
    assert t2.headers["X-Cache"] == "MISS"
    assert call(agent, "POST", "/agent/v1/cache-clear",
                json={"type": "request_path", "value": "/v1/auth/token/create"}).status_code == 200
    assert create().headers["X-Cache"] == "MISS"
    assert create().headers["X-Cache"] == "HIT"
    assert call(agent, "POST", "/agent/v1/cache-clear", json={"type": "all"}).status_code == 200
    assert create().headers["X-Cache"] == "MISS"


def test_cache_renews_cached_tokens(procs, log_dir, tmp_path, dev_server):
    agent = agent_with_listener(procs, log_dir, tmp_path, dev_server, extra="cache {}")
    root = dev_server.root_token
    r = call(agent, "POST", "/v1/auth/token/create-orphan", root, json={"ttl": "3s", "explicit_max_ttl": "1h"})
    token = r.json()["auth"]["client_token"]
    # without renewals the token would be gone after 3 s
    time.sleep(5)
    r = dev_server.get("/v1/auth/token/lookup-self", token=token)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["ttl"] > 0


def test_cache_off_has_no_cache_headers(procs, log_dir, tmp_path, dev_server):
    agent = agent_with_listener(procs, log_dir, tmp_path, dev_server)
    root = dev_server.root_token
    r = call(agent, "POST", "/v1/auth/token/create-orphan", root, json={"ttl": "1h"})
    assert r.status_code == 200 and "X-Cache" not in r.headers
    r2 = call(agent, "POST", "/v1/auth/token/create-orphan", root, json={"ttl": "1h"})
    assert r2.json()["auth"]["client_token"] != r.json()["auth"]["client_token"]
    # cache-clear without a cache: 200, nothing to do (as Vault Agent)
    assert call(agent, "POST", "/agent/v1/cache-clear", json={"type": "all"}).status_code == 200


def test_cache_identical_requests_at_once_go_upstream_once(procs, log_dir, tmp_path, dev_server):
    from concurrent.futures import ThreadPoolExecutor

    agent = agent_with_listener(procs, log_dir, tmp_path, dev_server, extra="cache {}")
    root = dev_server.root_token
    for n in range(5):
        body = {"policies": ["default"], "ttl": f"{n + 1}h"}
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: call(agent, "POST", "/v1/auth/token/create-orphan", root, json=body),
                                    range(4)))
        assert all(a.status_code == 200 for a in answers)
        # the later ones waited for the first's answer and got it from the cache
        assert len({a.json()["auth"]["client_token"] for a in answers}) == 1
        assert sorted(a.headers["X-Cache"] for a in answers) == ["HIT", "HIT", "HIT", "MISS"]


# --- with auto-auth -----------------------------------------------------------


def auto_agent(procs, log_dir, tmp_path, dev_server, mode, method_block, extra=""):
    """An agent whose auto-auth writes a sink, with api_proxy's
    use_auto_auth_token = mode and a tcp listener; returns once the first
    token is in the sink."""
    port = free_port()
    sink = tmp_path / "sink"
    agent = start_agent(procs, log_dir, tmp_path, f'''
vault {{ address = "{dev_server.url}" }}
auto_auth {{
{method_block}
  sink "file" {{
    config = {{ path = "{sink}" }}
  }}
}}
api_proxy {{ use_auto_auth_token = {mode} }}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_disable = true
}}
{extra}
''')
    agent.url = f"http://127.0.0.1:{port}"
    agent.sink = sink
    wait_for(lambda: sink.exists() and sink.read_text(), 20, "the first auto-auth token")
    return agent


def token_file_method(dev_server, tmp_path, who):
    r = dev_server.put("/v1/auth/token/create", token=dev_server.root_token,
                       json={"ttl": "1h", "policies": ["default"], "meta": {"who": who}})
    (tmp_path / "tok").write_text(r.json()["auth"]["client_token"] + "\n")
    return f'''  method "token_file" {{
    config = {{ token_file_path = "{tmp_path / "tok"}" }}
  }}'''


def test_use_auto_auth_token_true(procs, log_dir, tmp_path, dev_server):
    agent = auto_agent(procs, log_dir, tmp_path, dev_server, "true", token_file_method(dev_server, tmp_path, "auto"))
    # no token from the client: the auto-auth token is used, and never shown
    r = call(agent, "GET", "/v1/auth/token/lookup-self")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["meta"] == {"who": "auto"}
    assert "id" not in data and "accessor" not in data
    # the client's own token wins
    r = call(agent, "GET", "/v1/auth/token/lookup-self", dev_server.root_token)
    assert r.status_code == 200 and r.json()["data"]["id"] == dev_server.root_token
    # hvac without a token works through the agent
    import hvac

    assert hvac.Client(url=agent.url).auth.token.lookup_self()["data"]["meta"] == {"who": "auto"}


def test_use_auto_auth_token_force(procs, log_dir, tmp_path, dev_server):
    agent = auto_agent(procs, log_dir, tmp_path, dev_server, '"force"',
                       token_file_method(dev_server, tmp_path, "forced"))
    for token in (None, dev_server.root_token, "bogus"):
        r = call(agent, "GET", "/v1/auth/token/lookup-self", token)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["meta"] == {"who": "forced"} and "id" not in r.json()["data"]


def test_use_auto_auth_token_false(procs, log_dir, tmp_path, dev_server):
    agent = auto_agent(procs, log_dir, tmp_path, dev_server, "false", token_file_method(dev_server, tmp_path, "no"))
    assert call(agent, "GET", "/v1/auth/token/lookup-self").status_code == 403
    r = call(agent, "GET", "/v1/auth/token/lookup-self", dev_server.root_token)
    assert r.status_code == 200 and r.json()["data"]["id"] == dev_server.root_token


def test_a_403_to_the_auto_auth_token_makes_auto_auth_log_in_again(procs, log_dir, tmp_path, dev_server):
    root = dev_server.root_token
    assert dev_server.put("/v1/sys/auth/approle", token=root, json={"type": "approle"}).status_code == 204
    assert dev_server.put("/v1/auth/approle/role/web", token=root,
                          json={"token_ttl": "1h", "token_policies": ["default"]}).status_code == 204
    rid = dev_server.get("/v1/auth/approle/role/web/role-id", token=root).json()["data"]["role_id"]
    sid = dev_server.put("/v1/auth/approle/role/web/secret-id", token=root, json={}).json()["data"]["secret_id"]
    (tmp_path / "role_id").write_text(rid)
    (tmp_path / "secret_id").write_text(sid)
    agent = auto_agent(procs, log_dir, tmp_path, dev_server, "true", f'''  method "approle" {{
    config = {{
      role_id_file_path = "{tmp_path / "role_id"}"
      secret_id_file_path = "{tmp_path / "secret_id"}"
      remove_secret_id_file_after_reading = false
    }}
  }}''', extra="cache {}")
    first = agent.sink.read_text()
    assert call(agent, "GET", "/v1/auth/token/lookup-self").status_code == 200
    # the token dies behind the agent's back; the proxy's next request is
    # refused, and that makes auto-auth log in again
    assert dev_server.put("/v1/auth/token/revoke", token=root, json={"token": first}).status_code == 204
    assert call(agent, "GET", "/v1/auth/token/lookup-self").status_code == 403
    wait_for(lambda: agent.sink.read_text() not in ("", first), 20, "a new auto-auth token")
    r = wait_for(lambda: (r := call(agent, "GET", "/v1/auth/token/lookup-self")).status_code == 200 and r, 20,
                 "the proxy to use the new token")
    assert r.json()["data"]["policies"] == ["default"]
    # the auto-auth token is managed: a token created with it is cached
    body = {"policies": ["default"], "ttl": "10m"}
    assert dev_server.put("/v1/sys/policies/acl/default", token=root, json={"policy": """
path "auth/token/create" { capabilities = ["update"] }
path "auth/token/lookup-self" { capabilities = ["read"] }
"""}).status_code == 204
    c1 = call(agent, "POST", "/v1/auth/token/create", json=body)
    assert c1.status_code == 200, c1.text
    c2 = call(agent, "POST", "/v1/auth/token/create", json=body)
    assert c2.headers["X-Cache"] == "HIT" and c2.json() == c1.json()
