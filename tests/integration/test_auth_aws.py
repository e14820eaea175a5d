"""auth/aws (auth_type=iam) against a loopback STS stand-in (sts_stub.py)
that recomputes SigV4 with botocore.

Covers config/client and role shapes through hvac, logins signed by hvac's
iam_login, by botocore and by `trove login -method=aws`, the token's
policies, metadata and alias, and every refusal: wrong account, ARN not
bound, another action or an extra parameter, another host, the server-ID
header missing, unsigned or wrong, a signature STS rejects, a replay older
than 15 minutes, an STS endpoint whose CA Trove does not trust. Each gives
400/403 and no token, the server keeps serving, and a request Trove can
refuse locally never reaches the stub. The audit log masks the signed
request."""

import base64
import datetime
import json

import hvac.aws_utils
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sts_stub import ACCOUNT, IDENTITIES, SESSION_TOKEN, StsStub
from trove_harness import run_cli

MOUNT = "aws"
ALICE = "AKIDALICEEXAMPLE0001"
DEPLOYER = "ASIADEPLOYEXAMPLE001"
OTHER = "AKIDOTHERACCOUNT0001"
SERVER_ID = "trove.example.com"
BODY = "Action=GetCallerIdentity&Version=2011-06-15"


@pytest.fixture
def sts(tmp_path, monkeypatch):
    stub = StsStub(tmp_path / "sts-tls")
    # Trove trusts the stub's CA through SSL_CERT_FILE, as Vault through Go's.
    monkeypatch.setenv("SSL_CERT_FILE", str(stub.tls.ca_cert))
    yield stub
    stub.close()


@pytest.fixture
def aws(sts, dev_server):
    srv = dev_server
    srv.sts = sts
    srv.hv = srv.client(srv.root_token)
    srv.hv.sys.enable_auth_method("aws", path=MOUNT)
    srv.hv.auth.aws.configure(sts_endpoint=sts.url, iam_server_id_header_value=SERVER_ID, mount_point=MOUNT)
    return srv


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def signed(sts, key, body=BODY, url=None, server_id=SERVER_ID, sign_server_id=True, when=None, extra=None,
           token=None):
    """The login fields of a request signed by botocore."""
    secret = IDENTITIES[key][0]
    url = url or sts.url + "/"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    if server_id and sign_server_id:
        headers["X-Vault-AWS-IAM-Server-ID"] = server_id
    req = AWSRequest(method="POST", url=url, data=body, headers=headers)
    auth = SigV4Auth(Credentials(key, secret, token), "sts", "us-east-1")
    if when is None:
        auth.add_auth(req)
    else:
        req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
        req.headers["X-Amz-Date"] = req.context["timestamp"]
        if token:
            req.headers["X-Amz-Security-Token"] = token
        canonical = auth.canonical_request(req)
        sig = auth.signature(auth.string_to_sign(req, canonical), req)
        req.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={auth.scope(req)}, "
            f"SignedHeaders={auth.signed_headers(auth.headers_to_sign(req))}, Signature={sig}"
        )
    hdrs = {k: [v] for k, v in req.headers.items()}
    if server_id and not sign_server_id:
        hdrs["X-Vault-AWS-IAM-Server-ID"] = [server_id]
    hdrs.update(extra or {})
    return {
        "iam_http_request_method": "POST",
        "iam_request_url": b64(url),
        "iam_request_body": b64(body),
        "iam_request_headers": b64(json.dumps(hdrs)),
    }


def login(srv, fields, role="dev"):
    body = dict(fields)
    if role:
        body["role"] = role
    return srv.request("POST", f"/v1/auth/{MOUNT}/login", json=body)


def make_role(srv, name="dev", **kw):
    kw.setdefault("bound_iam_principal_arn", [f"arn:aws:iam::{ACCOUNT}:user/alice"])
    kw.setdefault("token_policies", ["dev-read"])
    r = srv.request("POST", f"/v1/auth/{MOUNT}/role/{name}", token=srv.root_token,
                    json={"auth_type": "iam", "resolve_aws_unique_ids": False, **kw})
    assert r.status_code == 204, r.text


def refused(srv, resp, status, needle, before):
    assert resp.status_code == status, resp.text
    assert "auth" not in resp.json() or resp.json()["auth"] is None
    assert needle in " ".join(resp.json()["errors"]), resp.text
    assert srv.request("GET", "/v1/sys/health").status_code == 200
    return srv.sts.count() - before


# --- configuration and roles ------------------------------------------------------


def test_config_client_roundtrip_never_returns_the_secret(aws):
    aws.hv.auth.aws.configure(access_key="AKIDCONFIG", secret_key="config-secret-canary", mount_point=MOUNT)
    d = aws.hv.auth.aws.read_config(mount_point=MOUNT)
    assert d["sts_endpoint"] == aws.sts.url
    assert d["iam_server_id_header_value"] == SERVER_ID
    assert d["access_key"] == "AKIDCONFIG"
    assert "secret_key" not in d and "config-secret-canary" not in json.dumps(d)
    r = aws.request("POST", f"/v1/auth/{MOUNT}/config/client", token=aws.root_token,
                    json={"sts_endpoint": "https://user@sts.example.com/"})
    assert r.status_code == 400 and "sts_endpoint" in r.text
    r = aws.request("POST", f"/v1/auth/{MOUNT}/config/client", token=aws.root_token,
                    json={"use_sts_region_from_client": True})
    assert r.status_code == 400 and "not supported" in r.text


def test_role_shapes_and_refusals(aws):
    make_role(aws, "dev", bound_account_id=[ACCOUNT])
    d = aws.hv.auth.aws.read_role("dev", mount_point=MOUNT)
    assert d["auth_type"] == "iam"
    assert d["bound_iam_principal_arn"] == [f"arn:aws:iam::{ACCOUNT}:user/alice"]
    assert d["bound_account_id"] == [ACCOUNT]
    assert d["resolve_aws_unique_ids"] is False
    assert d["token_policies"] == ["dev-read"] and len(d["role_id"]) == 36
    assert aws.hv.auth.aws.list_roles(mount_point=MOUNT)["keys"] == ["dev"]
    r = aws.request("LIST", f"/v1/auth/{MOUNT}/role", token=aws.root_token)
    assert r.json()["data"]["keys"] == ["dev"]
    for body, needle in [
        ({"auth_type": "ec2", "bound_ami_id": ["ami-1"]}, "not supported"),
        ({"auth_type": "iam", "inferred_entity_type": "ec2_instance", "bound_account_id": [ACCOUNT]}, "not supported"),
        ({"auth_type": "iam", "bound_account_id": [ACCOUNT], "resolve_aws_unique_ids": True}, "resolve_aws_unique_ids"),
        ({"auth_type": "iam"}, "at least one bound"),
        ({"bound_iam_principal_arn": ["arn:aws:iam::*:user/x"]}, "bound_iam_principal_arn"),
    ]:
        r = aws.request("POST", f"/v1/auth/{MOUNT}/role/bad", token=aws.root_token, json=body)
        assert r.status_code == 400 and needle in r.text, (body, r.text)
    aws.hv.auth.aws.delete_role("dev", mount_point=MOUNT)
    assert aws.request("GET", f"/v1/auth/{MOUNT}/role/dev", token=aws.root_token).status_code == 404


# --- logins -------------------------------------------------------------------------


def test_hvac_iam_login(aws, monkeypatch):
    make_role(aws, "dev")
    real = hvac.aws_utils.generate_sigv4_auth_request

    def to_stub(header_value=None):  # hvac signs for sts.amazonaws.com; aim it at the stub
        req = real(header_value=header_value)
        req.url = aws.sts.url + "/"
        req.headers["Host"] = f"127.0.0.1:{aws.sts.port}"
        return req

    monkeypatch.setattr(hvac.aws_utils, "generate_sigv4_auth_request", to_stub)
    client = aws.client()
    secret = IDENTITIES[ALICE][0]
    a = client.auth.aws.iam_login(ALICE, secret, header_value=SERVER_ID, role="dev", mount_point=MOUNT)["auth"]
    assert a["policies"] == ["default", "dev-read"]
    assert a["metadata"] == {"account_id": ACCOUNT, "auth_type": "iam"}
    assert client.auth.token.lookup_self()["data"]["display_name"] == "aws-alice"
    assert aws.sts.count() == 1
    # without the server-ID header: refused before STS is asked
    with pytest.raises(Exception):
        client.auth.aws.iam_login(ALICE, secret, role="dev", mount_point=MOUNT)
    assert aws.sts.count() == 1


def test_botocore_login_alias_and_metadata(aws):
    make_role(aws, "dev", bound_account_id=[ACCOUNT])
    r = login(aws, signed(aws.sts, ALICE))
    assert r.status_code == 200, r.text
    a = r.json()["auth"]
    role_id = aws.hv.auth.aws.read_role("dev", mount_point=MOUNT)["role_id"]
    ent = aws.hv.secrets.identity.read_entity(a["entity_id"])["data"]
    assert [al["name"] for al in ent["aliases"]] == [role_id]  # Vault's default iam_alias: role_id
    # iam_alias=unique_id and more metadata
    r = aws.request("POST", f"/v1/auth/{MOUNT}/config/identity", token=aws.root_token,
                    json={"iam_alias": "unique_id", "iam_metadata": ["client_arn", "canonical_arn", "client_user_id"]})
    assert r.status_code == 204, r.text
    a = login(aws, signed(aws.sts, ALICE)).json()["auth"]
    assert a["metadata"] == {
        "account_id": ACCOUNT, "auth_type": "iam", "client_arn": f"arn:aws:iam::{ACCOUNT}:user/team/alice",
        "canonical_arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "client_user_id": "AIDAALICEEXAMPLE00001"}
    ent = aws.hv.secrets.identity.read_entity(a["entity_id"])["data"]
    assert [al["name"] for al in ent["aliases"]] == ["AIDAALICEEXAMPLE00001"]


def test_assumed_role_is_bound_as_its_role_and_wildcards(aws):
    make_role(aws, "deployer", bound_iam_principal_arn=[f"arn:aws:iam::{ACCOUNT}:role/deployer"])
    r = login(aws, signed(aws.sts, DEPLOYER, token=SESSION_TOKEN), role=None)  # role: the IAM name
    assert r.status_code == 200, r.text
    make_role(aws, "team", bound_iam_principal_arn=[f"arn:aws:iam::{ACCOUNT}:user/team/*"])
    assert login(aws, signed(aws.sts, ALICE), role="team").status_code == 200
    make_role(aws, "ops", bound_iam_principal_arn=[f"arn:aws:iam::{ACCOUNT}:user/ops/*"])
    before = aws.sts.count()
    assert refused(aws, login(aws, signed(aws.sts, ALICE), role="ops"), 403, "does not belong", before) == 1


def test_refusals(aws):
    make_role(aws, "dev", bound_account_id=[ACCOUNT])
    c = aws.sts.count()
    now = datetime.datetime.now(datetime.timezone.utc)
    local = [
        (signed(aws.sts, ALICE, body="Action=GetSessionToken&Version=2011-06-15"), "iam_request_body"),
        (signed(aws.sts, ALICE, body=BODY + "&DurationSeconds=900"), "iam_request_body"),
        (signed(aws.sts, ALICE, url="https://sts.amazonaws.com/"), "iam_request_url"),
        (signed(aws.sts, ALICE, url=aws.sts.url + "/?Action=GetCallerIdentity"), "iam_request_url"),
        (signed(aws.sts, ALICE, url=f"https://x@127.0.0.1:{aws.sts.port}/"), "iam_request_url"),
        (signed(aws.sts, ALICE, server_id=None), "missing header"),
        (signed(aws.sts, ALICE, sign_server_id=False), "not signed"),
        (signed(aws.sts, ALICE, server_id="other.example.com"), "does not hold"),
        (signed(aws.sts, ALICE, when=now - datetime.timedelta(minutes=16)), "15 minutes"),
        (signed(aws.sts, ALICE, extra={"X-Forwarded-For": ["1.2.3.4"]}), "neither signed nor allowed"),
        (dict(signed(aws.sts, ALICE), iam_http_request_method="GET"), "POST"),
        (dict(signed(aws.sts, ALICE), iam_request_headers="not json"), "iam_request_headers"),
    ]
    for fields, needle in local:
        assert refused(aws, login(aws, fields), 400, needle, c) == 0, needle
    assert refused(aws, login(aws, signed(aws.sts, ALICE), role="nope"), 400, "not found", c) == 0
    # STS decides: a bad signature, a wrong account
    bad = signed(aws.sts, ALICE)
    h = json.loads(base64.b64decode(bad["iam_request_headers"]))
    sig = h["Authorization"][0].rsplit("=", 1)[1]
    h["Authorization"] = [h["Authorization"][0][:-4] + "0000"]
    bad["iam_request_headers"] = b64(json.dumps(h))
    r = login(aws, bad)
    assert refused(aws, r, 400, "SignatureDoesNotMatch", c) == 1
    assert sig[:-4] not in r.text  # the signature is never echoed back
    assert refused(aws, login(aws, signed(aws.sts, OTHER)), 403, "does not belong", c) == 2
    # 14 minutes old: Trove lets it through, STS still answers
    r = login(aws, signed(aws.sts, ALICE, when=now - datetime.timedelta(minutes=14)))
    assert r.status_code == 200, r.text


def test_untrusted_sts_ca(aws, tmp_path):
    rogue = StsStub(tmp_path / "rogue-tls")  # its CA is not in SSL_CERT_FILE
    try:
        aws.hv.auth.aws.configure(sts_endpoint=rogue.url, mount_point=MOUNT)
        make_role(aws, "dev")
        r = login(aws, signed(rogue, ALICE))
        assert r.status_code >= 400 and "auth" not in r.json()
        assert rogue.count() == 0
        assert aws.request("GET", "/v1/sys/health").status_code == 200
    finally:
        rogue.close()


def test_audit_masks_the_signed_request(aws, tmp_path):
    log = tmp_path / "audit.log"
    aws.hv.sys.enable_audit_device("file", options={"file_path": str(log)})
    make_role(aws, "dev")
    fields = signed(aws.sts, ALICE)
    assert login(aws, fields).status_code == 200
    text = log.read_text()
    assert f"auth/{MOUNT}/login" in text
    sig = json.loads(base64.b64decode(fields["iam_request_headers"]))["Authorization"][0].rsplit("=", 1)[1]
    for secret in (fields["iam_request_headers"], fields["iam_request_body"], sig):
        assert secret not in text


# --- the CLI ----------------------------------------------------------------------------


def cli_env(aws, tmp_path, **extra):
    # the SDKs' variable for a service's endpoint aims the signed request at the stub
    env = {"VAULT_ADDR": aws.url, "HOME": str(tmp_path), "AWS_ENDPOINT_URL_STS": aws.sts.url}
    env.update(extra)
    return env


def test_cli_login_env_credentials(aws, tmp_path):
    make_role(aws, "dev")
    env = cli_env(aws, tmp_path, AWS_ACCESS_KEY_ID=ALICE, AWS_SECRET_ACCESS_KEY=IDENTITIES[ALICE][0])
    p = run_cli(["login", "-method=aws", "-format=json", "role=dev", f"header_value={SERVER_ID}"], env=env)
    assert p.returncode == 0, p.stderr
    a = json.loads(p.stdout)["auth"]
    assert a["metadata"]["account_id"] == ACCOUNT
    assert (tmp_path / ".vault-token").read_text().strip() == a["client_token"]
    assert IDENTITIES[ALICE][0] not in p.stdout + p.stderr


def test_cli_login_shared_credentials_file(aws, tmp_path):
    make_role(aws, "deployer", bound_iam_principal_arn=[f"arn:aws:iam::{ACCOUNT}:role/deployer"])
    creds = tmp_path / "creds"
    creds.write_text(
        "[default]\naws_access_key_id = AKIDNOPE\naws_secret_access_key = nope\n\n"
        f"[ci]\naws_access_key_id = {DEPLOYER}\naws_secret_access_key = {IDENTITIES[DEPLOYER][0]}\n"
        f"aws_session_token = {SESSION_TOKEN}\n"
    )
    env = cli_env(aws, tmp_path, AWS_SHARED_CREDENTIALS_FILE=str(creds), AWS_PROFILE="ci")
    p = run_cli(["login", "-method=aws", "-no-store", "-format=json", "role=deployer",
                 f"header_value={SERVER_ID}"], env=env)
    assert p.returncode == 0, p.stderr
    assert aws.sts.last_headers.get("X-Amz-Security-Token") == SESSION_TOKEN
    # a wrong server ID is refused, with no token stored
    p = run_cli(["login", "-method=aws", "role=deployer", "header_value=wrong"], env=env)
    assert p.returncode != 0 and "does not hold" in p.stderr
    assert not (tmp_path / ".vault-token").exists()


def test_cli_login_container_credentials(aws, tmp_path):
    """ECS's endpoint (the FULL_URI form, on loopback here), with its
    authorization token; nothing else configured."""
    import http.server
    import threading

    seen = []

    class Creds(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            body = json.dumps({"AccessKeyId": ALICE, "SecretAccessKey": IDENTITIES[ALICE][0],
                               "Token": "ecs-session-token", "Expiration": "2099-01-01T00:00:00Z"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Creds)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        make_role(aws, "dev")
        env = cli_env(aws, tmp_path, AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                      AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://127.0.0.1:{srv.server_address[1]}/v2/creds",
                      AWS_CONTAINER_AUTHORIZATION_TOKEN="ecs-auth", AWS_EC2_METADATA_DISABLED="true")
        p = run_cli(["login", "-method=aws", "-no-store", "role=dev", f"header_value={SERVER_ID}"], env=env)
        assert p.returncode == 0, p.stderr
        assert seen == [("/v2/creds", "ecs-auth")]
        assert aws.sts.last_headers.get("X-Amz-Security-Token") == "ecs-session-token"
        # no credentials anywhere: a clear local error, nothing sent
        before = aws.sts.count()
        env.pop("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        p = run_cli(["login", "-method=aws", "role=dev"], env=env)
        assert p.returncode != 0 and "no AWS credentials found" in p.stderr
        assert aws.sts.count() == before
    finally:
        srv.shutdown()
        srv.server_close()
