"""`trove agent`'s templates against a real server: secrets rendered to
files with their modes, re-rendered when they change and only then (the
command runs once per change, never on an equal refresh), pkiCert issued,
re-issued before expiry and reused across a restart, a dynamic token
renewed then fetched anew, create_dest_dirs, backup, command_timeout,
error_on_missing_key, the server stopped and started again (the file kept
intact meanwhile), and exit_after_auth.

The agent logs in with auto_auth's token_file method, holding a token
with the root policy made for each test."""

import os
import time
from datetime import timezone
from pathlib import Path

import pytest
from agent_proc import start_agent, wait_for, wait_for_file
from cryptography import x509


def api(srv, method, path, token=None, **kw):
    r = srv.request(method, "/v1/" + path, token=token or srv.root_token, **kw)
    assert r.status_code in (200, 204), f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.status_code == 200 and r.text else None


def kv2_put(srv, path, data):
    api(srv, "POST", f"secret/data/{path}", json={"data": data})


def config(srv, tmp_path, body, extra="", vault_extra=""):
    """agent.hcl: vault { address }, auto_auth with a token file holding a
    fresh root-policy token, then extra and the template blocks."""
    tok = api(srv, "POST", "auth/token/create", json={"policies": ["root"], "ttl": "1h"})["auth"]["client_token"]
    path = Path(tmp_path) / "agent-token"
    path.write_text(tok + "\n")
    return f"""vault {{
  address = "{srv.url}"
  {vault_extra}
}}
auto_auth {{
  method "token_file" {{
    config = {{
      token_file_path = "{path}"
    }}
  }}
}}
{extra}
{body}"""


def template(contents, dest, **opts):
    lines = [f"  contents = {hcl_str(contents)}", f'  destination = "{dest}"']
    for k, v in opts.items():
        if isinstance(v, bool):
            lines.append(f"  {k} = {'true' if v else 'false'}")
        elif isinstance(v, str) and v.startswith("{"):
            lines.append(f"  {k} {v}")
        else:
            lines.append(f"  {k} = {hcl_str(v) if isinstance(v, str) else v}")
    return "template {\n" + "\n".join(lines) + "\n}\n"


def hcl_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def count_lines(path):
    try:
        return len(Path(path).read_text().splitlines())
    except FileNotFoundError:
        return 0


def test_kv_v2_and_v1_rendered_with_perms(dev_server, procs, log_dir, tmp_path):
    srv = dev_server
    kv2_put(srv, "app", {"password": "hunter2", "user": "app"})
    api(srv, "POST", "sys/mounts/kv1", json={"type": "kv", "options": {"version": "1"}})
    api(srv, "POST", "kv1/db", json={"user": "dbuser"})
    v2, short, v1 = tmp_path / "v2.txt", tmp_path / "short.txt", tmp_path / "v1.txt"
    body = (
        template('{{ with secret "secret/data/app" }}{{ .Data.data.user }}:{{ .Data.data.password }}'
                 ' v{{ .Data.metadata.version }}{{ end }}', v2, perms="0600")
        # The short KV v2 form reads secret/data/app too, as consul-template does.
        + template('{{ with secret "secret/app" }}{{ .Data.data.user }}{{ end }}', short)
        + template('{{ with secret "kv1/db" }}{{ .Data.user }}{{ end }}', v1, perms="0640")
    )
    start_agent(procs, log_dir, tmp_path, config(srv, tmp_path, body))
    assert wait_for_file(v2, contains="v1") == "app:hunter2 v1"
    assert wait_for_file(short, contains="app") == "app"
    assert wait_for_file(v1, contains="dbuser") == "dbuser"
    assert v2.stat().st_mode & 0o777 == 0o600
    assert short.stat().st_mode & 0o777 == 0o644
    assert v1.stat().st_mode & 0o777 == 0o640


def test_change_rerenders_once_and_no_storm(dev_server, procs, log_dir, tmp_path):
    srv = dev_server
    kv2_put(srv, "app", {"password": "one"})
    out, ran = tmp_path / "app.txt", tmp_path / "ran"
    body = template('{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}', out,
                    command=f"echo ran >> {ran}")
    agent = start_agent(procs, log_dir, tmp_path,
                        config(srv, tmp_path, body, 'template_config {\n  static_secret_render_interval = "1s"\n}'))
    wait_for_file(out, contains="one")
    wait_for(lambda: count_lines(ran) == 1, 10, "the command after the first render")
    kv2_put(srv, "app", {"password": "s3cr3t-two"})
    t0 = time.monotonic()
    wait_for_file(out, contains="s3cr3t-two", timeout=10)
    assert time.monotonic() - t0 < 5, "a KV change must render within static_secret_render_interval (1s) + slack"
    wait_for(lambda: count_lines(ran) == 2, 10, "the command after the change")
    # No re-render storm: 10 s of refreshes with equal data change nothing.
    mtime = out.stat().st_mtime_ns
    time.sleep(10)
    assert count_lines(ran) == 2, "the command ran again without a change"
    assert out.stat().st_mtime_ns == mtime, "the file was rewritten without a change"
    assert out.read_text() == "s3cr3t-two"
    assert "s3cr3t" not in agent.log(), "a secret value in the log"


def setup_pki(srv):
    api(srv, "POST", "sys/mounts/pki", json={"type": "pki", "config": {"max_lease_ttl": "87600h"}})
    api(srv, "POST", "pki/root/generate/internal", json={"common_name": "Agent Test CA", "ttl": "87600h"})
    api(srv, "POST", "pki/roles/app", json={"allowed_domains": "example.com", "allow_subdomains": True,
                                              "max_ttl": "24h", "key_type": "ec", "key_bits": 256})


def serial_of(path):
    text = Path(path).read_text()
    return x509.load_pem_x509_certificate(text.encode()).serial_number


PKI_TEMPLATE = ('{{ with pkiCert "pki/issue/app" "common_name=app.example.com" "ttl=%s" }}'
                '{{ .Data.Cert }}{{ .Data.Key }}{{ end }}')


def test_pki_cert_reissued_before_expiry(dev_server, procs, log_dir, tmp_path):
    srv = dev_server
    setup_pki(srv)
    out = tmp_path / "tls" / "app.pem"
    agent = start_agent(procs, log_dir, tmp_path, config(srv, tmp_path, template(PKI_TEMPLATE % "6s", out, perms="0600")))
    text = wait_for_file(out, contains="PRIVATE KEY")
    first = serial_of(out)
    cert = x509.load_pem_x509_certificate(text.encode())
    expires = cert.not_valid_after.replace(tzinfo=timezone.utc).timestamp()
    assert expires - time.time() <= 7
    # Re-issued at 0.9 of its validity (which starts 30 s back), before it expires.
    wait_for(lambda: serial_of(out) != first, 12, "a new certificate")
    assert time.time() < expires, "the certificate was replaced only after it expired"
    assert out.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" not in agent.log()


def test_pki_cert_on_disk_reused_after_restart(dev_server, procs, log_dir, tmp_path):
    srv = dev_server
    setup_pki(srv)
    out = tmp_path / "app.pem"
    ran = tmp_path / "ran"
    cfg = config(srv, tmp_path, template(PKI_TEMPLATE % "1h", out, command=f"echo ran >> {ran}"))
    agent = start_agent(procs, log_dir, tmp_path, cfg)
    wait_for_file(out, contains="PRIVATE KEY")
    serial, mtime = serial_of(out), out.stat().st_mtime_ns
    wait_for(lambda: count_lines(ran) == 1, 10, "the command")
    procs.remove(agent)
    agent.stop()
    assert agent.problems == []
    agent2 = start_agent(procs, log_dir, tmp_path, cfg, name="agent2")
    wait_for(lambda: "still good" in agent2.log(), 10, "the agent to find the certificate on disk")
    time.sleep(1)
    assert serial_of(out) == serial, "a restart issued a new certificate"
    assert out.stat().st_mtime_ns == mtime
    assert count_lines(ran) == 1, "the command ran though nothing changed"


def test_dynamic_token_renewed_then_fetched_anew(dev_server, procs, log_dir, tmp_path):
    srv = dev_server
    out = tmp_path / "token"
    body = template('{{ with secret "auth/token/create" "ttl=6s" "explicit_max_ttl=15s" "policies=default" }}'
                    '{{ .Auth.ClientToken }} {{ .Auth.Renewable }}{{ end }}', out, perms="0600")
    start_agent(procs, log_dir, tmp_path, config(srv, tmp_path, body))
    text = wait_for_file(out, contains="true")
    first = text.split()[0]
    # Renewed at two thirds of its 6 s: past its first 6 s it is still alive.
    time.sleep(7.5)
    r = srv.request("POST", "/v1/auth/token/lookup", token=srv.root_token, json={"token": first})
    assert r.status_code == 200, f"the token was not kept alive: {r.status_code} {r.text}"
    assert out.read_text().split()[0] == first, "renewal must not re-render"
    # Once renewal stops extending it (explicit_max_ttl), a new one is fetched.
    wait_for(lambda: out.read_text().split()[0] != first, 20, "a new token")


def test_create_dest_dirs_and_backup(dev_server, procs, log_dir, tmp_path):
    srv = dev_server
    kv2_put(srv, "app", {"v": "old"})
    out = tmp_path / "a" / "b" / "c" / "app.txt"
    body = template('{{ with secret "secret/data/app" }}{{ .Data.data.v }}{{ end }}', out, backup=True)
    start_agent(procs, log_dir, tmp_path,
                config(srv, tmp_path, body, 'template_config {\n  static_secret_render_interval = "1s"\n}'))
    assert wait_for_file(out, contains="old") == "old"
    assert (tmp_path / "a" / "b").stat().st_mode & 0o777 == 0o755
    kv2_put(srv, "app", {"v": "new"})
    wait_for_file(out, contains="new", timeout=10)
    assert Path(str(out) + ".bak").read_text() == "old"
    leftovers = [p.name for p in out.parent.iterdir() if p.name not in ("app.txt", "app.txt.bak")]
    assert leftovers == []


def test_defaults_keep_the_mode_and_a_backup(dev_server, procs, log_dir, tmp_path):
    """Without perms the file keeps the mode it had (0644 for a new one);
    backup is on unless turned off, as Vault Agent's docs say."""
    srv = dev_server
    kv2_put(srv, "app", {"v": "old"})
    kept, fresh = tmp_path / "kept.txt", tmp_path / "fresh.txt"
    kept.write_text("before")
    kept.chmod(0o600)
    body = (template('{{ with secret "secret/data/app" }}{{ .Data.data.v }}{{ end }}', kept) +
            template('{{ with secret "secret/data/app" }}{{ .Data.data.v }}{{ end }}', fresh))
    start_agent(procs, log_dir, tmp_path,
                config(srv, tmp_path, body, 'template_config {\n  static_secret_render_interval = "1s"\n}'))
    assert wait_for_file(kept, contains="old") == "old"
    wait_for_file(fresh, contains="old")
    assert kept.stat().st_mode & 0o777 == 0o600
    assert fresh.stat().st_mode & 0o777 == 0o644
    assert Path(str(kept) + ".bak").read_text() == "before"


def test_no_dest_dirs_is_an_error(dev_server, procs, log_dir, tmp_path):
    srv = dev_server
    out = tmp_path / "missing" / "app.txt"
    body = template("static", out, create_dest_dirs=False)
    agent = start_agent(procs, log_dir, tmp_path, config(srv, tmp_path, body))
    wait_for(lambda: "template not written" in agent.log(), 10, "the write to fail")
    assert not out.parent.exists()


def test_command_timeout_kills_hanging_command(dev_server, procs, log_dir, tmp_path):
    srv = dev_server
    out, pidfile = tmp_path / "app.txt", tmp_path / "cmd.pid"
    body = template("hello", out, command=f"echo $$ > {pidfile}; exec sleep 1000", command_timeout="1s")
    agent = start_agent(procs, log_dir, tmp_path, config(srv, tmp_path, body))
    wait_for_file(out, contains="hello")
    pid = int(wait_for_file(pidfile, contains="\n"))
    wait_for(lambda: "template command failed" in agent.log(), 10, "the command to be killed")
    assert "timeout" in agent.log()

    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True

    wait_for(gone, 5, "the hanging command to be gone")


def test_error_on_missing_key(dev_server, procs, log_dir, tmp_path):
    srv = dev_server
    kv2_put(srv, "app", {"present": "yes"})
    strict, lax = tmp_path / "strict.txt", tmp_path / "lax.txt"
    tpl = '{{ with secret "secret/data/app" }}{{ .Data.data.absent }}{{ end }}'
    cfg = config(srv, tmp_path, template(tpl, strict, error_on_missing_key=True),
                 'template_config {\n  exit_on_retry_failure = true\n}', "retry {\n    num_retries = 1\n  }")
    agent = start_agent(procs, log_dir, tmp_path, cfg, wait=False)
    assert agent.wait_exit(30) == 1
    assert not strict.exists(), "a failed rendering must not be written"
    assert "absent" in agent.log()
    agent2 = start_agent(procs, log_dir, tmp_path, config(srv, tmp_path, template(tpl, lax)), name="lax")
    assert wait_for_file(lax, contains="no value") == "<no value>"
    assert agent2.pid


def test_server_stopped_keeps_file_then_renders_new_values(config_server, procs, log_dir, tmp_path):
    srv = config_server()
    srv.init(1, 1)
    srv.unseal()
    api(srv, "POST", "sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}})
    kv2_put(srv, "app", {"v": "before"})
    out, ran = tmp_path / "app.txt", tmp_path / "ran"
    body = template('{{ with secret "secret/data/app" }}{{ .Data.data.v }}{{ end }}', out,
                    command=f"echo ran >> {ran}")
    agent = start_agent(procs, log_dir, tmp_path,
                        config(srv, tmp_path, body, 'template_config {\n  static_secret_render_interval = "1s"\n}'))
    wait_for_file(out, contains="before")
    wait_for(lambda: count_lines(ran) == 1, 10, "the first command")
    mtime = out.stat().st_mtime_ns
    srv.stop()
    # Down for a while: refreshes fail, the file stays as it was.
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        assert out.read_text() == "before"
        time.sleep(0.2)
    assert out.stat().st_mtime_ns == mtime
    assert count_lines(ran) == 1
    assert agent.proc.poll() is None, "the agent must keep running while the server is down"
    srv.start()
    srv.unseal()
    kv2_put(srv, "app", {"v": "after"})
    wait_for_file(out, contains="after", timeout=60)
    wait_for(lambda: count_lines(ran) == 2, 10, "the command after the new value")


def test_exit_after_auth_renders_once_and_exits(dev_server, procs, log_dir, tmp_path):
    srv = dev_server
    kv2_put(srv, "app", {"v": "once"})
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    body = (template('{{ with secret "secret/data/app" }}{{ .Data.data.v }}{{ end }}', a)
            + template('{{ with secret "secret/data/app" }}b={{ .Data.data.v }}{{ end }}', b))
    agent = start_agent(procs, log_dir, tmp_path, "exit_after_auth = true\n" + config(srv, tmp_path, body), wait=False)
    assert agent.wait_exit(30) == 0
    assert a.read_text() == "once"
    assert b.read_text() == "b=once"


def test_env_template_reaches_the_app_and_follows_changes(dev_server, procs, log_dir, tmp_path):
    srv = dev_server
    kv2_put(srv, "app", {"password": "env-one"})
    rec = tmp_path / "env.txt"
    tpl = '{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}'
    app = tmp_path / "app.sh"
    # exits 0 on SIGTERM, which exec mode forwards, so the agent exits 0 too
    app.write_text(f'trap "exit 0" TERM\necho "$APP_PASSWORD" >> {rec}\nwhile :; do sleep 1 & wait $!; done\n')
    body = f"""exec {{
  command = ["/bin/sh", "{app}"]
}}
env_template "APP_PASSWORD" {{
  contents = {hcl_str(tpl)}
}}
"""
    start_agent(procs, log_dir, tmp_path,
                config(srv, tmp_path, body, 'template_config {\n  static_secret_render_interval = "1s"\n}'))
    wait_for(lambda: rec.exists() and rec.read_text() == "env-one\n", 20, "the app with the secret in its env")
    kv2_put(srv, "app", {"password": "env-two"})
    # exec mode restarts the app with the new value (restart_on_secret_changes = always)
    wait_for(lambda: rec.read_text() == "env-one\nenv-two\n", 20, "the app restarted with the new value")
    time.sleep(3)
    assert rec.read_text() == "env-one\nenv-two\n", "the app was restarted without a change"


def test_bad_template_stops_the_agent_naming_the_block(dev_server, procs, log_dir, tmp_path):
    body = template('{{ with secret "secret/data/app" }}{{ .Data }', tmp_path / "x.txt")
    cfg = config(dev_server, tmp_path, body)
    agent = start_agent(procs, log_dir, tmp_path, cfg, wait=False)
    assert agent.wait_exit(30) == 1
    line = cfg.splitlines().index("template {") + 1
    assert f"agent.hcl:{line}: template: contents:1:" in agent.log()
    assert not (tmp_path / "x.txt").exists()
