"""bench/pki/setup.py URL [N] — the PKI benchmarks' set-up: initialises and
unseals the server, mounts pki with an EC P-256 root and makes the roles
bench-ec (key_type ec, P-256) and bench-rsa (rsa 2048), both no_store;
issues one EC certificate to check, then N more (callgrind.sh's load).
Prints the root token."""

import sys

sys.path.insert(0, "bench/lib")
from trove_api import call, ready_root  # noqa: E402

url = sys.argv[1]
extra = int(sys.argv[2]) if len(sys.argv) > 2 else 0
root = ready_root(url)
call(url, "POST", "/v1/sys/mounts/pki", {"type": "pki", "config": {"max_lease_ttl": "87600h"}}, root)
call(url, "POST", "/v1/pki/root/generate/internal", {"common_name": "Bench Root", "key_type": "ec",
                                                     "ttl": "8760h"}, root)
for name, kt in (("bench-ec", "ec"), ("bench-rsa", "rsa")):
    call(url, "POST", f"/v1/pki/roles/{name}", {"allowed_domains": "bench.test", "allow_subdomains": True,
                                                "key_type": kt, "no_store": True, "max_ttl": "24h"}, root)
out = call(url, "POST", "/v1/pki/issue/bench-ec", {"common_name": "svc.bench.test"}, root)
assert out["data"]["private_key_type"] == "ec", out
for _ in range(extra):
    call(url, "POST", "/v1/pki/issue/bench-ec", {"common_name": "svc.bench.test", "ttl": "1h"}, root)
print(root)
