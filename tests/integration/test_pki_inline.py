"""pki/issue and pki/sign under a role that stores nothing, served on the
event loop (route.try_inline), against the same requests served on the
worker pool: the certificates say the same things, a storing role still
stores and leases, an RSA role still issues, and the inline requests
wake no thread but the loop's. Certificates are read with python's
`cryptography` and chained with `openssl verify`."""

import os
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from test_pki import cert_of, mount, not_after, openssl_verify, post, serial_text, verify_signed_by
from test_pki_issue import make_csr


@pytest.fixture
def ca(dev_server):
    mount(dev_server, max_ttl="87600h")
    root = post(dev_server, "pki/root/generate/internal", {"common_name": "Inline Root", "key_type": "ec",
                                                           "ttl": "8760h"})
    dev_server.root_pem = root["certificate"]
    post(dev_server, "pki/config/urls", {"issuing_certificates": ["http://127.0.0.1:8200/v1/pki/ca"],
                                         "crl_distribution_points": ["http://127.0.0.1:8200/v1/pki/crl"],
                                         "ocsp_servers": ["http://127.0.0.1:8200/v1/pki/ocsp"]})
    return dev_server


def role(srv, name, **fields):
    r = srv.request("POST", f"/v1/pki/roles/{name}", token=srv.root_token, json=fields)
    assert r.status_code in (200, 204), r.text


def limited_token(srv, uses=50):
    """A token with a use limit: the router sends its requests to the pool
    (spending a use is a durable write)."""
    r = srv.request("POST", "/v1/auth/token/create", token=srv.root_token,
                    json={"policies": ["root"], "num_uses": uses})
    assert r.status_code == 200, r.text
    return r.json()["auth"]["client_token"]


def issue(srv, path, body, token=None):
    r = srv.request("POST", f"/v1/pki/{path}", token=token or srv.root_token, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def described(c):
    """What a certificate says, less what differs per certificate (serial,
    validity instants, key, signature, the key's identifier)."""
    exts = [(e.oid.dotted_string, e.critical, e.value) for e in c.extensions
            if e.oid != x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER]
    return (c.version, c.issuer, c.subject, c.signature_algorithm_oid,
            (c.not_valid_after - c.not_valid_before).total_seconds(), exts)


BODY = {"common_name": "app.example.com", "alt_names": "b.example.com,me@example.com",
        "ip_sans": "127.0.0.1,::1", "uri_sans": "spiffe://cluster/ns/a", "ttl": "1h"}
ROLE = dict(allowed_domains="example.com", allow_subdomains=True, allow_any_name=True, allowed_uri_sans="spiffe://*",
            key_type="ec", key_usage=["DigitalSignature", "KeyAgreement"], ext_key_usage_oids=["1.3.6.1.5.5.7.3.8"],
            policy_identifiers=["1.3.6.1.4.1.44947.1.1.1"], basic_constraints_valid_for_non_ca=True,
            organization=["Trove"], ou=["Ops"], country=["DE"])


@pytest.mark.parametrize("key_type", ["ec", "ed25519"])
def test_inline_issue_is_the_pool_issue(ca, tmp_path, key_type):
    role(ca, "nostore", no_store=True, **{**ROLE, "key_type": key_type})
    root = cert_of(ca.root_pem)
    pooled = issue(ca, "issue/nostore", BODY, token=limited_token(ca))["data"]
    inline = [issue(ca, "issue/nostore", BODY)["data"] for _ in range(3)]
    want = described(cert_of(pooled["certificate"]))
    for d in [pooled] + inline:
        c = cert_of(d["certificate"])
        assert described(c) == want
        verify_signed_by(c, root)
        openssl_verify(tmp_path, ca.root_pem, d["certificate"])
        assert serial_text(c) == d["serial_number"]
        assert d["expiration"] == int(not_after(c).timestamp())
        assert d["private_key_type"] == key_type
        # no_store: not kept, not listed
        r = ca.request("GET", f"/v1/pki/cert/{d['serial_number']}", token=ca.root_token)
        assert r.status_code in (400, 404), r.text
    listed = ca.request("LIST", "/v1/pki/certs", token=ca.root_token)
    keys = listed.json()["data"]["keys"] if listed.status_code == 200 else []
    assert not any(k.replace("-", ":") in [d["serial_number"] for d in inline] for k in keys)


def test_inline_sign_is_the_pool_sign(ca, tmp_path):
    role(ca, "signer", no_store=True, key_type="any", allow_any_name=True)
    csr, _ = make_csr(cn="svc.example.com", dns=["svc.example.com"], ips=["10.0.0.1"])
    pooled = issue(ca, "sign/signer", {"csr": csr, "ttl": "1h"}, token=limited_token(ca))["data"]
    inline = issue(ca, "sign/signer", {"csr": csr, "ttl": "1h"})["data"]
    assert described(cert_of(pooled["certificate"])) == described(cert_of(inline["certificate"]))
    assert cert_of(inline["certificate"]).public_key().public_numbers() == \
        cert_of(pooled["certificate"]).public_key().public_numbers()
    openssl_verify(tmp_path, ca.root_pem, inline["certificate"])


def test_storing_role_still_stores_and_leases(ca):
    role(ca, "keeper", allow_any_name=True, key_type="ec")
    d = issue(ca, "issue/keeper", {"common_name": "kept.example.com"})["data"]
    r = ca.request("GET", f"/v1/pki/cert/{d['serial_number']}", token=ca.root_token)
    assert r.status_code == 200, r.text
    assert cert_of(r.json()["data"]["certificate"]).serial_number == cert_of(d["certificate"]).serial_number
    role(ca, "leased", allow_any_name=True, key_type="ec", generate_lease=True)
    body = issue(ca, "issue/leased", {"common_name": "leased.example.com"})
    assert body["lease_id"].startswith("pki/issue/leased/")
    serial = body["data"]["serial_number"]
    r = ca.request("PUT", "/v1/sys/leases/revoke", token=ca.root_token, json={"lease_id": body["lease_id"], "sync": True})
    assert r.status_code == 204, r.text
    r = ca.request("GET", f"/v1/pki/cert/{serial}", token=ca.root_token)
    assert r.json()["data"]["revocation_time"] > 0


def test_rsa_role_still_issues(ca, tmp_path):
    role(ca, "rsa", no_store=True, allow_any_name=True, key_type="rsa", key_bits=2048)
    d = issue(ca, "issue/rsa", {"common_name": "rsa.example.com"})["data"]
    c = cert_of(d["certificate"])
    assert isinstance(c.public_key(), rsa.RSAPublicKey) and c.public_key().key_size == 2048
    openssl_verify(tmp_path, ca.root_pem, d["certificate"])


def switches(pid):
    """Context switches so far of each thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                n = 0
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        n += int(line.split()[1])
            out[tid] = n
        except FileNotFoundError:
            pass
    return out


def others_woken(srv, n, token):
    """Switches, over n issues on one connection, of every thread but the
    busiest (the event loop serving that connection)."""
    pid = srv.proc.proc.pid
    with requests.Session() as s:
        s.verify = srv.verify
        issue_on = lambda: s.post(f"{srv.url}/v1/pki/issue/fast", headers={"X-Vault-Token": token},
                                  json={"common_name": "fast.example.com"}, timeout=30)
        assert issue_on().status_code == 200  # the connection is open
        before = switches(pid)
        for _ in range(n):
            assert issue_on().status_code == 200
        after = switches(pid)
    deltas = sorted((after[t] - before.get(t, 0) for t in after), reverse=True)
    return sum(deltas[1:])


def test_inline_issue_wakes_no_pool_thread(ca):
    role(ca, "fast", no_store=True, allow_any_name=True, key_type="ec")
    issue(ca, "issue/fast", {"common_name": "warm.example.com"})  # the role is kept
    n = 40
    inline = others_woken(ca, n, ca.root_token)
    pooled = others_woken(ca, n, limited_token(ca, uses=n + 1))
    # On the pool each request wakes a worker; inline, nothing but the
    # loop (a stray background wake-up aside).
    assert pooled >= n, pooled
    assert inline < n // 4, (inline, pooled)
