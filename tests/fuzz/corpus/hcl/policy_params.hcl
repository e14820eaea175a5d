path "secret/data/{{identity.entity.id}}/*" {
  capabilities = [
    "create", // c
    "update", /* u */
  ]
  allowed_parameters = {
    "ttl" = ["1h", "2h"]
    "*" = []
  }
  min_wrapping_ttl = "1m"
}
