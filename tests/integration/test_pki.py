"""The pki engine through HTTP: CAs, issuers, keys, the certificate store
and the first issue/sign path. Every certificate is checked with python's
`cryptography` (and `openssl verify` for chains), never by trusting the
server's own JSON."""

import datetime
import json
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from trove_harness import assert_error


def mount(srv, path="pki", max_ttl=None):
    body = {"type": "pki"}
    if max_ttl:
        body["config"] = {"max_lease_ttl": max_ttl}
    r = srv.put(f"/v1/sys/mounts/{path}", token=srv.root_token, json=body)
    assert r.status_code == 204, r.text


def call(srv, method, path, body=None, token=True, status=200):
    r = srv.request(method, f"/v1/{path}", token=srv.root_token if token else None, json=body)
    assert r.status_code == status, (path, r.status_code, r.text)
    return r.json()["data"] if r.status_code == 200 and r.headers.get("content-type", "").startswith(
        "application/json") else r


def post(srv, path, body=None, status=200):
    return call(srv, "POST", path, body or {}, status=status)


def cert_of(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def verify_signed_by(child, parent):
    """child's signature verifies with parent's public key."""
    pub = parent.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        pub.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), child.signature_hash_algorithm)
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(child.signature_hash_algorithm))
    else:
        pub.verify(child.signature, child.tbs_certificate_bytes)
    assert child.issuer == parent.subject


def openssl_verify(tmp_path, root_pem, leaf_pem, untrusted=()):
    (tmp_path / "root.pem").write_text(root_pem + "\n")
    (tmp_path / "leaf.pem").write_text(leaf_pem + "\n")
    args = ["openssl", "verify", "-CAfile", str(tmp_path / "root.pem")]
    if untrusted:
        (tmp_path / "untrusted.pem").write_text("\n".join(untrusted) + "\n")
        args += ["-untrusted", str(tmp_path / "untrusted.pem")]
    p = subprocess.run(args + [str(tmp_path / "leaf.pem")], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def spki(c):
    return c.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def not_after(c):
    return c.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def not_before(c):
    return c.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls).value


def serial_text(cert):
    h = f"{cert.serial_number:x}"
    h = ("0" * (len(h) % 2)) + h
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


@pytest.fixture
def pki(dev_server):
    mount(dev_server, max_ttl="87600h")
    return dev_server


# --- root generation ---------------------------------------------------


@pytest.mark.parametrize("key_type,key_bits,pubtype,size", [
    ("rsa", 0, rsa.RSAPublicKey, 2048),
    ("rsa", 3072, rsa.RSAPublicKey, 3072),
    ("ec", 0, ec.EllipticCurvePublicKey, 256),
    ("ec", 384, ec.EllipticCurvePublicKey, 384),
    ("ec", 521, ec.EllipticCurvePublicKey, 521),
    ("ed25519", 0, ed25519.Ed25519PublicKey, None),
])
def test_root_generate_every_key_type(pki, key_type, key_bits, pubtype, size):
    d = post(pki, "pki/root/generate/internal", {
        "common_name": "Root X1", "key_type": key_type, "key_bits": key_bits, "ttl": "720h",
        "organization": "Trove", "country": "DE", "ou": ["ops", "sec"], "max_path_length": 2,
        "issuer_name": "root-x1", "key_name": "root-key"})
    assert "private_key" not in d and "private_key_type" not in d
    c = cert_of(d["certificate"])
    assert isinstance(c.public_key(), pubtype)
    if size:
        assert c.public_key().key_size == size
    verify_signed_by(c, c)
    bc = ext(c, x509.BasicConstraints)
    assert bc.ca and bc.path_length == 2
    ku = ext(c, x509.KeyUsage)
    assert ku.key_cert_sign and ku.crl_sign
    assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Root X1"
    assert c.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Trove"
    assert sorted(a.value for a in c.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)) == ["ops", "sec"]
    # the serial: 20 bytes, in Vault's colon form
    assert d["serial_number"] == serial_text(c)
    assert len(d["serial_number"].split(":")) == 20
    assert d["expiration"] == int(not_after(c).timestamp())
    life = not_after(c) - not_before(c)
    assert datetime.timedelta(hours=720) <= life <= datetime.timedelta(hours=720, seconds=40)
    assert d["issuer_name"] == "root-x1" and d["key_name"] == "root-key"
    assert d["issuing_ca"] == d["certificate"]
    assert d["issuer_id"] and d["key_id"]


def test_root_exported_returns_its_key_and_sans(pki):
    d = post(pki, "pki/root/generate/exported", {
        "common_name": "ca.example.com", "key_type": "ec", "alt_names": "alt.example.com,ops@example.com",
        "ip_sans": ["10.0.0.1", "::1"], "uri_sans": "spiffe://example/ca",
        "other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:ca@example.com", "permitted_dns_domains": "example.com",
        "private_key_format": "pkcs8"})
    assert d["private_key_type"] == "ec"
    key = serialization.load_pem_private_key(d["private_key"].encode(), None)
    assert d["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    c = cert_of(d["certificate"])
    assert key.public_key().public_numbers() == c.public_key().public_numbers()
    san = ext(c, x509.SubjectAlternativeName)
    assert sorted(san.get_values_for_type(x509.DNSName)) == ["alt.example.com", "ca.example.com"]
    assert san.get_values_for_type(x509.RFC822Name) == ["ops@example.com"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.1", "::1"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://example/ca"]
    other = san.get_values_for_type(x509.OtherName)
    assert other[0].type_id.dotted_string == "1.3.6.1.4.1.311.20.2.3"
    nc = ext(c, x509.NameConstraints)
    assert [n.value for n in nc.permitted_subtrees] == ["example.com"]
    assert ext(c, x509.BasicConstraints).path_length is None


def test_root_exported_default_key_format_is_traditional_pem(pki):
    d = post(pki, "pki/root/generate/exported", {"common_name": "r", "key_type": "rsa"})
    assert d["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert d["private_key_type"] == "rsa"
    c = cert_of(d["certificate"])
    key = serialization.load_pem_private_key(d["private_key"].encode(), None)
    assert key.public_key().public_numbers() == c.public_key().public_numbers()


def test_root_ttl_is_capped_at_the_mount_max(dev_server):
    mount(dev_server, "pki2", max_ttl="48h")
    r = dev_server.put("/v1/pki2/root/generate/internal", token=dev_server.root_token,
                       json={"common_name": "r", "ttl": "87600h", "key_type": "ec"})
    assert r.status_code == 200, r.text
    assert r.json()["warnings"]
    c = cert_of(r.json()["data"]["certificate"])
    assert not_after(c) - not_before(c) <= datetime.timedelta(hours=48, seconds=40)


def test_root_not_after_and_signature_bits(pki):
    d = post(pki, "pki/root/generate/internal", {
        "common_name": "r", "key_type": "rsa", "not_after": "2030-01-02T03:04:05Z", "signature_bits": 384,
        "not_before_duration": "1h", "exclude_cn_from_sans": True})
    c = cert_of(d["certificate"])
    assert not_after(c) == datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert isinstance(c.signature_hash_algorithm, hashes.SHA384)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now - not_before(c) >= datetime.timedelta(minutes=59)
    with pytest.raises(x509.ExtensionNotFound):
        c.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_root_use_pss(pki):
    d = post(pki, "pki/root/generate/internal", {"common_name": "r", "key_type": "rsa", "use_pss": True})
    c = cert_of(d["certificate"])
    assert c.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10"  # RSASSA-PSS


@pytest.mark.parametrize("body,field", [
    ({"common_name": "r", "key_type": "bogus"}, "key_type"),
    ({"common_name": "r", "key_type": "rsa", "key_bits": 1024}, "key_bits"),
    ({"common_name": "r", "key_type": "ec", "key_bits": 255}, "key_bits"),
    ({"common_name": "r", "signature_bits": 333}, "signature_bits"),
    ({"common_name": "r", "ip_sans": "not-an-ip"}, "ip_sans"),
    ({"common_name": "r", "other_sans": "1.2.3;RAW:x"}, "other_sans"),
    ({"common_name": "r", "not_after": "tomorrow"}, "not_after"),
    ({"common_name": "r", "ttl": "forever"}, "ttl"),
    ({"key_type": "ec"}, "common_name"),
    ({"common_name": "r", "issuer_name": "default"}, "issuer_name"),
    ({"common_name": "r", "issuer_name": "bad name"}, "issuer_name"),
    ({"common_name": "r", "format": "xml"}, "format"),
    ({"common_name": "r", "private_key_format": "jks"}, "private_key_format"),
    ({"common_name": "r", "permitted_dns_domains": ["a.example", "@x"]}, "permitted_dns_domains"),
])
def test_root_generate_bad_input(pki, body, field):
    r = pki.put("/v1/pki/root/generate/internal", token=pki.root_token, json=body)
    assert_error(r, 400, field)
    # nothing was made
    r = pki.request("LIST", "/v1/pki/issuers", token=pki.root_token)
    assert r.status_code == 404


def test_root_generate_kms_and_unknown_types(pki):
    r = pki.put("/v1/pki/root/generate/kms", token=pki.root_token, json={"common_name": "r"})
    assert_error(r, 400, "kms")
    r = pki.put("/v1/pki/root/generate/other", token=pki.root_token, json={"common_name": "r"})
    assert_error(r, 400, "type")


def test_root_generate_existing_key(pki):
    a = post(pki, "pki/root/generate/internal", {"common_name": "a", "key_type": "ec", "key_name": "k1",
                                                  "issuer_name": "a"})
    b = post(pki, "pki/root/generate/existing", {"common_name": "b", "key_ref": "k1", "issuer_name": "b"})
    assert b["key_id"] == a["key_id"]
    assert spki(cert_of(a["certificate"])) == spki(cert_of(b["certificate"]))
    r = pki.put("/v1/pki/root/generate/existing", token=pki.root_token, json={"common_name": "c"})
    assert_error(r, 400, "key_ref")
    r = pki.put("/v1/pki/root/generate/existing", token=pki.root_token,
                json={"common_name": "c", "key_ref": "nope"})
    assert_error(r, 400, "key_ref")


def test_second_root_adds_an_issuer_and_keeps_the_default(pki):
    a = post(pki, "pki/root/generate/internal", {"common_name": "a", "key_type": "ec", "issuer_name": "a"})
    b = post(pki, "pki/root/generate/internal", {"common_name": "b", "key_type": "ec", "issuer_name": "b"})
    assert a["issuer_id"] != b["issuer_id"] and a["key_id"] != b["key_id"]
    lst = call(pki, "LIST", "pki/issuers")
    assert sorted(lst["keys"]) == sorted([a["issuer_id"], b["issuer_id"]])
    assert lst["key_info"][a["issuer_id"]]["is_default"] is True
    assert lst["key_info"][b["issuer_id"]]["is_default"] is False
    assert lst["key_info"][b["issuer_id"]]["issuer_name"] == "b"
    assert lst["key_info"][b["issuer_id"]]["serial_number"] == b["serial_number"]
    # as in Vault, the list of issuers needs no token
    r = pki.request("LIST", "/v1/pki/issuers")
    assert r.status_code == 200 and r.json()["data"] == lst
    # names are unique per mount
    r = pki.put("/v1/pki/root/generate/internal", token=pki.root_token,
                json={"common_name": "c", "key_type": "ec", "issuer_name": "a"})
    assert_error(r, 400, "issuer_name")


def test_ca_der_and_pem_are_raw_and_unauthenticated(pki):
    d = post(pki, "pki/root/generate/internal", {"common_name": "Raw Root", "key_type": "ec"})
    c = cert_of(d["certificate"])
    der = c.public_bytes(serialization.Encoding.DER)
    r = pki.get("/v1/pki/ca")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/pkix-cert"
    assert r.content == der  # binary, NULs and all
    for path in ("/v1/pki/ca/pem", f"/v1/pki/issuer/{d['issuer_id']}/pem", "/v1/pki/issuer/default/pem"):
        r = pki.get(path)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"] == "application/pem-file"
        assert x509.load_pem_x509_certificate(r.content) == c
    r = pki.get("/v1/pki/issuer/default/der")
    assert r.status_code == 200 and r.content == der


# --- intermediates, self-issued, import ----------------------------------


def make_intermediate(srv, root_mount="pki", int_mount="int", key_type="ec", **sign):
    mount(srv, int_mount, max_ttl="8760h")
    csr = post(srv, f"{int_mount}/intermediate/generate/internal",
               {"common_name": "Intermediate", "key_type": key_type, "key_name": "int-key"})
    assert "private_key" not in csr
    body = {"csr": csr["csr"], "common_name": "Intermediate CA", "ttl": "8760h"}
    body.update(sign)
    signed = post(srv, f"{root_mount}/root/sign-intermediate", body)
    return csr, signed


def test_intermediate_chain(pki, tmp_path):
    root = post(pki, "pki/root/generate/internal", {"common_name": "Root", "key_type": "ec", "ttl": "720h",
                                                     "max_path_length": 3})
    csr, signed = make_intermediate(pki, max_path_length=5)
    req = x509.load_pem_x509_csr(csr["csr"].encode())
    assert req.is_signature_valid
    rc, ic = cert_of(root["certificate"]), cert_of(signed["certificate"])
    verify_signed_by(ic, rc)
    openssl_verify(tmp_path, root["certificate"], signed["certificate"])
    assert spki(ic) == req.public_key().public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    bc = ext(ic, x509.BasicConstraints)
    assert bc.ca and bc.path_length == 2  # capped below the root's 3
    assert ic.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Intermediate CA"
    # 8760h asked, but never past the root's own notAfter
    assert not_after(ic) == not_after(rc)
    assert signed["issuing_ca"] == root["certificate"]
    assert signed["ca_chain"] == [root["certificate"]]
    assert signed["serial_number"] == serial_text(ic)

    # set-signed joins the certificate to the key made with the CSR
    d = post(pki, "int/intermediate/set-signed", {"certificate": signed["certificate"] + "\n" + root["certificate"]})
    assert len(d["imported_issuers"]) == 2
    iid = [i for i in d["imported_issuers"] if d["mapping"][i]]
    assert len(iid) == 1 and d["mapping"][iid[0]] == csr["key_id"]
    again = post(pki, "int/intermediate/set-signed", {"certificate": signed["certificate"]})
    assert again["imported_issuers"] is None and again["existing_issuers"] == iid

    # the intermediate's chain reaches the root
    j = call(pki, "GET", f"int/issuer/{iid[0]}/json", token=False)
    assert [cert_of(p) for p in j["ca_chain"]] == [ic, rc]


def test_sign_intermediate_use_csr_values_and_bad_csr(pki):
    post(pki, "pki/root/generate/internal", {"common_name": "Root", "key_type": "ec"})
    mount(pki, "int")
    csr = post(pki, "int/intermediate/generate/exported", {"common_name": "From CSR", "key_type": "rsa",
                                                            "alt_names": "int.example.com"})
    assert csr["private_key_type"] == "rsa"
    d = post(pki, "pki/root/sign-intermediate", {"csr": csr["csr"], "use_csr_values": True})
    ic = cert_of(d["certificate"])
    assert ic.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "From CSR"
    assert "int.example.com" in ext(ic, x509.SubjectAlternativeName).get_values_for_type(x509.DNSName)
    for bad in ("garbage", csr["csr"][:200], csr["csr"].replace("A", "B", 3)):
        r = pki.put("/v1/pki/root/sign-intermediate", token=pki.root_token, json={"csr": bad, "common_name": "x"})
        assert_error(r, 400, "csr")
    r = pki.put("/v1/pki/root/sign-intermediate", token=pki.root_token, json={"common_name": "x"})
    assert_error(r, 400, "csr")
    r = pki.put("/v1/pki/issuer/nope/sign-intermediate", token=pki.root_token,
                json={"csr": csr["csr"], "common_name": "x"})
    assert_error(r, 400, "nope")


def test_sign_self_issued(pki):
    root = post(pki, "pki/root/generate/internal", {"common_name": "Root", "key_type": "ec"})
    other = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old Root")])
    now = datetime.datetime.now(datetime.timezone.utc)
    old = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(other.public_key())
           .serial_number(x509.random_serial_number()).not_valid_before(now)
           .not_valid_after(now + datetime.timedelta(days=30))
           .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
           .sign(other, hashes.SHA256()))
    old_pem = old.public_bytes(serialization.Encoding.PEM).decode()
    d = post(pki, "pki/root/sign-self-issued", {"certificate": old_pem, "require_matching_certificate_algorithms": True})
    cross = cert_of(d["certificate"])
    verify_signed_by(cross, cert_of(root["certificate"]))
    assert spki(cross) == spki(old)
    # an RSA self-issued CA under an EC issuer, when algorithms must match
    rkey = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_old = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(rkey.public_key())
               .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(rkey, hashes.SHA256()))
    r = pki.put("/v1/pki/root/sign-self-issued", token=pki.root_token,
                json={"certificate": rsa_old.public_bytes(serialization.Encoding.PEM).decode(),
                      "require_matching_certificate_algorithms": True})
    assert_error(r, 400, "require_matching_certificate_algorithms")
    # not self-issued
    r = pki.put("/v1/pki/root/sign-self-issued", token=pki.root_token, json={"certificate": d["certificate"]})
    assert_error(r, 400, "self-issued")


def test_import_bundle_round_trip(pki):
    root = post(pki, "pki/root/generate/exported", {"common_name": "Exported", "key_type": "ec",
                                                     "issuer_name": "src"})
    mount(pki, "copy")
    bundle = root["private_key"] + "\n" + root["certificate"] + "\n"
    d = post(pki, "copy/issuers/import/bundle", {"pem_bundle": bundle})
    assert len(d["imported_issuers"]) == 1 and len(d["imported_keys"]) == 1
    iid, kid = d["imported_issuers"][0], d["imported_keys"][0]
    assert d["mapping"] == {iid: kid}
    # importing the same again duplicates nothing
    d2 = post(pki, "copy/config/ca", {"pem_bundle": bundle})
    assert d2["imported_issuers"] is None and d2["imported_keys"] is None
    assert d2["existing_issuers"] == [iid] and d2["existing_keys"] == [kid]
    # the copy signs with the imported key: its issuer is usable
    info = call(pki, "GET", f"copy/issuer/{iid}")
    assert info["key_id"] == kid
    assert cert_of(info["certificate"]) == cert_of(root["certificate"])
    keys = call(pki, "LIST", "copy/keys")
    assert keys["keys"] == [kid] and keys["key_info"][kid]["key_type"] == "ec"
    # a certificate alone, then its key: they are linked
    mount(pki, "late")
    d = post(pki, "late/issuers/import/bundle", {"pem_bundle": root["certificate"]})
    iid = d["imported_issuers"][0]
    assert d["mapping"] == {iid: ""}
    post(pki, "late/issuers/import/bundle", {"pem_bundle": root["private_key"] + "\n" + root["certificate"]})
    assert call(pki, "GET", f"late/issuer/{iid}")["key_id"]


@pytest.mark.parametrize("bundle", ["", "no pem here", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_import_bundle_bad_input(pki, bundle):
    r = pki.put("/v1/pki/issuers/import/bundle", token=pki.root_token, json={"pem_bundle": bundle})
    assert_error(r, 400, "pem_bundle")


# --- issuers and keys ------------------------------------------------------


def test_issuer_read_update_patch_delete(pki):
    a = post(pki, "pki/root/generate/internal", {"common_name": "A", "key_type": "ec", "issuer_name": "a"})
    b = post(pki, "pki/root/generate/internal", {"common_name": "B", "key_type": "ec", "issuer_name": "b"})
    for ref in (a["issuer_id"], "a", "default"):
        d = call(pki, "GET", f"pki/issuer/{ref}")
        assert d["issuer_id"] == a["issuer_id"] and d["issuer_name"] == "a" and d["key_id"] == a["key_id"]
        assert d["leaf_not_after_behavior"] == "err"
        assert d["usage"] == "read-only,issuing-certificates,crl-signing,ocsp-signing"
        assert d["ca_chain"] == [d["certificate"]]
    r = pki.get("/v1/pki/issuer/missing", token=pki.root_token)
    assert_error(r, 400, "missing")

    d = post(pki, "pki/issuer/a", {"issuer_name": "renamed", "leaf_not_after_behavior": "truncate",
                                   "usage": "read-only,issuing-certificates",
                                   "issuing_certificates": ["http://ca.example/ca"]})
    assert d["issuer_name"] == "renamed" and d["leaf_not_after_behavior"] == "truncate"
    assert d["usage"] == "read-only,issuing-certificates"
    assert d["issuing_certificates"] == ["http://ca.example/ca"]
    assert call(pki, "GET", "pki/issuer/renamed")["issuer_id"] == a["issuer_id"]
    r = pki.get("/v1/pki/issuer/a", token=pki.root_token)
    assert r.status_code == 400

    r = pki.request("PATCH", "/v1/pki/issuer/renamed", token=pki.root_token,
                    headers={"Content-Type": "application/merge-patch+json"},
                    data=json.dumps({"leaf_not_after_behavior": "permit"}))
    assert r.status_code == 200, r.text
    d = call(pki, "GET", "pki/issuer/renamed")
    assert d["leaf_not_after_behavior"] == "permit" and d["usage"] == "read-only,issuing-certificates"

    for body, field in (({"issuer_name": "b"}, "issuer_name"), ({"leaf_not_after_behavior": "x"}, "leaf_not_after"),
                        ({"ocsp_servers": ["http://o.example/a,DNS:evil"]}, "ocsp_servers"),
                        ({"crl_distribution_points": ["not a url"]}, "crl_distribution_points"),
                        ({"usage": "everything"}, "usage"), ({"manual_chain": "nope"}, "nope")):
        r = pki.put("/v1/pki/issuer/renamed", token=pki.root_token, json=body)
        assert_error(r, 400, field)

    # manual chain: self first
    d = post(pki, "pki/issuer/renamed", {"manual_chain": ["self", "b"]})
    assert d["manual_chain"] == [a["issuer_id"], b["issuer_id"]]
    assert [cert_of(p) for p in d["ca_chain"]] == [cert_of(a["certificate"]), cert_of(b["certificate"])]

    # delete the default: it is gone and no default remains
    r = pki.delete("/v1/pki/issuer/renamed", token=pki.root_token) if hasattr(pki, "delete") else \
        pki.request("DELETE", "/v1/pki/issuer/renamed", token=pki.root_token)
    assert r.status_code in (200, 204), r.text
    assert call(pki, "LIST", "pki/issuers")["keys"] == [b["issuer_id"]]
    assert call(pki, "GET", "pki/config/issuers")["default"] == ""
    r = pki.get("/v1/pki/ca/pem")
    assert r.status_code == 400
    # its key stays
    assert a["key_id"] in call(pki, "LIST", "pki/keys")["keys"]


def test_default_issuer_config_replace_and_rotate(pki):
    a = post(pki, "pki/root/generate/internal", {"common_name": "A", "key_type": "ec", "issuer_name": "a"})
    assert call(pki, "GET", "pki/config/issuers") == {"default": a["issuer_id"],
                                                      "default_follows_latest_issuer": False}
    b = post(pki, "pki/root/rotate/internal", {"common_name": "B", "key_type": "ec", "issuer_name": "b"})
    assert call(pki, "GET", "pki/config/issuers")["default"] == a["issuer_id"]  # rotate: not default
    assert cert_of(pki.get("/v1/pki/ca/pem").text) == cert_of(a["certificate"])
    d = post(pki, "pki/root/replace", {"default": "b"})
    assert d["default"] == b["issuer_id"]
    assert cert_of(pki.get("/v1/pki/ca/pem").text) == cert_of(b["certificate"])
    d = post(pki, "pki/config/issuers", {"default": "a", "default_follows_latest_issuer": True})
    assert d == {"default": a["issuer_id"], "default_follows_latest_issuer": True}
    c = post(pki, "pki/root/generate/internal", {"common_name": "C", "key_type": "ec"})
    assert call(pki, "GET", "pki/config/issuers")["default"] == c["issuer_id"]
    lst = call(pki, "LIST", "pki/issuers")
    assert [k for k, v in lst["key_info"].items() if v["is_default"]] == [c["issuer_id"]]
    r = pki.put("/v1/pki/config/issuers", token=pki.root_token, json={"default": "unknown"})
    assert_error(r, 400, "unknown")
    r = pki.put("/v1/pki/root/replace", token=pki.root_token, json={"default": "unknown"})
    assert_error(r, 400, "unknown")


def test_keys_list_read_rename_delete(pki):
    a = post(pki, "pki/root/generate/internal", {"common_name": "A", "key_type": "rsa", "key_name": "ka"})
    lst = call(pki, "LIST", "pki/keys")
    assert lst["keys"] == [a["key_id"]]
    assert lst["key_info"][a["key_id"]] == {"key_id": a["key_id"], "key_name": "ka", "key_type": "rsa"}
    for ref in ("ka", a["key_id"], "default"):
        d = call(pki, "GET", f"pki/key/{ref}")
        assert d["key_id"] == a["key_id"] and d["key_type"] == "rsa"
        assert "private_key" not in d
    d = post(pki, "pki/key/ka", {"key_name": "kb"})
    assert d["key_name"] == "kb"
    # refused while an issuer uses it
    r = pki.request("DELETE", "/v1/pki/key/kb", token=pki.root_token)
    assert_error(r, 400, "in use")
    pki.request("DELETE", f"/v1/pki/issuer/{a['issuer_id']}", token=pki.root_token)
    r = pki.request("DELETE", "/v1/pki/key/kb", token=pki.root_token)
    assert r.status_code in (200, 204), r.text
    r = pki.request("LIST", "/v1/pki/keys", token=pki.root_token)
    assert r.status_code == 404
    r = pki.get("/v1/pki/key/kb", token=pki.root_token)
    assert_error(r, 400, "kb")


def test_issuer_json_der_pem_unauthenticated(pki):
    a = post(pki, "pki/root/generate/internal", {"common_name": "A", "key_type": "ec", "issuer_name": "a"})
    c = cert_of(a["certificate"])
    r = pki.get("/v1/pki/issuer/a/json")
    assert r.status_code == 200
    assert cert_of(r.json()["data"]["certificate"]) == c
    assert [cert_of(p) for p in r.json()["data"]["ca_chain"]] == [c]
    r = pki.get("/v1/pki/issuer/a/der")
    assert x509.load_der_x509_certificate(r.content) == c
    r = pki.get("/v1/pki/issuer/a")  # the full record needs a token
    assert r.status_code in (400, 403)


# --- the certificate store and CA reads ---------------------------------


def test_cert_store_and_ca_chain(pki, tmp_path):
    root = post(pki, "pki/root/generate/internal", {"common_name": "Root", "key_type": "ec"})
    csr, signed = make_intermediate(pki)
    rc, ic = cert_of(root["certificate"]), cert_of(signed["certificate"])
    keys = call(pki, "LIST", "pki/certs")["keys"]
    want = sorted(s.replace(":", "-") for s in (root["serial_number"], signed["serial_number"]))
    assert sorted(keys) == want
    s = signed["serial_number"]
    for form in (s, s.replace(":", "-"), s.upper(), s.replace(":", "-").upper()):
        d = call(pki, "GET", f"pki/cert/{form}", token=False)
        assert cert_of(d["certificate"]) == ic and d["revocation_time"] == 0
    r = pki.get(f"/v1/pki/cert/{s}/raw")
    assert r.headers["Content-Type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(r.content) == ic
    r = pki.get(f"/v1/pki/cert/{s}/raw/pem")
    assert x509.load_pem_x509_certificate(r.content) == ic
    assert pki.get("/v1/pki/cert/00:11:22").status_code == 404
    assert_error(pki.get("/v1/pki/cert/not-hex"), 400, "serial")

    # the intermediate mount: its default issuer's chain ends at the root
    post(pki, "int/intermediate/set-signed", {"certificate": signed["certificate"]})
    post(pki, "int/issuers/import/bundle", {"pem_bundle": root["certificate"]})
    r = pki.get("/v1/int/ca_chain")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pem-file"
    chain = x509.load_pem_x509_certificates(r.content) if hasattr(x509, "load_pem_x509_certificates") else [
        cert_of("-----BEGIN CERTIFICATE-----" + p) for p in r.text.split("-----BEGIN CERTIFICATE-----")[1:]]
    assert chain == [ic, rc]
    openssl_verify(tmp_path, root["certificate"], signed["certificate"], untrusted=[])
    d = call(pki, "GET", "int/cert/ca_chain", token=False)
    assert d["certificate"] == r.text
    d = call(pki, "GET", "int/cert/ca", token=False)
    assert cert_of(d["certificate"]) == ic
    assert cert_of(pki.get("/v1/int/ca/pem").text) == ic


def test_unknown_default_issuer_reads(pki):
    assert_error(pki.get("/v1/pki/ca/pem"), 400, "default")
    assert_error(pki.get("/v1/pki/issuer/nope/json"), 400, "nope")
    assert_error(pki.get("/v1/pki/issuer/nope/der"), 400, "nope")


def test_restart_on_lmdb_keeps_issuers_keys_and_certs(unsealed_server):
    srv = unsealed_server
    mount(srv)
    root = post(srv, "pki/root/generate/internal", {"common_name": "Persistent", "key_type": "ec",
                                                     "issuer_name": "p", "key_name": "pk"})
    csr, signed = make_intermediate(srv)
    issuers = call(srv, "LIST", "pki/issuers")
    srv.proc.restart()
    srv.unseal()
    assert call(srv, "LIST", "pki/issuers") == issuers
    assert call(srv, "GET", "pki/key/pk")["key_id"] == root["key_id"]
    assert cert_of(call(srv, "GET", "pki/issuer/p")["certificate"]) == cert_of(root["certificate"])
    assert cert_of(call(srv, "GET", f"pki/cert/{signed['serial_number']}", token=False)["certificate"]) == \
        cert_of(signed["certificate"])
    # the kept key still signs
    csr2 = post(srv, "int/intermediate/generate/internal", {"common_name": "Second", "key_type": "ec"})
    again = post(srv, "pki/root/sign-intermediate", {"csr": csr2["csr"], "common_name": "Second"})
    verify_signed_by(cert_of(again["certificate"]), cert_of(root["certificate"]))
    # no private key in clear on disk
    srv.proc.stop()
    blob = b"".join(p.read_bytes() for p in srv.data_dir.rglob("*") if p.is_file())
    assert b"PRIVATE KEY" not in blob and b"BEGIN CERTIFICATE" not in blob


def test_private_keys_are_hmacd_in_audit(audited_server):
    srv, log = audited_server
    mount(srv)
    d = post(srv, "pki/root/generate/exported", {"common_name": "Audited", "key_type": "ec"})
    key = d["private_key"]
    body = "".join(line for line in key.splitlines() if "-----" not in line)
    text = log.read_text()
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    resp = [e for e in entries if e.get("type") == "response" and e["request"]["path"] == "pki/root/generate/exported"]
    assert resp, "no response entry for root/generate"
    assert resp[-1]["response"]["data"]["private_key"].startswith("hmac-sha256:")
    assert body[:40] not in text and "PRIVATE KEY" not in text
    # bundles sent in are HMAC'd as well (pem_bundle is sensitive)
    mount(srv, "copy")
    post(srv, "copy/issuers/import/bundle", {"pem_bundle": key + "\n" + d["certificate"]})
    assert body[:40] not in log.read_text()


def test_internal_never_returns_a_private_key(pki):
    for path, body in (("pki/root/generate/internal", {"common_name": "r", "key_type": "ec"}),
                       ("pki/intermediate/generate/internal", {"common_name": "i", "key_type": "ec"}),
                       ("pki/root/rotate/internal", {"common_name": "n", "key_type": "ec"})):
        d = post(pki, path, body)
        assert "private_key" not in d and "private_key_type" not in d
        assert "PRIVATE" not in json.dumps(d)
    for path in ("pki/issuers", "pki/keys"):
        lst = call(pki, "LIST", path)
        for k in lst["keys"]:
            one = call(pki, "GET", f"{path[:-1]}/{k}")
            assert "PRIVATE" not in json.dumps(one)


# --- hvac, unchanged -------------------------------------------------------


def test_hvac_pki_calls(pki, tmp_path):
    c = pki.client(pki.root_token)
    root = c.secrets.pki.generate_root("internal", "hvac root", extra_params={"key_type": "ec", "ttl": "720h"},
                                       mount_point="pki")["data"]
    rc = cert_of(root["certificate"])
    assert cert_of(c.secrets.pki.read_ca_certificate(mount_point="pki")) == rc
    assert cert_of(c.secrets.pki.read_ca_certificate_chain(mount_point="pki")) == rc
    keys = c.secrets.pki.list_certificates(mount_point="pki")["data"]["keys"]
    assert keys == [root["serial_number"].replace(":", "-")]
    got = c.secrets.pki.read_certificate(root["serial_number"], mount_point="pki")["data"]
    assert cert_of(got["certificate"]) == rc

    mount(pki, "int")
    csr = c.secrets.pki.generate_intermediate("internal", "hvac int", extra_params={"key_type": "ec"},
                                              mount_point="int")["data"]["csr"]
    signed = c.secrets.pki.sign_intermediate(csr, "hvac int", mount_point="pki")["data"]
    verify_signed_by(cert_of(signed["certificate"]), rc)
    c.secrets.pki.set_signed_intermediate(signed["certificate"], mount_point="int")
    assert cert_of(c.secrets.pki.read_ca_certificate(mount_point="int")) == cert_of(signed["certificate"])

    exported = c.secrets.pki.generate_root("exported", "other", extra_params={"key_type": "ec"},
                                           mount_point="int")["data"]
    mount(pki, "imp")
    c.secrets.pki.submit_ca_information(exported["private_key"] + "\n" + exported["certificate"], mount_point="imp")
    assert cert_of(c.secrets.pki.read_ca_certificate(mount_point="imp")) == cert_of(exported["certificate"])

    # delete_root: every issuer and key of the mount goes
    c.secrets.pki.delete_root(mount_point="imp")
    assert pki.request("LIST", "/v1/imp/issuers").status_code == 404
    assert pki.request("LIST", "/v1/imp/keys", token=pki.root_token).status_code == 404
    assert pki.get("/v1/imp/ca/pem").status_code == 400


def test_keys_generate_and_import(pki):
    d = post(pki, "pki/keys/generate/internal", {"key_name": "gen", "key_type": "ec", "key_bits": 384})
    assert d["key_name"] == "gen" and d["key_type"] == "ec" and "private_key" not in d
    root = post(pki, "pki/root/generate/existing", {"common_name": "r", "key_ref": "gen"})
    c = cert_of(root["certificate"])
    assert root["key_id"] == d["key_id"] and c.public_key().key_size == 384
    e = post(pki, "pki/keys/generate/exported", {"key_type": "ed25519"})
    key = serialization.load_pem_private_key(e["private_key"].encode(), None)
    assert isinstance(key, ed25519.Ed25519PrivateKey) and e["key_type"] == "ed25519"
    # a key made elsewhere, imported, then used
    mine = ec.generate_private_key(ec.SECP256R1())
    pem = mine.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()
    imp = post(pki, "pki/keys/import", {"pem_bundle": pem, "key_name": "mine"})
    assert imp["key_name"] == "mine" and imp["key_type"] == "ec"
    r2 = post(pki, "pki/root/generate/existing", {"common_name": "mine", "key_ref": "mine"})
    assert spki(cert_of(r2["certificate"])) == mine.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    for path, body, field in (("pki/keys/import", {"pem_bundle": "nope"}, "pem_bundle"),
                              ("pki/keys/generate/internal", {"key_type": "dsa"}, "key_type"),
                              ("pki/keys/generate/kms", {}, "kms"),
                              ("pki/keys/generate/internal", {"key_name": "gen"}, "key_name")):
        r = pki.put(f"/v1/{path}", token=pki.root_token, json=body)
        assert_error(r, 400, field)
