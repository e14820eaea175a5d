"""issue/:role, sign/:role and sign-verbatim through HTTP, as Vault serves
them: roles (roles/:name) joined to the name policy and to issuing. Every
certificate is read back with python's `cryptography` and chained with
`openssl verify`; nothing is trusted from the server's JSON but the PEM."""

import base64
import datetime
import ipaddress
import json
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from test_pki import call, cert_of, ext, mount, not_after, not_before, openssl_verify, post, serial_text, \
    verify_signed_by
from trove_harness import assert_error


@pytest.fixture
def ca(dev_server):
    """A mount with an EC root, its max lease TTL 10 years."""
    mount(dev_server, max_ttl="87600h")
    root = post(dev_server, "pki/root/generate/internal", {"common_name": "Issue Root", "key_type": "ec",
                                                           "ttl": "8760h", "issuer_name": "root"})
    dev_server.root_pem = root["certificate"]
    return dev_server


def role(srv, name, **fields):
    r = srv.request("POST", f"/v1/pki/roles/{name}", token=srv.root_token, json=fields)
    assert r.status_code in (200, 204), r.text


def make_csr(cn=None, dns=(), ips=(), uris=(), emails=(), key=None, subject_extra=()):
    key = key or ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    attrs += list(subject_extra)
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    names += [x509.UniformResourceIdentifier(u) for u in uris] + [x509.RFC822Name(e) for e in emails]
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    algo = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return b.sign(key, algo).public_bytes(serialization.Encoding.PEM).decode(), key


def sans(c):
    try:
        s = ext(c, x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return {"dns": [], "ip": [], "uri": [], "email": []}
    return {"dns": s.get_values_for_type(x509.DNSName),
            "ip": [str(i) for i in s.get_values_for_type(x509.IPAddress)],
            "uri": s.get_values_for_type(x509.UniformResourceIdentifier),
            "email": s.get_values_for_type(x509.RFC822Name)}


def cn_of(c):
    a = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return a[0].value if a else None


def cert_keys(srv):
    r = srv.request("LIST", "/v1/pki/certs", token=srv.root_token)
    return set(r.json()["data"]["keys"]) if r.status_code == 200 else set()


def check_leaf(srv, tmp_path, d):
    """The answer's certificate chains to the root, its serial and
    expiration are the certificate's."""
    c = cert_of(d["certificate"])
    verify_signed_by(c, cert_of(srv.root_pem))
    openssl_verify(tmp_path, srv.root_pem, d["certificate"])
    assert d["serial_number"] == serial_text(c)
    assert len(c.serial_number.to_bytes(20, "big")) == 20 and c.serial_number > 0
    assert d["expiration"] == int(not_after(c).timestamp())
    assert d["issuing_ca"] == srv.root_pem and d["ca_chain"] == [srv.root_pem]
    return c


# --- issue -----------------------------------------------------------------


def test_issue_names_usages_validity(ca, tmp_path):
    role(ca, "web", allowed_domains=["example.com"], allow_subdomains=True, key_type="ec", ttl="1h",
         max_ttl="2h", allowed_uri_sans=["spiffe://example.com/*"], ou=["Ops"], organization=["Acme"],
         country=["NZ"])
    before = cert_keys(ca)
    d = post(ca, "pki/issue/web", {"common_name": "www.example.com", "alt_names": "api.example.com,API.Example.com",
                                   "ip_sans": "10.0.0.1,::1", "uri_sans": "spiffe://example.com/web"})
    c = check_leaf(ca, tmp_path, d)
    assert cn_of(c) == "www.example.com"
    # exactly the names asked for, canonical and once each
    assert sans(c) == {"dns": ["www.example.com", "api.example.com"], "ip": ["10.0.0.1", "::1"],
                       "uri": ["spiffe://example.com/web"], "email": []}
    assert c.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "Ops"
    assert c.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme"
    assert c.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "NZ"
    ku = ext(c, x509.KeyUsage)
    assert ku.digital_signature and ku.key_agreement and ku.key_encipherment and not ku.key_cert_sign
    assert list(ext(c, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    life = (not_after(c) - not_before(c)).total_seconds()
    assert 3600 + 25 <= life <= 3600 + 35  # the role's ttl, backdated 30s
    # the key answered is the certificate's, of the role's type
    key = serialization.load_pem_private_key(d["private_key"].encode(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and d["private_key_type"] == "ec"
    assert key.public_key().public_numbers() == c.public_key().public_numbers()
    assert d["private_key"].startswith("-----BEGIN EC PRIVATE KEY-----")
    # stored, and readable by serial
    assert cert_keys(ca) - before == {d["serial_number"].replace(":", "-")}
    got = call(ca, "GET", f"pki/cert/{d['serial_number']}", token=False)
    assert cert_of(got["certificate"]) == c


def test_issue_ttl_precedence(ca):
    role(ca, "t", allow_any_name=True, key_type="ec", ttl="1h", max_ttl="3h")
    r = ca.request("POST", "/v1/pki/issue/t", token=ca.root_token, json={"common_name": "a.test", "ttl": "10h"})
    assert r.status_code == 200, r.text
    c = cert_of(r.json()["data"]["certificate"])
    assert abs((not_after(c) - not_before(c)).total_seconds() - (3 * 3600 + 30)) <= 5  # capped at max_ttl
    assert any("maximum" in w for w in r.json()["warnings"])
    c = cert_of(post(ca, "pki/issue/t", {"common_name": "a.test", "ttl": "90m"})["certificate"])
    assert abs((not_after(c) - not_before(c)).total_seconds() - (5400 + 30)) <= 5
    c = cert_of(post(ca, "pki/issue/t", {"common_name": "a.test", "not_after": "2027-06-01T00:00:00Z"})["certificate"])
    assert not_after(c) == datetime.datetime(2027, 6, 1, tzinfo=datetime.timezone.utc)
    # the role's not_after wins, and not_before_duration backdates
    role(ca, "fixed", allow_any_name=True, key_type="ec", not_after="2027-01-02T03:04:05Z", not_before_duration="2h")
    c = cert_of(post(ca, "pki/issue/fixed", {"common_name": "a.test", "ttl": "1h"})["certificate"])
    assert not_after(c) == datetime.datetime(2027, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert abs(time.time() - 7200 - not_before(c).timestamp()) <= 5
    # no role ttl: the mount's default (768h here, under the mount's 87600h max)
    role(ca, "dflt", allow_any_name=True, key_type="ec")
    c = cert_of(post(ca, "pki/issue/dflt", {"common_name": "a.test"})["certificate"])
    assert abs((not_after(c) - not_before(c)).total_seconds() - (768 * 3600 + 30)) <= 5


def test_issue_capped_by_the_mount_max(dev_server):
    # The CA outlives the cap, so the cap (not the CA's expiry, a second
    # nearer on a loaded machine) is what limits the leaf.
    mount(dev_server, max_ttl="96h")
    post(dev_server, "pki/root/generate/internal", {"common_name": "r", "key_type": "ec"})
    r = dev_server.request("POST", "/v1/sys/mounts/pki/tune", token=dev_server.root_token, json={"max_lease_ttl": "48h"})
    assert r.status_code == 204, r.text
    role(dev_server, "m", allow_any_name=True, key_type="ec")
    c = cert_of(post(dev_server, "pki/issue/m", {"common_name": "a.test", "ttl": "100h"})["certificate"])
    assert abs((not_after(c) - not_before(c)).total_seconds() - (48 * 3600 + 30)) <= 5


def test_leaf_not_after_behavior(ca):
    role(ca, "long", allow_any_name=True, key_type="ec", max_ttl="87600h")
    r = ca.request("POST", "/v1/pki/issue/long", token=ca.root_token, json={"common_name": "a.test", "ttl": "9000h"})
    assert_error(r, 400, "expiration of the CA certificate")
    post(ca, "pki/issuer/root", {"leaf_not_after_behavior": "truncate"})
    c = cert_of(post(ca, "pki/issue/long", {"common_name": "a.test", "ttl": "9000h"})["certificate"])
    assert not_after(c) == not_after(cert_of(ca.root_pem))
    post(ca, "pki/issuer/root", {"leaf_not_after_behavior": "permit"})
    c = cert_of(post(ca, "pki/issue/long", {"common_name": "a.test", "ttl": "9000h"})["certificate"])
    assert not_after(c) > not_after(cert_of(ca.root_pem))


def test_issue_role_extensions(ca):
    role(ca, "ext", allow_any_name=True, key_type="rsa", key_bits=3072, signature_bits=384,
         server_flag=False, client_flag=False, code_signing_flag=True, email_protection_flag=True,
         ext_key_usage=["TimeStamping"], ext_key_usage_oids=["1.3.6.1.4.1.311.20.2.2"],
         key_usage=["DigitalSignature", "ContentCommitment"], policy_identifiers=["1.3.6.1.4.1.44947.1.1.1"],
         basic_constraints_valid_for_non_ca=True)
    d = post(ca, "pki/issue/ext", {"common_name": "signer.test"})
    c = cert_of(d["certificate"])
    assert isinstance(c.public_key(), rsa.RSAPublicKey) and c.public_key().key_size == 3072
    assert d["private_key_type"] == "rsa"
    assert isinstance(c.signature_hash_algorithm, hashes.SHA384)
    verify_signed_by(c, cert_of(ca.root_pem))
    assert list(ext(c, x509.ExtendedKeyUsage)) == [
        ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.TIME_STAMPING,
        x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.2")]
    ku = ext(c, x509.KeyUsage)
    assert ku.digital_signature and ku.content_commitment and not ku.key_encipherment
    pol = ext(c, x509.CertificatePolicies)
    assert [p.policy_identifier.dotted_string for p in pol] == ["1.3.6.1.4.1.44947.1.1.1"]
    bc = c.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False


def test_issue_use_pss_with_an_rsa_issuer(dev_server):
    mount(dev_server, max_ttl="87600h")
    root = post(dev_server, "pki/root/generate/internal", {"common_name": "r", "key_type": "rsa"})
    role(dev_server, "pss", allow_any_name=True, key_type="ec", use_pss=True, policy_identifiers=["1.2.3.4"])
    c = cert_of(post(dev_server, "pki/issue/pss", {"common_name": "a.test"})["certificate"])
    assert c.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10"
    from cryptography.hazmat.primitives.asymmetric import padding
    cert_of(root["certificate"]).public_key().verify(
        c.signature, c.tbs_certificate_bytes,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH), hashes.SHA256())


def test_issue_formats(ca, tmp_path):
    role(ca, "f", allow_any_name=True, key_type="ec")
    d = post(ca, "pki/issue/f", {"common_name": "a.test", "format": "der"})
    c = x509.load_der_x509_certificate(base64.b64decode(d["certificate"]))
    assert serial_text(c) == d["serial_number"]
    k = serialization.load_der_private_key(base64.b64decode(d["private_key"]), None)
    assert k.public_key().public_numbers() == c.public_key().public_numbers()
    assert x509.load_der_x509_certificate(base64.b64decode(d["issuing_ca"])) == cert_of(ca.root_pem)
    d = post(ca, "pki/issue/f", {"common_name": "a.test", "private_key_format": "pkcs8"})
    assert d["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    d = post(ca, "pki/issue/f", {"common_name": "a.test", "format": "pem_bundle"})
    assert "PRIVATE KEY" in d["certificate"] and d["certificate"].count("BEGIN CERTIFICATE") == 1  # a root: not added
    first = d["certificate"][d["certificate"].index("-----BEGIN CERTIFICATE-----"):]
    c = cert_of(first[:first.index("-----END CERTIFICATE-----") + 25])
    assert serial_text(c) == d["serial_number"]


def test_remove_roots_from_chain_and_an_issuer_in_the_path(ca, tmp_path):
    mount(ca, "int", max_ttl="8760h")
    csr = post(ca, "int/intermediate/generate/internal", {"common_name": "Int", "key_type": "ec"})["csr"]
    signed = post(ca, "pki/root/sign-intermediate", {"csr": csr, "common_name": "Int", "ttl": "4000h"})
    imp = post(ca, "int/intermediate/set-signed", {"certificate": signed["certificate"] + "\n" + ca.root_pem})
    role(ca, "x", allow_any_name=True, key_type="ec")
    r = ca.request("POST", "/v1/int/roles/x", token=ca.root_token, json={"allow_any_name": True, "key_type": "ec"})
    assert r.status_code in (200, 204)
    d = post(ca, "int/issue/x", {"common_name": "leaf.test"})
    assert d["ca_chain"] == [signed["certificate"], ca.root_pem]
    openssl_verify(tmp_path, ca.root_pem, d["certificate"], untrusted=[signed["certificate"]])
    d = post(ca, "int/issue/x", {"common_name": "leaf.test", "remove_roots_from_chain": True})
    assert d["ca_chain"] == [signed["certificate"]] and d["issuing_ca"] == signed["certificate"]
    # pem_bundle: key, certificate, and the issuing CA when it is not a root
    d = post(ca, "int/issue/x", {"common_name": "leaf.test", "format": "pem_bundle"})
    blocks = [b for b in d["certificate"].split("-----END ") if "-----BEGIN" in b]
    assert len(blocks) == 3 and "PRIVATE KEY" in blocks[0]
    assert d["certificate"].endswith(signed["certificate"])
    csr, _ = make_csr("s.test")
    d = post(ca, "int/sign/x", {"csr": csr, "format": "pem_bundle"})
    assert "PRIVATE" not in d["certificate"] and d["certificate"].count("BEGIN CERTIFICATE") == 2
    # issuer/:ref/issue/:role picks the issuer named in the path
    iid = [i for i in imp["imported_issuers"] if imp["mapping"][i]][0]
    d = post(ca, f"int/issuer/{iid}/issue/x", {"common_name": "leaf.test"})
    verify_signed_by(cert_of(d["certificate"]), cert_of(signed["certificate"]))


def test_issue_key_type_any(ca):
    role(ca, "any", allow_any_name=True, key_type="any")
    r = ca.request("POST", "/v1/pki/issue/any", token=ca.root_token, json={"common_name": "a.test"})
    assert_error(r, 400, "any")
    d = post(ca, "pki/issue/any", {"common_name": "a.test", "key_type": "ed25519"})
    assert isinstance(cert_of(d["certificate"]).public_key(), ed25519.Ed25519PublicKey)


# --- sign ------------------------------------------------------------------


def test_sign_csr_names(ca, tmp_path):
    role(ca, "svc", allowed_domains=["svc.local"], allow_subdomains=True, key_type="ec")
    csr, key = make_csr("a.svc.local", dns=["b.svc.local"], ips=["10.1.2.3"])
    d = post(ca, "pki/sign/svc", {"csr": csr, "common_name": "ignored.svc.local", "alt_names": "c.svc.local"})
    c = check_leaf(ca, tmp_path, d)
    assert "private_key" not in d
    assert c.public_key().public_numbers() == key.public_key().public_numbers()
    # use_csr_common_name and use_csr_sans (the defaults): the CSR's names
    assert cn_of(c) == "a.svc.local"
    assert sans(c)["dns"] == ["b.svc.local", "a.svc.local"] or sans(c)["dns"] == ["a.svc.local", "b.svc.local"]
    assert sans(c)["ip"] == ["10.1.2.3"]
    # exclude_cn_from_sans keeps the CN out of the SANs
    c = cert_of(post(ca, "pki/sign/svc", {"csr": csr, "exclude_cn_from_sans": True})["certificate"])
    assert sans(c)["dns"] == ["b.svc.local"]
    # neither: the request's names
    role(ca, "req", allowed_domains=["svc.local"], allow_subdomains=True, key_type="ec",
         use_csr_common_name=False, use_csr_sans=False)
    c = cert_of(post(ca, "pki/sign/req", {"csr": csr, "common_name": "r.svc.local",
                                          "alt_names": "s.svc.local"})["certificate"])
    assert cn_of(c) == "r.svc.local" and sorted(sans(c)["dns"]) == ["r.svc.local", "s.svc.local"]


def test_sign_key_type_and_size_enforced(ca):
    role(ca, "rsa3k", allow_any_name=True, key_type="rsa", key_bits=3072)
    ec_csr, _ = make_csr("a.test")
    assert_error(ca.request("POST", "/v1/pki/sign/rsa3k", token=ca.root_token, json={"csr": ec_csr}), 400,
                 "role requires keys of type rsa")
    small, _ = make_csr("a.test", key=rsa.generate_private_key(65537, 2048))
    assert_error(ca.request("POST", "/v1/pki/sign/rsa3k", token=ca.root_token, json={"csr": small}), 400,
                 "3072", "2048")
    big, _ = make_csr("a.test", key=rsa.generate_private_key(65537, 3072))
    post(ca, "pki/sign/rsa3k", {"csr": big})
    role(ca, "anykey", allow_any_name=True, key_type="any")
    for k in (ec.generate_private_key(ec.SECP384R1()), ed25519.Ed25519PrivateKey.generate()):
        csr, _ = make_csr("a.test", key=k)
        c = cert_of(post(ca, "pki/sign/anykey", {"csr": csr})["certificate"])
        assert c.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo) == \
            k.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_serial_number_and_allowed_serial_numbers(ca):
    role(ca, "sn", allow_any_name=True, key_type="ec", allowed_serial_numbers=["dev-*"])
    c = cert_of(post(ca, "pki/issue/sn", {"common_name": "a.test", "serial_number": "dev-42"})["certificate"])
    assert c.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "dev-42"
    r = ca.request("POST", "/v1/pki/issue/sn", token=ca.root_token, json={"common_name": "a.test",
                                                                           "serial_number": "prod-1"})
    assert_error(r, 400, "prod-1")


# --- refusals: 400 naming the cause, nothing issued, nothing stored ----------


@pytest.mark.parametrize("path,body,needle", [
    ("pki/issue/narrow", {"common_name": "evil.test"}, "evil.test"),
    ("pki/issue/narrow", {"common_name": "a.ok.test", "alt_names": "b.evil.test"}, "b.evil.test"),
    ("pki/issue/narrow", {"common_name": "*.ok.test"}, "*.ok.test"),
    ("pki/issue/narrow", {"common_name": "a.ok.test", "ip_sans": "10.0.0.1"}, "IP"),
    ("pki/issue/narrow", {"common_name": "a.ok.test", "uri_sans": "https://evil.test/"}, "https://evil.test/"),
    ("pki/issue/narrow", {"common_name": "a.ok.test", "ttl": "soon"}, "ttl"),
    ("pki/issue/narrow", {"common_name": "a.ok.test", "not_after": "tomorrow"}, "not_after"),
    ("pki/issue/narrow", {"common_name": "a.ok.test", "format": "jks"}, "format"),
    ("pki/issue/narrow", {}, "common_name"),
    ("pki/issue/nosuch", {"common_name": "a.ok.test"}, "unknown role: nosuch"),
    ("pki/sign/narrow", {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"},
     "csr"),
    ("pki/sign/narrow", {"csr": "not a csr"}, "csr"),
    ("pki/sign/narrow", {"csr": "CSR:evil.test"}, "evil.test"),
    ("pki/issuer/nosuch/issue/narrow", {"common_name": "a.ok.test"}, "nosuch"),
])
def test_refusals(ca, path, body, needle):
    role(ca, "narrow", allowed_domains=["ok.test"], allow_subdomains=True, allow_wildcard_certificates=False,
         allow_ip_sans=False, key_type="ec")
    if body.get("csr", "").startswith("CSR:"):
        body = {"csr": make_csr(body["csr"][4:])[0]}
    before = cert_keys(ca)
    r = ca.request("POST", f"/v1/{path}", token=ca.root_token, json=body)
    assert_error(r, 400, needle)
    assert "BEGIN CERTIFICATE" not in r.text and "PRIVATE" not in r.text
    assert cert_keys(ca) == before


def test_issuer_without_issuing_usage_refuses(ca):
    role(ca, "u", allow_any_name=True, key_type="ec")
    post(ca, "pki/issuer/root", {"usage": "read-only,crl-signing"})
    before = cert_keys(ca)
    r = ca.request("POST", "/v1/pki/issue/u", token=ca.root_token, json={"common_name": "a.test"})
    assert_error(r, 400, "usage")
    csr, _ = make_csr("a.test")
    assert_error(ca.request("POST", "/v1/pki/sign/u", token=ca.root_token, json={"csr": csr}), 400, "usage")
    assert_error(ca.request("POST", "/v1/pki/sign-verbatim", token=ca.root_token, json={"csr": csr}), 400, "usage")
    assert cert_keys(ca) == before


# --- no_store and generate_lease --------------------------------------------


def test_no_store(ca, tmp_path):
    role(ca, "eph", allow_any_name=True, key_type="ec", no_store=True, generate_lease=True)
    assert call(ca, "GET", "pki/roles/eph")["generate_lease"] is False  # no_store turns it off, as in Vault
    before = cert_keys(ca)
    r = ca.request("POST", "/v1/pki/issue/eph", token=ca.root_token, json={"common_name": "a.test"})
    assert r.status_code == 200 and not r.json()["lease_id"]
    d = r.json()["data"]
    check_leaf(ca, tmp_path, d)
    assert cert_keys(ca) == before
    assert ca.get(f"/v1/pki/cert/{d['serial_number']}").status_code == 404


def test_generate_lease(ca):
    role(ca, "leased", allow_any_name=True, key_type="ec", ttl="2h", generate_lease=True)
    r = ca.request("POST", "/v1/pki/issue/leased", token=ca.root_token, json={"common_name": "a.test"})
    assert r.status_code == 200, r.text
    body = r.json()
    c = cert_of(body["data"]["certificate"])
    assert body["lease_id"].startswith("pki/issue/leased/")
    left = not_after(c).timestamp() - time.time()
    assert abs(body["lease_duration"] - left) <= 5 and body["renewable"] is False
    lk = ca.request("PUT", "/v1/sys/leases/lookup", token=ca.root_token, json={"lease_id": body["lease_id"]})
    assert lk.status_code == 200, lk.text
    # revoking the lease revokes the certificate: the lease goes, the
    # certificate stays listed (revoked/<serial> is written beside it)
    rv = ca.request("PUT", "/v1/sys/leases/revoke", token=ca.root_token, json={"lease_id": body["lease_id"], "sync": True})
    assert rv.status_code == 204, rv.text
    lk = ca.request("PUT", "/v1/sys/leases/lookup", token=ca.root_token, json={"lease_id": body["lease_id"]})
    assert lk.status_code == 400, lk.text
    assert body["data"]["serial_number"].replace(":", "-") in cert_keys(ca)
    # sign answers carry a lease too
    csr, _ = make_csr("b.test")
    r = ca.request("POST", "/v1/pki/sign/leased", token=ca.root_token, json={"csr": csr})
    assert r.json()["lease_id"].startswith("pki/sign/leased/")


# --- sign-verbatim ---------------------------------------------------------


def test_sign_verbatim(ca, tmp_path):
    extra = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Verbatim Org"),
             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Unit 7")]
    csr, key = make_csr("anything.example", dns=["x.example", "y.other"], emails=["ops@example.org"],
                        subject_extra=extra)
    d = post(ca, "pki/sign-verbatim", {"csr": csr, "ttl": "1h", "ext_key_usage": ["ClientAuth"]})
    c = check_leaf(ca, tmp_path, d)
    assert c.subject == x509.load_pem_x509_csr(csr.encode()).subject
    assert sans(c)["dns"] == ["x.example", "y.other"] and sans(c)["email"] == ["ops@example.org"]
    assert list(ext(c, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ku = ext(c, x509.KeyUsage)
    assert ku.digital_signature and ku.key_agreement and ku.key_encipherment
    assert abs((not_after(c) - not_before(c)).total_seconds() - 3630) <= 5
    # with a role: its ttl and no_store; key_usage from the request
    role(ca, "vb", key_type="ec", ttl="30m", no_store=True)
    before = cert_keys(ca)
    d = post(ca, "pki/issuer/root/sign-verbatim/vb", {"csr": csr, "key_usage": ["DigitalSignature"]})
    c = cert_of(d["certificate"])
    assert abs((not_after(c) - not_before(c)).total_seconds() - 1830) <= 5
    ku = ext(c, x509.KeyUsage)
    assert ku.digital_signature and not ku.key_encipherment
    assert cert_keys(ca) == before
    assert_error(ca.request("POST", "/v1/pki/sign-verbatim/nosuch", token=ca.root_token, json={"csr": csr}), 400,
                 "unknown role")
    assert_error(ca.request("POST", "/v1/pki/sign-verbatim", token=ca.root_token,
                            json={"csr": csr, "key_usage": ["Sparkle"]}), 400, "key_usage")


# --- audit -----------------------------------------------------------------


def test_issued_private_keys_are_hmacd_in_audit(audited_server):
    srv, log = audited_server
    mount(srv)
    post(srv, "pki/root/generate/internal", {"common_name": "r", "key_type": "ec"})
    role(srv, "a", allow_any_name=True, key_type="ec")
    # shorter than the root (both would default to the mount's 768h, the
    # leaf's end a second past the root's when issued in the next second)
    d = post(srv, "pki/issue/a", {"common_name": "a.test", "ttl": "1h"})
    body = "".join(line for line in d["private_key"].splitlines() if "-----" not in line)
    text = log.read_text()
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    resp = [e for e in entries if e.get("type") == "response" and e["request"]["path"] == "pki/issue/a"]
    assert resp and resp[-1]["response"]["data"]["private_key"].startswith("hmac-sha256:")
    assert body[:40] not in text and "PRIVATE KEY" not in text


# --- identity templates ------------------------------------------------------


def test_allowed_domains_template_uses_the_callers_entity(ca):
    root = ca.root_token
    assert ca.request("POST", "/v1/sys/auth/userpass", token=root, json={"type": "userpass"}).status_code == 204
    accessor = ca.request("GET", "/v1/sys/auth", token=root).json()["data"]["userpass/"]["accessor"]
    r = ca.request("PUT", "/v1/sys/policy/issuer", token=root,
                   json={"policy": 'path "pki/issue/tmpl" { capabilities = ["update"] }'})
    assert r.status_code == 204
    for user in ("alice", "bob"):
        r = ca.request("POST", f"/v1/auth/userpass/users/{user}", token=root,
                       json={"password": "pw-" + user, "token_policies": "issuer"})
        assert r.status_code == 204, r.text
    role(ca, "tmpl", key_type="ec", allow_bare_domains=True, allowed_domains_template=True,
         allowed_domains=["{{identity.entity.aliases.%s.name}}.example.com" % accessor])
    tok = ca.request("POST", "/v1/auth/userpass/login/alice", json={"password": "pw-alice"}).json()["auth"]
    r = ca.request("POST", "/v1/pki/issue/tmpl", token=tok["client_token"], json={"common_name": "alice.example.com"})
    assert r.status_code == 200, r.text
    assert cert_of(r.json()["data"]["certificate"]).subject.get_attributes_for_oid(
        NameOID.COMMON_NAME)[0].value == "alice.example.com"
    r = ca.request("POST", "/v1/pki/issue/tmpl", token=tok["client_token"], json={"common_name": "bob.example.com"})
    assert_error(r, 400, "bob.example.com")
    # the root token has no entity: templated entries match nothing
    r = ca.request("POST", "/v1/pki/issue/tmpl", token=root, json={"common_name": "alice.example.com"})
    assert_error(r, 400, "alice.example.com")


# --- restart and seal --------------------------------------------------------


def test_restart_and_seal_keep_roles_certificates_and_leases(unsealed_server):
    srv = unsealed_server
    mount(srv, max_ttl="87600h")
    root = post(srv, "pki/root/generate/internal", {"common_name": "Kept", "key_type": "ec"})
    role(srv, "kept", allowed_domains="kept.test", allow_subdomains=True, key_type="ec", generate_lease=True,
         ttl="2h")
    r = srv.request("POST", "/v1/pki/issue/kept", token=srv.root_token, json={"common_name": "a.kept.test"})
    assert r.status_code == 200, r.text
    first = r.json()
    # a seal drops the mount's kept issuer material; unsealed, it signs again
    assert srv.request("PUT", "/v1/sys/seal", token=srv.root_token).status_code == 204
    srv.unseal()
    d = post(srv, "pki/issue/kept", {"common_name": "b.kept.test"})
    verify_signed_by(cert_of(d["certificate"]), cert_of(root["certificate"]))
    srv.proc.restart()
    srv.unseal()
    assert call(srv, "GET", "pki/roles/kept")["allowed_domains"] == ["kept.test"]
    keys = cert_keys(srv)
    for s in (first["data"]["serial_number"], d["serial_number"]):
        assert s.replace(":", "-") in keys
    d = post(srv, "pki/issue/kept", {"common_name": "c.kept.test"})
    verify_signed_by(cert_of(d["certificate"]), cert_of(root["certificate"]))
    r = srv.request("POST", "/v1/pki/issue/kept", token=srv.root_token, json={"common_name": "c.other.test"})
    assert_error(r, 400, "c.other.test")
    # the lease made before the restart still revokes its certificate
    lk = srv.request("PUT", "/v1/sys/leases/lookup", token=srv.root_token, json={"lease_id": first["lease_id"]})
    assert lk.status_code == 200, lk.text
    rv = srv.request("PUT", "/v1/sys/leases/revoke", token=srv.root_token,
                     json={"lease_id": first["lease_id"], "sync": True})
    assert rv.status_code == 204, rv.text
    lk = srv.request("PUT", "/v1/sys/leases/lookup", token=srv.root_token, json={"lease_id": first["lease_id"]})
    assert lk.status_code == 400
