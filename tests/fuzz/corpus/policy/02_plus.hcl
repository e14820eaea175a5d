path "secret/+/teamb" {
  capabilities = ["read"]
}
path "secret/+/+/teamb/*" {
  capabilities = ["read", "list"]
}
path "secret/zip-*" {
  capabilities = ["deny"]
}
