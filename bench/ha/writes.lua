-- bench/ha/writes.lua — wrk: writes one kv-v2 secret (bench/ha/forward.py).
-- The token comes from TROVE_TOKEN; a 307 (a standby that redirected
-- instead of forwarding) counts as not 200.
dofile("bench/lib/count.lua")

wrk.method = "POST"
wrk.path = "/v1/kv/data/bench-w"
wrk.headers["X-Vault-Token"] = os.getenv("TROVE_TOKEN") or ""
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"data":{"v":"' .. string.rep("x", 100) .. '"}}'
