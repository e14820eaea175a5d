"""PKI revocation through HTTP: revoke and revoke-with-key, CRLs (read
without a token, DER and PEM, per issuer, rotated, rebuilt in the
background), the OCSP responder (POST from `openssl ocsp`, GET with a
URL-encoded request), config/urls in new certificates, tidy and
auto-tidy, and a restart on LMDB. Every CRL and OCSP answer is checked
with `openssl` or python's `cryptography`, never by trusting the server's
JSON.

Leaf certificates come from root/sign-intermediate (they are stored in
certs/ like any issued certificate), the keys from a second mount's
intermediate/generate/exported."""

import base64
import datetime
import os
import subprocess
import time
import urllib.parse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from trove_harness import assert_error, raw_http, split_response, status_of


def call(srv, method, path, body=None, token=True, status=200):
    r = srv.request(method, f"/v1/{path}", token=srv.root_token if token else None, json=body)
    assert r.status_code == status, (path, r.status_code, r.text)
    if r.headers.get("content-type", "").startswith("application/json") and r.text:
        return r.json().get("data")
    return r


def post(srv, path, body=None, status=200):
    return call(srv, "POST", path, body or {}, status=status)


def setup_ca(srv, path="pki"):
    for p in (path, path + "-keys"):
        r = srv.put(f"/v1/sys/mounts/{p}", token=srv.root_token, json={"type": "pki"})
        assert r.status_code == 204, r.text
    root = post(srv, f"{path}/root/generate/internal", {"common_name": "Revocation Root", "key_type": "ec",
                                                        "ttl": "87600h"})
    return root


def leaf(srv, path="pki", ttl="1h", cn="leaf.example"):
    """A certificate the mount's default issuer signs and stores, with its key."""
    gen = post(srv, f"{path}-keys/intermediate/generate/exported", {"common_name": cn, "key_type": "ec"})
    signed = post(srv, f"{path}/root/sign-intermediate", {"csr": gen["csr"], "common_name": cn, "ttl": ttl})
    return signed["certificate"], signed["serial_number"], gen["private_key"]


def pem_cert(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def crl_der(srv, path="pki/crl"):
    r = srv.get(f"/v1/{path}")  # no token: CRLs are public
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pkix-crl"
    return x509.load_der_x509_crl(r.content)


def crl_number(crl):
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def serial_int(text):
    return int(text.replace(":", "").replace("-", ""), 16)


def check_signed(crl, root_pem):
    assert crl.is_signature_valid(pem_cert(root_pem).public_key())
    assert crl.issuer == pem_cert(root_pem).subject


def test_revoke_puts_the_serial_on_every_crl_form(dev_server, tmp_path):
    srv = dev_server
    root = setup_ca(srv)
    pem, serial, _ = leaf(srv)
    before = crl_der(srv)
    check_signed(before, root["certificate"])
    assert before.get_revoked_certificate_by_serial_number(serial_int(serial)) is None

    rev = post(srv, "pki/revoke", {"serial_number": serial})
    assert rev["revocation_time"] > 0 and rev["revocation_time_rfc3339"].endswith("Z")
    # twice: the first revocation is the answer
    again = post(srv, "pki/revoke", {"serial_number": serial.replace(":", "-").upper()})
    assert again["revocation_time"] == rev["revocation_time"]

    crl = crl_der(srv)
    check_signed(crl, root["certificate"])
    entry = crl.get_revoked_certificate_by_serial_number(serial_int(serial))
    assert entry is not None
    assert int(entry.revocation_date.replace(tzinfo=datetime.timezone.utc).timestamp()) == rev["revocation_time"]
    assert crl_number(crl) > crl_number(before)
    assert crl.next_update - crl.last_update == datetime.timedelta(hours=72)

    # PEM forms and the per-issuer paths hold the same CRL
    r = srv.get("/v1/pki/crl/pem")
    assert r.status_code == 200 and r.text.startswith("-----BEGIN X509 CRL-----")
    assert x509.load_pem_x509_crl(r.content).public_bytes(serialization.Encoding.DER) == \
        crl.public_bytes(serialization.Encoding.DER)
    for p in ("pki/issuer/default/crl/der",):
        assert crl_der(srv, p).public_bytes(serialization.Encoding.DER) == crl.public_bytes(serialization.Encoding.DER)
    j = call(srv, "GET", "pki/cert/crl", token=False)
    assert x509.load_pem_x509_crl(j["certificate"].encode()).get_revoked_certificate_by_serial_number(serial_int(serial))
    j = call(srv, "GET", "pki/issuer/default/crl", token=False)
    assert x509.load_pem_x509_crl(j["crl"].encode()).get_revoked_certificate_by_serial_number(serial_int(serial))
    r = srv.get("/v1/pki/issuer/default/crl/pem")
    assert r.status_code == 200 and x509.load_pem_x509_crl(r.content)

    # openssl checks the signature against the root independently
    (tmp_path / "root.pem").write_text(root["certificate"] + "\n")
    (tmp_path / "crl.pem").write_bytes(srv.get("/v1/pki/crl/pem").content)
    p = subprocess.run(["openssl", "crl", "-in", str(tmp_path / "crl.pem"), "-CAfile", str(tmp_path / "root.pem"),
                        "-verify", "-noout", "-text"], capture_output=True, text=True)
    assert p.returncode == 0 and "verify OK" in (p.stdout + p.stderr), p.stdout + p.stderr
    assert serial.replace(":", "").upper() in p.stdout.replace(":", "").upper()

    # the store and its listing say so too
    shown = call(srv, "GET", f"pki/cert/{serial}", token=False)
    assert shown["revocation_time"] == rev["revocation_time"]
    assert shown["revocation_time_rfc3339"] == rev["revocation_time_rfc3339"]
    assert serial.replace(":", "-") in call(srv, "LIST", "pki/certs/revoked")["keys"]


def test_crl_rotate_numbers_strictly_increase_and_expiry_is_next_update(dev_server):
    srv = dev_server
    setup_ca(srv)
    seen = [crl_number(crl_der(srv))]
    for _ in range(3):
        assert call(srv, "GET", "pki/crl/rotate")["success"] is True
        seen.append(crl_number(crl_der(srv)))
    assert all(b > a for a, b in zip(seen, seen[1:])), seen
    post(srv, "pki/config/crl", {"expiry": "1h"})
    crl = crl_der(srv)
    assert crl.next_update - crl.last_update == datetime.timedelta(hours=1)
    assert call(srv, "GET", "pki/config/crl")["expiry"] == "1h"


def test_a_delta_crl_not_built_reads_as_empty(dev_server):
    """With deltas disabled there is no delta CRL: Vault answers an empty
    PEM in JSON and 204 for the raw forms, never an error."""
    srv = dev_server
    setup_ca(srv, "pki-nodelta")
    assert call(srv, "GET", "pki-nodelta/issuer/default/crl/delta", token=False)["crl"] == ""
    for form in ("der", "pem"):
        r = call(srv, "GET", f"pki-nodelta/issuer/default/crl/delta/{form}", token=False, status=204)
        assert r.content == b""
    assert call(srv, "GET", "pki-nodelta/issuer/default/crl", token=False)["crl"].startswith("-----BEGIN X509 CRL")


def test_revoke_refusals(dev_server):
    srv = dev_server
    root = setup_ca(srv)
    pem, serial, _ = leaf(srv)
    # no token
    r = srv.request("POST", "/v1/pki/revoke", json={"serial_number": serial})
    assert r.status_code == 403, r.text
    # malformed serials name the field
    for bad in ("zz:11", "1", "12:34:5g", "::"):
        r = srv.request("POST", "/v1/pki/revoke", token=srv.root_token, json={"serial_number": bad})
        assert_error(r, 400, "serial_number")
    # unknown serial, both fields, neither
    r = srv.request("POST", "/v1/pki/revoke", token=srv.root_token, json={"serial_number": "01:02:03"})
    assert_error(r, 400, "not found")
    r = srv.request("POST", "/v1/pki/revoke", token=srv.root_token, json={"serial_number": serial, "certificate": pem})
    assert_error(r, 400, "not both")
    r = srv.request("POST", "/v1/pki/revoke", token=srv.root_token, json={})
    assert_error(r, 400, "must be provided")
    # the issuer's own certificate
    r = srv.request("POST", "/v1/pki/revoke", token=srv.root_token,
                    json={"serial_number": root["serial_number"]})
    assert_error(r, 400, "its own CRL")
    # a certificate from elsewhere
    other = srv.put("/v1/sys/mounts/other", token=srv.root_token, json={"type": "pki"})
    assert other.status_code == 204
    foreign = post(srv, "other/root/generate/internal", {"common_name": "Other", "key_type": "ec"})
    r = srv.request("POST", "/v1/pki/revoke", token=srv.root_token, json={"certificate": foreign["certificate"]})
    assert_error(r, 400, "certificate")
    # nothing was revoked by any of these
    assert crl_der(srv).get_revoked_certificate_by_serial_number(serial_int(serial)) is None


def test_revoke_by_certificate_and_with_key(dev_server):
    srv = dev_server
    setup_ca(srv)
    pem, serial, key = leaf(srv)
    _, _, wrong = leaf(srv, cn="other.example")
    r = srv.request("POST", "/v1/pki/revoke-with-key", token=srv.root_token,
                    json={"serial_number": serial, "private_key": wrong})
    assert_error(r, 400, "private_key")
    r = srv.request("POST", "/v1/pki/revoke-with-key", token=srv.root_token,
                    json={"serial_number": serial, "private_key": "not a key"})
    assert_error(r, 400, "private_key")
    assert crl_der(srv).get_revoked_certificate_by_serial_number(serial_int(serial)) is None
    rev = post(srv, "pki/revoke-with-key", {"certificate": pem, "private_key": key})
    assert rev["revocation_time"] > 0
    assert crl_der(srv).get_revoked_certificate_by_serial_number(serial_int(serial)) is not None
    # by PEM
    pem2, serial2, _ = leaf(srv, cn="two.example")
    post(srv, "pki/revoke", {"certificate": pem2})
    assert crl_der(srv).get_revoked_certificate_by_serial_number(serial_int(serial2)) is not None


def test_revoking_an_expired_certificate_is_a_warning(dev_server):
    srv = dev_server
    setup_ca(srv)
    _, serial, _ = leaf(srv, ttl="2s")
    time.sleep(2.5)
    r = srv.request("POST", "/v1/pki/revoke", token=srv.root_token, json={"serial_number": serial})
    assert r.status_code == 200, r.text
    assert any("already expired" in w for w in r.json()["warnings"])
    assert crl_der(srv).get_revoked_certificate_by_serial_number(serial_int(serial)) is None


def openssl_ocsp(srv, tmp_path, root_pem, leaf_pem, nonce=True):
    (tmp_path / "root.pem").write_text(root_pem + "\n")
    (tmp_path / "leaf.pem").write_text(leaf_pem + "\n")
    args = ["openssl", "ocsp", "-issuer", str(tmp_path / "root.pem"), "-cert", str(tmp_path / "leaf.pem"),
            "-url", srv.url + "/v1/pki/ocsp", "-CAfile", str(tmp_path / "root.pem"),
            "-VAfile", str(tmp_path / "root.pem"), "-resp_text"]
    if not nonce:
        args.append("-no_nonce")
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Response verify OK" in p.stdout + p.stderr, p.stdout + p.stderr
    return p.stdout + p.stderr


def test_ocsp_post_with_openssl_good_then_revoked(dev_server, tmp_path):
    srv = dev_server
    root = setup_ca(srv)
    pem, serial, _ = leaf(srv)
    out = openssl_ocsp(srv, tmp_path, root["certificate"], pem)
    assert "leaf.pem: good" in out, out
    assert "nonce" not in out.lower().replace("ocsp nonce:", "") or "WARNING" not in out, out
    assert "WARNING: no nonce" not in out, out
    post(srv, "pki/revoke", {"serial_number": serial})
    out = openssl_ocsp(srv, tmp_path, root["certificate"], pem, nonce=False)
    assert "leaf.pem: revoked" in out, out


def ocsp_request_der(cert_pem, issuer_pem, nonce=None):
    """A request with a nonce (random unless given)."""
    b = ocsp.OCSPRequestBuilder().add_certificate(pem_cert(cert_pem), pem_cert(issuer_pem), hashes.SHA1())
    b = b.add_extension(x509.OCSPNonce(nonce or os.urandom(16)), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


def ocsp_get(srv, cert_pem, issuer_pem):
    der = ocsp_request_der(cert_pem, issuer_pem)
    tail = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    r = srv.get("/v1/pki/ocsp/" + tail)
    assert r.status_code == 200, r.content
    assert r.headers["content-type"] == "application/ocsp-response"
    resp = ocsp.load_der_ocsp_response(r.content)
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    pub = pem_cert(issuer_pem).public_key()
    pub.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
    assert resp.serial_number == pem_cert(cert_pem).serial_number
    return resp


def test_ocsp_get_url_encoded(dev_server):
    srv = dev_server
    root = setup_ca(srv)
    pem, serial, _ = leaf(srv)
    assert ocsp_get(srv, pem, root["certificate"]).certificate_status == ocsp.OCSPCertStatus.GOOD
    rev = post(srv, "pki/revoke", {"serial_number": serial})
    resp = ocsp_get(srv, pem, root["certificate"])
    assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert int(resp.revocation_time.replace(tzinfo=datetime.timezone.utc).timestamp()) == rev["revocation_time"]
    # a serial the mount never issued
    other = srv.put("/v1/sys/mounts/other", token=srv.root_token, json={"type": "pki"})
    assert other.status_code == 204
    # garbage is malformedRequest
    r = srv.get("/v1/pki/ocsp/" + urllib.parse.quote(base64.b64encode(b"nonsense").decode(), safe=""))
    assert r.status_code == 400
    assert ocsp.load_der_ocsp_response(r.content).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_disable_answers_unauthorized(dev_server):
    srv = dev_server
    root = setup_ca(srv)
    pem, _, _ = leaf(srv)
    post(srv, "pki/config/crl", {"ocsp_disable": True})
    der = ocsp_request_der(pem, root["certificate"])
    r = srv.request("POST", "/v1/pki/ocsp", data=der, headers={"Content-Type": "application/ocsp-request"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/ocsp-response"
    assert ocsp.load_der_ocsp_response(r.content).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_config_crl_fields(dev_server):
    srv = dev_server
    setup_ca(srv)
    cfg = call(srv, "GET", "pki/config/crl")
    assert cfg["expiry"] == "72h" and cfg["ocsp_expiry"] == "12h" and cfg["disable"] is False
    assert cfg["auto_rebuild"] is False and cfg["enable_delta"] is False
    assert cfg["delta_rebuild_interval"] == "15m" and cfg["auto_rebuild_grace_period"] == "12h"
    for field in ("cross_cluster_revocation", "unified_crl", "unified_crl_on_existing_paths"):
        r = srv.request("POST", "/v1/pki/config/crl", token=srv.root_token, json={field: True})
        assert_error(r, 400, field)
    r = srv.request("POST", "/v1/pki/config/crl", token=srv.root_token, json={"expiry": "soon"})
    assert_error(r, 400, "expiry")
    r = srv.request("POST", "/v1/pki/config/crl", token=srv.root_token, json={"enable_delta": True})
    assert_error(r, 400, "enable_delta")
    assert call(srv, "GET", "pki/config/crl") == cfg  # nothing changed
    # disable: the CRL is rebuilt empty
    _, serial, _ = leaf(srv)
    post(srv, "pki/revoke", {"serial_number": serial})
    post(srv, "pki/config/crl", {"disable": True})
    assert len(list(crl_der(srv))) == 0
    post(srv, "pki/config/crl", {"disable": False})
    assert crl_der(srv).get_revoked_certificate_by_serial_number(serial_int(serial)) is not None


def test_auto_rebuild_and_delta_crls_in_the_background(dev_server):
    srv = dev_server
    root = setup_ca(srv)
    post(srv, "pki/config/crl", {"auto_rebuild": True, "enable_delta": True, "delta_rebuild_interval": "1s",
                                 "expiry": "20s", "auto_rebuild_grace_period": "15s"})
    full = crl_der(srv)
    delta = crl_der(srv, "pki/crl/delta")
    check_signed(delta, root["certificate"])
    ind = delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value.crl_number
    assert ind == crl_number(full)
    _, serial, _ = leaf(srv)
    post(srv, "pki/revoke", {"serial_number": serial})
    # the revocation did not rebuild the full CRL on the request path
    assert crl_der(srv).public_bytes(serialization.Encoding.DER) == full.public_bytes(serialization.Encoding.DER)
    # the delta CRL picks it up in the background, then the full CRL is
    # rebuilt inside its grace period
    deadline = time.monotonic() + 30
    got_delta = got_full = False
    while time.monotonic() < deadline and not (got_delta and got_full):
        d = crl_der(srv, "pki/crl/delta")
        got_delta = got_delta or d.get_revoked_certificate_by_serial_number(serial_int(serial)) is not None
        f = crl_der(srv)
        got_full = got_full or (crl_number(f) > crl_number(full) and
                                f.get_revoked_certificate_by_serial_number(serial_int(serial)) is not None)
        time.sleep(0.5)
    assert got_delta and got_full
    r = srv.get("/v1/pki/crl/delta/pem")
    assert r.status_code == 200 and r.text.startswith("-----BEGIN X509 CRL-----")
    assert call(srv, "GET", "pki/crl/rotate-delta")["success"] is True


def test_config_urls_in_new_certificates(dev_server):
    srv = dev_server
    setup_ca(srv)
    post(srv, "pki/config/urls", {"issuing_certificates": ["http://ca.example/v1/pki/ca"],
                                  "crl_distribution_points": "http://ca.example/v1/pki/crl",
                                  "ocsp_servers": ["http://ca.example/v1/pki/ocsp"]})
    urls = call(srv, "GET", "pki/config/urls")
    assert urls["crl_distribution_points"] == ["http://ca.example/v1/pki/crl"]
    pem, _, _ = leaf(srv)
    c = pem_cert(pem)
    aia = c.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    got = {(d.access_method, d.access_location.value) for d in aia}
    assert (AuthorityInformationAccessOID.CA_ISSUERS, "http://ca.example/v1/pki/ca") in got
    assert (AuthorityInformationAccessOID.OCSP, "http://ca.example/v1/pki/ocsp") in got
    cdp = c.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for d in cdp for n in d.full_name] == ["http://ca.example/v1/pki/crl"]

    # templates: refused until config/cluster has the value they name
    post(srv, "pki/config/urls", {"enable_templating": True,
                                  "crl_distribution_points": ["{{cluster_aia_path}}/issuer/{{issuer_id}}/crl/der"],
                                  "issuing_certificates": [], "ocsp_servers": []})
    gen = post(srv, "pki-keys/intermediate/generate/exported", {"common_name": "t", "key_type": "ec"})
    r = srv.request("POST", "/v1/pki/root/sign-intermediate", token=srv.root_token,
                    json={"csr": gen["csr"], "common_name": "t"})
    assert_error(r, 400, "cluster_aia_path")
    post(srv, "pki/config/cluster", {"path": "https://trove.example/v1/pki", "aia_path": "http://trove.example/v1/pki"})
    assert call(srv, "GET", "pki/config/cluster")["aia_path"] == "http://trove.example/v1/pki"
    issuer_id = call(srv, "GET", "pki/issuer/default")["issuer_id"]
    pem, _, _ = leaf(srv)
    cdp = pem_cert(pem).extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for d in cdp for n in d.full_name] == [f"http://trove.example/v1/pki/issuer/{issuer_id}/crl/der"]
    # bad URLs name their field
    r = srv.request("POST", "/v1/pki/config/urls", token=srv.root_token, json={"ocsp_servers": ["a,b"]})
    assert_error(r, 400, "ocsp_servers")
    r = srv.request("POST", "/v1/pki/config/urls", token=srv.root_token,
                    json={"enable_templating": False, "issuing_certificates": ["http://x/{{issuer_id}}"]})
    assert_error(r, 400, "issuing_certificates")


def wait_tidy(srv, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = call(srv, "GET", "pki/tidy-status")
        if st["state"] not in ("Running", "Cancelling"):
            return st
        time.sleep(0.2)
    raise AssertionError("tidy did not finish")


def test_tidy_removes_expired_certificates_after_safety_buffer(dev_server):
    srv = dev_server
    setup_ca(srv)
    assert call(srv, "GET", "pki/tidy-status")["state"] == "Inactive"
    _, short, _ = leaf(srv, ttl="2s")
    _, revoked_short, _ = leaf(srv, ttl="3s")
    _, kept, _ = leaf(srv, ttl="1h")
    post(srv, "pki/revoke", {"serial_number": revoked_short})
    r = srv.request("POST", "/v1/pki/tidy", token=srv.root_token, json={})
    assert_error(r, 400, "at least one")
    time.sleep(5.5)  # notAfter and the server's clock are in whole seconds
    r = srv.request("POST", "/v1/pki/tidy", token=srv.root_token,
                    json={"tidy_cert_store": True, "tidy_revoked_certs": True, "safety_buffer": "1s"})
    assert r.status_code == 202, r.text
    st = wait_tidy(srv)
    assert st["state"] == "Finished", st
    assert st["cert_store_deleted_count"] >= 1 and st["revoked_cert_deleted_count"] == 1, st
    assert st["safety_buffer"] == 1 and st["tidy_cert_store"] is True
    assert st["time_started"] and st["time_finished"]
    keys = call(srv, "LIST", "pki/certs")["keys"]
    assert short.replace(":", "-") not in keys and revoked_short.replace(":", "-") not in keys
    assert kept.replace(":", "-") in keys
    assert srv.get(f"/v1/pki/cert/{short}").status_code == 404
    # the expired revoked entry left the CRL too
    assert crl_der(srv).get_revoked_certificate_by_serial_number(serial_int(revoked_short)) is None
    r = srv.request("POST", "/v1/pki/tidy-cancel", token=srv.root_token, json={})
    assert_error(r, 400, "running")


def test_auto_tidy_runs_periodically(dev_server):
    srv = dev_server
    setup_ca(srv)
    r = srv.request("POST", "/v1/pki/config/auto-tidy", token=srv.root_token, json={"enabled": True})
    assert_error(r, 400, "tidy operation")
    cfg = post(srv, "pki/config/auto-tidy", {"enabled": True, "interval_duration": "1s", "tidy_cert_store": True,
                                             "safety_buffer": "1s"})
    assert cfg["enabled"] is True and cfg["interval_duration"] == 1 and cfg["safety_buffer"] == 1
    _, short, _ = leaf(srv, ttl="2s")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        keys = (call(srv, "LIST", "pki/certs", status=None) or {}).get("keys", []) if False else \
            srv.request("LIST", "/v1/pki/certs", token=srv.root_token).json().get("data", {}).get("keys", [])
        if short.replace(":", "-") not in keys:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("auto-tidy never removed the expired certificate")
    st = call(srv, "GET", "pki/tidy-status")
    assert st["last_auto_tidy_finished"]
    assert call(srv, "GET", "pki/config/auto-tidy")["enabled"] is True


def test_issuer_revoke_stops_issuing_keeps_crl(dev_server):
    srv = dev_server
    root = setup_ca(srv)
    _, serial, _ = leaf(srv)
    post(srv, "pki/revoke", {"serial_number": serial})
    out = post(srv, "pki/issuer/default/revoke")
    assert out["revoked"] is True and out["revocation_time"] > 0
    assert "issuing-certificates" not in out["usage"]
    shown = call(srv, "GET", "pki/issuer/default")
    assert shown["revoked"] is True and shown["revocation_time"] == out["revocation_time"]
    assert shown["revocation_time_rfc3339"].endswith("Z")
    # a revoked issuer never gets its issuing usage back (Vault refuses too)
    r = srv.request("POST", "/v1/pki/issuer/default", token=srv.root_token,
                    json={"usage": "read-only,issuing-certificates,crl-signing"})
    assert_error(r, 400, "usage")
    assert "issuing-certificates" not in call(srv, "GET", "pki/issuer/default")["usage"]
    gen = post(srv, "pki-keys/intermediate/generate/exported", {"common_name": "late", "key_type": "ec"})
    r = srv.request("POST", "/v1/pki/root/sign-intermediate", token=srv.root_token,
                    json={"csr": gen["csr"], "common_name": "late"})
    assert_error(r, 400, "may not issue")
    call(srv, "GET", "pki/crl/rotate")
    crl = crl_der(srv)
    check_signed(crl, root["certificate"])
    assert crl.get_revoked_certificate_by_serial_number(serial_int(serial)) is not None


def test_restart_on_lmdb_keeps_revocations_and_the_crl(unsealed_server):
    srv = unsealed_server
    setup_ca(srv)
    _, serial, _ = leaf(srv)
    post(srv, "pki/revoke", {"serial_number": serial})
    before = crl_der(srv)
    srv.proc.restart()
    srv.unseal()
    after = crl_der(srv)
    assert after.public_bytes(serialization.Encoding.DER) == before.public_bytes(serialization.Encoding.DER)
    assert serial.replace(":", "-") in call(srv, "LIST", "pki/certs/revoked")["keys"]
    call(srv, "GET", "pki/crl/rotate")
    rotated = crl_der(srv)
    assert crl_number(rotated) > crl_number(before)
    assert rotated.get_revoked_certificate_by_serial_number(serial_int(serial)) is not None


def test_hvac_revocation_calls_unchanged(dev_server):
    srv = dev_server
    root = setup_ca(srv)
    _, serial, _ = leaf(srv)
    pki = srv.client(srv.root_token).secrets.pki
    pki.set_urls({"issuing_certificates": ["http://ca.example/v1/pki/ca"],
                  "crl_distribution_points": ["http://ca.example/v1/pki/crl"]})
    assert pki.read_urls()["data"]["issuing_certificates"] == ["http://ca.example/v1/pki/ca"]
    pki.set_crl_configuration(expiry="48h", disable=False)
    assert pki.read_crl_configuration()["data"]["expiry"] == "48h"
    rev = pki.revoke_certificate(serial_number=serial)
    assert rev["data"]["revocation_time"] > 0
    assert pki.rotate_crl()["data"]["success"] is True
    crl = x509.load_pem_x509_crl(pki.read_crl().encode())
    check_signed(crl, root["certificate"])
    assert crl.get_revoked_certificate_by_serial_number(serial_int(serial)) is not None
    assert crl.next_update - crl.last_update == datetime.timedelta(hours=48)
    r = pki.tidy(extra_params={"tidy_cert_store": True})
    assert r.status_code == 202
    assert wait_tidy(srv)["state"] == "Finished"


def test_tidy_expired_issuers_keeps_the_default(dev_server):
    srv = dev_server
    root = setup_ca(srv)
    short = post(srv, "pki/root/generate/internal", {"common_name": "Short Root", "key_type": "ec", "ttl": "2s",
                                                     "issuer_name": "short"})
    assert short["issuer_id"] in call(srv, "LIST", "pki/issuers")["keys"]
    time.sleep(4.5)
    r = srv.request("POST", "/v1/pki/tidy", token=srv.root_token,
                    json={"tidy_expired_issuers": True, "issuer_safety_buffer": "1s"})
    assert r.status_code == 202, r.text
    assert wait_tidy(srv)["state"] == "Finished"
    keys = call(srv, "LIST", "pki/issuers")["keys"]
    assert short["issuer_id"] not in keys and root["issuer_id"] in keys
    check_signed(crl_der(srv), root["certificate"])


def test_tidy_cancel_stops_a_running_tidy(dev_server):
    srv = dev_server
    setup_ca(srv)
    for i in range(3):
        leaf(srv, cn=f"c{i}.example")
    r = srv.request("POST", "/v1/pki/tidy", token=srv.root_token,
                    json={"tidy_cert_store": True, "pause_duration": "1s"})
    assert r.status_code == 202, r.text
    r = srv.request("POST", "/v1/pki/tidy", token=srv.root_token, json={"tidy_cert_store": True})
    assert r.status_code == 202 and any("already in progress" in w for w in r.json()["warnings"])
    time.sleep(0.3)
    st = post(srv, "pki/tidy-cancel")
    assert st["state"] == "Cancelling"
    st = wait_tidy(srv)
    assert st["state"] == "Cancelled", st
    assert st["current_cert_store_count"] < 4


def test_revoked_issuers_as_vault_answers(dev_server):
    """A revoked intermediate signed in the mount is on its parent's CRL
    and revoked over OCSP asked of the parent, and still answers for its
    own certificates. A revoked root (stored when made, as Vault stores
    it) answers revoked for its own serial over OCSP, signed by itself,
    and in cert/:serial, but is never on its own CRL; cert/ca keeps
    revocation_time 0, as Vault's does."""
    srv = dev_server
    root = setup_ca(srv)
    root_id = call(srv, "GET", "pki/issuer/default")["issuer_id"]
    csr = post(srv, "pki/intermediate/generate/internal", {"common_name": "Inter", "key_type": "ec"})["csr"]
    inter = post(srv, "pki/root/sign-intermediate", {"csr": csr, "common_name": "Inter", "ttl": "8h"})
    inter_id = post(srv, "pki/intermediate/set-signed", {"certificate": inter["certificate"]})["imported_issuers"][0]
    # a certificate the intermediate signs (a CA certificate: sign-intermediate needs no role)
    gen = post(srv, "pki-keys/intermediate/generate/exported", {"common_name": "under", "key_type": "ec"})
    under = post(srv, f"pki/issuer/{inter_id}/sign-intermediate", {"csr": gen["csr"], "common_name": "under",
                                                                   "ttl": "1h"})["certificate"]
    assert ocsp_get(srv, inter["certificate"], root["certificate"]).certificate_status == ocsp.OCSPCertStatus.GOOD

    out = post(srv, f"pki/issuer/{inter_id}/revoke")
    assert out["revoked"] is True and out["revocation_time"] > 0 and out["revocation_time_rfc3339"]
    resp = ocsp_get(srv, inter["certificate"], root["certificate"])
    assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert int(resp.revocation_time.replace(tzinfo=datetime.timezone.utc).timestamp()) == out["revocation_time"]
    root_crl = crl_der(srv, f"pki/issuer/{root_id}/crl/der")
    check_signed(root_crl, root["certificate"])
    assert root_crl.get_revoked_certificate_by_serial_number(serial_int(inter["serial_number"])) is not None
    inter_crl = crl_der(srv, f"pki/issuer/{inter_id}/crl/der")
    check_signed(inter_crl, inter["certificate"])
    assert inter_crl.get_revoked_certificate_by_serial_number(serial_int(inter["serial_number"])) is None
    assert ocsp_get(srv, under, inter["certificate"]).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert call(srv, "GET", f"pki/cert/{inter['serial_number']}")["revocation_time"] == out["revocation_time"]

    out = post(srv, f"pki/issuer/{root_id}/revoke")
    assert out["revoked"] is True and out["revocation_time"] > 0
    resp = ocsp_get(srv, root["certificate"], root["certificate"])
    assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
    shown = call(srv, "GET", f"pki/cert/{root['serial_number']}")
    assert shown["revocation_time"] == out["revocation_time"] and shown["revocation_time_rfc3339"]
    root_crl = crl_der(srv, f"pki/issuer/{root_id}/crl/der")
    check_signed(root_crl, root["certificate"])
    assert root_crl.get_revoked_certificate_by_serial_number(serial_int(root["serial_number"])) is None
    assert root_crl.get_revoked_certificate_by_serial_number(serial_int(inter["serial_number"])) is not None
    ca = call(srv, "GET", "pki/cert/ca")
    assert pem_cert(ca["certificate"]) == pem_cert(root["certificate"]) and ca["revocation_time"] == 0
    # revoking again answers the first revocation
    again = post(srv, f"pki/issuer/{root_id}/revoke")
    assert again["revocation_time"] == out["revocation_time"]


def raw_get(srv, path):
    """GET /v1/<path> byte for byte (client libraries may clean paths)."""
    host, port = srv.host_port
    raw, _ = raw_http(host, port, f"GET /v1/{path} HTTP/1.1\r\nHost: {host}\r\nX-Vault-Token: "
                      f"{srv.root_token}\r\nConnection: close\r\n\r\n".encode())
    head, body = split_response(raw)
    return status_of(raw), head, body


def test_ocsp_get_whose_base64_holds_a_double_slash(dev_server):
    """RFC 5019 GETs put standard base64 in the path, which may hold "//":
    the OCSP route takes its tail as data, plain or percent-encoded, and
    answers (checked with cryptography); "//" anywhere else, before the
    tail or on any other route, is still refused 400 before any token or
    ACL decision."""
    srv = dev_server
    root = setup_ca(srv)
    pem, serial, _ = leaf(srv)
    # 48 one-bits in the nonce: "////" in the base64 at any alignment
    der = ocsp_request_der(pem, root["certificate"], nonce=b"\xff" * 6 + os.urandom(10))
    b64 = base64.b64encode(der).decode()
    assert "//" in b64
    pub = pem_cert(root["certificate"]).public_key()

    def answer(tail):
        status, head, body = raw_get(srv, "pki/ocsp/" + tail)
        assert status == 200, (tail, head, body)
        assert b"application/ocsp-response" in head.lower()
        resp = ocsp.load_der_ocsp_response(body)
        assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        pub.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
        assert resp.serial_number == pem_cert(pem).serial_number
        return resp.certificate_status

    plain = b64.replace("+", "%2B").replace("=", "%3D")  # '/' as sent by most clients
    assert answer(plain) == ocsp.OCSPCertStatus.GOOD
    assert answer(urllib.parse.quote(b64, safe="")) == ocsp.OCSPCertStatus.GOOD
    post(srv, "pki/revoke", {"serial_number": serial})
    assert answer(plain) == ocsp.OCSPCertStatus.REVOKED

    # "//" before the tail, in the mount's part, on other routes: refused
    call(srv, "POST", "secret/data/a/b", {"data": {"v": "1"}})
    for bad in ("pki/ocsp//" + plain, "pki//ocsp/" + plain, "secret/data/a//b", "secret//data/a/b", "sys//mounts",
                "pki/cert//ca", "pki/ocsp/x/%2F/y/../z"):
        status, head, body = raw_get(srv, bad)
        assert status == 400 and b"invalid path" in body, (bad, head, body)
    # and for any other operation on the OCSP route
    host, port = srv.host_port
    raw, _ = raw_http(host, port, f"POST /v1/pki/ocsp/{plain} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n"
                      "Connection: close\r\n\r\n".encode())
    assert status_of(raw) == 400 and b"invalid path" in raw, raw[:300]
