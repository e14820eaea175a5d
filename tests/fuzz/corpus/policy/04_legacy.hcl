path "sys/*" { policy = "sudo" }
path "auth/token/*" { policy = "write" }
path "secret/*" { policy = "read" }
path "secret/x" { policy = "deny" }
