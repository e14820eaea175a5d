-- bench/leases/read.lua — GET one KV v2 secret with TROVE_TOKEN (the read
-- whose latency the lease benchmarks watch).
dofile("bench/lib/count.lua")
wrk.method = "GET"
wrk.path = "/v1/secret/data/app/db"
wrk.headers["X-Vault-Token"] = os.getenv("TROVE_TOKEN") or ""
