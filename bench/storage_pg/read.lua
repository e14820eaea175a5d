-- bench/storage_pg/read.lua — wrk: reads one kv-v2 secret. The token comes
-- from TROVE_TOKEN.
dofile("bench/lib/count.lua")

wrk.method = "GET"
wrk.path = "/v1/secret/data/bench/first"
wrk.headers["X-Vault-Token"] = os.getenv("TROVE_TOKEN") or ""
