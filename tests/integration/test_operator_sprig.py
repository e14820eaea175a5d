"""`trove secrets-operator`'s transformation templates in VSO's function
set (sprig's, docs/operator.md "Transformation templates"): a
VaultStaticSecret whose templates use get, printf, mustDeepCopy, set,
mustToPrettyJson, b64enc, upper and dig, as VSO's documentation writes
them, gets a Secret with those keys rendered as VSO renders them; a
template calling consul-template's `secret` is refused with a
TransformationError and no Secret. Runs against the same stand-in and
dev server as test_secrets_operator.py, with its fixtures."""

import json

from test_secrets_operator import (  # noqa: F401  (fixtures)
    _has_operator, api, condition, kv_put, operator, pytestmark, secret_data, trove, vss, wait_for, VSO)

TEMPLATES = {
    "url": {"text": '{{- $host := get .Annotations "shop.example/db-host" -}}'
                    '{{- printf "postgresql://%s:%s@%s/orders" (get .Secrets "username") (get .Secrets "password")'
                    ' $host -}}'},
    "app.json": {"text": '{{- $copy := .Secrets | mustDeepCopy -}}'
                         '{{- $_ := set $copy "host" (get .Annotations "shop.example/db-host") -}}'
                         '{{- mustToPrettyJson $copy -}}'},
    "env": {"text": '{{- range $k, $v := .Secrets -}}{{- printf "%s=%s\\n" ($k | upper) ($v | b64enc) -}}{{- end -}}'
                    '{{- range $k, $v := get .Metadata "custom_metadata" -}}{{ printf "META_%s=%s" $k $v }}'
                    '{{- end -}}'},
    "region": {"text": '{{ dig "missing" "none" .Secrets | quote }}'},
}


def test_vso_templates_render_in_sprig(api, trove, operator):
    kv_put(trove, "orders", {"username": "v-orders", "password": "Xy<9&z"})
    r = trove.request("POST", "/v1/secret/metadata/orders", token=trove.root_token,
                      json={"custom_metadata": {"owner": "shop"}})
    assert r.status_code in (200, 204), r.text
    obj = vss("orders", "orders-app", destination={
        "name": "orders-app", "create": True,
        "transformation": {"excludeRaw": True, "excludes": [".*"], "templates": TEMPLATES}})
    obj["metadata"]["annotations"] = {"shop.example/db-host": "pg.db.svc:5432"}
    api.create(VSO, "vaultstaticsecrets", "app", obj)
    data = wait_for("the Secret", lambda: secret_data(api, "app", "orders-app"))
    assert data["url"] == "postgresql://v-orders:Xy<9&z@pg.db.svc:5432/orders"
    assert json.loads(data["app.json"]) == {"username": "v-orders", "password": "Xy<9&z", "host": "pg.db.svc:5432"}
    assert "\\u003c" in data["app.json"]  # Go's JSON escapes <, > and &
    assert data["env"] == "PASSWORD=WHk8OSZ6\nUSERNAME=di1vcmRlcnM=\nMETA_owner=shop"
    assert data["region"] == '"none"'
    assert set(data) == set(TEMPLATES)


def test_consul_template_functions_refused(api, trove, operator):
    kv_put(trove, "legacy", {"password": "p"})
    obj = vss("legacy", "legacy", destination={
        "name": "legacy", "create": True,
        "transformation": {"templates": {"k": {"text": '{{ with secret "secret/data/legacy" }}x{{ end }}'}}}})
    api.create(VSO, "vaultstaticsecrets", "app", obj)
    o = wait_for("the refusal", lambda: (o := api.get(VSO, "vaultstaticsecrets", "app", "legacy"))
                 and condition(o, "SecretSynced") and o)
    c = condition(o, "SecretSynced")
    assert c["status"] == "False"
    assert 'function "secret"' in c["message"] and "transformation templates" in c["message"], c
    assert api.get("v1", "secrets", "app", "legacy") is None
