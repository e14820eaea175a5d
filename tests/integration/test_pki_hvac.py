"""hvac's `secrets.pki` against Trove's roles and issuing paths, unchanged:
each call goes through hvac's own adapter (its URL, method and body) and
its answer is read the way hvac hands it to callers (a dict with "data",
"lease_id", ... or, for 204s, a requests.Response). Certificates are
checked with python's `cryptography`, never by trusting the JSON."""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from test_pki import cert_of, mount, openssl_verify, serial_text, verify_signed_by


@pytest.fixture
def hv(dev_server):
    mount(dev_server, max_ttl="87600h")
    c = dev_server.client(dev_server.root_token)
    root = c.secrets.pki.generate_root("internal", "hvac Root", extra_params={"key_type": "ec", "ttl": "8760h"},
                                       mount_point="pki")
    assert set(root) >= {"request_id", "lease_id", "data", "warnings"}
    c.root_pem = root["data"]["certificate"]
    return c


def ok(resp):
    """hvac returns a Response for 204 and a dict for 200."""
    return getattr(resp, "status_code", 200) in (200, 204)


def test_roles(hv):
    assert ok(hv.secrets.pki.create_or_update_role(
        "web", extra_params={"allowed_domains": ["example.com"], "allow_subdomains": True, "key_type": "ec",
                             "ttl": "1h", "max_ttl": "24h"}, mount_point="pki"))
    role = hv.secrets.pki.read_role("web", mount_point="pki")["data"]
    assert role["allowed_domains"] == ["example.com"] and role["allow_subdomains"] is True
    assert role["ttl"] == 3600 and role["max_ttl"] == 86400 and role["key_type"] == "ec" and role["key_bits"] == 256
    assert hv.secrets.pki.list_roles(mount_point="pki")["data"]["keys"] == ["web"]
    assert ok(hv.secrets.pki.delete_role("web", mount_point="pki"))
    with pytest.raises(Exception):
        hv.secrets.pki.list_roles(mount_point="pki")  # 404, as Vault answers an empty LIST


def test_generate_read_list_certificates(hv, tmp_path):
    hv.secrets.pki.create_or_update_role("web", extra_params={"allowed_domains": "example.com",
                                                              "allow_subdomains": True, "key_type": "ec"},
                                         mount_point="pki")
    resp = hv.secrets.pki.generate_certificate("web", "www.example.com",
                                               extra_params={"alt_names": "api.example.com", "ttl": "30m"},
                                               mount_point="pki")
    d = resp["data"]
    assert set(d) >= {"certificate", "issuing_ca", "ca_chain", "private_key", "private_key_type", "serial_number",
                      "expiration"}
    c = cert_of(d["certificate"])
    verify_signed_by(c, cert_of(hv.root_pem))
    openssl_verify(tmp_path, hv.root_pem, d["certificate"])
    assert c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["www.example.com", "api.example.com"]
    key = serialization.load_pem_private_key(d["private_key"].encode(), None)
    assert key.public_key().public_numbers() == c.public_key().public_numbers()
    assert d["serial_number"] == serial_text(c)

    got = hv.secrets.pki.read_certificate(d["serial_number"], mount_point="pki")["data"]
    assert cert_of(got["certificate"]) == c
    keys = hv.secrets.pki.list_certificates(mount_point="pki")["data"]["keys"]
    assert d["serial_number"].replace(":", "-") in keys


def test_sign_certificate_and_sign_verbatim(hv, tmp_path):
    hv.secrets.pki.create_or_update_role("svc", extra_params={"allowed_domains": "svc.local",
                                                              "allow_subdomains": True, "key_type": "ec"},
                                         mount_point="pki")
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a.svc.local")])).sign(key, hashes.SHA256())
    pem = csr.public_bytes(serialization.Encoding.PEM).decode()
    d = hv.secrets.pki.sign_certificate("svc", pem, "a.svc.local", mount_point="pki")["data"]
    c = cert_of(d["certificate"])
    openssl_verify(tmp_path, hv.root_pem, d["certificate"])
    assert c.public_key().public_numbers() == key.public_key().public_numbers()
    assert "private_key" not in d and d["ca_chain"] == [hv.root_pem]

    d = hv.secrets.pki.sign_verbatim(pem, mount_point="pki")["data"]
    assert cert_of(d["certificate"]).subject == csr.subject
    d = hv.secrets.pki.sign_verbatim(pem, name="svc", extra_params={"ttl": "10m"}, mount_point="pki")["data"]
    c = cert_of(d["certificate"])
    assert abs((c.not_valid_after - c.not_valid_before).total_seconds() - 630) <= 5


def test_hvac_raises_vaults_errors(hv):
    import hvac.exceptions
    hv.secrets.pki.create_or_update_role("narrow", extra_params={"allowed_domains": "ok.test",
                                                                 "allow_subdomains": True, "key_type": "ec"},
                                         mount_point="pki")
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        hv.secrets.pki.generate_certificate("narrow", "evil.test", mount_point="pki")
    assert "evil.test" in str(e.value)
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        hv.secrets.pki.generate_certificate("missing", "a.ok.test", mount_point="pki")
    assert "unknown role" in str(e.value)
