0template { destination = "/x" contents = "y" perms = 0640 wait { min = "1s" max = "2s" } exec { command = ["a"] timeout = "3s" } }
env_template "A" { contents = "x" }
exec { command = ["b"] }
