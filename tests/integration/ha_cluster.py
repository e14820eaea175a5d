"""One HA cluster of Trove nodes over one PostgreSQL for a test module: the
start and the stop the HA modules share (test_ha_reads.py,
test_ha_mounts.py, test_ha_forward.py, test_ha_uses.py).

    with ha_cluster(directory, config, count, setup=setup) as c:
        ...

config(i, api_port, cluster_port): node i's config text (test_ha.ha_hcl
or the module's own); its log name is "<directory's name>-<i>". Each
node's ports are chosen just before it starts, and chosen again when
another process took one meanwhile (the kernel hands out the same range
for outgoing connections). Node 0 is started, initialised (one key),
unsealed and waited for until it is active; setup(c), when given, runs
then, with only node 0 up (mounts made before the others unseal are
loaded by them at unseal). The other nodes are started and unsealed after.
Yields a test_ha.Cluster (keys, token, nodes: trove_harness.Server with
root_token and cluster_port set). At the end every node is stopped, and
anything a process did wrong (a crash, a sanitizer report, an unclean
exit) fails the module.

The lock's timings are short (TROVE_HA_LOCK_TTL_MS=1500,
TROVE_HA_RETRY_MS=150) so that takeovers are quick."""

import contextlib
import time

from test_ha import Cluster
from trove_harness import TROVE_BIN, Server, TroveProcess, free_port, sanitizer_env, stop_all


def start_node(directory, config, i, env, started):
    """Node i started on fresh ports; a Server. A port taken between its
    choice and the bind gets the node new ones (three tries)."""
    for attempt in range(3):
        api_port, cluster_port = free_port(), free_port()
        cfg = directory / f"node{i}.hcl"
        cfg.write_text(config(i, api_port, cluster_port))
        url = f"http://127.0.0.1:{api_port}"
        proc = TroveProcess([TROVE_BIN, "server", "-config", cfg], directory / "logs", f"{directory.name}-{i}",
                            url + "/v1/sys/health", env=env)
        try:
            proc.start()
        except AssertionError:
            if attempt == 2 or "Address already in use" not in proc.stderr_path.read_text(errors="replace"):
                raise
            continue
        finally:
            started.append(proc)
        s = Server(proc, url)
        s.cluster_port = cluster_port
        return s
    raise AssertionError("unreachable")


@contextlib.contextmanager
def ha_cluster(directory, config, count=3, setup=None):
    env = sanitizer_env()
    env.update(TROVE_HA_LOCK_TTL_MS="1500", TROVE_HA_RETRY_MS="150")
    started = []
    try:
        a = start_node(directory, config, 0, env, started)
        c = Cluster([a])
        body = a.init(1, 1)
        c.keys, c.token = body["keys"], body["root_token"]
        a.unseal()
        deadline = time.monotonic() + 10
        while a.get("/v1/sys/health").status_code != 200:
            assert time.monotonic() < deadline, "node 0 did not become active"
            time.sleep(0.05)
        if setup:
            setup(c)
        for i in range(1, count):
            s = start_node(directory, config, i, env, started)
            s.root_token = c.token
            s.unseal(c.keys)
            c.nodes.append(s)
        yield c
    finally:
        stop_all(started)
