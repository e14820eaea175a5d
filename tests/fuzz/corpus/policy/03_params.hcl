path "secret/restricted" {
  capabilities = ["create", "update", "patch"]
  required_parameters = ["name"]
  allowed_parameters = {
    "name" = []
    "bar"  = ["zip", "zap", "foo-*", "*-end"]
    "*"    = []
  }
  denied_parameters = {
    "policies" = []
    "list" = ["a"]
  }
}
