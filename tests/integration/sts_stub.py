"""A loopback stand-in for AWS STS over TLS, for auth/aws tests.

It answers POST / with GetCallerIdentity as STS does: the SigV4 signature
is recomputed with botocore from the request as received (the headers the
Authorization names as signed, the body, the Host) under the secret key of
the access key in the credential scope, X-Amz-Date must be within 15
minutes, and the body must be exactly GetCallerIdentity. The answer is
GetCallerIdentityResponse XML for the key's identity (an IAM user or an
assumed role), or AWS's ErrorResponse XML. Every request is counted, so a
test can check that Trove refused locally without calling out.
"""

import datetime
import http.server
import ssl
import threading
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from trove_harness import TLSMaterial

ACCOUNT = "123456789012"

# access key -> (secret key, Arn, UserId)
IDENTITIES = {
    "AKIDALICEEXAMPLE0001": (
        "alice/secret/key/EXAMPLE0000000000000001",
        f"arn:aws:iam::{ACCOUNT}:user/team/alice",
        "AIDAALICEEXAMPLE00001",
    ),
    "ASIADEPLOYEXAMPLE001": (
        "deployer/secret/key/EXAMPLE000000000000001",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-42",
        "AROADEPLOYEREXAMPLE01:build-42",
    ),
    "AKIDOTHERACCOUNT0001": (
        "other/secret/key/EXAMPLE00000000000000001",
        "arn:aws:iam::999999999999:user/mallory",
        "AIDAOTHERACCOUNT00001",
    ),
}
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"


def identity_xml(arn, user_id, account):
    return (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
        "  <GetCallerIdentityResult>\n"
        f"    <Arn>{arn}</Arn>\n"
        f"    <UserId>{user_id}</UserId>\n"
        f"    <Account>{account}</Account>\n"
        "  </GetCallerIdentityResult>\n"
        "  <ResponseMetadata>\n"
        "    <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</GetCallerIdentityResponse>\n"
    )


def error_xml(code, message):
    return (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
        f"  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\n"
        "  <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>\n"
        "</ErrorResponse>\n"
    )


def parse_authorization(value):
    """(access key, date, region, service, signed header names, signature)."""
    alg, _, rest = value.partition(" ")
    if alg != "AWS4-HMAC-SHA256":
        raise ValueError("not SigV4")
    parts = dict(p.strip().split("=", 1) for p in rest.split(","))
    key, date, region, service, term = parts["Credential"].split("/")
    if term != "aws4_request":
        raise ValueError("bad scope")
    return key, date, region, service, parts["SignedHeaders"].split(";"), parts["Signature"]


def expected_signature(method, host, path, body, headers, signed, secret, key, region, service, amz_date):
    """SigV4 of the request as received, recomputed by botocore."""
    token = next((v for k, v in headers.items() if k.lower() == "x-amz-security-token"), None)
    req = AWSRequest(
        method=method,
        url=f"https://{host}{path}",
        data=body,
        headers={k: v for k, v in headers.items() if k.lower() in signed and k.lower() != "host"},
    )
    auth = SigV4Auth(Credentials(key, secret, token), service, region)
    req.context["timestamp"] = amz_date
    if sorted(auth.headers_to_sign(req).keys()) != sorted(signed):
        return None
    canonical = auth.canonical_request(req)
    return auth.signature(auth.string_to_sign(req, canonical), req)


class StsStub:
    def __init__(self, directory):
        self.tls = TLSMaterial(directory)
        self.requests = 0
        self.last_headers = None
        self.lock = threading.Lock()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, status, text):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with stub.lock:
                    stub.requests += 1
                    stub.last_headers = dict(self.headers.items())
                self.reply(*stub.answer("POST", self.path, body, dict(self.headers.items())))

            def do_GET(self):
                with stub.lock:
                    stub.requests += 1
                self.reply(400, error_xml("InvalidAction", "GET is not served here"))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.tls.server_cert, self.tls.server_key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, method, path, body, headers):
        form = urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True)
        if form != {"Action": ["GetCallerIdentity"], "Version": ["2011-06-15"]}:
            return 400, error_xml("InvalidAction", "Could not find operation")
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        try:
            key, date, region, service, signed, sig = parse_authorization(auth)
        except (ValueError, KeyError):
            return 403, error_xml("IncompleteSignature", "Authorization header requires SigV4")
        if key not in IDENTITIES:
            return 403, error_xml("InvalidClientTokenId", "The security token included in the request is invalid.")
        amz_date = next((v for k, v in headers.items() if k.lower() == "x-amz-date"), "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return 403, error_xml("IncompleteSignature", "X-Amz-Date missing")
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs((now - when).total_seconds()) > 15 * 60:
            return 403, error_xml("SignatureDoesNotMatch", "Signature expired")
        if date != amz_date[:8] or service != "sts" or "host" not in signed:
            return 403, error_xml("SignatureDoesNotMatch", "Credential scope does not match")
        secret, arn, user_id = IDENTITIES[key]
        host = next((v for k, v in headers.items() if k.lower() == "host"), "")
        want = expected_signature(method, host, path, body, headers, signed, secret, key, region, service, amz_date)
        if want is None or want != sig:
            return 403, error_xml(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. " + sig,
            )
        account = arn.split(":")[4]
        return 200, identity_xml(arn, user_id, account)

    def count(self):
        with self.lock:
            return self.requests

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
