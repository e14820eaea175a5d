# wrapping limits and comments
path "auth/approle/role/my-role/secret-id" {
    capabilities = ["create", "update"]
    min_wrapping_ttl = "1s"
    max_wrapping_ttl = "90s"
    comment = "wrapped only"
}
path "identity/entity/id/{{identity.entity.id}}" { capabilities = ["read"] }
