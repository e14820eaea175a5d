"""auth/cert: logins with the TLS client certificate (mTLS), as Vault's
cert method.

The test makes its own CAs with python3-cryptography: a trusted CA that
also signs the server's certificate, an untrusted one, and client
certificates (good, from the wrong CA, expired, wrong CN, wrong OU,
without the required extension, revoked by a CRL). The server listens
with TLS but without tls_client_ca_file, so any certificate passes the
TLS layer and the method decides. Covered: logins with requests, hvac's
client.auth.cert and `trove login -method=cert`; every refusal (400 or
403, no token); a plain-HTTP listener; the server still serving."""

import datetime
import os

import hvac
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from trove_harness import HTTP_TIMEOUT, TROVE_BIN, Server, TroveProcess, free_port, run_cli

EXT_OID = "1.3.6.1.4.1.55555.1"
NOW = datetime.datetime.now(datetime.timezone.utc)


def _der_utf8(text):
    raw = text.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


class PKI:
    def __init__(self, d):
        self.d = d
        self.ca_key, self.ca = self._ca("Trove cert-auth CA")
        self.other_key, self.other_ca = self._ca("Someone else's CA")
        self.ca_pem = self.ca.public_bytes(serialization.Encoding.PEM).decode()
        self.ca_file = d / "ca.pem"
        self.ca_file.write_text(self.ca_pem)
        key, cert = self.leaf("127.0.0.1", server=True)
        self.server = self._write("server", key, cert)
        self.revoked_serials = []

    def _ca(self, cn):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(hours=1))
            .not_valid_after(NOW + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    def leaf(self, cn, ou="payments", ext="prod-eu", dns=None, server=False, other_ca=False, expired=False):
        ca_key, ca = (self.other_key, self.other_ca) if other_ca else (self.ca_key, self.ca)
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if ou:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
        start = NOW - datetime.timedelta(days=3 if expired else 0, hours=1)
        end = NOW - datetime.timedelta(days=1) if expired else NOW + datetime.timedelta(days=1)
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if server:
            import ipaddress

            b = b.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
            )
        elif dns:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
        if ext:
            b = b.add_extension(
                x509.UnrecognizedExtension(x509.ObjectIdentifier(EXT_OID), _der_utf8(ext)), critical=False
            )
        return key, b.sign(ca_key, hashes.SHA256())

    def _write(self, name, key, cert):
        crt, k = self.d / f"{name}.pem", self.d / f"{name}-key.pem"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        k.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        os.chmod(k, 0o600)
        return (str(crt), str(k))

    def client(self, name, cn, **kw):
        key, cert = self.leaf(cn, **kw)
        pair = self._write(name, key, cert)
        return pair, cert

    def crl(self, serials):
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.subject)
            .last_update(NOW - datetime.timedelta(minutes=5))
            .next_update(NOW + datetime.timedelta(days=1))
        )
        for s in serials:
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(s).revocation_date(NOW).build()
            )
        return b.sign(self.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def pki(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    return PKI(d)


def _config(data_dir, tls_port, http_port, pki):
    return f"""storage "lmdb" {{
  path = "{data_dir}"
}}

listener "tcp" {{
  address = "127.0.0.1:{tls_port}"
  tls_cert_file = "{pki.server[0]}"
  tls_key_file = "{pki.server[1]}"
}}

listener "tcp" {{
  address = "127.0.0.1:{http_port}"
  tls_disable = true
}}

disable_mlock = true
audit_file_dirs = ["{data_dir.parent}"]
"""


@pytest.fixture
def cert_server(procs, log_dir, tmp_path, pki):
    """A server with a TLS listener (no tls_client_ca_file) and a plain
    one, unsealed, auth/cert enabled with one entry "web" trusting the
    test CA."""
    d = tmp_path / "srv"
    (d / "data").mkdir(parents=True)
    tls_port, http_port = free_port(), free_port()
    while http_port == tls_port:
        http_port = free_port()
    cfg = d / "trove.hcl"
    cfg.write_text(_config(d / "data", tls_port, http_port, pki))
    url = f"https://127.0.0.1:{tls_port}"
    proc = TroveProcess(
        [TROVE_BIN, "server", "-config", cfg], log_dir, "cert", url + "/v1/sys/health",
        probe_kwargs={"verify": str(pki.ca_file)},
    )
    procs.append(proc)
    proc.start()
    srv = Server(proc, url, verify=str(pki.ca_file))
    srv.http_url = f"http://127.0.0.1:{http_port}"
    srv.proc_dir = d
    srv.init(1, 1)
    srv.unseal()
    root = srv.root_token
    r = srv.put("/v1/sys/auth/cert", token=root, json={"type": "cert"})
    assert r.status_code == 204, r.text
    r = srv.put(
        "/v1/auth/cert/certs/web",
        token=root,
        json={
            "certificate": pki.ca_pem,
            "allowed_common_names": ["app*.example.com"],
            "allowed_organizational_units": ["payments"],
            "required_extensions": [f"{EXT_OID}:prod-*"],
            "allowed_metadata_extensions": [EXT_OID],
            "token_policies": ["web"],
            "token_ttl": "1h",
        },
    )
    assert r.status_code == 204, r.text
    srv.pki = pki
    return srv


def _login(srv, pair, body=None, url=None):
    return requests.post(
        (url or srv.url) + "/v1/auth/cert/login",
        json=body or {},
        cert=pair,
        verify=srv.verify,
        timeout=HTTP_TIMEOUT,
    )


def _refused(resp, status, needle):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert "auth" not in body or body["auth"] is None, body
    assert any(needle in e for e in body["errors"]), body


def _still_serving(srv):
    assert srv.get("/v1/sys/health").status_code == 200


def test_login_with_good_certificate(cert_server):
    srv = cert_server
    pair, cert = srv.pki.client("good", "app1.example.com")
    r = _login(srv, pair)
    assert r.status_code == 200, r.text
    auth = r.json()["auth"]
    assert auth["client_token"]
    assert "web" in auth["policies"] and "default" in auth["policies"]
    assert auth["lease_duration"] == 3600
    meta = auth["metadata"]
    assert meta["cert_name"] == "web"
    assert meta["common_name"] == "app1.example.com"
    assert meta["serial_number"] == str(cert.serial_number)
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert meta["subject_key_id"] == ":".join(f"{b:02x}" for b in ski)
    assert meta[EXT_OID.replace(".", "-")] == "prod-eu"
    # The token works, and names the login.
    look = srv.get("/v1/auth/token/lookup-self", token=auth["client_token"])
    assert look.status_code == 200, look.text
    assert look.json()["data"]["display_name"] == "cert-web"
    assert look.json()["data"]["path"] == "auth/cert/login"
    # The entity alias is the certificate's CN.
    ent = srv.get(f"/v1/identity/entity/id/{auth['entity_id']}", token=srv.root_token)
    assert ent.status_code == 200, ent.text
    assert [a["name"] for a in ent.json()["data"]["aliases"]] == ["app1.example.com"]


def test_login_by_name_and_unknown_name(cert_server):
    srv = cert_server
    pair, _ = srv.pki.client("good", "app2.example.com")
    assert _login(srv, pair, {"name": "web"}).status_code == 200
    _refused(_login(srv, pair, {"name": "nope"}), 400, "invalid certificate")


def test_hvac_roles_and_login(cert_server):
    srv = cert_server
    admin = srv.client(token=srv.root_token)
    admin.auth.cert.create_ca_certificate_role(
        # A file name: hvac tries open() on the value first, and a PEM can
        # hold a base64 run too long for a file name.
        name="Ops", certificate=str(srv.pki.ca_file), allowed_common_names=["ops-*"], token_policies=["ops"]
    )
    roles = admin.auth.cert.list_certificate_roles()["data"]["keys"]
    assert sorted(roles) == ["ops", "web"]
    role = admin.auth.cert.read_ca_certificate_role(name="ops")["data"]
    assert role["allowed_common_names"] == ["ops-*"]
    assert role["token_policies"] == ["ops"]
    assert role["display_name"] == "ops"
    assert role["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    admin.auth.cert.configure_tls_certificate(disable_binding=True)
    assert srv.get("/v1/auth/cert/config", token=srv.root_token).json()["data"]["disable_binding"] is True

    pair, _ = srv.pki.client("ops", "ops-1", ou=None, ext=None)
    client = hvac.Client(url=srv.url, cert=pair, verify=srv.verify, timeout=HTTP_TIMEOUT)
    resp = client.auth.cert.login(name="ops")
    assert "ops" in resp["auth"]["policies"]
    assert client.is_authenticated()
    # Without a name every entry is tried; "web" refuses (no OU), "ops" takes it.
    client2 = hvac.Client(url=srv.url, cert=pair, verify=srv.verify, timeout=HTTP_TIMEOUT)
    assert client2.auth.cert.login()["auth"]["metadata"]["cert_name"] == "ops"
    admin.auth.cert.delete_certificate_role(name="ops")
    _refused(_login(srv, pair), 400, "no chain matching all constraints")


@pytest.mark.parametrize(
    "case,kw,status,needle",
    [
        ("wrong_ca", {"cn": "app1.example.com", "other_ca": True}, 400, "invalid certificate"),
        ("expired", {"cn": "app1.example.com", "expired": True}, 400, "invalid certificate"),
        ("wrong_cn", {"cn": "intruder.example.com"}, 400, "no chain matching all constraints"),
        ("wrong_ou", {"cn": "app1.example.com", "ou": "marketing"}, 400, "no chain matching all constraints"),
        ("no_ext", {"cn": "app1.example.com", "ext": None}, 400, "no chain matching all constraints"),
        ("wrong_ext", {"cn": "app1.example.com", "ext": "dev-eu"}, 400, "no chain matching all constraints"),
    ],
)
def test_refusals(cert_server, case, kw, status, needle):
    srv = cert_server
    pair, _ = srv.pki.client(case, **kw)
    _refused(_login(srv, pair), status, needle)
    _still_serving(srv)


def test_revoked_by_crl(cert_server):
    srv = cert_server
    pair, cert = srv.pki.client("revoked", "app9.example.com")
    assert _login(srv, pair).status_code == 200
    r = srv.put("/v1/auth/cert/crls/main", token=srv.root_token, json={"crl": srv.pki.crl([cert.serial_number])})
    assert r.status_code == 204, r.text
    crl = srv.get("/v1/auth/cert/crls/main", token=srv.root_token).json()["data"]
    assert str(cert.serial_number) in crl["serials"]
    _refused(_login(srv, pair), 400, "no chain matching all constraints")
    # Others still log in; deleting the CRL lets the certificate in again.
    good, _ = srv.pki.client("good", "app1.example.com")
    assert _login(srv, good).status_code == 200
    assert srv.request("DELETE", "/v1/auth/cert/crls/main", token=srv.root_token).status_code == 204
    assert _login(srv, pair).status_code == 200


def test_no_certificate_and_plain_http(cert_server):
    srv = cert_server
    r = requests.post(srv.url + "/v1/auth/cert/login", json={}, verify=srv.verify, timeout=HTTP_TIMEOUT)
    _refused(r, 400, "client certificate must be supplied")
    r = requests.post(srv.http_url + "/v1/auth/cert/login", json={}, timeout=HTTP_TIMEOUT)
    _refused(r, 400, "client certificate must be supplied")
    _still_serving(srv)


def test_bound_cidrs_refuse_with_403(cert_server):
    srv = cert_server
    r = srv.put(
        "/v1/auth/cert/certs/web", token=srv.root_token, json={"token_bound_cidrs": ["10.0.0.0/8"]}
    )
    assert r.status_code == 204, r.text
    pair, _ = srv.pki.client("good", "app1.example.com")
    _refused(_login(srv, pair), 403, "permission denied")


def test_bad_writes_are_400(cert_server):
    srv = cert_server
    root = srv.root_token

    def put(path, body):
        return srv.put("/v1/auth/cert/" + path, token=root, json=body)

    _refused(put("certs/x", {"allowed_common_names": ["a"]}), 400, "must specify certificate")
    _refused(put("certs/x", {"certificate": "not a pem"}), 400, "failed to parse certificate")
    _refused(
        put("certs/x", {"certificate": srv.pki.ca_pem, "required_extensions": ["nocolon"]}),
        400,
        "required_extensions",
    )
    server_pem = open(srv.pki.server[0]).read()
    _refused(put("certs/x", {"certificate": server_pem}), 400, "TLS client authentication")
    _refused(put("crls/x", {"crl": "garbage"}), 400, "failed to parse CRL")
    _refused(put("crls/x", {"url": "http://127.0.0.1:1/crl"}), 400, "not supported yet")
    _refused(put("config", {"ocsp_cache_size": 1}), 400, "ocsp_cache_size")
    assert srv.get("/v1/auth/cert/certs/x", token=root).status_code == 404


def test_pinned_leaf_certificate(cert_server):
    srv = cert_server
    pair, cert = srv.pki.client("pinned", "pinned-host", ou=None, ext=None)
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    r = srv.put("/v1/auth/cert/certs/pin", token=srv.root_token, json={"certificate": pem, "token_policies": ["p"]})
    assert r.status_code == 204, r.text
    r = _login(srv, pair, {"name": "pin"})
    assert r.status_code == 200, r.text
    assert "p" in r.json()["auth"]["policies"]
    # Another certificate of the same CA is not the pinned one.
    other, _ = srv.pki.client("other", "pinned-host", ou=None, ext=None)
    _refused(_login(srv, other, {"name": "pin"}), 400, "invalid certificate")


def _cli_env(srv, tmp_path, pair=None):
    env = {
        "VAULT_ADDR": srv.url,
        "VAULT_CACERT": srv.verify,
        "TROVE_TOKEN_PATH": str(tmp_path / "token"),
    }
    if pair:
        env["VAULT_CLIENT_CERT"], env["VAULT_CLIENT_KEY"] = pair
    return env


def test_cli_login_method_cert(cert_server, tmp_path):
    srv = cert_server
    pair, _ = srv.pki.client("good", "app1.example.com")
    p = run_cli(["login", "-method=cert", "-format=json", "name=web"], env=_cli_env(srv, tmp_path, pair))
    assert p.returncode == 0, p.stderr
    import json

    auth = json.loads(p.stdout)["auth"]
    assert "web" in auth["policies"]
    assert (tmp_path / "token").read_text().strip() == auth["client_token"]
    # Without name= every entry is tried.
    p = run_cli(["login", "-method=cert", "-token-only"], env=_cli_env(srv, tmp_path, pair))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip()


def test_cli_login_method_cert_refusals(cert_server, tmp_path):
    srv = cert_server
    # No client certificate configured: said locally, nothing sent.
    p = run_cli(["login", "-method=cert"], env=_cli_env(srv, tmp_path))
    assert p.returncode == 1
    assert "VAULT_CLIENT_CERT" in p.stderr
    p = run_cli(["login", "-method=cert", "role=web"], env=_cli_env(srv, tmp_path))
    assert p.returncode == 1 and "name=" in p.stderr
    # A certificate the method refuses: the server's error, no token stored.
    pair, _ = srv.pki.client("bad", "intruder.example.com")
    p = run_cli(["login", "-method=cert"], env=_cli_env(srv, tmp_path, pair))
    assert p.returncode == 2, p.stdout
    assert "no chain matching all constraints" in p.stderr
    assert not (tmp_path / "token").exists()
    _still_serving(srv)


def _intermediate(pki):
    """An intermediate CA under the test CA: (key, cert)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Trove cert-auth intermediate")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(pki.ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(hours=1))
        .not_valid_after(NOW + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(pki.ca_key, hashes.SHA256())
    )
    return key, cert


def test_chain_through_an_intermediate(cert_server):
    srv = cert_server
    pki = srv.pki
    ikey, icert = _intermediate(pki)
    saved = (pki.ca_key, pki.ca)
    pki.ca_key, pki.ca = ikey, icert
    try:
        (crt, key), _ = pki.client("via-int", "app5.example.com")
    finally:
        pki.ca_key, pki.ca = saved
    int_pem = icert.public_bytes(serialization.Encoding.PEM).decode()
    # The leaf alone does not reach the root the entry trusts ...
    _refused(_login(srv, (crt, key)), 400, "invalid certificate")
    # ... the leaf with its intermediate does.
    chain = pki.d / "via-int-chain.pem"
    chain.write_text(open(crt).read() + int_pem)
    r = _login(srv, (str(chain), key))
    assert r.status_code == 200, r.text
    # An entry trusting the intermediate alone takes the leaf by itself.
    r = srv.put(
        "/v1/auth/cert/certs/int",
        token=srv.root_token,
        json={"certificate": int_pem, "token_policies": ["int"]},
    )
    assert r.status_code == 204, r.text
    r = _login(srv, (crt, key), {"name": "int"})
    assert r.status_code == 200, r.text
    assert "int" in r.json()["auth"]["policies"]


def test_oversized_chain_is_dropped(cert_server):
    srv = cert_server
    (crt, key), _ = srv.pki.client("big", "app6.example.com")
    # Over 64 KiB of extra certificates after the leaf.
    filler = []
    total = 0
    while total <= 70000:  # bytes of DER
        _, c = srv.pki.leaf(f"filler-{len(filler)}", ou=None, ext=None)
        pem = c.public_bytes(serialization.Encoding.PEM).decode()
        filler.append(pem)
        total += len(c.public_bytes(serialization.Encoding.DER))
    chain = srv.pki.d / "big-chain.pem"
    chain.write_text(open(crt).read() + "".join(filler))
    # Under OpenSSL's own limit (100 KiB), so it reaches the listener,
    # which hands the login no chain rather than a cut one.
    _refused(_login(srv, (str(chain), key)), 400, "client certificate must be supplied")
    _still_serving(srv)
    assert _login(srv, (crt, key)).status_code == 200


def test_certificate_not_in_audit_entries(cert_server):
    srv = cert_server
    log = srv.proc_dir / "audit.log"
    r = srv.put(
        "/v1/sys/audit/file", token=srv.root_token, json={"type": "file", "options": {"file_path": str(log)}}
    )
    assert r.status_code == 204, r.text
    (crt, key), cert = srv.pki.client("audited", "app7.example.com")
    assert _login(srv, (crt, key)).status_code == 200
    text = log.read_text()
    assert "auth/cert/login" in text
    der = cert.public_bytes(serialization.Encoding.DER)
    import base64

    for needle in ("BEGIN CERTIFICATE", base64.b64encode(der)[:40].decode(), der.hex()[:40]):
        assert needle not in text


# ---- OCSP (ocsp_enabled entries) ----

import http.server  # noqa: E402
import threading  # noqa: E402

from cryptography.x509 import ocsp  # noqa: E402


def _pki_mount(srv):
    """A PKI mount in the same server: a root whose certificates name the
    server's own OCSP responder (over the plain listener) in their AIA,
    and a role for client certificates. Returns the root's PEM."""
    root = srv.root_token
    assert srv.put("/v1/sys/mounts/pki", token=root, json={"type": "pki"}).status_code == 204
    r = srv.put("/v1/pki/root/generate/internal", token=root,
                json={"common_name": "Trove OCSP test root", "key_type": "ec", "ttl": "24h"})
    assert r.status_code == 200, r.text
    ca_pem = r.json()["data"]["certificate"]
    r = srv.put("/v1/pki/config/urls", token=root, json={"ocsp_servers": [srv.http_url + "/v1/pki/ocsp"]})
    assert r.status_code in (200, 204), r.text
    r = srv.put("/v1/pki/roles/client", token=root,
                json={"allow_any_name": True, "client_flag": True, "key_type": "ec", "ttl": "1h"})
    assert r.status_code in (200, 204), r.text
    return ca_pem


def _pki_client(srv, name, cn):
    r = srv.put("/v1/pki/issue/client", token=srv.root_token, json={"common_name": cn})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    crt, key = srv.pki.d / f"{name}.pem", srv.pki.d / f"{name}-key.pem"
    crt.write_text(data["certificate"])
    key.write_text(data["private_key"])
    os.chmod(key, 0o600)
    return (str(crt), str(key)), data["serial_number"]


def _ocsp_entry(srv, name, ca_pem, **fields):
    body = {"certificate": ca_pem, "ocsp_enabled": True, "token_policies": ["ocsp"]}
    body.update(fields)
    r = srv.put(f"/v1/auth/cert/certs/{name}", token=srv.root_token, json=body)
    assert r.status_code == 204, r.text


def test_ocsp_entry_read_shape(cert_server):
    srv = cert_server
    _ocsp_entry(srv, "o", srv.pki.ca_pem, ocsp_servers_override=["http://127.0.0.1:1/ocsp"],
                ocsp_fail_open=True, ocsp_query_all_servers=True)
    d = srv.get("/v1/auth/cert/certs/o", token=srv.root_token).json()["data"]
    assert d["ocsp_enabled"] is True and d["ocsp_fail_open"] is True
    assert d["ocsp_query_all_servers"] is True
    assert d["ocsp_servers_override"] == ["http://127.0.0.1:1/ocsp"]
    assert d["ocsp_ca_certificates"] == ""
    assert d["ocsp_this_update_max_age"] == 0 and d["ocsp_max_retries"] == 4
    r = srv.put("/v1/auth/cert/certs/o", token=srv.root_token,
                json={"ocsp_this_update_max_age": "1h", "ocsp_max_retries": 1})
    assert r.status_code == 204, r.text
    d = srv.get("/v1/auth/cert/certs/o", token=srv.root_token).json()["data"]
    assert d["ocsp_this_update_max_age"] == 3600 and d["ocsp_max_retries"] == 1
    _refused(srv.put("/v1/auth/cert/certs/o", token=srv.root_token, json={"ocsp_max_retries": -1}),
             400, "ocsp_max_retries")
    _refused(srv.put("/v1/auth/cert/certs/o", token=srv.root_token,
                     json={"ocsp_this_update_max_age": "soon"}), 400, "ocsp_this_update_max_age")


def test_ocsp_with_trove_pki_good_then_revoked(cert_server):
    srv = cert_server
    ca_pem = _pki_mount(srv)
    _ocsp_entry(srv, "pki", ca_pem)
    pair, serial = _pki_client(srv, "pki-good", "ocsp1.example.com")
    r = _login(srv, pair, {"name": "pki"})
    assert r.status_code == 200, r.text
    assert "ocsp" in r.json()["auth"]["policies"]
    r = srv.put("/v1/pki/revoke", token=srv.root_token, json={"serial_number": serial})
    assert r.status_code == 200, r.text
    _refused(_login(srv, pair, {"name": "pki"}), 400, "no chain matching all constraints")
    # Another certificate of the same CA still logs in.
    other, _ = _pki_client(srv, "pki-other", "ocsp2.example.com")
    assert _login(srv, other, {"name": "pki"}).status_code == 200
    # With OCSP off, the revoked certificate is not refused (no CRL here).
    _ocsp_entry(srv, "pki", ca_pem, ocsp_enabled=False)
    assert _login(srv, pair, {"name": "pki"}).status_code == 200
    _still_serving(srv)


def test_ocsp_unreachable_refused_unless_fail_open(cert_server):
    srv = cert_server
    ca_pem = _pki_mount(srv)
    dead = f"http://127.0.0.1:{free_port()}/ocsp"
    _ocsp_entry(srv, "pki", ca_pem, ocsp_servers_override=[dead])
    pair, serial = _pki_client(srv, "pki-dead", "ocsp3.example.com")
    _refused(_login(srv, pair, {"name": "pki"}), 400, "no chain matching all constraints")
    _ocsp_entry(srv, "pki", ca_pem, ocsp_servers_override=[dead], ocsp_fail_open=True)
    assert _login(srv, pair, {"name": "pki"}).status_code == 200
    # The first responder to answer decides; all of them with query_all.
    good = srv.http_url + "/v1/pki/ocsp"
    _ocsp_entry(srv, "pki", ca_pem, ocsp_servers_override=[dead, good], ocsp_fail_open=False)
    assert _login(srv, pair, {"name": "pki"}).status_code == 200
    _ocsp_entry(srv, "pki", ca_pem, ocsp_servers_override=[good, dead], ocsp_query_all_servers=True)
    _refused(_login(srv, pair, {"name": "pki"}), 400, "no chain matching all constraints")
    # Fail-open never lets a revoked certificate in.
    _ocsp_entry(srv, "pki", ca_pem, ocsp_servers_override=[good, dead], ocsp_query_all_servers=False,
                ocsp_fail_open=True)
    assert srv.put("/v1/pki/revoke", token=srv.root_token, json={"serial_number": serial}).status_code == 200
    _refused(_login(srv, pair, {"name": "pki"}), 400, "no chain matching all constraints")


class _Responder:
    """A tiny OCSP responder: answers `status` for `leaf` whatever is
    asked, signed by `key` with `cert` as its responder id (and carried in
    the response)."""

    def __init__(self, leaf, issuer, key, cert):
        self.leaf, self.issuer, self.key, self.cert = leaf, issuer, key, cert
        self.status = ocsp.OCSPCertStatus.GOOD
        self.hits = 0
        self.fail_first = 0  # answer 503 to this many requests first
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                outer.hits += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                assert ocsp.load_der_ocsp_request(body).serial_number == outer.leaf.serial_number
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                b = ocsp.OCSPResponseBuilder().add_response(
                    cert=outer.leaf,
                    issuer=outer.issuer,
                    algorithm=hashes.SHA1(),
                    cert_status=outer.status,
                    this_update=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1),
                    next_update=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1),
                    revocation_time=NOW if outer.status == ocsp.OCSPCertStatus.REVOKED else None,
                    revocation_reason=None,
                )
                b = b.responder_id(ocsp.OCSPResponderEncoding.HASH, outer.cert).certificates([outer.cert])
                der = b.sign(outer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(der)))
                self.end_headers()
                self.wfile.write(der)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ocsp"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_ocsp_response_signer_must_be_the_issuer(cert_server):
    srv = cert_server
    pki = srv.pki
    pair, leaf = pki.client("ocsp-own", "app8.example.com")
    # Signed by the issuer: good, then revoked.
    own = _Responder(leaf, pki.ca, pki.ca_key, pki.ca)
    stranger = _Responder(leaf, pki.ca, pki.other_key, pki.other_ca)
    try:
        _ocsp_entry(srv, "own", pki.ca_pem, ocsp_servers_override=[own.url])
        assert _login(srv, pair, {"name": "own"}).status_code == 200
        assert own.hits == 1
        # An answer older than ocsp_this_update_max_age (it is a minute old).
        _ocsp_entry(srv, "own", pki.ca_pem, ocsp_servers_override=[own.url], ocsp_this_update_max_age=30)
        _refused(_login(srv, pair, {"name": "own"}), 400, "no chain matching all constraints")
        _ocsp_entry(srv, "own", pki.ca_pem, ocsp_servers_override=[own.url], ocsp_this_update_max_age=3600)
        assert _login(srv, pair, {"name": "own"}).status_code == 200
        own.status = ocsp.OCSPCertStatus.REVOKED
        _refused(_login(srv, pair, {"name": "own"}), 400, "no chain matching all constraints")
        own.status = ocsp.OCSPCertStatus.UNKNOWN
        _refused(_login(srv, pair, {"name": "own"}), 400, "no chain matching all constraints")
        # "good", signed by a stranger: refused, fail-open or not.
        _ocsp_entry(srv, "own", pki.ca_pem, ocsp_servers_override=[stranger.url])
        _refused(_login(srv, pair, {"name": "own"}), 400, "no chain matching all constraints")
        _ocsp_entry(srv, "own", pki.ca_pem, ocsp_servers_override=[stranger.url], ocsp_fail_open=True)
        _refused(_login(srv, pair, {"name": "own"}), 400, "no chain matching all constraints")
        assert stranger.hits == 2
        assert own.hits == 5
    finally:
        own.close()
        stranger.close()
    _still_serving(srv)


def test_ocsp_max_retries(cert_server):
    srv = cert_server
    pki = srv.pki
    pair, leaf = pki.client("ocsp-retry", "app9.example.com")
    own = _Responder(leaf, pki.ca, pki.ca_key, pki.ca)
    try:
        _ocsp_entry(srv, "own", pki.ca_pem, ocsp_servers_override=[own.url], ocsp_max_retries=2)
        own.fail_first = 2
        assert _login(srv, pair, {"name": "own"}).status_code == 200
        assert own.hits == 3
        _ocsp_entry(srv, "own", pki.ca_pem, ocsp_servers_override=[own.url], ocsp_max_retries=0)
        own.fail_first = 1
        _refused(_login(srv, pair, {"name": "own"}), 400, "no chain matching all constraints")
        assert own.hits == 4
    finally:
        own.close()
