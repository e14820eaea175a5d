"""A loopback stand-in of the Kubernetes API for the operator's tests.

No kube-apiserver is packaged here, so `trove secrets-operator` is tested
against this: HTTPS on 127.0.0.1 with a throwaway CA, bearer tokens, and
exactly the API the operator and kubectl use, as strict as the real server
where controllers usually slip (see docs/testing.md, "The Kubernetes API
stand-in"). Certificates and service-account JWTs come from k8s_api.K8sAPI
(used here as a token authority, never started).

    api = KubeAPIServer(tmp_path).start()
    api.write_kubeconfig(tmp_path / "kubeconfig")          # admin
    api.create("v1", "secrets", "default", {...})           # direct access
    api.stop()

What it does: discovery (/version, /api, /apis, /api/v1, /apis/<g>/<v>,
/openapi/v3 for kubectl's field validation), CRUD on the kinds in BUILTINS
and on every kind a CustomResourceDefinition adds (once applied), with
uid, creationTimestamp, generation (spec changes only), one global
resourceVersion, label and field selectors, the status subresource,
finalizers, ownerReference garbage collection, namespaces; list (in pages
with limit and continue, each a snapshot at the first page's
resourceVersion) and watch (bookmarks, timeoutSeconds, a bounded history:
a too-old resourceVersion gets a 200 whose one event is an ERROR carrying
a 410 Status); PUT
preconditions; merge, JSON and strategic-merge patches (the last refused
on custom resources with 415 as the real server does; server-side apply
refused with 415 for every kind); Lease MicroTime; CRD schemas (types,
formats, enums, patterns, bounds, required, defaults, pruning);
metadata, Secret and Event validation; dry runs; server-side printing
(a Table with a CRD's printer columns); the protobuf bodies kubectl
create and helm send for a few kinds; TokenRequest and TokenReview; an
authorization table per token; events kept. Every request is logged in
.requests. Test hooks: compact(), drop_watches(), stop() and
start(port) for a restart with the objects kept. With managed_fields=True
every write sets metadata.managedFields as the real server does (one
FieldsV1 entry naming the fields the object has), so clients see the
bookkeeping they must not keep.
"""

import base64
import bisect
import copy
import datetime
import json
import re
import socket
import ssl
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

import k8s_api

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "trove-stand-in",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
           "compiler": "gc", "platform": "linux/amd64"}

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


class Kind:
    """One served resource: where it lives and what it allows."""

    def __init__(self, group, version, plural, kind, namespaced=True, status=False, spec=True,
                 short=(), builtin=True, schema=None, subs=(), verbs=VERBS, columns=None, categories=()):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.status, self.spec, self.short = namespaced, status, spec, list(short)
        self.builtin, self.schema, self.subs, self.verbs = builtin, schema, list(subs), list(verbs)
        self.singular = kind.lower()
        self.categories = list(categories)
        # printer columns (server-side printing): the CRD's, else Age
        self.columns = columns or [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gv_path(self):
        return f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"

    @property
    def qualified(self):  # what error messages name: "secrets", "leases.coordination.k8s.io"
        return f"{self.plural}.{self.group}" if self.group else self.plural


BUILTINS = [
    Kind("", "v1", "namespaces", "Namespace", namespaced=False, status=True, short=["ns"]),
    Kind("", "v1", "secrets", "Secret", spec=False),
    Kind("", "v1", "configmaps", "ConfigMap", spec=False, short=["cm"]),
    Kind("", "v1", "serviceaccounts", "ServiceAccount", spec=False, short=["sa"], subs=["token"]),
    Kind("", "v1", "events", "Event", spec=False, short=["ev"]),
    Kind("", "v1", "services", "Service", status=True, short=["svc"], categories=["all"]),
    Kind("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", status=True, short=["pvc"]),
    Kind("", "v1", "pods", "Pod", status=True, short=["po"], categories=["all"]),
    Kind("apps", "v1", "deployments", "Deployment", status=True, short=["deploy"], categories=["all"]),
    Kind("apps", "v1", "statefulsets", "StatefulSet", status=True, short=["sts"], categories=["all"]),
    Kind("apps", "v1", "daemonsets", "DaemonSet", status=True, short=["ds"], categories=["all"]),
    Kind("coordination.k8s.io", "v1", "leases", "Lease"),
    Kind("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
         namespaced=False, status=True, short=["crd", "crds"]),
    Kind("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", namespaced=False, verbs=["create"]),
    Kind("rbac.authorization.k8s.io", "v1", "roles", "Role", spec=False),
    Kind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", spec=False),
    Kind("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False, spec=False),
    Kind("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False,
         spec=False),
    Kind("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", status=True, short=["pdb"]),
    Kind("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=["netpol"]),
]

MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")
DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}


def _qualified_key(key):
    """Kubernetes' qualified name: [DNS subdomain prefix '/'] name (<= 63)."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUB.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(QUALIFIED_NAME.match(name))


def validate_meta(md):
    """(field, reason, message) for what ObjectMeta validation refuses."""
    errs = []
    for key, val in (md.get("labels") or {}).items():
        if not _qualified_key(key):
            errs.append(("metadata.labels", "FieldValueInvalid", f'Invalid value: "{key}": name part must consist of '
                         "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))
        elif len(val) > 63 or not LABEL_VALUE.match(val):
            errs.append(("metadata.labels", "FieldValueInvalid", f'Invalid value: "{val}": a valid label must be an empty '
                         "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                         "alphanumeric character (and be at most 63 characters)"))
    ann = md.get("annotations") or {}
    for key in ann:
        if not _qualified_key(key):
            errs.append(("metadata.annotations", "FieldValueInvalid", f'Invalid value: "{key}": name part must consist '
                         "of alphanumeric characters, '-', '_' or '.'"))
    if sum(len(a) + len(b) for a, b in ann.items()) > 256 * 1024:
        errs.append(("metadata.annotations", "FieldValueTooLong", "Too long: must have at most 262144 bytes"))
    for f in md.get("finalizers") or []:
        if not isinstance(f, str) or (f not in STANDARD_FINALIZERS and ("/" not in f or not _qualified_key(f))):
            errs.append(("metadata.finalizers", "FieldValueInvalid", f'Invalid value: {json.dumps(f)}: name is neither '
                         "a standard finalizer name nor is it fully qualified"))
    refs = md.get("ownerReferences") or []
    for i, r in enumerate(refs):
        for f in ("apiVersion", "kind", "name", "uid"):
            if not (r or {}).get(f):
                errs.append((f"metadata.ownerReferences[{i}].{f}", "FieldValueInvalid" if f != "uid" else "FieldValueInvalid",
                             f'Invalid value: "": {f} must not be empty'))
    if sum(1 for r in refs if (r or {}).get("controller")) > 1:
        errs.append(("metadata.ownerReferences", "FieldValueInvalid",
                     "Invalid value: []: Only one reference can have Controller set to true"))
    return errs


def validate_kind(k, obj):
    """(field, reason, message) for the built-in kinds' own rules the
    operator's objects meet: Secret keys, sizes and TLS keys; Event times
    and namespace."""
    errs = []
    if k.kind == "Secret":
        data = obj.get("data") or {}
        for key in data:
            if len(key) > 253 or not SECRET_KEY.match(key):
                errs.append((f"data[{key}]", "FieldValueInvalid", f'Invalid value: "{key}": a valid config key must consist '
                             "of alphanumeric characters, '-', '_' or '.'"))
        if sum(len(base64.b64decode(v)) for v in data.values()) > 1024 * 1024:
            errs.append(("data", "FieldValueTooLong", "Too long: must have at most 1048576 bytes"))
        if obj.get("type") == "kubernetes.io/tls":
            for key in ("tls.crt", "tls.key"):
                if key not in data:
                    errs.append((f"data[{key}]", "FieldValueRequired", "Required value"))
    if k.kind == "Event":
        io = obj.get("involvedObject") or {}
        ns = (obj.get("metadata") or {}).get("namespace")
        if io.get("namespace") and ns and io["namespace"] != ns:
            errs.append(("involvedObject.namespace", "FieldValueInvalid",
                         f'Invalid value: "{io["namespace"]}": does not match event.namespace'))
    return errs


def now_time():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class APIError(Exception):
    """An answer as a Status object."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            s["details"] = self.details
        return s


def not_found(k, name):
    return APIError(404, "NotFound", f'{k.qualified} "{name}" not found',
                    {"name": name, "group": k.group, "kind": k.plural})


def invalid(k, name, causes):
    """422 Invalid; causes: [(field, reason, message)]."""
    msg = "; ".join(f"{f}: {m}" for f, _, m in causes)
    return APIError(422, "Invalid", f'{k.kind}{"." + k.group if k.group else ""} "{name}" is invalid: [{msg}]'
                    if len(causes) > 1 else f'{k.kind}{"." + k.group if k.group else ""} "{name}" is invalid: {msg}',
                    {"name": name, "group": k.group, "kind": k.kind,
                     "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]})


def bad_request(msg):
    return APIError(400, "BadRequest", msg)


def encode_continue(rv, key):
    """The real server's continue token: base64url of a small JSON."""
    start = (key[0] + "/" if key[0] else "") + key[1]
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token):
    """(rv, last key) from a token made by encode_continue; 400 otherwise."""
    try:
        d = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if d.get("v") != "meta.k8s.io/v1" or not isinstance(d.get("rv"), int) or d["rv"] < 1:
            raise ValueError
        start = d["start"]
        if not isinstance(start, str) or not start.endswith("\x00"):
            raise ValueError
        ns, _, name = start[:-1].rpartition("/")
        return d["rv"], (ns, name)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                          "(version meta.k8s.io/v1)") from None


# --- CRD schemas: defaulting, pruning, validation ----------------------------

def _type_ok(v, t):
    return {"object": isinstance(v, dict), "array": isinstance(v, list), "string": isinstance(v, str),
            "boolean": isinstance(v, bool), "integer": isinstance(v, int) and not isinstance(v, bool),
            "number": isinstance(v, (int, float)) and not isinstance(v, bool)}.get(t, True)


def schema_default(v, s):
    """Applies defaults of s into v (in place where possible); returns v."""
    if isinstance(v, dict) and s.get("type") == "object":
        for name, sub in (s.get("properties") or {}).items():
            if (name not in v or (v[name] is None and not sub.get("nullable"))) and "default" in sub:
                v[name] = copy.deepcopy(sub["default"])
            if name in v:
                v[name] = schema_default(v[name], sub)
        ap = s.get("additionalProperties")
        if isinstance(ap, dict):
            for name in v:
                v[name] = schema_default(v[name], ap)
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        return [schema_default(x, s["items"]) for x in v]
    return v


def schema_prune(v, s, path, unknown):
    """Drops fields s does not declare (unless preserved); names them in unknown."""
    if s.get("x-kubernetes-preserve-unknown-fields"):
        return v
    if isinstance(v, dict) and s.get("type") == "object":
        props = s.get("properties")
        ap = s.get("additionalProperties")
        out = {}
        for name, x in v.items():
            if props is not None and name in props:
                out[name] = schema_prune(x, props[name], f"{path}.{name}", unknown)
            elif isinstance(ap, dict):
                out[name] = schema_prune(x, ap, f"{path}.{name}", unknown)
            elif ap is True:
                out[name] = x
            else:
                unknown.append(f"{path}.{name}")
        return out
    if isinstance(v, list) and isinstance(s.get("items"), dict):
        return [schema_prune(x, s["items"], f"{path}[{i}]", unknown) for i, x in enumerate(v)]
    return v


def schema_validate(v, s, path, errs):
    """Appends (field, reason, message) for each violation of s by v."""
    if v is None:
        if not s.get("nullable"):
            errs.append((path, "FieldValueTypeInvalid",
                         f'Invalid value: "null": {path} in body must be of type {s.get("type", "object")}: "null"'))
        return
    t = s.get("type")
    if s.get("x-kubernetes-int-or-string"):
        if not (isinstance(v, str) or _type_ok(v, "integer")):
            errs.append((path, "FieldValueTypeInvalid", f"Invalid value: {json.dumps(v)}: must be an integer or a string"))
        return
    if t and not _type_ok(v, t):
        got = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}[type(v)]
        errs.append((path, "FieldValueTypeInvalid",
                     f'Invalid value: "{got}": {path} in body must be of type {t}: "{got}"'))
        return
    if "enum" in s and v not in s["enum"]:
        errs.append((path, "FieldValueNotSupported", f"Unsupported value: {json.dumps(v)}: supported values: "
                     + ", ".join(json.dumps(e) for e in s["enum"])))
    if isinstance(v, str):
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append((path, "FieldValueInvalid", f"Invalid value: {json.dumps(v)}: {path} in body should match '{s['pattern']}'"))
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append((path, "FieldValueTooLong", f"Too long: may not be longer than {s['maxLength']}"))
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append((path, "FieldValueInvalid", f"Invalid value: {json.dumps(v)}: {path} in body should be at least {s['minLength']} chars long"))
        if s.get("format") == "date-time" and not DATE_TIME.match(v):
            errs.append((path, "FieldValueInvalid", f"Invalid value: {json.dumps(v)}: {path} in body must be of type date-time: {json.dumps(v)}"))
        if s.get("format") == "byte":
            try:
                base64.b64decode(v, validate=True)
            except ValueError:
                errs.append((path, "FieldValueInvalid", f"Invalid value: {json.dumps(v)}: {path} in body must be of type byte: {json.dumps(v)}"))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s and v < s["minimum"]:
            errs.append((path, "FieldValueInvalid", f"Invalid value: {v}: {path} in body should be greater than or equal to {s['minimum']}"))
        if "maximum" in s and v > s["maximum"]:
            errs.append((path, "FieldValueInvalid", f"Invalid value: {v}: {path} in body should be less than or equal to {s['maximum']}"))
        if s.get("format") == "int32" and not -2**31 <= v < 2**31:
            errs.append((path, "FieldValueInvalid", f"Invalid value: {v}: {path} in body must be of type int32"))
    if isinstance(v, dict):
        for r in s.get("required") or []:
            if r not in v:
                errs.append((f"{path}.{r}", "FieldValueRequired", "Required value"))
        props = s.get("properties") or {}
        ap = s.get("additionalProperties")
        for name, x in v.items():
            sub = props.get(name) if name in props else (ap if isinstance(ap, dict) else None)
            if sub is not None:
                schema_validate(x, sub, f"{path}.{name}", errs)
    if isinstance(v, list):
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append((path, "FieldValueTooMany", f"Too many: {len(v)}: must have at most {s['maxItems']} items"))
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append((path, "FieldValueInvalid", f"Invalid value: {len(v)}: {path} in body should have at least {s['minItems']} items"))
        if isinstance(s.get("items"), dict):
            for i, x in enumerate(v):
                schema_validate(x, s["items"], f"{path}[{i}]", errs)


# --- printing -------------------------------------------------------------------

def json_path(obj, path):
    """The subset of JSONPath printer columns use: .a.b and
    .a[?(@.f == "v")].b; None when absent."""
    cur = [obj]
    for m in re.finditer(r'\.([\w.-]+?)(?=\.|\[|$)|\[\?\(@\.(\w+)\s*==\s*["\']([^"\']*)["\']\)\]|\[(\d+)\]', path):
        field, fkey, fval, idx = m.groups()
        nxt = []
        for c in cur:
            if field is not None and isinstance(c, dict) and field in c:
                nxt.append(c[field])
            elif fkey is not None and isinstance(c, list):
                nxt += [x for x in c if isinstance(x, dict) and str(x.get(fkey)) == fval]
            elif idx is not None and isinstance(c, list) and int(idx) < len(c):
                nxt.append(c[int(idx)])
        cur = nxt
    return cur[0] if cur else None


def human_age(ts):
    try:
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return ts
    s = int((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= 2 * n:
            return f"{s // n}{unit}"
    return f"{max(s, 0)}s"


# --- protobuf bodies (what `kubectl create` sends for built-in kinds) -----------

def _pb_fields(buf):
    """(field number, value) of a protobuf message: ints for varints, bytes
    for length-delimited fields; fixed-width fields skipped."""
    i, out = 0, []

    def varint():
        nonlocal i
        shift = v = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
    while i < len(buf):
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            out.append((num, varint()))
        elif wt == 2:
            n = varint()
            out.append((num, bytes(buf[i:i + n])))
            i += n
        elif wt in (1, 5):
            i += 8 if wt == 1 else 4
        else:
            raise ValueError(f"wire type {wt}")
    return out


def _pb_map(entries, as_bytes=False):
    m = {}
    for e in entries:
        f = dict(_pb_fields(e))
        v = f.get(2, b"")
        m[f.get(1, b"").decode()] = base64.b64encode(v).decode() if as_bytes else v.decode()
    return m


def _pb_meta(buf):
    md, labels, annotations, fins = {}, [], [], []
    for num, v in _pb_fields(buf):
        if num in (1, 2, 3) and v:
            md[{1: "name", 2: "generateName", 3: "namespace"}[num]] = v.decode()
        elif num == 11:
            labels.append(v)
        elif num == 12:
            annotations.append(v)
        elif num == 14:
            fins.append(v.decode())
    if labels:
        md["labels"] = _pb_map(labels)
    if annotations:
        md["annotations"] = _pb_map(annotations)
    if fins:
        md["finalizers"] = fins
    return md


def decode_protobuf(raw):
    """The JSON form of the few built-in objects kubectl create sends as
    protobuf (Namespace, Secret, ConfigMap, ServiceAccount, TokenRequest);
    None for anything else."""
    if raw[:4] != b"k8s\x00":
        return None
    env = dict(_pb_fields(raw[4:]))
    tm = dict(_pb_fields(env.get(1, b"")))
    kind, av = tm.get(2, b"").decode(), tm.get(1, b"").decode()
    fields = _pb_fields(env.get(2, b""))
    obj = {"apiVersion": av, "kind": kind, "metadata": _pb_meta(next((v for n, v in fields if n == 1), b""))}
    if kind == "Namespace":
        return obj
    if kind == "Secret":
        data = [v for n, v in fields if n == 2]
        sdata = [v for n, v in fields if n == 4]
        obj.update({"data": _pb_map(data, as_bytes=True)} if data else {})
        obj.update({"stringData": _pb_map(sdata)} if sdata else {})
        obj.update({"type": v.decode() for n, v in fields if n == 3 and v})
        return obj
    if kind == "ConfigMap":
        data = [v for n, v in fields if n == 2]
        binary = [v for n, v in fields if n == 3]
        obj.update({"data": _pb_map(data)} if data else {})
        obj.update({"binaryData": _pb_map(binary, as_bytes=True)} if binary else {})
        return obj
    if kind == "ServiceAccount":
        return obj
    if kind == "DeleteOptions":  # helm uninstall sends one
        opts = {"apiVersion": av or "v1", "kind": kind}
        for n, v in _pb_fields(env.get(2, b"")):
            if n == 3:
                opts["orphanDependents"] = bool(v)
            elif n == 4 and v:
                opts["propagationPolicy"] = v.decode()
            elif n == 5:
                opts.setdefault("dryRun", []).append(v.decode())
            elif n == 2:
                pre = {({1: "uid", 2: "resourceVersion"}[pn]): pv.decode() for pn, pv in _pb_fields(v) if pn in (1, 2) and pv}
                if pre:
                    opts["preconditions"] = pre
        return opts
    if kind == "TokenRequest":
        spec = {}
        for n, v in fields:
            if n == 2:
                for sn, sv in _pb_fields(v):
                    if sn == 1:
                        spec.setdefault("audiences", []).append(sv.decode())
                    elif sn == 4:
                        spec["expirationSeconds"] = sv
        obj["spec"] = spec
        return obj
    return None


# --- patches ------------------------------------------------------------------

def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f'the server rejected our request due to an error in our request: JSON pointer "{path}" must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    for p in parts:
        if isinstance(doc, list):
            doc = doc[int(p)]
        else:
            doc = doc[p]
    return doc


def json_patch(doc, ops):
    """RFC 6902; errors are 422 as the real server answers them."""
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind in ("move", "copy"):
                src = _pointer(op["from"])
                val = copy.deepcopy(_walk(doc, src))
                if kind == "move":
                    par = _walk(doc, src[:-1])
                    if isinstance(par, list):
                        par.pop(int(src[-1]))
                    else:
                        del par[src[-1]]
                kind, op = "add", {"op": "add", "path": op["path"], "value": val}
            if kind == "test":
                if _walk(doc, parts) != op["value"]:
                    raise APIError(422, "Invalid", f"the server rejected our request due to an error in our request: testing value {op['path']} failed")
                continue
            if not parts:
                if kind in ("add", "replace"):
                    doc = copy.deepcopy(op["value"])
                    continue
                raise KeyError(op["path"])
            par = _walk(doc, parts[:-1])
            last = parts[-1]
            if kind == "add":
                if isinstance(par, list):
                    par.insert(len(par) if last == "-" else int(last), copy.deepcopy(op["value"]))
                else:
                    par[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                if isinstance(par, list):
                    par.pop(int(last))
                else:
                    del par[last]
            elif kind == "replace":
                if isinstance(par, list):
                    par[int(last)] = copy.deepcopy(op["value"])
                else:
                    if last not in par:
                        raise KeyError(last)
                    par[last] = copy.deepcopy(op["value"])
            else:
                raise bad_request(f"Unexpected kind: {kind}")
        except APIError:
            raise
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise APIError(422, "Invalid", "the server rejected our request due to an error in our request: "
                           f"jsonpatch {op.get('op') if isinstance(op, dict) else op} operation does not apply: "
                           f"doc is missing path: {e}") from None
    return doc


# List fields merged by key in a strategic-merge patch (the built-in types'
# patchMergeKey); other lists are replaced, as the real server does.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
              "volumes": "name", "volumeMounts": "mountPath", "imagePullSecrets": "name",
              "ownerReferences": "uid", "conditions": "type", "volumeClaimTemplates": None,
              "hostAliases": "ip", "topologySpreadConstraints": "topologyKey"}
MERGE_SETS = {"finalizers"}  # primitive lists merged as sets


def strategic_patch(target, patch, field=None):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            out[name] = [x for x in out.get(name) or [] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and k in MERGE_SETS:
            cur = list(out.get(k) or [])
            out[k] = cur + [x for x in v if x not in cur]
        elif isinstance(v, list) and MERGE_KEYS.get(k) and all(isinstance(x, dict) for x in v):
            key = MERGE_KEYS[k]
            cur = [copy.deepcopy(x) for x in out.get(k) or []]
            for item in v:
                idx = next((i for i, c in enumerate(cur) if c.get(key) == item.get(key)), None)
                if item.get("$patch") == "delete":
                    if idx is not None:
                        cur.pop(idx)
                elif idx is None:
                    cur.append({a: b for a, b in item.items() if a != "$patch"})
                else:
                    cur[idx] = strategic_patch(cur[idx], item, k)
            out[k] = cur
        else:
            out[k] = strategic_patch(out.get(k), v, k)
    for k, order in patch.items():  # kubectl apply's list order, kept by the merge
        name = k.split("/", 1)[1] if k.startswith("$setElementOrder/") else None
        if name and isinstance(out.get(name), list) and isinstance(order, list):
            key = MERGE_KEYS.get(name)
            ident = (lambda x, key=key: x.get(key) if isinstance(x, dict) else x)
            wanted = [ident(o) for o in order]
            first = [x for w in wanted for x in out[name] if ident(x) == w]
            out[name] = first + [x for x in out[name] if ident(x) not in wanted]
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


# --- label and field selectors ------------------------------------------------

def _split_selector(sel):
    parts, depth, cur = [], 0, ""
    for ch in sel:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(sel):
    """A predicate over a labels dict; 400 on a malformed selector."""
    preds = []
    for term in _split_selector(sel or ""):
        m = re.match(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$", term)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            preds.append((lambda l, k=key, vs=vals: l.get(k) in vs) if op == "in"
                         else (lambda l, k=key, vs=vals: l.get(k) not in vs))
            continue
        m = re.match(r"^([\w./-]+)\s*(==|!=|=)\s*([\w.-]*)$", term)
        if m:
            key, op, val = m.groups()
            preds.append((lambda l, k=key, v=val: l.get(k) == v) if op != "!="
                         else (lambda l, k=key, v=val: l.get(k) != v))
            continue
        m = re.match(r"^(!?)([\w./-]+)$", term)
        if m:
            neg, key = m.groups()
            preds.append((lambda l, k=key: k not in l) if neg else (lambda l, k=key: k in l))
            continue
        raise bad_request(f'unable to parse requirement: found \'{term}\', expected: identifier')
    return lambda labels: all(p(labels or {}) for p in preds)


# Fields each kind may be selected on besides metadata.name and .namespace.
FIELD_SELECTORS = {
    "Event": ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"],
    "Secret": ["type"],
}


def parse_field_selector(sel, kind):
    """A predicate over a whole object; 400 naming a field the kind does
    not index, as the real server answers."""
    allowed = ["metadata.name", "metadata.namespace"] + FIELD_SELECTORS.get(kind.kind, [])
    preds = []
    for term in _split_selector(sel or ""):
        m = re.match(r"^([\w.]+)\s*(==|!=|=)\s*(.*)$", term)
        if not m or m.group(1) not in allowed:
            field = term.split("=")[0].strip("!")
            raise bad_request(f'field label not supported: {field}')
        field, op, val = m.groups()
        get = (lambda o, path=field.split("."): str(json_path(o, "." + ".".join(path)) or ""))
        preds.append((lambda o, g=get, v=val: g(o) == v) if op != "!=" else (lambda o, g=get, v=val: g(o) != v))
    return lambda o: all(p(o) for p in preds)


# --- authorization ----------------------------------------------------------------

class Rule:
    def __init__(self, verbs, resources, groups=("*",), namespaces=None, names=None):
        self.verbs, self.resources, self.groups = set(verbs), set(resources), set(groups)
        self.namespaces = set(namespaces) if namespaces else None
        self.names = set(names) if names else None

    def allows(self, verb, group, resource, ns, name):
        return (("*" in self.verbs or verb in self.verbs) and ("*" in self.groups or group in self.groups)
                and ("*" in self.resources or resource in self.resources)
                and (self.namespaces is None or ns in self.namespaces)
                and (self.names is None or name in self.names))


# --- the server ---------------------------------------------------------------------

class Event:
    __slots__ = ("rv", "type", "key", "obj", "old")

    def __init__(self, rv, type_, key, obj, old):
        self.rv, self.type, self.key, self.obj, self.old = rv, type_, key, obj, old


class KubeAPIServer:
    """The stand-in. start() it, stop() it; url, ca_pem, admin_token."""

    HISTORY = 5000

    def __init__(self, tmp_path=None, bookmark_seconds=5.0, managed_fields=False):
        self.tmp = Path(tmp_path or tempfile.mkdtemp(prefix="kube-api-"))
        self.auth = k8s_api.K8sAPI(self.tmp)  # certificates and the service-account signer
        self.ca_pem = self.auth.ca_pem
        self.admin_token = "admin-" + uuid.uuid4().hex
        self.tokens = {self.admin_token: ("kubernetes-admin", [Rule(["*"], ["*"])])}
        self.user_rules = {}  # username (e.g. system:serviceaccount:ns:sa) -> [Rule]
        self.bookmark_seconds = bookmark_seconds
        self.managed_fields = managed_fields
        self.on_watch = None  # test hook: called with (kind, query) as a watch request arrives
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.kinds = {}  # (group, version, plural) -> Kind
        for k in BUILTINS:
            self.kinds[(k.group, k.version, k.plural)] = k
        self.objects = {}  # (group, plural) -> {(ns, name): obj}
        self.rv = 1
        self.history = []  # [Event] ordered by rv
        self.history_rvs = []
        self.compacted_rv = 0  # events at or below are gone: a watch from older is 410
        self.watch_epoch = 0
        self.stopping = False
        self.requests = []
        self.connections = set()  # open client sockets, cut by stop()
        self.httpd = None
        for ns in ("default", "kube-system", "kube-public"):
            self._create(self.kinds[("", "v1", "namespaces")], None, {"metadata": {"name": ns}})

    # --- tokens and permissions ------------------------------------------------

    def add_token(self, user, rules):
        """A new bearer token for user, allowed what rules say (list of Rule)."""
        tok = "tok-" + uuid.uuid4().hex
        with self.lock:
            self.tokens[tok] = (user, list(rules))
        return tok

    def allow(self, user, *rules):
        """Grants rules to user (a service account's tokens use its username)."""
        with self.lock:
            self.user_rules.setdefault(user, []).extend(rules)

    def _authenticate(self, bearer):
        if not bearer:
            return None
        with self.lock:
            if bearer in self.tokens:
                return self.tokens[bearer]
        claims = self.auth._claims(bearer)
        sa = self.auth._identity(claims) if claims else None
        aud = (claims or {}).get("aud") or []
        if sa is None or k8s_api.API_AUDIENCE not in (aud if isinstance(aud, list) else [aud]):
            return None
        user = f"system:serviceaccount:{sa.namespace}:{sa.name}"
        with self.lock:
            return user, list(self.user_rules.get(user, []))

    # --- kubeconfig ----------------------------------------------------------------

    def write_kubeconfig(self, path, token=None, namespace="default"):
        cfg = {
            "apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
            "clusters": [{"name": "stand-in", "cluster": {
                "server": self.url,
                "certificate-authority-data": base64.b64encode(self.ca_pem.encode()).decode()}}],
            "users": [{"name": "stand-in", "user": {"token": token or self.admin_token}}],
            "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "stand-in",
                                                          "namespace": namespace}}],
        }
        Path(path).write_text(yaml.safe_dump(cfg, sort_keys=False))
        return str(path)

    # --- direct access for tests -----------------------------------------------------

    def kind(self, api_version, plural):
        group, _, version = api_version.rpartition("/")
        with self.lock:
            k = self.kinds.get((group, version, plural))
        if k is None:
            raise KeyError(f"{api_version} {plural} is not served")
        return k

    def get(self, api_version, plural, ns, name):
        """A copy of the object, or None."""
        k = self.kind(api_version, plural)
        with self.lock:
            o = self.objects.get((k.group, k.plural), {}).get((ns if k.namespaced else None, name))
            return copy.deepcopy(o)

    def list(self, api_version, plural, ns=None):
        k = self.kind(api_version, plural)
        with self.lock:
            return [copy.deepcopy(o) for (n, _), o in sorted(self.objects.get((k.group, k.plural), {}).items(),
                                                             key=lambda x: (x[0][0] or "", x[0][1]))
                    if ns is None or n == ns]

    def create(self, api_version, plural, ns, obj):
        """Creates as a POST would (validation included); returns the stored copy."""
        return self._create(self.kind(api_version, plural), ns, copy.deepcopy(obj))

    def put(self, api_version, plural, ns, obj, sub=None):
        k = self.kind(api_version, plural)
        return self._update(k, ns, obj["metadata"]["name"], copy.deepcopy(obj), sub)

    def delete(self, api_version, plural, ns, name):
        return self._delete(self.kind(api_version, plural), ns, name, {})

    def namespace(self, name, labels=None):
        """Makes namespace name (idempotent)."""
        if self.get("v1", "namespaces", None, name) is None:
            self.create("v1", "namespaces", None, {"metadata": {"name": name, "labels": labels or {}}})

    def service_account(self, ns, name):
        self.namespace(ns)
        if self.get("v1", "serviceaccounts", ns, name) is None:
            self.create("v1", "serviceaccounts", ns, {"metadata": {"name": name}})

    def events(self, ns=None):
        return self.list("v1", "events", ns)

    def compact(self):
        """Forgets the watch history: a watch from any resourceVersion before
        now gets the 410 ERROR event."""
        with self.lock:
            self.compacted_rv = self.rv
            self.history.clear()
            self.history_rvs.clear()

    def drop_watches(self):
        """Cuts every open watch connection (as an API server restart does)."""
        with self.cond:
            self.watch_epoch += 1
            self.cond.notify_all()

    def clear_requests(self):
        with self.lock:
            self.requests.clear()

    def requests_to(self, method=None, contains=""):
        with self.lock:
            return [r for r in self.requests if (method is None or r["method"] == method) and contains in r["path"]]

    # --- store ---------------------------------------------------------------------------

    def _bucket(self, k):
        return self.objects.setdefault((k.group, k.plural), {})

    def _state_at(self, k, rv):
        """The kind's objects as they were at resourceVersion rv: the
        present with every later event of the kind undone (the history
        reaches back past rv; the caller checked compaction)."""
        objects = dict(self._bucket(k))
        for ev in reversed(self.history):
            if ev.rv <= rv:
                break
            if ev.key != (k.group, k.plural):
                continue
            md = ev.obj["metadata"]
            key = (md.get("namespace"), md["name"])
            if ev.type == "ADDED":
                objects.pop(key, None)
            elif ev.type == "MODIFIED":
                objects[key] = ev.old
            else:  # DELETED: as it was before
                objects[key] = ev.old if ev.old is not None else ev.obj
        return objects

    def _next_rv(self):
        self.rv += 1
        return self.rv

    def _manage(self, k, obj):
        """metadata.managedFields as the real server writes it (managed_fields=True)."""
        if not self.managed_fields:
            return

        def fields(v):
            return {f"f:{a}": fields(b) for a, b in v.items()} if isinstance(v, dict) else {}
        body = {a: b for a, b in obj.items() if a not in ("apiVersion", "kind")}
        md = {a: b for a, b in obj["metadata"].items()
              if a in ("labels", "annotations", "finalizers", "ownerReferences")}
        body["metadata"] = md
        obj["metadata"]["managedFields"] = [{
            "manager": "trove-stand-in-client", "operation": "Update", "apiVersion": k.api_version,
            "time": now_time(), "fieldsType": "FieldsV1", "fieldsV1": fields(body)}]

    def _record(self, type_, k, obj, old=None):
        ev = Event(int(obj["metadata"]["resourceVersion"]), type_, (k.group, k.plural), copy.deepcopy(obj),
                   old)
        self.history.append(ev)
        self.history_rvs.append(ev.rv)
        if len(self.history) > self.HISTORY:
            cut = len(self.history) - self.HISTORY // 2
            self.compacted_rv = self.history[cut - 1].rv
            del self.history[:cut]
            del self.history_rvs[:cut]
        self.cond.notify_all()

    def _check_ns(self, k, ns):
        if not k.namespaced:
            return None
        if not ns:
            raise bad_request("the server could not find the requested resource: a namespace is required")
        if (None, ns) not in self.objects.get(("", "namespaces"), {}):
            raise APIError(404, "NotFound", f'namespaces "{ns}" not found',
                           {"name": ns, "kind": "namespaces"})
        return ns

    def _prepare(self, k, name, obj, strict):
        """Type checks, kind-specific rules and (custom resources) schema."""
        if not isinstance(obj, dict):
            raise bad_request(f"the object provided is unrecognized (must be of type {k.kind})")
        md = obj.get("metadata")
        if md is not None and not isinstance(md, dict):
            raise bad_request("metadata must be an object")
        for f in ("labels", "annotations"):
            v = (md or {}).get(f)
            if v is not None and (not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values())):
                raise bad_request(f"{k.kind} in version \"{k.version}\" cannot be handled as a {k.kind}: "
                                  f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{f} of type string")
        if k.kind == "Secret":
            sd = obj.pop("stringData", None)
            if sd:
                obj.setdefault("data", {})
                for key, val in sd.items():
                    obj["data"][key] = base64.b64encode(str(val).encode()).decode()
            for key, val in (obj.get("data") or {}).items():
                try:
                    base64.b64decode(val, validate=True)
                except (ValueError, TypeError):
                    raise bad_request(f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (data["{key}"])') from None
            obj.setdefault("type", "Opaque")
        if k.kind == "Event":
            for f in ("firstTimestamp", "lastTimestamp"):
                v = obj.get(f)
                if v is not None and (not isinstance(v, str) or not TIME.match(v)):
                    raise bad_request(f'Event in version "v1" cannot be handled as a Event: parsing time {json.dumps(v)} '
                                      f'as "2006-01-02T15:04:05Z07:00": cannot parse {f}')
            v = obj.get("eventTime")
            if v is not None and (not isinstance(v, str) or not MICRO_TIME.match(v)):
                raise bad_request(f'Event in version "v1" cannot be handled as a Event: parsing time {json.dumps(v)} '
                                  'as "2006-01-02T15:04:05.000000Z07:00": cannot parse eventTime as MicroTime')
        errs = validate_meta(md or {}) + validate_kind(k, obj)
        if errs:
            raise invalid(k, name, errs)
        if k.kind == "Lease":
            spec = obj.get("spec") or {}
            for f in ("acquireTime", "renewTime"):
                v = spec.get(f)
                if v is not None and (not isinstance(v, str) or not MICRO_TIME.match(v)):
                    raise bad_request(f'Lease in version "v1" cannot be handled as a Lease: parsing time '
                                      f'{json.dumps(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse '
                                      f'spec.{f} as MicroTime')
            for f in ("leaseDurationSeconds", "leaseTransitions"):
                v = spec.get(f)
                if v is not None and not (isinstance(v, int) and not isinstance(v, bool)):
                    raise bad_request(f'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal '
                                      f'{type(v).__name__} into Go struct field LeaseSpec.spec.{f} of type int32')
        if k.kind == "CustomResourceDefinition":
            self._check_crd(obj)
        if k.schema is not None:
            unknown = []
            top = {kk: v for kk, v in obj.items() if kk not in ("apiVersion", "kind", "metadata")}
            top = schema_default(top, k.schema)
            top = schema_prune(top, {"type": "object", "properties": {
                p: s for p, s in (k.schema.get("properties") or {}).items() if p not in ("apiVersion", "kind", "metadata")},
                "x-kubernetes-preserve-unknown-fields": k.schema.get("x-kubernetes-preserve-unknown-fields")}, "", unknown)
            if unknown and strict:
                raise bad_request("strict decoding error: " + ", ".join(f'unknown field "{u[1:]}"' for u in unknown))
            obj = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": md or {}} | top
            errs = []
            schema_validate({kk: v for kk, v in obj.items() if kk not in ("apiVersion", "kind", "metadata")},
                            {"type": "object", "properties": {p: s for p, s in (k.schema.get("properties") or {}).items()
                                                               if p not in ("apiVersion", "kind", "metadata")},
                             "required": [r for r in k.schema.get("required") or [] if r != "metadata"]}, "", errs)
            if errs:
                raise invalid(k, name, [(f[1:] if f.startswith(".") else f, r, m) for f, r, m in errs])
        return obj

    def _check_crd(self, obj):
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        name = (obj.get("metadata") or {}).get("name", "")
        causes = []
        if name != f"{names.get('plural')}.{spec.get('group')}":
            causes.append(("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            causes.append(("spec.scope", "FieldValueNotSupported", 'Unsupported value: "%s": supported values: "Cluster", "Namespaced"' % spec.get("scope")))
        vers = spec.get("versions") or []
        if not vers:
            causes.append(("spec.versions", "FieldValueRequired", "Required value: must have exactly one version marked as storage version"))
        if sum(1 for v in vers if v.get("storage")) != 1 and vers:
            causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: must have exactly one version marked as storage version"))
        for i, v in enumerate(vers):
            s = (v.get("schema") or {}).get("openAPIV3Schema")
            if not isinstance(s, dict) or s.get("type") != "object":
                causes.append((f"spec.versions[{i}].schema.openAPIV3Schema.type", "FieldValueRequired",
                               "Required value: must not be empty at the root"))
        if causes:
            raise invalid(self.kinds[("apiextensions.k8s.io", "v1", "customresourcedefinitions")], name, causes)

    def _serve_crd(self, crd):
        spec = crd["spec"]
        names = spec["names"]
        for v in spec.get("versions") or []:
            if not v.get("served", True):
                continue
            sch = (v.get("schema") or {}).get("openAPIV3Schema")
            self.kinds[(spec["group"], v["name"], names["plural"])] = Kind(
                spec["group"], v["name"], names["plural"], names["kind"], namespaced=spec["scope"] == "Namespaced",
                status="status" in (v.get("subresources") or {}), short=names.get("shortNames") or [],
                categories=names.get("categories") or [],
                builtin=False, schema=sch, columns=v.get("additionalPrinterColumns"))
        crd.setdefault("status", {})
        crd["status"] = {
            "acceptedNames": {kk: vv for kk, vv in names.items()},
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": now_time()},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": now_time()}],
            "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")],
        }

    def _unserve_crd(self, crd):
        spec = crd["spec"]
        for v in spec.get("versions") or []:
            self.kinds.pop((spec["group"], v["name"], spec["names"]["plural"]), None)
        self.objects.pop((spec["group"], spec["names"]["plural"]), None)

    def _create(self, k, ns, obj, strict=False):
        with self.lock:
            md = obj.get("metadata") if isinstance(obj, dict) else None
            if not isinstance(md, dict):
                md = {}
                if isinstance(obj, dict):
                    obj["metadata"] = md
            if md.get("generateName") and not md.get("name"):
                md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
            name = md.get("name")
            if k.namespaced and md.get("namespace") and ns and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            ns = self._check_ns(k, ns)
            if ns and self._bucket(self.kinds[("", "v1", "namespaces")])[(None, ns)]["metadata"].get("deletionTimestamp"):
                raise APIError(403, "Forbidden", f'{k.qualified} "{name}" is forbidden: unable to create new content in '
                               f'namespace {ns} because it is being terminated',
                               {"name": name, "group": k.group, "kind": k.plural, "causes": [
                                   {"reason": "NamespaceTerminating", "field": "metadata.namespace",
                                    "message": f"namespace {ns} is being terminated"}]})
            if not name:
                raise invalid(k, "", [("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")])
            if not (DNS1123_LABEL if k.plural == "namespaces" else DNS1123_SUB).match(name) or len(name) > 253:
                raise invalid(k, name, [("metadata.name", "FieldValueInvalid",
                                         f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                                         "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")])
            if k.namespaced:
                md["namespace"] = ns
            obj = self._prepare(k, name, obj, strict)
            md = obj["metadata"]
            bucket = self._bucket(k)
            if (ns, name) in bucket:
                raise APIError(409, "AlreadyExists", f'{k.qualified} "{name}" already exists',
                               {"name": name, "group": k.group, "kind": k.plural})
            if k.status and k.kind != "Namespace":
                obj.pop("status", None)
            for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "uid", "selfLink"):
                md.pop(f, None)
            obj["apiVersion"], obj["kind"] = k.api_version, k.kind
            md.update({"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": now_time(),
                       "resourceVersion": str(self._next_rv())})
            if k.namespaced:
                md["namespace"] = ns
            else:
                md.pop("namespace", None)
            if k.spec:
                md["generation"] = 1
            self._manage(k, obj)
            if k.kind == "Namespace":
                md.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
                obj["spec"] = {"finalizers": ["kubernetes"]}
                obj["status"] = {"phase": "Active"}
            if k.kind == "CustomResourceDefinition":
                self._serve_crd(obj)
            if k.kind == "ServiceAccount":
                sa = self.auth.account(ns, name)
                sa.uid = md["uid"]
            bucket[(ns, name)] = obj
            self._record("ADDED", k, obj)
            return copy.deepcopy(obj)

    def _lookup(self, k, ns, name):
        """The stored object or 404 naming it (not its namespace: only a
        create checks that the namespace exists)."""
        ns = ns if k.namespaced else None
        o = self._bucket(k).get((ns, name))
        if o is None:
            raise not_found(k, name)
        return ns, o

    def _update(self, k, ns, name, obj, sub=None, strict=False, patched=False):
        """PUT (or the result of a PATCH when patched): preconditions, status
        subresource rules, generation, finalizers."""
        with self.lock:
            ns, cur = self._lookup(k, ns, name)
            if not isinstance(obj, dict):
                raise bad_request(f"the object provided is unrecognized (must be of type {k.kind})")
            md = obj.get("metadata")
            if not isinstance(md, dict):
                md = obj["metadata"] = {}
            if md.get("name", name) != name:
                raise bad_request(f'the name of the object ({md.get("name")}) does not match the name on the URL ({name})')
            if k.namespaced and md.get("namespace") and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            rv = md.get("resourceVersion")
            if not rv and not patched and (not k.builtin or k.kind == "Lease"):
                raise invalid(k, name, [("metadata.resourceVersion", "FieldValueInvalid",
                                         "Invalid value: 0x0: must be specified for an update")])
            if rv and rv != cur["metadata"]["resourceVersion"]:
                raise APIError(409, "Conflict", f'Operation cannot be fulfilled on {k.qualified} "{name}": the object '
                               "has been modified; please apply your changes to the latest version and try again",
                               {"name": name, "group": k.group, "kind": k.plural})
            if sub == "status":
                new = copy.deepcopy(cur)
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
            else:
                new = obj
                keep = {f: cur["metadata"][f] for f in ("uid", "creationTimestamp", "generation", "deletionTimestamp",
                                                         "deletionGracePeriodSeconds") if f in cur["metadata"]}
                new["metadata"].update(keep)
                if k.status:
                    if "status" in cur:
                        new["status"] = cur["status"]
                    else:
                        new.pop("status", None)
                if cur["metadata"].get("deletionTimestamp"):
                    added = set(md.get("finalizers") or []) - set(cur["metadata"].get("finalizers") or [])
                    if added:
                        raise APIError(422, "Invalid", f'{k.kind} "{name}" is invalid: metadata.finalizers: Forbidden: '
                                       "no new finalizers can be added if the object is being deleted")
            new["apiVersion"], new["kind"] = k.api_version, k.kind
            new["metadata"]["name"] = name
            if k.namespaced:
                new["metadata"]["namespace"] = ns
            new = self._prepare(k, name, new, strict)
            if k.kind == "Secret" and cur.get("type") != new.get("type"):
                raise invalid(k, name, [("type", "FieldValueInvalid", f'Invalid value: "{new.get("type")}": field is immutable')])
            strip = lambda o: {a: b for a, b in o.items() if a not in ("metadata", "status", "apiVersion", "kind")}
            if k.spec and sub != "status" and strip(new) != strip(cur):
                new["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
            if k.kind == "CustomResourceDefinition":
                self._serve_crd(new)
            if self.managed_fields and "managedFields" not in new["metadata"] and "managedFields" in cur["metadata"]:
                new["metadata"]["managedFields"] = cur["metadata"]["managedFields"]  # left out: kept
            if {**new, "metadata": {**new["metadata"], "resourceVersion": cur["metadata"]["resourceVersion"]}} == cur:
                return copy.deepcopy(cur)  # no change: no new resourceVersion, no event
            self._manage(k, new)
            new["metadata"]["resourceVersion"] = str(self._next_rv())
            self._bucket(k)[(ns, name)] = new
            self._record("MODIFIED", k, new, copy.deepcopy(cur))
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                self._remove(k, ns, name)
            return copy.deepcopy(new)

    def _patch(self, k, ns, name, ctype, patch, sub, strict):
        with self.lock:
            ns, cur = self._lookup(k, ns, name)
            ctype = (ctype or "").split(";")[0].strip()
            if ctype == "application/merge-patch+json":
                new = merge_patch(cur, patch)
            elif ctype == "application/json-patch+json":
                new = json_patch(cur, patch)
            elif ctype == "application/strategic-merge-patch+json" and k.builtin:
                new = strategic_patch(cur, patch)
            else:
                raise APIError(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json"
                               + (", application/strategic-merge-patch+json" if k.builtin else ""))
            if not isinstance(new, dict):
                raise bad_request("the patch did not produce an object")
            prv = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
            if not prv:
                new.setdefault("metadata", {})["resourceVersion"] = cur["metadata"]["resourceVersion"]
            return self._update(k, ns, name, new, sub, strict, patched=True)

    def _delete(self, k, ns, name, opts):
        with self.lock:
            ns, cur = self._lookup(k, ns, name)
            pre = (opts or {}).get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != cur["metadata"]["uid"] or (
                    pre.get("resourceVersion") and pre["resourceVersion"] != cur["metadata"]["resourceVersion"]):
                raise APIError(409, "Conflict", f'Operation cannot be fulfilled on {k.qualified} "{name}": '
                               "Precondition failed", {"name": name, "group": k.group, "kind": k.plural})
            policy = (opts or {}).get("propagationPolicy") or ("Orphan" if (opts or {}).get("orphanDependents") else "Background")
            if cur["metadata"].get("finalizers") or k.kind == "Namespace":
                if not cur["metadata"].get("deletionTimestamp"):
                    new = copy.deepcopy(cur)
                    new["metadata"]["deletionTimestamp"] = now_time()
                    new["metadata"]["deletionGracePeriodSeconds"] = 0
                    new["metadata"]["resourceVersion"] = str(self._next_rv())
                    if k.kind == "Namespace":
                        new["status"] = {"phase": "Terminating"}
                    self._bucket(k)[(ns, name)] = new
                    self._record("MODIFIED", k, new, copy.deepcopy(cur))
                    cur = new
                if k.kind == "Namespace":
                    for (g, p), bucket in list(self.objects.items()):
                        kk = next((x for x in self.kinds.values() if (x.group, x.plural) == (g, p)), None)
                        for (n2, nm2) in list(bucket):
                            if kk and kk.namespaced and n2 == name:
                                self._delete(kk, n2, nm2, {})
                    if not any(n2 == name for b in self.objects.values() for (n2, _) in b):
                        return self._remove(k, ns, name, policy)
                return copy.deepcopy(cur)
            return self._remove(k, ns, name, policy)

    def _remove(self, k, ns, name, policy="Background"):
        cur = self._bucket(k).pop((ns, name))
        cur["metadata"]["resourceVersion"] = str(self._next_rv())
        self._record("DELETED", k, cur)
        if k.kind == "CustomResourceDefinition":
            self._unserve_crd(cur)
        if k.kind == "ServiceAccount":
            self.auth.accounts.pop((ns, name), None)
            self.auth.revoked.add(cur["metadata"]["uid"])
        self._collect(cur["metadata"]["uid"], policy)
        nsk = self.kinds[("", "v1", "namespaces")]
        owner = self._bucket(nsk).get((None, ns)) if k.namespaced else None
        if owner and owner["metadata"].get("deletionTimestamp") and not any(
                n == ns for b in self.objects.values() for (n, _) in b):
            self._remove(nsk, None, ns)  # the namespace controller's last step
        return copy.deepcopy(cur)

    def _collect(self, uid, policy):
        """Garbage collection of dependents of a removed owner."""
        for (g, p), bucket in list(self.objects.items()):
            kk = next((x for x in self.kinds.values() if (x.group, x.plural) == (g, p)), None)
            if kk is None:
                continue
            for (n, nm), o in list(bucket.items()):
                refs = o["metadata"].get("ownerReferences") or []
                if not any(r.get("uid") == uid for r in refs):
                    continue
                rest = [r for r in refs if r.get("uid") != uid]
                if policy == "Orphan" or rest:
                    new = copy.deepcopy(o)
                    new["metadata"]["ownerReferences"] = rest
                    if not rest:
                        del new["metadata"]["ownerReferences"]
                    new["metadata"]["resourceVersion"] = str(self._next_rv())
                    bucket[(n, nm)] = new
                    self._record("MODIFIED", kk, new, copy.deepcopy(o))
                elif (n, nm) in bucket:
                    self._delete(kk, n, nm, {"propagationPolicy": "Background"})

    def _snapshot(self):
        """Everything a write may change (taken and restored under the lock)."""
        return (copy.deepcopy(self.objects), self.rv, list(self.history), list(self.history_rvs), self.compacted_rv,
                dict(self.kinds), dict(self.auth.accounts), set(self.auth.revoked))

    def _restore(self, s):
        (self.objects, self.rv, self.history, self.history_rvs, self.compacted_rv, self.kinds,
         self.auth.accounts, self.auth.revoked) = s

    # --- watch -------------------------------------------------------------------------

    def _events_since(self, key, since):
        i = bisect.bisect_right(self.history_rvs, since)
        return [e for e in self.history[i:] if e.key == key]

    # --- serving -----------------------------------------------------------------------

    def start(self, port=0):
        """Serves on port (0: a free one). After stop(), start(api.port)
        brings the same API server back with every object kept, as a
        restarted kube-apiserver over the same etcd."""
        api = self

        class Handler(_Handler):
            server_api = api

        with self.cond:
            self.stopping = False
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.auth.cert_file), str(self.auth.key_file))
        # the handshake happens in the connection's thread, so a client that
        # stalls in it cannot hold up the accept loop
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        """Stops listening and cuts every open connection (kept-alive ones
        and watches), so clients see the server gone."""
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        with self.lock:
            conns, self.connections = list(self.connections), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body go out as separate writes: no 40 ms delayed-ACK stall
    server_api = None

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        with self.server_api.lock:
            self.server_api.connections.add(self.connection)

    def finish(self):
        with self.server_api.lock:
            self.server_api.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    # --- answers ---------------------------------------------------------------------

    def _send(self, code, obj, ctype="application/json"):
        body = json.dumps(obj).encode()
        self._log["status"] = code  # before the answer leaves: a test may read it as soon as it arrives
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _fail(self, e):
        self._send(e.code, e.status())

    # --- request -------------------------------------------------------------------------

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                raw += self.rfile.read(size)
                self.rfile.readline()
            return raw
        return self.rfile.read(n) if n else b""

    def _handle(self):
        api = self.server_api
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self._log = {"method": self.command, "path": url.path, "query": q, "user": None, "status": None,
                     "content_type": self.headers.get("Content-Type"), "body": None}
        with api.lock:
            api.requests.append(self._log)
        raw = self._body() if self.command in ("POST", "PUT", "PATCH", "DELETE") else b""
        try:
            body = None
            bearer = self.headers.get("Authorization", "")
            bearer = bearer[7:].strip() if bearer.startswith("Bearer ") else None
            who = api._authenticate(bearer)
            if who is None:
                raise APIError(401, "Unauthorized", "Unauthorized")
            self._log["user"] = who[0]
            ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
            if raw and ctype == "application/vnd.kubernetes.protobuf":
                try:
                    body = decode_protobuf(raw)
                except (ValueError, IndexError, UnicodeDecodeError):
                    raise bad_request("the object provided is unrecognized: bad protobuf") from None
                if body is not None:
                    raw = json.dumps(body).encode()
            if raw and not ctype.endswith("json") and body is None:
                # Protobuf, CBOR, YAML apply: the stand-in speaks JSON only.
                raise APIError(415, "UnsupportedMediaType", 'the body of the request was in an unknown format - '
                               'accepted media types include: application/json, application/merge-patch+json, '
                               'application/json-patch+json, application/strategic-merge-patch+json')
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise bad_request("the object provided is unrecognized: invalid JSON") from None
            self._log["body"] = body
            self._route(url.path, q, body, who)
        except APIError as e:
            self._fail(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    # --- routing -------------------------------------------------------------------------

    def _route(self, path, q, body, who):
        api = self.server_api
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        if self.command == "GET" and path in ("/version", "/version/"):
            return self._send(200, VERSION)
        if self.command == "GET" and path in ("/healthz", "/readyz", "/livez"):
            return self._send(200, "ok")
        if parts[:1] == ["openapi"]:
            return self._openapi(parts, q)
        if self.command == "GET" and path == "/api":
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{api.port}"}]})
        if self.command == "GET" and path == "/apis":
            return self._send(200, self._groups())
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[:1] == ["apis"] and len(parts) == 2 and self.command == "GET":
            g = next((x for x in self._groups()["groups"] if x["name"] == parts[1]), None)
            if g is None:
                raise APIError(404, "NotFound", "the server could not find the requested resource")
            return self._send(200, {"kind": "APIGroup", "apiVersion": "v1"} | g)
        else:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        with api.lock:
            served = [k for k in api.kinds.values() if (k.group, k.version) == (group, version)]
        if not served:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            if self.command != "GET":
                raise APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            return self._send(200, self._resource_list(group, version, served))
        watch = rest[0] == "watch"
        if watch:
            rest = rest[1:]
        ns = None
        plurals = {k.plural: k for k in served}
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in plurals and plurals[rest[2]].namespaced:
            ns, rest = rest[1], rest[2:]
        if not rest or rest[0] not in plurals or len(rest) > 3:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        k = plurals[rest[0]]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub and not (sub == "status" and k.status) and sub not in k.subs:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        if k.namespaced and name and ns is None and not (k.plural == "namespaces"):
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        if q.get("watch") in ("1", "true"):
            watch = True
        verb = {"GET": "watch" if watch else ("get" if name else "list"), "POST": "create", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete"}[self.command]
        if verb not in k.verbs and not (sub == "token" and verb == "create"):
            raise APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if sub == "token":
            verb = "create"
        self._authorize(who, verb, k, ns, name, sub)
        strict = q.get("fieldValidation") == "Strict"
        if k.kind == "TokenReview":
            return self._token_review(body)
        if sub == "token":
            return self._token_request(ns, name, body)
        if watch:
            return self._watch(k, ns, name, q)
        if self.command == "GET":
            if name:
                with api.lock:
                    _, o = api._lookup(k, ns, name)
                    o = copy.deepcopy(o)
                return self._send(200, self._table(k, [o], o["metadata"]["resourceVersion"]) if self._wants_table() else o)
            lst = self._list(k, ns, q)
            if self._wants_table():
                t = self._table(k, lst["items"], lst["metadata"]["resourceVersion"])
                t["metadata"] = lst["metadata"]
                return self._send(200, t)
            return self._send(200, lst)
        dry = q.get("dryRun")
        if self.command == "DELETE" and isinstance(body, dict) and body.get("dryRun"):
            dry = ",".join(body["dryRun"]) if isinstance(body["dryRun"], list) else str(body["dryRun"])
        if dry not in (None, "All"):
            raise bad_request(f'Invalid value: "{dry}": supported values: "All"')
        if not dry:
            return self._send(*self._write(k, ns, name, sub, body, strict))
        with api.lock:  # dryRun=All: everything checked and answered, nothing kept
            saved = api._snapshot()
            try:
                answer = self._write(k, ns, name, sub, body, strict)
            finally:
                api._restore(saved)
        return self._send(*answer)

    def _write(self, k, ns, name, sub, body, strict):
        """POST, PUT, PATCH or DELETE: (status, answer)."""
        api = self.server_api
        if self.command == "POST":
            if name:
                raise APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            if isinstance(body, dict):
                self._check_type(k, body)
            return 201, api._create(k, ns, body, strict)
        if not name:
            raise APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if self.command == "PUT":
            if isinstance(body, dict):
                self._check_type(k, body)
            return 200, api._update(k, ns, name, body, sub, strict)
        if self.command == "PATCH":
            if body is None:
                raise bad_request("the body of the request was empty")
            return 200, api._patch(k, ns, name, self.headers.get("Content-Type"), body, sub, strict)
        gone = api._delete(k, ns, name, body or {})
        if k.builtin and k.kind not in ("Pod", "Namespace", "CustomResourceDefinition") \
                and not gone["metadata"].get("deletionTimestamp"):
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                         "details": {"name": name, "group": k.group, "kind": k.plural, "uid": gone["metadata"]["uid"]}}
        return 200, gone

    def _check_type(self, k, body):
        av, kind = body.get("apiVersion"), body.get("kind")
        if av and av != k.api_version:
            raise bad_request(f'the API version in the data ({av}) does not match the expected API version ({k.api_version})')
        if kind and kind != k.kind:
            raise bad_request(f'the kind in the data ({kind}) does not match the expected kind ({k.kind})')

    def _authorize(self, who, verb, k, ns, name, sub):
        user, rules = who
        res = f"{k.plural}/{sub}" if sub else k.plural
        if any(r.allows(verb, k.group, res, ns, name) for r in rules):
            return
        what = f'{k.qualified} "{name}"' if name else k.qualified
        where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
        raise APIError(403, "Forbidden", f'{what} is forbidden: User "{user}" cannot {verb} resource "{res}" in API '
                       f'group "{k.group}"{where}', {"name": name or "", "group": k.group, "kind": k.plural})

    # --- discovery -----------------------------------------------------------------------

    def _groups(self):
        api = self.server_api
        groups = {}
        with api.lock:
            for k in api.kinds.values():
                if k.group:
                    groups.setdefault(k.group, [])
                    if k.version not in groups[k.group]:
                        groups[k.group].append(k.version)
        out = []
        for g, vs in sorted(groups.items()):
            gv = [{"groupVersion": f"{g}/{v}", "version": v} for v in vs]
            out.append({"name": g, "versions": gv, "preferredVersion": gv[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}

    def _resource_list(self, group, version, served):
        res = []
        for k in sorted(served, key=lambda x: x.plural):
            r = {"name": k.plural, "singularName": k.singular, "namespaced": k.namespaced, "kind": k.kind,
                 "verbs": k.verbs}
            if k.short:
                r["shortNames"] = k.short
            if k.categories:
                r["categories"] = k.categories
            res.append(r)
            if k.status:
                res.append({"name": f"{k.plural}/status", "singularName": "", "namespaced": k.namespaced,
                            "kind": k.kind, "verbs": ["get", "patch", "update"]})
            for s in k.subs:
                res.append({"name": f"{k.plural}/{s}", "singularName": "", "namespaced": k.namespaced,
                            "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest",
                            "verbs": ["create"]})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": res}

    def _openapi(self, parts, q):
        """Enough OpenAPI v3 for kubectl to see that the server validates
        fields itself (fieldValidation): every PATCH path lists it."""
        api = self.server_api
        with api.lock:
            kinds = list(api.kinds.values())
        if parts == ["openapi", "v3"]:
            gvs = sorted({(k.group, k.version) for k in kinds})
            paths = {}
            for g, v in gvs:
                p = f"apis/{g}/{v}" if g else "api/v1"
                paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={api.rv}"}
            return self._send(200, {"paths": paths})
        if len(parts) >= 4 and parts[:2] == ["openapi", "v3"]:
            gv = parts[2:]
            group, version = ("", "v1") if gv[0] == "api" else (gv[1] if len(gv) > 1 else "", gv[2] if len(gv) > 2 else "")
            paths = {}
            for k in kinds:
                if (k.group, k.version) != (group, version):
                    continue
                base = f"{k.gv_path}/namespaces/{{namespace}}/{k.plural}/{{name}}" if k.namespaced else f"{k.gv_path}/{k.plural}/{{name}}"
                gvk = {"group": k.group, "version": k.version, "kind": k.kind}
                params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}]
                paths[base] = {"patch": {"x-kubernetes-group-version-kind": gvk, "parameters": params},
                               "put": {"x-kubernetes-group-version-kind": gvk, "parameters": params}}
                coll = base.rsplit("/", 1)[0]
                paths[coll] = {"post": {"x-kubernetes-group-version-kind": gvk, "parameters": params}}
            if not paths:
                raise APIError(404, "NotFound", "the server could not find the requested resource")
            return self._send(200, {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
                                    "paths": paths, "components": {"schemas": {}}})
        raise APIError(404, "NotFound", "the server could not find the requested resource")

    # --- list and watch -----------------------------------------------------------------

    def _selectors(self, k, q):
        lsel = parse_label_selector(q.get("labelSelector"))
        fsel = parse_field_selector(q.get("fieldSelector"), k)
        return lambda o: lsel((o.get("metadata") or {}).get("labels")) and fsel(o)

    def _wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def _as_table(self, k, ev):
        t = self._table(k, [ev["object"]], ev["object"]["metadata"]["resourceVersion"])
        return {"type": ev["type"], "object": t}

    def _table(self, k, items, rv):
        """Server-side printing (kubectl get): Name, then the kind's columns."""
        cols = [{"name": "Name", "type": "string", "format": "name", "description": "the object's name",
                 "priority": 0}]
        cols += [{"name": c["name"], "type": c.get("type", "string"), "format": c.get("format", ""),
                  "description": c.get("description", ""), "priority": c.get("priority", 0)} for c in k.columns]
        rows = []
        for o in items:
            cells = [o["metadata"]["name"]]
            for c in k.columns:
                v = json_path(o, c["jsonPath"])
                if c.get("type") == "date" and isinstance(v, str):
                    v = human_age(v)
                cells.append("<none>" if v is None and c.get("type") != "date" else v)
            rows.append({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                                    "metadata": o["metadata"]}})
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
                "columnDefinitions": cols, "rows": rows}

    def _list(self, k, ns, q):
        """A list, in pages as the real server gives them: limit=N returns
        N items and, when more match, metadata.continue (an opaque token
        holding the list's resourceVersion and the last key returned) and
        remainingItemCount (without selectors). A continued page is read
        at the first page's resourceVersion, a consistent snapshot, from
        the history; once that is compacted the token is 410 Expired."""
        api = self.server_api
        match = self._selectors(k, q)
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise bad_request(f'invalid value for limit: "{q.get("limit")}"') from None
        token = q.get("continue")
        with api.lock:
            if token:
                if q.get("resourceVersion"):
                    raise bad_request("specifying resource version is not allowed when using continue")
                rv, start = decode_continue(token)
                if rv > api.rv:
                    raise bad_request("continue key is not valid: a resourceVersion not reached yet")
                if rv <= api.compacted_rv:
                    raise APIError(410, "Expired", "The provided continue parameter is too old to display a "
                                   "consistent list result. You can start a new list without the continue "
                                   "parameter, or use the continue token in this response to retrieve the "
                                   "remainder of the results. Continuing with the provided token results in an "
                                   "inconsistent list - objects that were created, modified, or deleted between "
                                   "the time the first chunk was returned and now may show up in the list.")
                objects = api._state_at(k, rv)
            else:
                rv, start, objects = api.rv, None, api._bucket(k)
            keys = sorted(((n or "", nm), o) for (n, nm), o in objects.items()
                          if (ns is None or n == ns) and match(o))
            keys = [(key, o) for key, o in keys if start is None or key > start]
            page = keys[:limit] if limit > 0 else keys
            items = [copy.deepcopy(o) for _, o in page]
        md = {"resourceVersion": str(rv)}
        if len(page) < len(keys):
            md["continue"] = encode_continue(rv, page[-1][0])
            if not q.get("labelSelector") and not q.get("fieldSelector"):
                md["remainingItemCount"] = len(keys) - len(page)
        return {"kind": f"{k.kind}List", "apiVersion": k.api_version, "metadata": md, "items": items}

    def _chunk(self, obj):
        data = json.dumps(obj).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, k, ns, name, q):
        api = self.server_api
        with api.lock:
            # A watch belongs to the server it reached: drop_watches() from
            # here on cuts it, as a restart would, even while it is opening.
            epoch = api.watch_epoch
        if api.on_watch:
            api.on_watch(k, q)
        match = self._selectors(k, q)
        want = lambda o: ((ns is None or o["metadata"].get("namespace") == ns)
                          and (name is None or o["metadata"]["name"] == name) and match(o))
        timeout = float(q.get("timeoutSeconds") or 1800)
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        since = q.get("resourceVersion") or "0"
        try:
            since_i = int(since)
        except ValueError:
            raise bad_request(f'invalid resource version: "{since}"') from None
        with api.lock:
            initial = []
            if since_i == 0:
                since_i = api.rv
                initial = [{"type": "ADDED", "object": copy.deepcopy(o)} for o in api._bucket(k).values() if want(o)]
            gone = since_i < api.compacted_rv
        self._log["status"] = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.close_connection = True
        if gone:
            return self._expired(since_i)
        table = self._wants_table()
        for ev in initial:
            self._chunk(self._as_table(k, ev) if table else ev)
        deadline = time.monotonic() + timeout
        last_bm = time.monotonic()
        last = since_i
        while True:
            with api.cond:
                while True:
                    if api.stopping or api.watch_epoch != epoch:
                        out, dropped = [], True
                        break
                    if last < api.compacted_rv:  # fell behind the history while writing
                        out, dropped = None, False
                        break
                    evs = api._events_since((k.group, k.plural), last)
                    left = deadline - time.monotonic()
                    bm_due = bookmarks and time.monotonic() - last_bm >= api.bookmark_seconds
                    if evs or left <= 0 or bm_due:
                        out, dropped = evs, False
                        cur_rv = api.rv
                        break
                    api.cond.wait(min(left, api.bookmark_seconds if bookmarks else left, 1.0))
            if out is None:
                return self._expired(last)
            if dropped:
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            for e in out:
                now_in, was_in = want(e.obj), e.old is not None and want(e.old)
                if e.type == "MODIFIED":
                    t = "MODIFIED" if now_in and was_in else "ADDED" if now_in else "DELETED" if was_in else None
                else:
                    t = e.type if now_in else None
                if t:
                    ev = {"type": t, "object": e.obj}
                    self._chunk(self._as_table(k, ev) if table else ev)
            last = cur_rv  # every event up to it was looked at
            if bookmarks and (time.monotonic() - last_bm >= api.bookmark_seconds):
                last_bm = time.monotonic()
                self._chunk({"type": "BOOKMARK", "object": {
                    "kind": k.kind, "apiVersion": k.api_version,
                    "metadata": {"resourceVersion": str(last)}}})
            if time.monotonic() >= deadline:
                self.wfile.write(b"0\r\n\r\n")
                return

    def _expired(self, rv):
        """The watch cache's answer to a resourceVersion it no longer has."""
        self._chunk({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"too old resource version: {rv} ({self.server_api.compacted_rv + 1})",
            "reason": "Expired", "code": 410}})
        self.wfile.write(b"0\r\n\r\n")

    # --- TokenRequest and TokenReview ---------------------------------------------------

    def _token_request(self, ns, name, body):
        api = self.server_api
        with api.lock:
            _, sa_obj = api._lookup(api.kinds[("", "v1", "serviceaccounts")], ns, name)
            sa = api.auth.accounts.get((ns, name))
        spec = (body or {}).get("spec") or {}
        exp = spec.get("expirationSeconds", 3600)
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise bad_request("TokenRequest in version \"v1\" cannot be handled as a TokenRequest: spec.expirationSeconds must be an integer")
        if exp < 600:
            raise APIError(422, "Invalid", f'TokenRequest.authentication.k8s.io "{name}" is invalid: '
                           "spec.expirationSeconds: Invalid value: %d: may not specify a duration less than 10 minutes" % exp,
                           {"name": name, "group": "authentication.k8s.io", "kind": "TokenRequest", "causes": [
                               {"reason": "FieldValueInvalid", "field": "spec.expirationSeconds",
                                "message": f"Invalid value: {exp}: may not specify a duration less than 10 minutes"}]})
        exp = min(exp, 2**32 // 2)
        auds = spec.get("audiences") or [k8s_api.API_AUDIENCE]
        tok = api.auth.token(sa, aud=auds, ttl=exp)
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=exp)
        self._send(201, {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                         "metadata": {"name": name, "namespace": ns, "creationTimestamp": None},
                         "spec": {"audiences": auds, "expirationSeconds": exp,
                                  "boundObjectRef": spec.get("boundObjectRef")},
                         "status": {"token": tok, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}})

    def _token_review(self, body):
        api = self.server_api
        if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
            raise bad_request("TokenReview in version \"v1\" cannot be handled as a TokenReview: missing spec")
        doc = dict(body)
        doc["status"] = api.auth.review(body["spec"])
        self._send(201, doc)
