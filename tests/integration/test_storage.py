"""The LMDB-backed config-file server: restarts, crashes (kill -9) and what
lands on disk. Secrets must never appear in the LMDB file or the logs."""

import shutil
import subprocess

import hvac.exceptions
import pytest

from trove_harness import key_forms


def term_of(srv):
    r = srv.get("/v1/sys/key-status", token=srv.root_token)
    assert r.status_code == 200, r.text
    return r.json()["data"]["term"]


def rotate(srv):
    r = srv.put("/v1/sys/rotate", token=srv.root_token)
    assert r.status_code == 204, r.text


def test_restart_needs_unseal_and_keeps_data(unsealed_server):
    srv = unsealed_server
    rotate(srv)
    term = term_of(srv)
    assert term >= 2

    srv.restart()
    st = srv.seal_status()
    assert (st["initialized"], st["sealed"], st["t"], st["n"], st["progress"]) == (True, True, 2, 3, 0)
    r = srv.get("/v1/sys/key-status", token=srv.root_token)
    assert r.status_code == 503
    client = srv.client(srv.root_token)
    with pytest.raises(hvac.exceptions.VaultDown):
        client.sys.get_encryption_key_status()

    status = client.sys.submit_unseal_keys(srv.unseal_keys[1:])
    assert status["sealed"] is False
    # The same root token and keyring come back from disk.
    assert term_of(srv) == term
    assert client.sys.get_encryption_key_status()["data"]["term"] == term
    # Init state persisted: a second init is refused.
    r = srv.put("/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1})
    assert r.status_code == 400


def test_kill9_keeps_rotated_keyring(unsealed_server):
    srv = unsealed_server
    rotate(srv)
    rotate(srv)
    term = term_of(srv)
    srv.kill9()
    srv.start()
    assert srv.seal_status()["sealed"] is True
    srv.unseal()
    assert term_of(srv) == term
    rotate(srv)
    assert term_of(srv) == term + 1
    srv.kill9()
    srv.start()
    srv.unseal(list(reversed(srv.unseal_keys)))
    assert term_of(srv) == term + 1


def test_old_unseal_keys_of_another_server_are_refused(config_server):
    a = config_server()
    a.init(3, 2)
    b = config_server()
    b.init(3, 2)
    r = b.put("/v1/sys/unseal", json={"key": a.unseal_keys[0]})
    assert r.status_code == 200
    r = b.put("/v1/sys/unseal", json={"key": a.unseal_keys[1]})
    assert r.status_code == 400
    assert b.seal_status()["sealed"] is True


def test_storage_is_an_lmdb_environment(unsealed_server):
    srv = unsealed_server
    rotate(srv)
    srv.stop()
    files = srv.storage_files()
    assert files, f"nothing written under {srv.data_dir}"
    mdb_stat = shutil.which("mdb_stat")
    if mdb_stat is None:
        pytest.skip("mdb_stat (lmdb-utils) not installed")
    target = srv.data_dir
    args = [mdb_stat, "-e", str(target)]
    if (srv.data_dir / "data.mdb").exists() is False and srv.data_dir.is_file():
        args = [mdb_stat, "-n", "-e", str(target)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr


def test_canary_secrets_never_reach_disk_or_logs(unsealed_server):
    """The root token and every unseal key (hex, base64, raw) are written
    through the barrier or never stored at all: none may appear in the LMDB
    files nor in anything the server printed."""
    srv = unsealed_server
    for _ in range(3):
        rotate(srv)
    assert term_of(srv) >= 4
    srv.restart()
    srv.unseal()
    assert term_of(srv) >= 4
    srv.stop()  # flush everything to disk

    files = srv.storage_files()
    assert files and sum(f.stat().st_size for f in files) > 0, "storage is empty"
    disk = b"".join(f.read_bytes() for f in files)
    logs = srv.proc.all_output_bytes()

    canaries = {"root token": srv.root_token.encode()}
    for i, k in enumerate(srv.unseal_keys):
        for form, value in key_forms(k).items():
            canaries[f"unseal key {i} ({form})"] = value
    for name, value in canaries.items():
        assert value not in disk, f"{name} found in the LMDB files"
        assert value not in logs, f"{name} found in the server's output"
