storage "lmdb" {
  path = "/x"
  bad = "unterminated
}
