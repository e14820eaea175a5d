policy = <<EOF
path "a" {
  capabilities = ["read"]
}
EOF
indented = <<-EOT
    one
      two
    EOT
after = 1
