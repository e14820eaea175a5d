path "secret/foo" {
  capabilities = ["read", "list"]
}
path "secret/bar/*" {
  capabilities = ["create", "update"]
}
