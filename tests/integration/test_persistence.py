"""Restart on LMDB keeps mounts, policies, tokens and secrets; the LMDB
files never hold a secret value, a token or a policy in clear."""

import secrets

from trove_harness import key_forms


def test_restart_keeps_everything_and_nothing_is_in_clear(unsealed_server):
    srv = unsealed_server
    root = srv.root_token
    c = srv.client(root)
    canary = "canary-" + secrets.token_hex(16)
    v1_canary = "v1canary-" + secrets.token_hex(16)
    policy_marker = "policy-marker-" + secrets.token_hex(8)
    c.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    c.sys.enable_secrets_engine("kv", path="plain", options={"version": "1"})
    c.secrets.kv.v2.create_or_update_secret("apps/db", secret={"password": canary}, mount_point="secret")
    assert srv.request("POST", "/v1/plain/k", token=root, json={"value": v1_canary}).status_code == 204
    c.sys.create_or_update_policy("apps", f'path "secret/data/apps/*" {{ capabilities = ["read"] }}\n# {policy_marker}\n')
    tok = c.auth.token.create(policies=["apps"], ttl="2h")["auth"]
    user_token = tok["client_token"]
    cubby = "cubby-" + secrets.token_hex(12)
    assert srv.request("POST", "/v1/cubbyhole/x", token=user_token, json={"v": cubby}).status_code == 204

    srv.proc.restart()
    srv.unseal()

    c = srv.client(root)
    assert c.secrets.kv.v2.read_secret_version("apps/db", mount_point="secret")["data"]["data"] == {"password": canary}
    assert srv.get("/v1/plain/k", token=root).json()["data"] == {"value": v1_canary}
    assert policy_marker in c.sys.read_policy("apps")["data"]["rules"]
    r = srv.get("/v1/secret/data/apps/db", token=user_token)
    assert r.status_code == 200 and r.json()["data"]["data"]["password"] == canary
    assert srv.get("/v1/cubbyhole/x", token=user_token).json()["data"] == {"v": cubby}
    assert srv.get("/v1/auth/token/lookup-self", token=user_token).json()["data"]["accessor"] == tok["accessor"]

    srv.proc.stop()
    blob = b"".join(p.read_bytes() for p in srv.data_dir.rglob("*") if p.is_file())
    # Values, tokens and policies are encrypted; storage keys (secret names)
    # are not, as in Vault (docs/architecture.md).
    for needle in [canary, v1_canary, policy_marker, user_token, tok["accessor"], root, cubby]:
        assert needle.encode() not in blob, f"{needle!r} found in the LMDB files"
    for k in srv.unseal_keys:
        for form in key_forms(k).values():
            assert form not in blob
