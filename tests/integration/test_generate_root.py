"""sys/generate-root: a new root token from the unseal key shares, through
hvac's `sys` API and raw HTTP; the token is a real root token usable at
once, encoded as Vault encodes it (base64 of token XOR otp, no padding)."""

import base64

import pytest

from trove_harness import assert_error, assert_json_headers

STATUS_KEYS = {"started", "nonce", "progress", "required", "complete", "encoded_token", "encoded_root_token",
               "pgp_fingerprint", "otp", "otp_length"}


def decode(encoded, otp):
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    assert len(raw) == len(otp)
    return bytes(a ^ b for a, b in zip(raw, otp.encode())).decode()


def generate(srv, otp=None):
    client = srv.client()
    st = client.sys.start_root_token_generation(otp=otp)
    otp = otp or st["otp"]
    result = None
    for k in srv.unseal_keys:
        result = client.sys.generate_root(k, st["nonce"])
        if result["complete"]:
            break
    assert result["complete"] is True, result
    return decode(result["encoded_root_token"], otp), result


def test_generate_root_through_hvac(unsealed_server):
    srv = unsealed_server
    client = srv.client()

    st = client.sys.read_root_generation_progress()
    assert STATUS_KEYS <= st.keys(), st
    assert (st["started"], st["nonce"], st["progress"], st["required"], st["complete"]) == (False, "", 0, 2, False)
    assert st["otp"] == "" and st["otp_length"] == 44

    # Without an otp the server makes one and hands it back once (Vault 1.10+).
    st = client.sys.start_root_token_generation()
    assert st["started"] is True and len(st["nonce"]) == 36
    otp = st["otp"]
    assert len(otp) == st["otp_length"] == 44 and otp.isalnum()
    again = client.sys.read_root_generation_progress()
    assert again["otp"] == "" and again["nonce"] == st["nonce"]

    r = client.sys.generate_root(srv.unseal_keys[0], st["nonce"])
    assert (r["started"], r["progress"], r["required"], r["complete"]) == (True, 1, 2, False), r
    assert r["encoded_token"] == ""
    r = client.sys.generate_root(srv.unseal_keys[2], st["nonce"])
    assert r["complete"] is True and r["nonce"] == st["nonce"], r
    assert r["encoded_token"] == r["encoded_root_token"]
    assert "=" not in r["encoded_token"]
    token = decode(r["encoded_token"], otp)
    assert token.startswith("hvs.") and len(token) == 44

    # The attempt is over.
    assert client.sys.read_root_generation_progress()["started"] is False

    # A real root token: policies [root], no parent, no TTL, works at once.
    look = srv.get("/v1/auth/token/lookup-self", token=token)
    assert look.status_code == 200, look.text
    data = look.json()["data"]
    assert data["policies"] == ["root"] and data["ttl"] == 0 and data["orphan"] is True
    assert data["expire_time"] is None
    r = srv.put("/v1/sys/mounts/gr-kv", token=token, json={"type": "kv"})
    assert r.status_code == 204, r.text

    # It survives a restart like any token.
    srv.restart()
    srv.unseal()
    assert srv.get("/v1/auth/token/lookup-self", token=token).status_code == 200


def test_generate_root_with_caller_otp(unsealed_server):
    srv = unsealed_server
    otp = "A" * 44
    token, result = generate(srv, otp=otp)
    assert result["otp"] == ""
    assert srv.get("/v1/auth/token/lookup-self", token=token).status_code == 200


def test_generate_root_refusals(unsealed_server):
    srv = unsealed_server
    keys = srv.unseal_keys
    url = "/v1/sys/generate-root/attempt"

    assert_error(srv.put(url, json={"pgp_key": "mQENBF..."}), 400, "pgp_key", "unsupported")
    assert_error(srv.put(url, json={"otp": "short"}), 400, "otp", "44")
    assert_error(srv.put("/v1/sys/generate-root/update", json={"key": keys[0], "nonce": "x"}), 400,
                 "no root generation in progress")

    r = srv.put(url, json={})
    assert r.status_code == 200, r.text
    assert_json_headers(r)
    nonce = r.json()["nonce"]
    assert_error(srv.put(url, json={}), 400, "already in progress")

    upd = "/v1/sys/generate-root/update"
    assert_error(srv.put(upd, json={"key": keys[0], "nonce": "wrong"}), 400, "nonce")
    assert_error(srv.put(upd, json={"key": keys[0]}), 400, "nonce")
    assert_error(srv.put(upd, json={"nonce": nonce}), 400, "key")
    assert_error(srv.put(upd, json={"key": "!!", "nonce": nonce}), 400, "key")
    assert srv.get(url).json()["progress"] == 0

    assert srv.put(upd, json={"key": keys[0], "nonce": nonce}).status_code == 200
    assert_error(srv.put(upd, json={"key": keys[0], "nonce": nonce}), 400, "already submitted")
    assert srv.get(url).json()["progress"] == 1

    # A share from another key set: no token, progress reset, attempt kept.
    r = srv.put(upd, json={"key": "bb" * 32 + "09", "nonce": nonce})
    assert_error(r, 400, "do not combine", "progress was reset")
    st = srv.get(url).json()
    assert (st["started"], st["nonce"], st["progress"]) == (True, nonce, 0)

    r = srv.request("DELETE", url)
    assert r.status_code == 204
    assert srv.get(url).json()["started"] is False


def test_generate_root_sealed(unsealed_server):
    srv = unsealed_server
    client = srv.client()
    client.sys.start_root_token_generation()
    assert srv.put("/v1/sys/seal", token=srv.root_token).status_code == 204
    for method, path in [("GET", "/v1/sys/generate-root/attempt"), ("PUT", "/v1/sys/generate-root/attempt"),
                         ("DELETE", "/v1/sys/generate-root/attempt"), ("PUT", "/v1/sys/generate-root/update")]:
        r = srv.request(method, path, json={"key": srv.unseal_keys[0], "nonce": "x"})
        assert_error(r, 503, "sealed")
    srv.unseal()
    # The attempt died with the seal.
    assert client.sys.read_root_generation_progress()["started"] is False


def test_generate_root_not_audited(audited_server):
    srv, log = audited_server
    token, result = generate(srv)
    srv.get("/v1/sys/mounts", token=srv.root_token)
    text = log.read_text()
    assert "sys/mounts" in text and "generate-root" not in text
    out = srv.proc.all_output_bytes().decode(errors="replace")
    for secret in srv.unseal_keys + [token, result["encoded_token"]]:
        assert secret not in text and secret not in out


# -- trove operator generate-root -----------------------------------------------


def test_cli_generate_root_and_decode(unsealed_server):
    import json

    from trove_harness import run_cli

    srv = unsealed_server
    env = {"VAULT_ADDR": srv.url}

    p = run_cli(["operator", "generate-root", "-init", "-format=json"], env=env)
    assert p.returncode == 0, p.stderr
    st = json.loads(p.stdout)
    otp = st["otp"]
    assert len(otp) == 44 and st["otp_length"] == 44

    p = run_cli(["operator", "generate-root", "-status"], env=env)
    assert p.returncode == 0 and "0/2" in p.stdout and otp not in p.stdout, p.stdout

    p = run_cli(["operator", "generate-root"], env=env, input=srv.unseal_keys[0] + "\n")
    assert p.returncode == 0, p.stderr
    assert "1/2" in p.stdout
    p = run_cli(["operator", "generate-root", "-format=json", f"-nonce={st['nonce']}", srv.unseal_keys[1]],
                env=env)
    assert p.returncode == 0, p.stderr
    done = json.loads(p.stdout)
    assert done["complete"] is True
    enc = done["encoded_token"]

    p = run_cli(["operator", "generate-root", f"-decode={enc}", f"-otp={otp}"])
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()
    assert token == decode(enc, otp)
    assert srv.get("/v1/auth/token/lookup-self", token=token).json()["data"]["policies"] == ["root"]

    # Bad local input, and a decode that does not fit: 1 (Vault's CLI convention).
    for args in (["-decode=abc"], ["-init", "-cancel"], ["-status", "x"], ["a", "b"], ["-pgp-key=x", "-init"]):
        p = run_cli(["operator", "generate-root"] + args, env=env)
        assert p.returncode == 1, (args, p.stderr)
    p = run_cli(["operator", "generate-root", "-decode=!!!", f"-otp={otp}"])
    assert p.returncode == 1, p.stderr

    # Remote errors: 2.
    p = run_cli(["operator", "generate-root", srv.unseal_keys[0]], env=env)
    assert p.returncode == 2 and "no root token generation" in p.stderr, p.stderr
    p = run_cli(["operator", "generate-root", "-init", "-otp=tooshort"], env=env)
    assert p.returncode == 2 and "otp" in p.stderr, p.stderr
    assert run_cli(["operator", "generate-root", "-init"], env=env).returncode == 0
    p = run_cli(["operator", "generate-root", "-cancel"], env=env)
    assert p.returncode == 0 and "Success" in p.stdout
    assert srv.get("/v1/sys/generate-root/attempt").json()["started"] is False
