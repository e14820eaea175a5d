"""The "pkcs11" auto-unseal seal against a real SoftHSM2 token: each test
makes its own token directory and SoftHSM2 config (SOFTHSM2_CONF points at
it; nothing global is touched), then runs real `trove server` processes.

Covered: init with recovery keys (Vault's auto-unseal answer), a restart
that unseals by itself, sys/seal-status as Vault reports an auto-unseal
node, a manual seal and the unseal by recovery keys, the server staying
sealed with a clear logged error (and retrying) when the key is missing,
the PIN is wrong or the library path is wrong, generate-root and
rekey-recovery-key with recovery keys, and seal migration Shamir -> pkcs11
-> Shamir with a KV value intact, through `trove operator unseal
-migrate`."""

import base64
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from trove_harness import assert_error, run_cli

SOFTHSM_UTIL = shutil.which("softhsm2-util")
LIBS = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"]
LIB = next((p for p in LIBS if os.path.exists(p)), None)
PIN = "4321"
TOKEN = "trove"
KEY_LABEL = "trove-root"

pytestmark = pytest.mark.skipif(not SOFTHSM_UTIL or not LIB,
                                reason="SoftHSM2 is not installed (package softhsm2; scripts/deps.sh --test)")


class HSM:
    def __init__(self, directory):
        self.dir = directory
        (directory / "tokens").mkdir(parents=True)
        self.conf = directory / "softhsm2.conf"
        self.conf.write_text(f"directories.tokendir = {directory / 'tokens'}\n"
                             "objectstore.backend = file\nlog.level = ERROR\n")
        self.util("--init-token", "--free", "--label", TOKEN, "--so-pin", "1234", "--pin", PIN)

    def util(self, *args):
        env = dict(os.environ, SOFTHSM2_CONF=str(self.conf))
        p = subprocess.run([SOFTHSM_UTIL, *args], env=env, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout

    def import_aes(self, label=KEY_LABEL, key_id="01"):
        raw = self.dir / f"{label}.key"
        raw.write_bytes(os.urandom(32))
        self.util("--import", str(raw), "--aes", "--token", TOKEN, "--label", label, "--id", key_id, "--pin", PIN)


@pytest.fixture
def hsm(tmp_path, monkeypatch):
    h = HSM(tmp_path / "hsm")
    monkeypatch.setenv("SOFTHSM2_CONF", str(h.conf))
    return h


def seal_block(lib=None, pin=PIN, key_label=KEY_LABEL, extra=""):
    """The key is made by Trove on first use (generate_key: only ever when
    wrapping, never to unwrap), through the PKCS#11 API as an operator's
    tool would."""
    return (f'seal "pkcs11" {{\n  lib = "{lib or LIB}"\n  token_label = "{TOKEN}"\n  pin = "{pin}"\n'
            f'  key_label = "{key_label}"\n  generate_key = true\n{extra}}}\n')


def set_seal(srv, block):
    """Rewrites the server's config with `block` as its seal (or none)."""
    text = srv.config_path.read_text()
    text = text.split('seal "pkcs11"')[0]
    srv.config_path.write_text(text + block)


def init_recovery(srv, shares=3, threshold=2):
    r = srv.put("/v1/sys/init", json={"recovery_shares": shares, "recovery_threshold": threshold})
    assert r.status_code == 200, r.text
    body = r.json()
    srv.root_token = body["root_token"]
    srv.recovery_keys = body["recovery_keys"]
    return body


def wait_unsealed(srv, timeout=15):
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = srv.seal_status()
        if not st["sealed"]:
            return st
        time.sleep(0.1)
    raise AssertionError(f"still sealed after {timeout}s: {st}\n{srv.proc.stderr_text()[-2000:]}")


def wait_log(srv, needle, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in srv.proc.stderr_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not logged within {timeout}s:\n{srv.proc.stderr_text()[-2000:]}")


def kv_put(srv, value):
    assert srv.put("/v1/sys/mounts/kv", token=srv.root_token, json={"type": "kv"}).status_code == 204
    assert srv.put("/v1/kv/probe", token=srv.root_token, json={"v": value}).status_code == 204


def kv_get(srv):
    r = srv.get("/v1/kv/probe", token=srv.root_token)
    assert r.status_code == 200, r.text
    return r.json()["data"]["v"]


def test_init_restart_and_status(hsm, config_server):
    srv = config_server(top_extra=seal_block())
    st = srv.seal_status()
    assert (st["type"], st["initialized"], st["sealed"], st["recovery_seal"]) == ("pkcs11", False, True, True)

    # Recovery shares only with a Shamir-only field set: Vault's auto-unseal init.
    body = init_recovery(srv, 5, 3)
    assert body["keys"] == [] and body["keys_base64"] == []
    assert len(body["recovery_keys"]) == 5 and len(body["recovery_keys_base64"]) == 5
    assert base64.b64decode(body["recovery_keys_base64"][0]).hex() == body["recovery_keys"][0]
    # Unsealed at once by the seal.
    st = srv.seal_status()
    assert (st["type"], st["sealed"], st["t"], st["n"], st["recovery_seal"], st["migration"]) == \
        ("pkcs11", False, 3, 5, True, False), st
    assert st["cluster_id"] and st["storage_type"] == "lmdb"
    kv_put(srv, "before-restart")
    # Init twice is refused.
    assert_error(srv.put("/v1/sys/init", json={"recovery_shares": 1, "recovery_threshold": 1}), 400,
                 "already initialized")
    # No root key in clear in storage: the stored record is the HSM's blob.
    srv.restart()
    st = wait_unsealed(srv)
    assert st["type"] == "pkcs11" and st["t"] == 3
    assert kv_get(srv) == "before-restart"
    assert "core unsealed by the seal" in srv.proc.stderr_text()
    # hvac sees the same.
    assert srv.client().sys.read_seal_status()["type"] == "pkcs11"
    # The PIN never reaches the log.
    assert PIN not in srv.proc.stderr_text() + srv.proc.stdout_text()


def test_manual_seal_and_unseal_with_recovery_keys(hsm, config_server):
    srv = config_server(top_extra=seal_block())
    init_recovery(srv, 3, 2)
    assert srv.put("/v1/sys/seal", token=srv.root_token).status_code == 204
    time.sleep(1.2)  # the auto-unseal thread is done: a sealed node stays sealed
    assert srv.seal_status()["sealed"] is True
    # Unseal keys (Shamir) do not exist; recovery keys unseal it through the seal.
    bad = "00" * 33
    r = srv.put("/v1/sys/unseal", json={"key": bad})
    assert r.status_code == 200 and r.json()["progress"] == 1
    r = srv.put("/v1/sys/unseal", json={"key": srv.recovery_keys[0]})
    assert_error(r, 400, "do not combine")
    srv.put("/v1/sys/unseal", json={"key": srv.recovery_keys[0]})
    r = srv.put("/v1/sys/unseal", json={"key": srv.recovery_keys[1]})
    assert r.status_code == 200 and r.json()["sealed"] is False, r.text
    # migrate=true with no migration pending is refused.
    srv.put("/v1/sys/seal", token=srv.root_token)
    assert_error(srv.put("/v1/sys/unseal", json={"key": srv.recovery_keys[0], "migrate": True}), 400,
                 "no seal migration is pending")


@pytest.mark.parametrize("case", ["missing_key", "wrong_pin", "wrong_lib"])
def test_stays_sealed_with_clear_error(hsm, config_server, tmp_path, case):
    srv = config_server(top_extra=seal_block())
    init_recovery(srv)
    kv_put(srv, "kept")
    srv.stop()
    block, needle = {
        "missing_key": (seal_block(key_label="no-such-key"), 'no secret key labelled'),
        "wrong_pin": (seal_block(pin="9999"), "CKR_PIN_INCORRECT"),
        "wrong_lib": (seal_block(lib=str(tmp_path / "nope.so")), "cannot load the library"),
    }[case]
    set_seal(srv, block)
    srv.start()
    wait_log(srv, needle)
    wait_log(srv, "auto-unseal failed; the server stays sealed and retries")
    st = srv.seal_status()
    assert st["sealed"] is True and st["initialized"] is True and st["type"] == "pkcs11"
    assert srv.get("/v1/sys/health").status_code == 503
    assert "9999" not in srv.proc.stderr_text()
    # Fixed config: the next start unseals.
    srv.stop()
    set_seal(srv, seal_block())
    srv.start()
    wait_unsealed(srv)
    assert kv_get(srv) == "kept"


def test_retry_sees_a_key_added_while_running(hsm, config_server):
    srv = config_server(top_extra=seal_block())
    init_recovery(srv)
    srv.stop()
    set_seal(srv, seal_block(key_label="later"))
    srv.start()
    wait_log(srv, 'no secret key labelled')
    # The key the server waits for is put on the token while it runs (each
    # retry starts a fresh session, so it is seen): but a new key cannot
    # open the old blob, so it stays sealed and says so.
    hsm.import_aes(label="later", key_id="02")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        errs = srv.proc.stderr_text().split("no secret key labelled")[-1]
        if "does not open the stored wrapped key" in errs or "C_DecryptInit" in errs:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(srv.proc.stderr_text()[-2000:])
    assert srv.seal_status()["sealed"] is True


def test_bad_config_refused_at_start(hsm, config_server, tmp_path):
    srv = config_server(top_extra=seal_block(key_label="made-by-trove"))
    init_recovery(srv, 1, 1)
    srv.restart()
    wait_unsealed(srv)
    # A bad block is refused at start, naming the option.
    cfg = tmp_path / "bad.hcl"
    cfg.write_text(srv.config_path.read_text().split('seal "pkcs11"')[0] +
                   seal_block(extra='  mechanism = "CKM_DES3_CBC"\n'))
    p = run_cli(["server", f"-config={cfg}"])
    assert p.returncode != 0 and "mechanism" in p.stderr, p.stderr
    cfg.write_text(srv.config_path.read_text().split('seal "pkcs11"')[0] + 'seal "pkcs11" {\n  lib = "x"\n}\n')
    p = run_cli(["server", f"-config={cfg}"])
    assert p.returncode != 0 and "slot or token_label" in p.stderr, p.stderr


def test_generate_root_with_recovery_keys(hsm, config_server):
    srv = config_server(top_extra=seal_block())
    init_recovery(srv, 3, 2)
    client = srv.client()
    st = client.sys.start_root_token_generation()
    assert st["required"] == 2
    r = client.sys.generate_root(srv.recovery_keys[0], st["nonce"])
    assert r["complete"] is False
    r = client.sys.generate_root(srv.recovery_keys[2], st["nonce"])
    assert r["complete"] is True, r
    raw = base64.b64decode(r["encoded_token"] + "=" * (-len(r["encoded_token"]) % 4))
    token = bytes(a ^ b for a, b in zip(raw, st["otp"].encode())).decode()
    look = srv.get("/v1/auth/token/lookup-self", token=token)
    assert look.status_code == 200 and look.json()["data"]["policies"] == ["root"]


def test_rekey_recovery_keys(hsm, config_server):
    srv = config_server(top_extra=seal_block())
    init_recovery(srv, 3, 2)
    # sys/rekey is for Shamir unseal keys: refused here, naming the right path.
    assert_error(srv.put("/v1/sys/rekey/init", json={"secret_shares": 2, "secret_threshold": 2}), 400,
                 "sys/rekey-recovery-key")
    r = srv.put("/v1/sys/rekey-recovery-key/init", json={"secret_shares": 4, "secret_threshold": 3})
    assert r.status_code == 200, r.text
    nonce = r.json()["nonce"]
    assert (r.json()["t"], r.json()["n"], r.json()["required"]) == (3, 4, 2)
    r = srv.put("/v1/sys/rekey-recovery-key/update", json={"key": srv.recovery_keys[0], "nonce": nonce})
    assert r.json()["progress"] == 1
    r = srv.put("/v1/sys/rekey-recovery-key/update", json={"key": srv.recovery_keys[1], "nonce": nonce})
    body = r.json()
    assert r.status_code == 200 and body["complete"] is True and len(body["keys"]) == 4, r.text
    new = body["keys"]
    st = srv.seal_status()
    assert (st["t"], st["n"]) == (3, 4)
    # The old recovery keys no longer work; the new ones do (generate-root).
    client = srv.client()
    att = client.sys.start_root_token_generation()
    for k in srv.recovery_keys[:3]:
        r = srv.put("/v1/sys/generate-root/update", json={"key": k, "nonce": att["nonce"]})
    assert_error(r, 400, "do not combine")
    for k in new[:3]:
        res = client.sys.generate_root(k, att["nonce"])
    assert res["complete"] is True
    # The new threshold survives a restart.
    srv.restart()
    st = wait_unsealed(srv)
    assert (st["t"], st["n"]) == (3, 4)


def test_migration_shamir_to_pkcs11_and_back(hsm, config_server):
    srv = config_server()
    srv.init(3, 2)
    srv.unseal()
    kv_put(srv, "survives-migration")
    shamir_keys = srv.unseal_keys

    # Shamir -> pkcs11: add the seal block, restart, unseal -migrate with the unseal keys.
    srv.stop()
    set_seal(srv, seal_block())
    srv.start()
    st = srv.seal_status()
    assert st["sealed"] is True and st["migration"] is True and st["type"] == "shamir", st
    assert_error(srv.put("/v1/sys/unseal", json={"key": shamir_keys[0]}), 400, "migrate=true")
    env = {"VAULT_ADDR": srv.url}
    p = run_cli(["operator", "unseal", "-migrate", shamir_keys[0]], env=env)
    assert p.returncode == 0, p.stderr
    p = run_cli(["operator", "unseal", "-migrate", "-format=json", shamir_keys[1]], env=env)
    assert p.returncode == 0, p.stderr
    st = srv.seal_status()
    assert (st["sealed"], st["type"], st["recovery_seal"], st["migration"], st["t"], st["n"]) == \
        (False, "pkcs11", True, False, 2, 3), st
    assert kv_get(srv) == "survives-migration"
    # A restart now unseals by itself; the old unseal keys are the recovery keys.
    srv.restart()
    wait_unsealed(srv)
    assert kv_get(srv) == "survives-migration"
    client = srv.client()
    att = client.sys.start_root_token_generation()
    for k in shamir_keys[:2]:
        res = client.sys.generate_root(k, att["nonce"])
    assert res["complete"] is True

    # pkcs11 -> Shamir: the block marked disabled, unseal -migrate with the recovery keys.
    srv.stop()
    set_seal(srv, seal_block(extra='  disabled = "true"\n'))
    srv.start()
    st = srv.seal_status()
    assert st["sealed"] is True and st["migration"] is True and st["type"] == "pkcs11", st
    for k in shamir_keys[1:3]:
        r = srv.put("/v1/sys/unseal", json={"key": k, "migrate": True})
        assert r.status_code == 200, r.text
    st = r.json()
    assert (st["sealed"], st["type"], st["recovery_seal"], st["migration"]) == (False, "shamir", False, False), st
    assert kv_get(srv) == "survives-migration"
    # Without the seal block the recovery keys are unseal keys again.
    srv.stop()
    set_seal(srv, "")
    srv.start()
    assert srv.seal_status()["sealed"] is True
    srv.unseal(shamir_keys[:2])
    assert kv_get(srv) == "survives-migration"


def test_auto_sealed_storage_without_seal_block(hsm, config_server):
    srv = config_server(top_extra=seal_block())
    init_recovery(srv)
    srv.stop()
    set_seal(srv, "")
    srv.start()
    st = srv.seal_status()
    assert st["sealed"] is True and st["recovery_seal"] is True
    assert_error(srv.put("/v1/sys/unseal", json={"key": srv.recovery_keys[0]}), 400, "no seal")


def test_env_overrides(hsm, config_server, monkeypatch):
    srv = config_server(top_extra=seal_block(pin="wrong"))
    # BAO_HSM_PIN overrides the file's pin (VAULT_* would too, but the harness clears VAULT_*).
    srv.proc.env["BAO_HSM_PIN"] = PIN
    srv.restart()
    init_recovery(srv)
    srv.restart()
    wait_unsealed(srv)


def test_cli_init_with_recovery_keys(hsm, config_server):
    srv = config_server(top_extra=seal_block())
    env = {"VAULT_ADDR": srv.url}
    p = run_cli(["operator", "init", "-recovery-shares=3", "-recovery-threshold=4"], env=env)
    assert p.returncode != 0 and "-recovery-threshold" in p.stderr, p.stderr
    p = run_cli(["operator", "init", "-recovery-shares=3", "-recovery-threshold=2", "-format=json"], env=env)
    assert p.returncode == 0, p.stderr
    import json
    out = json.loads(p.stdout)
    assert out["unseal_keys_b64"] == [] and len(out["recovery_keys_b64"]) == 3, out
    assert (out["recovery_keys_shares"], out["recovery_keys_threshold"]) == (3, 2)
    st = srv.seal_status()
    assert st["sealed"] is False and (st["t"], st["n"]) == (2, 3)
    # Table output names them recovery keys.
    srv.stop()
    set_seal(srv, seal_block())
    shutil.rmtree(srv.data_dir)
    srv.data_dir.mkdir()
    srv.start()
    p = run_cli(["operator", "init", "-recovery-shares=2", "-recovery-threshold=2"], env=env)
    assert p.returncode == 0, p.stderr
    assert "Recovery Key 2:" in p.stdout and "Unseal Key" not in p.stdout, p.stdout


def test_rsa_oaep_mechanism(hsm, config_server):
    # SoftHSM2 2.6 does OAEP with SHA-1 only.
    srv = config_server(top_extra=seal_block(key_label="rsa-root",
                                             extra='  mechanism = "RSA_PKCS_OAEP"\n  rsa_oaep_hash = "sha1"\n'))
    init_recovery(srv, 1, 1)
    kv_put(srv, "rsa")
    srv.restart()
    wait_unsealed(srv)
    assert kv_get(srv) == "rsa"
    # The same key label configured for AES-GCM: the blob says RSA, refused by name.
    srv.stop()
    set_seal(srv, seal_block(key_label="rsa-root"))
    srv.start()
    wait_log(srv, "wrapped with CKM_RSA_PKCS_OAEP")
    assert srv.seal_status()["sealed"] is True
