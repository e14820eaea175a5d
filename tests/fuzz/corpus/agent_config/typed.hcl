0auto_auth {
 method { type = "approle" config = { a = 1 b = true c = 1.5 } }
 sink { type = "file" config = { path = "/p" mode = 0600 } }
}
