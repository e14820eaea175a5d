"""Config files: `trove server -config F -check`, and startup with bad
configs. Errors must name the file and line (file:line) and the offending
key, and the server must exit 1 instead of starting."""

import re
import subprocess

import pytest

from trove_harness import TROVE_BIN, free_port, run_cli, sanitizer_env


def base_lines(data_dir, port):
    return [
        'storage "lmdb" {',  # 1
        f'  path = "{data_dir}"',  # 2
        "}",  # 3
        "",  # 4
        'listener "tcp" {',  # 5
        f'  address = "127.0.0.1:{port}"',  # 6
        "  tls_disable = true",  # 7
        "}",  # 8
        "",  # 9
        "disable_mlock = true",  # 10
    ]


# (id, edit(lines) -> line number of the fault, text the message must name)
def _append(text):
    def edit(lines):
        lines.append(text)
        return len(lines)
    return edit


def _insert(at, text):
    def edit(lines):
        lines.insert(at - 1, text)
        return at
    return edit


def _replace(at, text):
    def edit(lines):
        lines[at - 1] = text
        return at
    return edit


BAD = [
    ("unknown-top-level-key", _append("bogus_setting = 5"), "bogus_setting"),
    ("unknown-listener-key", _insert(7, '  adress_typo = "x"'), "adress_typo"),
    ("unknown-storage-key", _insert(3, '  pathh = "/tmp/x"'), "pathh"),
    ("wrong-type-bool", _replace(10, 'disable_mlock = "perhaps"'), "disable_mlock"),
    ("wrong-type-int", _insert(7, '  max_request_size = "huge"'), "max_request_size"),
    ("wrong-type-block", _append('disable_mlock { x = 1 }'), "disable_mlock"),
    ("unknown-storage-type", _replace(1, 'storage "floppy" {'), "floppy"),
    ("unknown-listener-type", _replace(5, 'listener "carrier_pigeon" {'), "carrier_pigeon"),
    ("syntax-error", _insert(10, "log_level = = 1"), None),
    ("unterminated-string", _append('log_level = "info'), None),
]


def write_bad(tmp_path, edit):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    lines = base_lines(data, free_port())
    line = edit(lines)
    cfg = tmp_path / "bad.hcl"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg, line


def assert_names_location(stderr, cfg, line, key):
    loc = re.compile(re.escape(cfg.name) + r":" + str(line) + r"\b")
    assert loc.search(stderr), f"error must name {cfg.name}:{line}; stderr was:\n{stderr[-2000:]}"
    if key:
        assert key in stderr, f"error must name {key!r}; stderr was:\n{stderr[-2000:]}"


@pytest.mark.parametrize("case", BAD, ids=[b[0] for b in BAD])
def test_check_rejects_bad_config(tmp_path, case):
    _, edit, key = case
    cfg, line = write_bad(tmp_path, edit)
    p = run_cli(["server", "-config", cfg, "-check"])
    assert p.returncode == 1, f"exit {p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}"
    assert_names_location(p.stderr, cfg, line, key)


@pytest.mark.parametrize("case", BAD[:5] + BAD[8:9], ids=[b[0] for b in BAD[:5] + BAD[8:9]])
def test_server_refuses_to_start_with_bad_config(tmp_path, case):
    _, edit, key = case
    cfg, line = write_bad(tmp_path, edit)
    p = run_cli(["server", "-config", cfg], timeout=20)
    assert p.returncode == 1, f"exit {p.returncode}\nstderr:{p.stderr}"
    assert_names_location(p.stderr, cfg, line, key)


def test_check_accepts_good_config(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    cfg = tmp_path / "good.hcl"
    cfg.write_text("\n".join(base_lines(data, free_port())) + "\n")
    p = run_cli(["server", "-config", cfg, "-check"])
    assert p.returncode == 0, f"exit {p.returncode}\nstderr:{p.stderr}"


def test_check_accepts_full_listener_options(tmp_path, tls_material):
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    cfg = tmp_path / "full.hcl"
    cfg.write_text(
        f'''# comments are fine
storage "lmdb" {{
  path = "{data}"
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_cert_file = "{tls_material.server_cert}"
  tls_key_file = "{tls_material.server_key}"
  tls_client_ca_file = "{tls_material.ca_cert}"
  tls_require_and_verify_client_cert = true
  max_request_size = 1024
}}
disable_mlock = true
'''
    )
    p = run_cli(["server", "-config", cfg, "-check"])
    assert p.returncode == 0, f"exit {p.returncode}\nstderr:{p.stderr}"


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.hcl"
    p = run_cli(["server", "-config", missing, "-check"])
    assert p.returncode == 1
    assert "nope.hcl" in p.stderr
    p = run_cli(["server", "-config", missing], timeout=20)
    assert p.returncode == 1
    assert "nope.hcl" in p.stderr


def test_unknown_flag_is_usage_error():
    p = run_cli(["server", "-no-such-flag"], timeout=20)
    assert p.returncode == 2, f"exit {p.returncode}\nstderr:{p.stderr}"


def test_missing_tls_files(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    cfg = tmp_path / "tls.hcl"
    cfg.write_text(
        f'''storage "lmdb" {{
  path = "{data}"
}}
listener "tcp" {{
  address = "127.0.0.1:{free_port()}"
  tls_cert_file = "{tmp_path}/absent-cert.pem"
  tls_key_file = "{tmp_path}/absent-key.pem"
}}
disable_mlock = true
'''
    )
    p = subprocess.run([TROVE_BIN, "server", "-config", str(cfg)], env=sanitizer_env(), capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert p.returncode == 1, p.stderr
    assert "absent-cert.pem" in p.stderr
