"""Tokens with a use limit on standbys that serve reads (docs/ha.md,
"Standbys that serve reads"): a standby never spends a use itself, since
each node would count on its own copy. It looks the token up (spending
nothing), then sends the read to the active node, forwarded or, when the
client asks, redirected; the active node counts each use once. Tokens
without a use limit (service, periodic, batch) are still served by the
standby itself.

Three nodes (ha_enabled, disable_performance_standby by default) over one
PostgreSQL shared by the module; node 0 active."""

import pytest

from ha_cluster import ha_cluster
from pg_server import pg_server  # noqa: F401  (the fixture)
from test_ha import ha_hcl

TABLE = "t_ha_uses"
NO_FWD = {"X-Vault-No-Request-Forwarding": "1"}


@pytest.fixture(scope="module")
def cluster(pg_server, tmp_path_factory):
    """disable_performance_standby left to its default: standbys that
    serve reads (473). Node 0 active."""
    def config(i, port, cluster_port):
        return ha_hcl(pg_server.url(), port, TABLE, cluster_port)

    def setup(c):
        h = c.nodes[0].client(c.token)
        h.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
        h.sys.create_or_update_policy("uses-read", 'path "kv/data/*" { capabilities = ["read"] }')

    with ha_cluster(tmp_path_factory.mktemp("ha_uses"), config, setup=setup) as c:
        for s in c.nodes[1:]:
            assert s.get("/v1/sys/health").status_code == 473
        yield c


def idx(r):
    return {"X-Vault-Index": r.headers["X-Vault-Index"]}


def write(c, key):
    w = c.nodes[0].request("POST", f"/v1/kv/data/{key}", token=c.token, json={"data": {"k": key}})
    assert w.status_code == 200, w.text
    return w


def make_token(c, **params):
    r = c.nodes[0].request("POST", "/v1/auth/token/create", token=c.token,
                           json={"policies": ["uses-read"], "ttl": "1h", **params})
    assert r.status_code == 200, r.text
    return r.json()["auth"], r


def uses_left(c, accessor):
    r = c.nodes[0].request("POST", "/v1/auth/token/lookup-accessor", token=c.token, json={"accessor": accessor})
    assert r.status_code == 200, r.text
    return r.json()["data"]["num_uses"]


def test_a_use_limited_token_is_served_by_the_active_and_counted_once(cluster):
    c = cluster
    a, s = c.nodes[0], c.nodes[1]
    w = write(c, "limited")
    auth, made = make_token(c, num_uses=2)
    tok = auth["client_token"]
    # the standby knows the token (it looks it up) but does not serve the
    # read: asked for Vault's redirect, it sends the client to the active;
    # neither the lookup nor the redirect spends a use
    for _ in range(2):
        r = s.get("/v1/kv/data/limited", token=tok, headers={**idx(made), **NO_FWD})
        assert r.status_code == 307, (r.status_code, r.text)
        assert r.headers["Location"] == a.url + "/v1/kv/data/limited"
    assert uses_left(c, auth["accessor"]) == 2
    # forwarded: served by the active node, one use each
    r = s.get("/v1/kv/data/limited", token=tok, headers=idx(w))
    assert r.status_code == 200 and r.json()["data"]["data"] == {"k": "limited"}, r.text
    assert uses_left(c, auth["accessor"]) == 1
    r = c.nodes[2].get("/v1/kv/data/limited", token=tok, headers=idx(r))
    assert r.status_code == 200, r.text
    # the last use revoked it: the third use is refused wherever it is sent
    for n in c.nodes:
        r = n.get("/v1/kv/data/limited", token=tok, headers=idx(r))
        assert r.status_code == 403, (n.url, r.status_code, r.text)


def test_a_list_with_a_use_limited_token_goes_to_the_active(cluster):
    c = cluster
    write(c, "listed")
    auth, made = make_token(c, num_uses=1, policies=["root"])
    r = c.nodes[2].request("LIST", "/v1/kv/metadata", token=auth["client_token"], headers={**idx(made), **NO_FWD})
    assert r.status_code == 307, r.text
    r = c.nodes[2].request("LIST", "/v1/kv/metadata", token=auth["client_token"], headers=idx(made))
    assert r.status_code == 200 and "listed" in r.json()["data"]["keys"], r.text
    r = c.nodes[1].request("LIST", "/v1/kv/metadata", token=auth["client_token"], headers=idx(r))
    assert r.status_code == 403, r.text


@pytest.mark.parametrize("params", [{}, {"period": "1h"}, {"type": "batch"}], ids=["service", "periodic", "batch"])
def test_tokens_without_a_use_limit_are_served_by_the_standby(cluster, params):
    c = cluster
    write(c, "local")
    auth, made = make_token(c, **params)
    for s in c.nodes[1:]:
        # no redirect although the client asks for one where a request must
        # go to the active: the standby serves it
        r = s.get("/v1/kv/data/local", token=auth["client_token"], headers={**idx(made), **NO_FWD})
        assert r.status_code == 200 and r.json()["data"]["data"] == {"k": "local"}, (r.status_code, r.text)
