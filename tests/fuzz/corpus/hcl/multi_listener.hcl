backend "inmem" {}
listener "tcp" { address = "0.0.0.0:8200" }
listener "tcp" { address = "0.0.0.0:8201", tls_cert_file = "/c.pem" }
disable_mlock = true
