"""Real provd processes on 127.0.0.1 for the integration tests.

A LocalNet is a network made by `provctl genesis localnet` in a temporary
directory on free ports: node i (from 1) serves the API on base+i and peers on
base+100+i, like tools/localnet. Observers get the ports after the
validators'. Every provd runs in its own process group and is killed when the
net is closed, when the test process exits (atexit) or on SIGTERM/SIGINT.

Nothing here sleeps to synchronize: every wait polls a condition (an HTTP
answer, a process exit) against a deadline and fails with what it last saw.
Standard library only.
"""

import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

POLL_S = 0.05  # how often conditions are polled
HTTP_TIMEOUT_S = 2.0

_live_procs = set()


def _kill_all():
    for p in list(_live_procs):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        _live_procs.discard(p)


def _on_signal(signum, _frame):
    _kill_all()
    raise SystemExit(128 + signum)


atexit.register(_kill_all)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


class Timeout(AssertionError):
    pass


def wait_for(what, fn, timeout_s, interval_s=POLL_S):
    """Polls fn() until it returns a truthy value; returns it or raises Timeout naming `what`."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        try:
            last = fn()
        except Exception as e:  # a node that is still starting refuses connections
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise Timeout(f"timed out after {timeout_s} s waiting for {what}; last: {last!r}")
        time.sleep(interval_s)


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_base_port(count):
    """A base port P in 20000..40000 such that P+1..P+count and P+101..P+100+count are free now."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 40000 - 200)
        ports = [base + i for i in range(1, count + 1)] + [base + 100 + i for i in range(1, count + 1)]
        if all(port_free(p) for p in ports):
            return base
    raise RuntimeError("no free port range found")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, body=None, headers=None, timeout=HTTP_TIMEOUT_S):
    """(status, headers, body bytes); HTTP error statuses are returned, not raised."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def parse_metrics(text):
    """Prometheus text -> {'name{labels}': float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


class Node:
    def __init__(self, net, index, name, directory, api_port, p2p_port):
        self.net = net
        self.index = index
        self.name = name
        self.dir = directory
        self.api_port = api_port
        self.p2p_port = p2p_port
        self.proc = None
        self.log_path = os.path.join(directory, "provd.log")
        self.url = f"http://127.0.0.1:{api_port}"

    def write_config(self, genesis="../genesis.json"):
        with open(os.path.join(self.dir, "provd.conf"), "w") as f:
            f.write(
                f"# integration test node {self.name}\n"
                f"genesis = {genesis}\nnode_key = node.key\ndata_dir = data\n"
                f"p2p_listen = 127.0.0.1:{self.p2p_port}\napi_listen = 127.0.0.1:{self.api_port}\n"
            )

    def start(self):
        assert not self.running(), f"{self.name} already runs"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.net.provd, "--config", "provd.conf"],
            cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        _live_procs.add(self.proc)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL, then wait until the process is gone."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        _live_procs.discard(self.proc)

    def stop(self, timeout_s=20):
        """SIGTERM (graceful), SIGKILL if it has not exited within timeout_s; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
        _live_procs.discard(self.proc)
        return self.proc.returncode

    def status(self):
        code, _, body = http("GET", self.url + "/v1/status")
        if code != 200:
            raise RuntimeError(f"{self.name} /v1/status: {code} {body[:200]!r}")
        s = json.loads(body)
        for k in ("height", "log_size", "round", "checkpoint_size", "mempool_txs"):
            s[k] = int(s.get(k, 0))
        return s

    def height(self):
        return self.status()["height"]

    def metrics(self):
        code, _, body = http("GET", self.url + "/metrics")
        if code != 200:
            raise RuntimeError(f"{self.name} /metrics: {code}")
        return parse_metrics(body.decode())

    def checkpoint(self):
        """(size, root base64, note text) of the served checkpoint, or None before the first."""
        code, _, body = http("GET", self.url + "/v1/checkpoint")
        if code == 404:
            return None
        if code != 200:
            raise RuntimeError(f"{self.name} /v1/checkpoint: {code}")
        text = body.decode()
        lines = text.split("\n")
        return int(lines[1]), lines[2], text

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout_s=30, min_height=1):
        def ready():
            if not self.running():
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            return self.height() >= min_height
        wait_for(f"{self.name} to reach height {min_height}", ready, timeout_s)


class LocalNet:
    """A network of `validators` validators and `observers` observers (not started)."""

    def __init__(self, provd, provctl, validators=4, observers=0, root=None, chain_id=None):
        self.provd = provd
        self.provctl = provctl
        self.own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="prov-it-")
        self.dir = os.path.join(self.root, "net")
        self.base = pick_base_port(validators + observers)
        args = ["genesis", "localnet", "--validators", str(validators), "--out", self.dir,
                "--base-port", str(self.base)]
        if chain_id:
            args += ["--chain-id", chain_id]
        self.ctl(*args)
        self.validators = []
        for i in range(1, validators + 1):
            n = Node(self, i, f"validator-{i}", os.path.join(self.dir, f"node{i}"),
                     self.base + i, self.base + 100 + i)
            n.write_config()
            self.validators.append(n)
        self.observers = []
        for j in range(1, observers + 1):
            i = validators + j
            d = os.path.join(self.dir, f"node{i}")
            os.makedirs(d, mode=0o700)
            name = f"observer-{j}"
            self.ctl("keygen", "--name", name, "--out", os.path.join(d, "node.key"))
            self.ctl("genesis", "add-observer", "--genesis", os.path.join(self.dir, "genesis.json"), "--name", name,
                     "--key-file", os.path.join(d, "node.key"), "--address", f"127.0.0.1:{self.base + 100 + i}")
            n = Node(self, i, name, d, self.base + i, self.base + 100 + i)
            n.write_config()
            self.observers.append(n)
        self.nodes = self.validators + self.observers

    # ----------------------------------------------------------------- tools

    def ctl(self, *args, home=None, check=True, timeout=60):
        """Runs provctl --json ARGS; returns (exit code, parsed JSON or None, stderr)."""
        env = dict(os.environ)
        env.pop("PROV_HOME", None)
        cmd = [self.provctl, "--json"] + list(args)
        if home:
            cmd[1:1] = ["--home", home]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        out = None
        if p.stdout.strip():
            try:
                out = json.loads(p.stdout.strip().splitlines()[-1])
            except json.JSONDecodeError:
                out = p.stdout
        if check and p.returncode != 0:
            raise AssertionError(f"provctl {' '.join(args)} exited {p.returncode}: {p.stdout} {p.stderr}")
        return p.returncode, out, p.stderr

    def anchor(self, path, dataset, wait=True, timeout=60):
        args = ["anchor", path, "--dataset", dataset]
        if not wait:
            args.append("--no-wait")
        return self.ctl(*args, home=self.dir, check=False, timeout=timeout)

    def home_for(self, node):
        """A provctl home that names only `node`, so reads go to that node and no other."""
        d = os.path.join(self.root, f"home-{node.name}")
        if not os.path.isdir(d):
            os.makedirs(d)
            for f in ("genesis.json", "client.key", "agency.secret"):
                shutil.copy2(os.path.join(self.dir, f), os.path.join(d, f))
            with open(os.path.join(self.dir, "provctl.conf")) as src, \
                    open(os.path.join(d, "provctl.conf"), "w") as dst:
                for line in src:
                    if not line.startswith("node "):
                        dst.write(line)
                dst.write(f"node = {node.url}\n")
        return d

    def signed_get(self, node, path):
        """The JSON answer of a signed read of `path` on `node` (provctl tx get-signed)."""
        rc, out, err = self.ctl("tx", "get-signed", path, "--node", node.url, home=self.dir, check=False)
        if rc != 0:
            raise AssertionError(f"signed GET {path} on {node.name}: exit {rc}: {out} {err}")
        return out

    # ------------------------------------------------------------- lifecycle

    def start(self, nodes=None, timeout_s=60):
        nodes = self.validators if nodes is None else nodes
        for n in nodes:
            n.start()
        for n in nodes:
            n.wait_ready(timeout_s)
        return self

    def close(self):
        for n in self.nodes:
            n.kill()
        if self.own_root and not os.environ.get("PROV_IT_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def logs(self, lines=20):
        return "\n".join(f"--- {n.name} ({n.log_path})\n{n.log_tail(lines)}" for n in self.nodes)

    # ---------------------------------------------------------------- checks

    def running(self, nodes=None):
        return [n for n in (nodes or self.nodes) if n.running()]

    def heights(self, nodes=None):
        return {n.name: n.height() for n in (nodes or self.running())}

    def wait_height(self, height, nodes=None, timeout_s=30):
        nodes = nodes or self.running()
        wait_for(f"height >= {height} on {[n.name for n in nodes]}",
                 lambda: all(n.height() >= height for n in nodes), timeout_s)

    def wait_log_size(self, size, nodes=None, timeout_s=30):
        nodes = nodes or self.running()
        wait_for(f"log size >= {size} on {[n.name for n in nodes]}",
                 lambda: all(n.status()["log_size"] >= size for n in nodes), timeout_s)

    def block_hash(self, node, height, status=None):
        """Node's hash of the block at `height`: from its status if that is its head, else a signed read."""
        status = status or node.status()
        if status["height"] == height:
            return status["last_block_hash"]
        return self.signed_get(node, f"/v1/blocks/{height}")["block_hash"]

    def agree(self, nodes=None):
        """Checks that the nodes hold the same chain: the same block hash at the lowest height any of
        them reports (the leader of a round commits ~one block before the others, so heights rarely
        match), and the same log root wherever the log sizes match. Returns {height, block_hash, log_size}."""
        nodes = nodes or self.running()
        ss = [n.status() for n in nodes]
        h = min(s["height"] for s in ss)
        hashes = {n.name: self.block_hash(n, h, s) for n, s in zip(nodes, ss)}
        assert len(set(hashes.values())) == 1, f"divergence at height {h}: {hashes}"
        by_size = {}
        for s in ss:
            by_size.setdefault(s["log_size"], set()).add(s["log_root"])
        for size, roots in by_size.items():
            assert len(roots) == 1, f"divergence: log roots of size {size}: {roots}"
        return {"height": h, "block_hash": next(iter(hashes.values())),
                "log_size": min(s["log_size"] for s in ss)}

    def checkpoints_agree(self, nodes=None):
        """Nodes whose served checkpoints have the same size must have the same root."""
        by_size = {}
        for n in nodes or self.running():
            cp = n.checkpoint()
            if cp is None:
                continue
            size, root, _ = cp
            if size in by_size:
                assert by_size[size][1] == root, (
                    f"checkpoints of size {size} differ: {by_size[size][0]} {by_size[size][1]} vs {n.name} {root}")
            by_size[size] = (n.name, root)
        return by_size
