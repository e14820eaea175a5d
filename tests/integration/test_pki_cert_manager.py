"""cert-manager's Vault issuer against Trove, request for request.

cert-manager (pkg/internal/vault/vault.go) logs in with AppRole by
POSTing {"role_id", "secret_id"} (strings) to /v1/auth/<path>/login and
takes auth.client_token; or it uses a static token. It then POSTs to
/v1/<spec.vault.path> (pki_int/sign/<role>) a JSON object of strings
only: common_name, alt_names, ip_sans, uri_sans (comma-joined, possibly
empty), ttl (Go's Duration.String(), "2160h0m0s"), csr (PEM) and
exclude_cn_from_sans "true", through Vault's Go client (X-Vault-Token,
X-Vault-Request: true, no Content-Type). The answer is read with
certutil.ParsePKIMap: certificate, issuing_ca, ca_chain; the CA it stores
is the chain's root. Every answer here is chained with `openssl verify`.

Also: a token whose only grant is `update` on pki_int/sign/<role> can do
nothing else on the PKI mounts."""

import ipaddress
import json
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from test_pki import cert_of, mount, post

SIGN_POLICY = 'path "pki_int/sign/cert-manager" {\n  capabilities = ["update"]\n}\n'


@pytest.fixture
def chain(dev_server):
    """A root on pki, an intermediate on pki_int holding the role
    cert-manager signs with, and an AppRole whose tokens get only the sign
    policy."""
    srv = dev_server
    mount(srv, "pki", max_ttl="87600h")
    mount(srv, "pki_int", max_ttl="43800h")
    root = post(srv, "pki/root/generate/internal", {"common_name": "CM Root", "key_type": "ec", "ttl": "87600h"})
    csr = post(srv, "pki_int/intermediate/generate/internal", {"common_name": "CM Int", "key_type": "ec"})["csr"]
    inter = post(srv, "pki/root/sign-intermediate", {"csr": csr, "common_name": "CM Int", "ttl": "43800h"})
    # the signed intermediate with its root, as Vault's guides import it
    post(srv, "pki_int/intermediate/set-signed", {"certificate": inter["certificate"] + "\n" + root["certificate"]})
    r = srv.request("POST", "/v1/pki_int/roles/cert-manager", token=srv.root_token,
                    json={"allowed_domains": "example.com", "allow_subdomains": True, "key_type": "any",
                          "max_ttl": "2160h", "allowed_uri_sans": "spiffe://cluster.local/*"})
    assert r.status_code in (200, 204), r.text
    r = srv.request("PUT", "/v1/sys/policy/pki-sign", token=srv.root_token, json={"policy": SIGN_POLICY})
    assert r.status_code == 204, r.text
    assert srv.request("POST", "/v1/sys/auth/approle", token=srv.root_token,
                       json={"type": "approle"}).status_code == 204
    r = srv.request("POST", "/v1/auth/approle/role/cert-manager", token=srv.root_token,
                    json={"token_policies": "pki-sign", "token_ttl": "20m"})
    assert r.status_code == 204, r.text
    srv.role_id = srv.request("GET", "/v1/auth/approle/role/cert-manager/role-id",
                              token=srv.root_token).json()["data"]["role_id"]
    srv.secret_id = srv.request("POST", "/v1/auth/approle/role/cert-manager/secret-id",
                                token=srv.root_token).json()["data"]["secret_id"]
    srv.root_pem, srv.int_pem = root["certificate"], inter["certificate"]
    return srv


def go_client(srv, method, path, token=None, body=None):
    """A request as hashicorp/vault/api's client sends it."""
    headers = {"X-Vault-Request": "true"}
    if token:
        headers["X-Vault-Token"] = token
    return srv.request(method, path, headers=headers, data=json.dumps(body) if body is not None else None)


def approle_login(srv):
    """requestTokenWithAppRoleRef: role_id and secret_id, trimmed strings."""
    r = go_client(srv, "POST", "/v1/auth/approle/login", body={"role_id": srv.role_id.strip(),
                                                                "secret_id": srv.secret_id.strip()})
    assert r.status_code == 200, r.text
    token = r.json()["auth"]["client_token"]  # vault.Secret.TokenID()
    assert token
    return token


def cm_csr(common_name, dns=(), ips=(), uris=(), key=None, org=("cert-manager",)):
    """A CSR as cert-manager's pki.GenerateCSR makes it: subject CN and O,
    the SANs, key usages requested as an extension, SHA-256."""
    key = key or rsa.generate_private_key(65537, 2048)
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in org]
    if common_name:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    names += [x509.UniformResourceIdentifier(u) for u in uris]
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    b = b.add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                      crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), key


def cm_sign(srv, token, csr_pem, duration="2160h0m0s", path="pki_int/sign/cert-manager"):
    """Vault.Sign: the parameters map, exactly."""
    csr = x509.load_pem_x509_csr(csr_pem)
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = x509.SubjectAlternativeName([])
    cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    parameters = {
        "common_name": cn[0].value if cn else "",
        "alt_names": ",".join(san.get_values_for_type(x509.DNSName)),
        "ip_sans": ",".join(str(i) for i in san.get_values_for_type(x509.IPAddress)),
        "uri_sans": ",".join(san.get_values_for_type(x509.UniformResourceIdentifier)),
        "ttl": duration,
        "csr": csr_pem.decode(),
        "exclude_cn_from_sans": "true",
    }
    return go_client(srv, "POST", "/v1/" + path, token=token, body=parameters)


def parse_pki_map(data):
    """certutil.ParsePKIMap + ToCertBundle + cert-manager's split: the
    certificate PEM bundle (leaf then chain) and the CA PEM (the chain
    joined), and the root of the chain as its newer versions store it."""
    leaf = cert_of(data["certificate"])
    chain = [cert_of(p) for p in data.get("ca_chain") or []]
    if not chain and data.get("issuing_ca"):
        chain = [cert_of(data["issuing_ca"])]
    assert cert_of(data["issuing_ca"]) == chain[0]
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()
    bundle = pem(leaf) + "".join(pem(c) for c in chain)
    ca_pem = "\n".join(pem(c) for c in chain)
    # the chain must be ordered: each certificate issued by the next
    seq = [leaf] + chain
    for child, parent in zip(seq, seq[1:]):
        assert child.issuer == parent.subject
    root = seq[-1]
    assert root.issuer == root.subject
    return leaf, bundle, ca_pem, pem(root)


def openssl_verify_bundle(tmp_path, root_pem, bundle):
    (tmp_path / "ca.pem").write_text(root_pem)
    (tmp_path / "bundle.pem").write_text(bundle)
    leaf_end = bundle.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")
    (tmp_path / "leaf.pem").write_text(bundle[:leaf_end])
    (tmp_path / "chain.pem").write_text(bundle[leaf_end:])
    p = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), "-untrusted",
                        str(tmp_path / "chain.pem"), "-purpose", "sslserver", str(tmp_path / "leaf.pem")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_cert_manager_approle_sign(chain, tmp_path):
    token = approle_login(chain)
    csr, key = cm_csr("web.example.com", dns=["web.example.com", "www.example.com"], ips=["10.0.0.7"],
                      uris=["spiffe://cluster.local/ns/default/sa/web"])
    r = cm_sign(chain, token, csr)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert [cert_of(p).subject.rfc4514_string() for p in d["ca_chain"]] == ["CN=CM Int", "CN=CM Root"], d["ca_chain"]
    leaf, bundle, ca_pem, root_pem = parse_pki_map(d)
    openssl_verify_bundle(tmp_path, root_pem, bundle)
    assert cert_of(root_pem) == cert_of(chain.root_pem)
    assert cert_of(ca_pem.split("\n-----BEGIN")[0]) == cert_of(chain.int_pem)
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["web.example.com", "www.example.com"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://cluster.local/ns/default/sa/web"]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "web.example.com"
    # "2160h0m0s" is the role's max_ttl: 90 days (and 30 s of backdating)
    life = (leaf.not_valid_after - leaf.not_valid_before).total_seconds()
    assert abs(life - (2160 * 3600 + 30)) <= 5


def test_cert_manager_no_common_name_ec_key_and_short_ttl(chain, tmp_path):
    token = approle_login(chain)
    csr, key = cm_csr("", dns=["api.example.com"], key=ec.generate_private_key(ec.SECP256R1()))
    # as in Vault, a certificate without a CN needs require_cn=false
    r = cm_sign(chain, token, csr, duration="1h0m0s")
    assert r.status_code == 400 and "common_name" in r.json()["errors"][0]
    r = chain.request("PATCH", "/v1/pki_int/roles/cert-manager", token=chain.root_token,
                      headers={"Content-Type": "application/merge-patch+json"}, data=json.dumps({"require_cn": False}))
    assert r.status_code in (200, 204), r.text
    r = cm_sign(chain, token, csr, duration="1h0m0s")
    assert r.status_code == 200, r.text
    leaf, bundle, _, root_pem = parse_pki_map(r.json()["data"])
    openssl_verify_bundle(tmp_path, root_pem, bundle)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.example.com"]
    assert abs((leaf.not_valid_after - leaf.not_valid_before).total_seconds() - 3630) <= 5


def test_cert_manager_static_token_and_a_refused_name(chain):
    r = chain.request("POST", "/v1/auth/token/create", token=chain.root_token,
                      json={"policies": ["pki-sign"], "no_default_policy": True})
    token = r.json()["auth"]["client_token"]
    csr, _ = cm_csr("web.evil.test", dns=["web.evil.test"])
    r = cm_sign(chain, token, csr)
    assert r.status_code == 400 and "web.evil.test" in r.json()["errors"][0]
    csr, _ = cm_csr("ok.example.com", dns=["ok.example.com"])
    assert cm_sign(chain, token, csr).status_code == 200


@pytest.mark.parametrize("method,path,body", [
    ("POST", "pki_int/issue/cert-manager", {"common_name": "a.example.com"}),
    ("POST", "pki_int/sign/other", {"csr": "x"}),
    ("POST", "pki/sign/cert-manager", {"csr": "x"}),
    ("POST", "pki_int/sign-verbatim", {"csr": "x"}),
    ("POST", "pki_int/sign-verbatim/cert-manager", {"csr": "x"}),
    ("POST", "pki_int/issuer/default/sign/cert-manager", {"csr": "x"}),
    ("GET", "pki_int/roles/cert-manager", None),
    ("LIST", "pki_int/roles", None),
    ("POST", "pki_int/roles/cert-manager", {"allow_any_name": True}),
    ("DELETE", "pki_int/roles/cert-manager", None),
    ("POST", "pki_int/roles/mine", {"allow_any_name": True}),
    ("GET", "pki_int/sign/cert-manager", None),
    ("POST", "pki_int/root/generate/internal", {"common_name": "x"}),
    ("POST", "pki_int/intermediate/generate/internal", {"common_name": "x"}),
    ("POST", "pki_int/config/ca", {"pem_bundle": "x"}),
    ("POST", "pki_int/issuer/default", {"leaf_not_after_behavior": "permit"}),
    ("DELETE", "pki_int/issuer/default", None),
    ("POST", "pki_int/config/issuers", {"default": "x"}),
    ("LIST", "pki_int/keys", None),
    ("LIST", "pki_int/certs", None),
    ("DELETE", "pki_int/root", None),
    ("POST", "pki/root/sign-intermediate", {"csr": "x"}),
    ("PUT", "sys/mounts/pki_int/tune", {"max_lease_ttl": "99999h"}),
])
def test_sign_only_token_can_do_nothing_else(chain, method, path, body):
    token = approle_login(chain)
    r = go_client(chain, method, "/v1/" + path, token=token, body=body)
    assert r.status_code == 403, (path, r.status_code, r.text)
    # and the refused request changed nothing: the role is as it was
    role = chain.request("GET", "/v1/pki_int/roles/cert-manager", token=chain.root_token).json()["data"]
    assert role["allow_any_name"] is False and role["allowed_domains"] == ["example.com"]
