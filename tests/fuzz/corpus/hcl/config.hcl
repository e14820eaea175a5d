storage "lmdb" {
  path = "/var/lib/trove"
  max_size = 1073741824
}

listener "tcp" {
  address = "127.0.0.1:8200"
  tls_disable = 1
}

ui = true
default_lease_ttl = "768h"
