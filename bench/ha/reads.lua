-- bench/ha/reads.lua — wrk: reads one kv-v2 secret (bench/ha/reads.py).
-- The token comes from TROVE_TOKEN; a 307 (a standby that redirects)
-- counts as not 200.
dofile("bench/lib/count.lua")

wrk.method = "GET"
wrk.path = "/v1/kv/data/bench"
wrk.headers["X-Vault-Token"] = os.getenv("TROVE_TOKEN") or ""
