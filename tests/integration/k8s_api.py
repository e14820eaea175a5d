"""A loopback stand-in for the parts of a Kubernetes API server that
Trove's kubernetes auth method calls: TokenReview and namespace reads.

It is a contract test double, not a cluster. What it does for real:
  - serves HTTPS with a certificate from a throwaway CA (made here);
  - issues RS256 service-account JWTs with a real RSA key, in the
    projected form (the "kubernetes.io" claim) or the legacy one;
  - answers POST /apis/authentication.k8s.io/v1/tokenreviews by verifying
    the JWT's signature, issuer and expiry, honouring spec.audiences (the
    token must carry one of them; without any, one of the API server's
    own), and a revoked list (a deleted service account or pod);
  - requires a bearer token allowed to create TokenReviews: the reviewer
    token, or a service account granted system:auth-delegator (a set);
  - answers GET /api/v1/namespaces/<ns> with the namespace's labels, for
    the reviewer token only.
What it does not prove: RBAC beyond that, the real API server's Status
objects in every case, token binding to pods, key rotation. Every call is
recorded (path, bearer, body) so tests can see what Trove sent.
"""

import datetime
import ipaddress
import json
import secrets
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_ca(cn):
    """A throwaway CA: (key, cert)."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _server_cert(ca_key, ca_cert):
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


class ServiceAccount:
    def __init__(self, namespace, name):
        self.namespace = namespace
        self.name = name
        self.uid = str(uuid.uuid4())


class K8sAPI:
    """The stand-in. start() it, stop() it; url, ca_pem, reviewer_jwt."""

    def __init__(self, tmp_path):
        self.ca_key, self.ca_cert = make_ca("k8s-test-ca")
        self.ca_pem = pem(self.ca_cert)
        self.signing_key = _key()
        self._signing_cert_pem = None
        self.issuer = ISSUER
        self.accounts = {}
        self.namespaces = {}
        self.revoked = set()  # uids of deleted service accounts, or token jtis
        self.delegators = set()  # (ns, name) allowed to create TokenReviews
        self.calls = []
        # Keys set here replace those of every TokenReview's status: a
        # misbehaving API server, to show Trove trusts only what it checks.
        self.status_override = {}
        self.lock = threading.Lock()
        reviewer = self.account("kube-system", "trove-reviewer")
        self.reviewer_jwt = self.token(reviewer, aud=[API_AUDIENCE])
        key, cert = _server_cert(self.ca_key, self.ca_cert)
        self.cert_file = tmp_path / "k8s-api.crt"
        self.key_file = tmp_path / "k8s-api.key"
        self.cert_file.write_text(pem(cert))
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.httpd = None

    # --- the cluster's objects ------------------------------------------------

    def account(self, namespace, name):
        sa = ServiceAccount(namespace, name)
        self.accounts[(namespace, name)] = sa
        self.namespaces.setdefault(namespace, {"kubernetes.io/metadata.name": namespace})
        return sa

    def label(self, namespace, **labels):
        self.namespaces.setdefault(namespace, {"kubernetes.io/metadata.name": namespace}).update(labels)

    def token(self, sa, aud=("trove",), ttl=600, key=None, issuer=None, legacy=False, exp=None, nbf=None):
        now = int(time.time())
        if legacy:
            claims = {
                "iss": "kubernetes/serviceaccount",
                "kubernetes.io/serviceaccount/namespace": sa.namespace,
                "kubernetes.io/serviceaccount/secret.name": f"{sa.name}-token-x2k9",
                "kubernetes.io/serviceaccount/service-account.name": sa.name,
                "kubernetes.io/serviceaccount/service-account.uid": sa.uid,
                "sub": f"system:serviceaccount:{sa.namespace}:{sa.name}",
            }
        else:
            claims = {
                "iss": issuer or self.issuer,
                "aud": list(aud),
                "iat": now,
                "nbf": nbf if nbf is not None else now,
                "exp": exp if exp is not None else now + ttl,
                "jti": str(uuid.uuid4()),
                "sub": f"system:serviceaccount:{sa.namespace}:{sa.name}",
                "kubernetes.io": {
                    "namespace": sa.namespace,
                    "serviceaccount": {"name": sa.name, "uid": sa.uid},
                    "pod": {"name": f"{sa.name}-pod", "uid": str(uuid.uuid4())},
                },
            }
        return jwt.encode(claims, key or self.signing_key, algorithm="RS256", headers={"kid": "k1"})

    def public_key_pem(self, key=None):
        """The PEM public key of key (by default the cluster's signing key:
        what a cluster's sa.pub holds, for Trove's pem_keys)."""
        k = key or self.signing_key
        return k.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def signing_cert_pem(self):
        """A certificate from the throwaway CA holding the cluster's signing
        key: pem_keys may name a certificate instead of a bare key. The
        same one at each call."""
        if self._signing_cert_pem:
            return self._signing_cert_pem
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "service-account-signer")]))
            .issuer_name(self.ca_cert.subject)
            .public_key(self.signing_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.ca_key, hashes.SHA256())
        )
        self._signing_cert_pem = pem(cert)
        return self._signing_cert_pem

    # --- what the API server does ---------------------------------------------

    def _claims(self, token):
        """The verified claims of a token this cluster issued, or None."""
        try:
            hdr = jwt.get_unverified_header(token)
            if hdr.get("alg") != "RS256":
                return None
            unverified = jwt.decode(token, options={"verify_signature": False})
            opts = {"verify_aud": False}
            if unverified.get("iss") == "kubernetes/serviceaccount":  # legacy: no exp
                return jwt.decode(
                    token, self.signing_key.public_key(), algorithms=["RS256"], options=opts
                ) | {"_legacy": True}
            return jwt.decode(
                token, self.signing_key.public_key(), algorithms=["RS256"], issuer=self.issuer, options=opts
            )
        except jwt.PyJWTError:
            return None

    def _identity(self, claims):
        if claims.get("_legacy"):
            ns = claims["kubernetes.io/serviceaccount/namespace"]
            name = claims["kubernetes.io/serviceaccount/service-account.name"]
            uid = claims["kubernetes.io/serviceaccount/service-account.uid"]
        else:
            k = claims["kubernetes.io"]
            ns, name, uid = k["namespace"], k["serviceaccount"]["name"], k["serviceaccount"]["uid"]
        sa = self.accounts.get((ns, name))
        if sa is None or sa.uid != uid or uid in self.revoked or claims.get("jti") in self.revoked:
            return None
        return sa

    def may_review(self, bearer):
        if bearer == self.reviewer_jwt:
            return True
        c = self._claims(bearer)
        sa = self._identity(c) if c else None
        return sa is not None and (sa.namespace, sa.name) in self.delegators

    def review(self, spec):
        token = spec.get("token", "")
        wanted = spec.get("audiences") or [API_AUDIENCE]
        claims = self._claims(token)
        sa = self._identity(claims) if claims else None
        if sa is None:
            return {"authenticated": False, "error": "[invalid bearer token, service account token is not valid]"}
        aud = claims.get("aud", [API_AUDIENCE] if claims.get("_legacy") else [])
        aud = [aud] if isinstance(aud, str) else aud
        meet = [a for a in wanted if a in aud]
        if not meet:
            return {"authenticated": False, "error": "[invalid bearer token, token audiences is invalid]"}
        return {
            "authenticated": True,
            "user": {
                "username": f"system:serviceaccount:{sa.namespace}:{sa.name}",
                "uid": sa.uid,
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{sa.namespace}", "system:authenticated"],
            },
            "audiences": meet,
        }

    # --- serving ----------------------------------------------------------------

    def start(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _status(self, code, reason, msg):
                self._send(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                  "message": msg, "reason": reason, "code": code})

            def _bearer(self):
                h = self.headers.get("Authorization", "")
                return h[7:] if h.startswith("Bearer ") else None

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                bearer = self._bearer()
                with api.lock:
                    api.calls.append({"method": "POST", "path": self.path, "bearer": bearer, "body": raw})
                if self.path != "/apis/authentication.k8s.io/v1/tokenreviews":
                    return self._status(404, "NotFound", "the server could not find the requested resource")
                if not bearer or not (api._claims(bearer) or bearer == api.reviewer_jwt):
                    return self._status(401, "Unauthorized", "Unauthorized")
                if not api.may_review(bearer):
                    return self._status(403, "Forbidden", "tokenreviews.authentication.k8s.io is forbidden")
                try:
                    doc = json.loads(raw)
                    spec = doc["spec"]
                except (ValueError, KeyError, TypeError):
                    return self._status(400, "BadRequest", "malformed TokenReview")
                doc["status"] = api.review(spec) | api.status_override
                self._send(201, doc)

            def do_GET(self):
                bearer = self._bearer()
                with api.lock:
                    api.calls.append({"method": "GET", "path": self.path, "bearer": bearer, "body": b""})
                prefix = "/api/v1/namespaces/"
                if bearer != api.reviewer_jwt:
                    return self._status(401 if not bearer else 403, "Forbidden", "namespaces is forbidden")
                if not self.path.startswith(prefix) or "/" in self.path[len(prefix):]:
                    return self._status(404, "NotFound", "not found")
                ns = self.path[len(prefix):]
                if ns not in api.namespaces:
                    return self._status(404, "NotFound", f'namespaces "{ns}" not found')
                self._send(200, {"kind": "Namespace", "apiVersion": "v1",
                                 "metadata": {"name": ns, "labels": api.namespaces[ns]}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def reviews(self):
        with self.lock:
            return [c for c in self.calls if c["path"].endswith("/tokenreviews")]

    def clear_calls(self):
        with self.lock:
            self.calls.clear()


def other_key():
    """A signing key no cluster here trusts."""
    return _key()


def random_name():
    return "sa-" + secrets.token_hex(4)
