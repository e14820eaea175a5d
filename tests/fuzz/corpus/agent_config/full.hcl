0pid_file = "/tmp/agent.pid"
vault {
  address = "http://127.0.0.1:8200"
  retry { num_retries = 5 }
}
auto_auth {
  method "approle" {
    mount_path = "auth/approle"
    config = {
      role_id_file_path = "/tmp/role"
      remove_secret_id_file_after_reading = false
    }
  }
  sink "file" {
    config = { path = "/tmp/sink" mode = 0600 }
  }
}
template {
  contents = "{{ with secret \"kv/data/x\" }}{{ .Data.data.a }}{{ end }}"
  destination = "/tmp/out"
  perms = "0600"
  command = "echo hi"
  wait { min = "1s" max = "3s" }
}
template {
  source = "/tmp/t.tmpl"
  destination = "/tmp/out2"
  exec { command = ["touch", "/tmp/x"] timeout = "5s" }
}
template_config { static_secret_render_interval = "10s" lease_renewal_threshold = 0.8 }
exec { command = ["/bin/sleep", "100"] restart_stop_signal = "SIGINT" }
env_template "FOO" { contents = "x" }
listener "tcp" { address = "127.0.0.1:8100" tls_disable = true agent_api { enable_quit = true } }
listener "unix" { address = "/tmp/agent.sock" }
api_proxy { use_auto_auth_token = "force" }
cache {}