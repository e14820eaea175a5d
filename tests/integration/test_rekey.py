"""sys/rekey: replacing the unseal key and its shares, through hvac's
`sys` API and raw HTTP, with and without verification; the old shares stop
working, the new ones unseal after a restart (LMDB)."""

import base64

import hvac.exceptions
import pytest

from trove_harness import assert_error, assert_json_headers

STATUS_KEYS = {"started", "nonce", "t", "n", "progress", "required", "pgp_fingerprints", "backup",
               "verification_required"}


def rekey_all(client, keys, nonce):
    result = client.sys.rekey_multi(keys, nonce=nonce)
    assert result["complete"] is True, result
    return result


def test_rekey_through_hvac_then_restart(unsealed_server):
    srv = unsealed_server
    client = srv.client()
    old = srv.unseal_keys

    st = client.sys.read_rekey_progress()
    assert STATUS_KEYS <= st.keys(), st
    assert (st["started"], st["nonce"], st["progress"], st["required"]) == (False, "", 0, 2)

    st = client.sys.start_rekey(secret_shares=5, secret_threshold=3)
    assert (st["started"], st["t"], st["n"], st["progress"], st["required"]) == (True, 3, 5, 0, 2), st
    assert st["backup"] is False and st["verification_required"] is False
    nonce = st["nonce"]
    assert len(nonce) == 36

    st = client.sys.rekey(old[0], nonce=nonce)
    assert (st["started"], st["progress"], st["nonce"]) == (True, 1, nonce), st
    assert client.sys.read_rekey_progress()["progress"] == 1

    done = client.sys.rekey(old[1], nonce=nonce)
    assert done["complete"] is True and done["nonce"] == nonce, done
    assert done["verification_required"] is False
    new = done["keys"]
    assert len(new) == 5 and len(done["keys_base64"]) == 5 and len(set(new)) == 5
    for h, b in zip(new, done["keys_base64"]):
        assert bytes.fromhex(h) == base64.b64decode(b)
    assert client.sys.read_rekey_progress()["started"] is False

    status = srv.seal_status()
    assert (status["t"], status["n"]) == (3, 5)

    # The new shares are in effect at once: seal, old shares fail, new unseal.
    assert srv.put("/v1/sys/seal", token=srv.root_token).status_code == 204
    for k in old[:2]:
        r = srv.put("/v1/sys/unseal", json={"key": k})
        assert r.status_code == 200
    r = srv.put("/v1/sys/unseal", json={"key": old[2]})
    assert_error(r, 400, "progress was reset")
    srv.unseal(new[2:5])

    # And after a restart, from LMDB.
    srv.restart()
    status = srv.seal_status()
    assert (status["sealed"], status["t"], status["n"]) == (True, 3, 5)
    for k in old:
        srv.put("/v1/sys/unseal", json={"key": k})
    assert srv.seal_status()["sealed"] is True
    srv.put("/v1/sys/unseal", json={"reset": True})
    srv.unseal([new[0], new[3], new[4]])
    r = srv.get("/v1/sys/mounts", token=srv.root_token)
    assert r.status_code == 200, r.text


def test_rekey_with_verification(unsealed_server):
    srv = unsealed_server
    client = srv.client()
    old = srv.unseal_keys

    st = client.sys.start_rekey(secret_shares=3, secret_threshold=2, require_verification=True)
    assert st["verification_required"] is True
    done = rekey_all(client, old[:2], st["nonce"])
    assert done["verification_required"] is True
    vnonce = done["verification_nonce"]
    assert len(vnonce) == 36 and vnonce != st["nonce"]
    new = done["keys"]

    # Not in effect yet: the seal config still says 2 of 3 with the old key.
    r = srv.put("/v1/sys/rekey/update", json={"key": old[2], "nonce": st["nonce"]})
    assert_error(r, 400, "verification must be performed", vnonce)

    v = client.sys.read_rekey_verify_progress()
    assert (v["nonce"], v["t"], v["n"], v["progress"]) == (vnonce, 2, 3, 0), v

    # An old share is not a new one: verification fails and starts over.
    r = srv.put("/v1/sys/rekey/verify", json={"key": new[0], "nonce": vnonce})
    assert r.status_code == 200 and r.json()["progress"] == 1, r.text
    r = srv.put("/v1/sys/rekey/verify", json={"key": old[0], "nonce": vnonce})
    assert_error(r, 400, "verification failed")
    assert client.sys.read_rekey_verify_progress()["progress"] == 0

    # Restarting verification gives a new nonce; the old one is refused.
    v2 = client.sys.cancel_rekey_verify()
    assert v2["nonce"] != vnonce and v2["progress"] == 0
    r = srv.put("/v1/sys/rekey/verify", json={"key": new[0], "nonce": vnonce})
    assert_error(r, 400, "incorrect nonce")

    result = client.sys.rekey_verify_multi(new[1:3], nonce=v2["nonce"])
    assert result == {"nonce": v2["nonce"], "complete": True}, result
    assert client.sys.read_rekey_progress()["started"] is False

    srv.restart()
    for k in old[:2]:
        srv.put("/v1/sys/unseal", json={"key": k})
    assert srv.seal_status()["sealed"] is True
    srv.put("/v1/sys/unseal", json={"reset": True})
    srv.unseal(new[:2])


def test_rekey_cancel_during_verification_keeps_old_key(unsealed_server):
    srv = unsealed_server
    client = srv.client()
    st = client.sys.start_rekey(secret_shares=2, secret_threshold=2, require_verification=True)
    rekey_all(client, srv.unseal_keys[:2], st["nonce"])
    r = client.sys.cancel_rekey()
    assert r.status_code == 204
    assert client.sys.read_rekey_progress()["started"] is False
    r = srv.get("/v1/sys/rekey/verify")
    assert_error(r, 400, "no rekey in progress")
    srv.restart()
    srv.unseal(srv.unseal_keys[1:])


def test_rekey_refusals(unsealed_server):
    srv = unsealed_server
    keys = srv.unseal_keys

    # bad thresholds: field named, nothing started
    for body, field in [
        ({"secret_shares": 3, "secret_threshold": 4}, "secret_threshold"),
        ({"secret_shares": 256, "secret_threshold": 2}, "secret_shares"),
        ({"secret_shares": 0, "secret_threshold": 0}, "secret_shares"),
        ({"secret_shares": 3, "secret_threshold": 0}, "secret_threshold"),
        ({"secret_shares": 3, "secret_threshold": 1}, "secret_threshold"),
        ({"secret_threshold": 2}, "secret_shares"),
        ({"secret_shares": "many", "secret_threshold": 2}, "secret_shares"),
    ]:
        r = srv.put("/v1/sys/rekey/init", json=body)
        assert_error(r, 400, field)
    assert srv.get("/v1/sys/rekey/init").json()["started"] is False

    # PGP and backup: unsupported
    r = srv.put("/v1/sys/rekey/init", json={"secret_shares": 1, "secret_threshold": 1, "pgp_keys": ["AAAA"]})
    assert_error(r, 400, "pgp_keys", "unsupported")
    r = srv.put("/v1/sys/rekey/init", json={"secret_shares": 1, "secret_threshold": 1, "backup": True})
    assert_error(r, 400, "backup", "unsupported")
    for method in ("GET", "DELETE"):
        assert_error(srv.request(method, "/v1/sys/rekey/backup", token=srv.root_token), 400, "unsupported")

    # no rekey yet
    r = srv.put("/v1/sys/rekey/update", json={"key": keys[0], "nonce": "x"})
    assert_error(r, 400, "no rekey in progress")

    r = srv.put("/v1/sys/rekey/init", json={"secret_shares": 1, "secret_threshold": 1})
    assert r.status_code == 200, r.text
    assert_json_headers(r)
    nonce = r.json()["nonce"]
    r = srv.put("/v1/sys/rekey/init", json={"secret_shares": 2, "secret_threshold": 2})
    assert_error(r, 400, "already in progress")

    # wrong nonce, missing nonce, missing and malformed key
    assert_error(srv.put("/v1/sys/rekey/update", json={"key": keys[0], "nonce": "nope"}), 400, "nonce")
    assert_error(srv.put("/v1/sys/rekey/update", json={"key": keys[0]}), 400, "nonce")
    assert_error(srv.put("/v1/sys/rekey/update", json={"nonce": nonce}), 400, "key")
    assert_error(srv.put("/v1/sys/rekey/update", json={"key": "%%%", "nonce": nonce}), 400, "key")
    assert_error(srv.put("/v1/sys/rekey/update", json={"key": "abcd", "nonce": nonce}), 400, "length")
    assert srv.get("/v1/sys/rekey/init").json()["progress"] == 0

    # duplicate share: not counted
    assert srv.put("/v1/sys/rekey/update", json={"key": keys[0], "nonce": nonce}).status_code == 200
    r = srv.put("/v1/sys/rekey/update", json={"key": keys[0], "nonce": nonce})
    assert_error(r, 400, "already submitted")
    assert srv.get("/v1/sys/rekey/init").json()["progress"] == 1

    # a share of another key set: the set fails as a whole, progress resets,
    # the rekey (and its nonce) stays, and the old key is unchanged
    other = "aa" * 32 + "07"
    r = srv.put("/v1/sys/rekey/update", json={"key": other, "nonce": nonce})
    assert_error(r, 400, "do not combine", "progress was reset")
    st = srv.get("/v1/sys/rekey/init").json()
    assert (st["started"], st["nonce"], st["progress"]) == (True, nonce, 0)

    # cancel: 204, then nothing in progress
    r = srv.request("DELETE", "/v1/sys/rekey/init")
    assert r.status_code == 204
    assert srv.get("/v1/sys/rekey/init").json()["started"] is False
    assert_error(srv.get("/v1/sys/rekey/verify"), 400, "no rekey in progress")

    srv.restart()
    srv.unseal(keys[1:])


def test_rekey_to_one_share_and_sealed_answers(unsealed_server):
    srv = unsealed_server
    client = srv.client()
    st = client.sys.start_rekey(secret_shares=1, secret_threshold=1)
    done = rekey_all(client, srv.unseal_keys[:2], st["nonce"])
    (single,) = done["keys_base64"]
    assert srv.seal_status()["n"] == 1

    # A rekey started before a seal is gone after it; sealed, the endpoints answer 503.
    client.sys.start_rekey(secret_shares=3, secret_threshold=2)
    assert srv.put("/v1/sys/seal", token=srv.root_token).status_code == 204
    for method, path in [("GET", "/v1/sys/rekey/init"), ("PUT", "/v1/sys/rekey/init"),
                         ("DELETE", "/v1/sys/rekey/init"), ("PUT", "/v1/sys/rekey/update"),
                         ("GET", "/v1/sys/rekey/verify")]:
        r = srv.request(method, path, json={"secret_shares": 3, "secret_threshold": 2, "key": single,
                                            "nonce": "x"})
        assert_error(r, 503, "sealed")
    srv.unseal([single])
    assert client.sys.read_rekey_progress()["started"] is False


def test_rekey_uninitialized(config_server):
    srv = config_server()
    assert_error(srv.get("/v1/sys/rekey/init"), 400, "not yet initialized")
    assert_error(srv.get("/v1/sys/generate-root/attempt"), 400, "not yet initialized")


def test_rekey_not_audited_and_keys_not_logged(audited_server):
    srv, log = audited_server
    client = srv.client()
    st = client.sys.start_rekey(secret_shares=3, secret_threshold=2)
    done = rekey_all(client, srv.unseal_keys[:2], st["nonce"])
    srv.get("/v1/sys/mounts", token=srv.root_token)
    text = log.read_text()
    assert "sys/mounts" in text
    assert "rekey" not in text
    out = srv.proc.all_output_bytes().decode(errors="replace")
    for k in srv.unseal_keys + done["keys"] + done["keys_base64"]:
        assert k not in text and k not in out


# -- trove operator rekey -------------------------------------------------------


def cli_env(srv):
    return {"VAULT_ADDR": srv.url}


def test_cli_rekey_with_verification(unsealed_server):
    from trove_harness import run_cli

    srv = unsealed_server
    env = cli_env(srv)
    old = srv.unseal_keys

    p = run_cli(["operator", "rekey", "-init", "-key-shares=4", "-key-threshold=2", "-verify"], env=env)
    assert p.returncode == 0, p.stderr
    assert "Rekey Progress" in p.stdout and "0/2" in p.stdout
    assert "Verification Required    true" in p.stdout

    p = run_cli(["operator", "rekey", "-status", "-format=json"], env=env)
    assert p.returncode == 0, p.stderr
    import json

    st = json.loads(p.stdout)
    assert (st["started"], st["n"], st["t"]) == (True, 4, 2)

    # The key from stdin (no terminal), the nonce read from the server.
    p = run_cli(["operator", "rekey"], env=env, input=old[0] + "\n")
    assert p.returncode == 0, p.stderr
    assert "1/2" in p.stdout
    assert old[0] not in p.stdout + p.stderr

    # The key as an argument, the nonce given.
    p = run_cli(["operator", "rekey", "-format=json", f"-nonce={st['nonce']}", old[1]], env=env)
    assert p.returncode == 0, p.stderr
    done = json.loads(p.stdout)
    assert done["complete"] is True and done["verification_required"] is True
    new = done["keys_base64"]
    assert len(new) == 4

    p = run_cli(["operator", "rekey", "-status", "-verify"], env=env)
    assert p.returncode == 0, p.stderr
    assert done["verification_nonce"] in p.stdout

    p = run_cli(["operator", "rekey", "-verify"], env=env, input=new[0] + "\n")
    assert p.returncode == 0, p.stderr
    assert "1/2" in p.stdout
    p = run_cli(["operator", "rekey", "-verify", new[3]], env=env)
    assert p.returncode == 0, p.stderr
    assert "Success" in p.stdout

    srv.restart()
    srv.unseal([new[1], new[2]])


def test_cli_rekey_exit_codes(unsealed_server):
    from trove_harness import run_cli

    srv = unsealed_server
    env = cli_env(srv)
    # Local usage errors: 1, nothing sent (Vault's CLI convention).
    for args in (["-init", "-key-shares=2", "-key-threshold=3"], ["-init", "-cancel"], ["-status", "extra"],
                 ["a", "b"], ["-key-shares=300", "-init"], ["-pgp-keys=x", "-init"]):
        p = run_cli(["operator", "rekey"] + args, env=env)
        assert p.returncode == 1, (args, p.stdout, p.stderr)
    assert srv.get("/v1/sys/rekey/init").json()["started"] is False

    # The server's refusals: 2, with its message.
    p = run_cli(["operator", "rekey", "-init", "-key-shares=3", "-key-threshold=1"], env=env)
    assert p.returncode == 2 and "secret_threshold" in p.stderr, p.stderr
    p = run_cli(["operator", "rekey", srv.unseal_keys[0]], env=env)
    assert p.returncode == 2 and "no rekey" in p.stderr, p.stderr
    assert run_cli(["operator", "rekey", "-init", "-key-shares=2", "-key-threshold=2"], env=env).returncode == 0
    p = run_cli(["operator", "rekey", "-nonce=wrong", srv.unseal_keys[0]], env=env)
    assert p.returncode == 2 and "nonce" in p.stderr, p.stderr
    p = run_cli(["operator", "rekey", "-cancel"], env=env)
    assert p.returncode == 0 and "Success" in p.stdout, p.stderr
    assert srv.get("/v1/sys/rekey/init").json()["started"] is False
    p = run_cli(["operator", "rekey", "-h"])
    assert p.returncode == 0 and "Usage" in p.stdout


def test_one_rekey_and_one_generation_at_a_time(unsealed_server):
    import threading

    srv = unsealed_server
    results = {"rekey": [], "root": []}

    def start(kind, path, body):
        results[kind].append(srv.put(path, json=body))

    threads = []
    for _ in range(6):
        threads.append(threading.Thread(target=start, args=("rekey", "/v1/sys/rekey/init",
                                                            {"secret_shares": 3, "secret_threshold": 2})))
        threads.append(threading.Thread(target=start, args=("root", "/v1/sys/generate-root/attempt", {})))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for kind in results:
        codes = sorted(r.status_code for r in results[kind])
        assert codes == [200] + [400] * 5, (kind, codes)
        for r in results[kind]:
            if r.status_code == 400:
                assert_error(r, 400, "already in progress")

    # The last share sent twice at once completes an operation exactly once.
    # (Root generation first: once the rekey commits, the old shares it
    # would combine no longer open the root key, which is the point.)
    k0, k1 = srv.unseal_keys[:2]
    finished = {}
    for path, kind in [("/v1/sys/generate-root", "root"), ("/v1/sys/rekey", "rekey")]:
        nonce = srv.get(path + ("/attempt" if kind == "root" else "/init")).json()["nonce"]
        assert srv.put(path + "/update", json={"key": k0, "nonce": nonce}).status_code == 200
        out = []
        threads = [threading.Thread(target=lambda: out.append(srv.put(path + "/update",
                                                                      json={"key": k1, "nonce": nonce})))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done = [r for r in out if r.status_code == 200 and r.json().get("complete")]
        assert len(done) == 1, [(r.status_code, r.text[:200]) for r in out]
        other = next(r for r in out if r is not done[0])
        assert other.status_code == 400, other.text
        finished[kind] = done[0].json()
    new = finished["rekey"]["keys"]

    # Durable at once: a kill -9 right after, and the new shares unseal.
    srv.kill9()
    srv.start()
    srv.unseal(new[:2])
