#!/usr/bin/env python3
"""tools/bench net: a 4-validator localnet under load (docs/benchmarks.md, "Network").

    tools/bench net [--duration S] [--json] [--validators N] [--connections C] [--procs P] [--batch B] [--pace-ms MS] [--keep] [--samples-out FILE]

1. Measures this machine's Ed25519 verification rate (`provbench crypto`) and
   the signature ceiling: cores x verifications/s / validators (every node
   verifies every transaction once). The machine's speed drifts (by 40 % in
   a minute on shared hosts), so the ceiling is measured right around the
   maximum-load window it is compared with: just before the load starts and
   just after it ends, each time with every node paused (SIGSTOP, then
   SIGCONT) so nothing else runs; ceiling_tx_per_s is the mean of the two.
   It is also measured before the localnet starts and after it is gone
   (ceiling_before_run_tx_per_s, ceiling_after_run_tx_per_s).
2. Starts its own localnet in a temporary directory on free ports
   (tests/integration/harness.py: process groups, killed on exit, on
   SIGINT/SIGTERM and on errors).
3. Pre-signs anchor transactions (`provctl tx anchor-batch`), so the load
   generator holds no key and spends no time signing.
4. Maximum load: C keep-alive connections (spread over P processes,
   round-robin over the nodes) submit transactions as fast as the nodes
   take them for S seconds: B per POST /v1/transactions:batch (--batch,
   default 100), or with --batch 1 one raw POST /v1/transactions each.
   Transactions answered busy are offered again after BUSY_BACKOFF_S (50 ms).
   committed_tx_per_s is the growth of /v1/status log_size over the last
   3/4 of that window (the first quarter warms up).
5. Half load, once the mempools are empty and the nodes quiet again (the
   flushes and compactions the maximum load left behind have finished):
   the same connections pace submissions at half the measured
   committed rate for S/2 seconds (with --batch > 1 each connection sends
   the transactions due, at most B, at most every PACE_TICK_S) while
   sampler threads submit single transactions with wait=true; latency is
   submit -> answer, i.e. committed *and* covered by a cosigned checkpoint
   (the receipt is ready), an upper bound of the commit latency. As at
   maximum load the first quarter of the window warms up: latency figures
   are of submissions sent after it (latency_ms_p99_incl_warmup: of all).
6. cpu_percent_per_node from /proc/<pid>/stat (utime + stime) over the
   maximum-load window; 100 = one core. The load generator's own CPU is
   reported too: it shares the machine's cores with the nodes.

Prints one JSON object (--json) or a readable summary. Standard library only.
"""

import argparse
import base64
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
BATCH_MAX = 1000     # the API's bound on transactions per batch (ApiConfig::max_batch_txs)
PACE_TICK_S = 0.01   # paced batches: one request per connection at most this often
# A connection answered busy waits this long before offering the same
# transactions again. The node asks for a second (Retry-After: 1); a
# 10 000-transaction mempool holds about three seconds of a localnet's
# throughput, so 50 ms keeps it full, while retrying every few milliseconds
# spent the nodes' CPU on parsing batches only to answer them busy.
BUSY_BACKOFF_S = 0.05


def log(msg):
    print(f"bench net: {msg}", file=sys.stderr, flush=True)


def signature_ceiling(provbench, validators, seconds=1.0, timeout_s=300):
    out = subprocess.run([provbench, "crypto", "--verify-only", "--json", "--seconds", str(seconds)],
                         capture_output=True, text=True, check=True, timeout=timeout_s).stdout
    r = json.loads(out)
    cores = int(r["cores"])
    verify = float(r["ed25519_verify_per_s"])
    return cores, verify, cores * verify / validators


def ceiling_with_nodes_paused(provbench, validators, pids):
    """signature_ceiling() while every node is stopped (SIGSTOP), so the measurement has the
    cores to itself; the nodes continue (SIGCONT) whatever happens. Half a second of
    verifications and at most 10 s for provbench: the pause is meant to stay under the round
    timeout (1 s in the localnet's genesis); an idle round that was already old may still time
    out once, outside the measured windows."""
    stopped = []
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        return signature_ceiling(provbench, validators, seconds=0.5, timeout_s=10)
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass  # already gone (interrupted: the harness killed the nodes)


def stage_ms(m0, m1):
    """Means over two scrapes of one node's synced writes and stage histograms (docs/operator.md), in ms."""
    return {
        "safety_write_ms": write_ms(m0, m1, "provd_safety_write_seconds"),
        "commit_write_ms": write_ms(m0, m1, "provd_commit_write_seconds"),
        "round_ms": write_ms(m0, m1, "provd_round_seconds"),
        "vote_ms": write_ms(m0, m1, "provd_vote_latency_seconds"),
        "admission_ms": write_ms(m0, m1, "provd_admission_seconds"),
        "mempool_to_durable_ms": write_ms(m0, m1, "provd_commit_latency_seconds"),
        "checkpoint_wait_ms": write_ms(m0, m1, "provd_checkpoint_wait_seconds"),
    }


def write_ms(m0, m1, name):
    """Mean wall time in ms of the synced writes a summary metric counts between two scrapes."""
    n = m1.get(name + "_count", 0) - m0.get(name + "_count", 0)
    return round((m1.get(name + "_sum", 0) - m0.get(name + "_sum", 0)) / n * 1e3, 2) if n else None


def cpu_percent_since(t0):
    """CPU of this process and its reaped children (the load processes) since os.times() `t0`,
    in % of one core."""
    t1 = os.times()
    return round((sum(t1[:4]) - sum(t0[:4])) / (t1[4] - t0[4]) * 100, 1)


def machine_ticks():
    """The machine's CPU time so far, all cores: (idle + iowait, steal, total) in ticks, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    return fields[3] + fields[4], fields[7], sum(fields)


def machine_share(t0, t1):
    """Idle and steal over two machine_ticks() readings, in % of all cores' time. Steal is time the
    hypervisor gave this VM's virtual CPUs to someone else: a shared host slowing the run down."""
    total = max(1, t1[2] - t0[2])
    return {"idle_percent": round((t1[0] - t0[0]) / total * 100, 1),
            "steal_percent": round((t1[1] - t0[1]) / total * 100, 1)}


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))


class HttpError(OSError):
    """A response the load generator can not read (the connection is then reopened)."""


class Conn:
    """A keep-alive HTTP/1.1 connection for the load generator, on a plain socket.

    http.client parses every response's headers with the email package; at half load (hundreds
    of small requests a second) that made the generator the largest user of the cores after the
    nodes, competing with them for the cores it measures. This sends each request in one write
    (TCP_NODELAY) and reads a response by its Content-Length, which provd always sets."""

    def __init__(self, host, port, timeout):
        self.addr = (host, port)
        self.timeout = timeout
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection(self.addr, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise HttpError("connection closed by the node")
        self.buf += chunk

    def request(self, path, body, content_type):
        """POSTs `body`; returns (status, response body)."""
        if self.sock is None:
            self._connect()
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.addr[0]}:{self.addr[1]}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.sock.sendall(head + body)
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > 65536:
                raise HttpError("response headers too long")
            self._fill()
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        self.buf = self.buf[end + 4:]
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpError(f"bad status line {lines[0]!r}")
        length, close = None, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding":
                raise HttpError("chunked responses are not expected from provd")
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if length is None:
            raise HttpError("response without Content-Length")
        while len(self.buf) < length:
            self._fill()
        data, self.buf = self.buf[:length], self.buf[length:]
        if close:
            self.close()
        return int(parts[1]), data


def submit(conn, tx, wait=False):
    path = "/v1/transactions?wait=true&timeout_ms=30000" if wait else "/v1/transactions"
    status, _ = conn.request(path, tx, "application/octet-stream")
    return status


def submit_batch(conn, b64s):
    """POST /v1/transactions:batch with base64 transactions; (HTTP status, list of per-tx states or None)."""
    body = ('{"txs":["' + '","'.join(b64s) + '"]}').encode()
    status, data = conn.request("/v1/transactions:batch", body, "application/json")
    if status != 200:
        return status, None
    return status, [x["state"] for x in json.loads(data)["results"]]


# ------------------------------------------------------------ load workers

def worker_proc(idx, ports, txs, threads, start_at, stop_at, rate_per_s, batch, out_q, pace_s=PACE_TICK_S):
    """One load process: `threads` connections submitting `txs` (a list of bytes) between
    start_at and stop_at (time.time()), as fast as possible or paced at rate_per_s in total,
    `batch` transactions per request (1: the single raw submit)."""
    counts = {"sent": 0, "accepted": 0, "busy": 0, "other": 0, "errors": 0, "requests": 0}
    lock = threading.Lock()
    cursor = [0]
    if batch > 1:
        txs = [base64.b64encode(t).decode() for t in txs]

    def next_tx():
        with lock:
            i = cursor[0]
            if i >= len(txs):
                return None
            cursor[0] += 1
            return txs[i]

    def next_txs(n):
        with lock:
            i = cursor[0]
            cursor[0] = min(len(txs), i + n)
            return txs[i:cursor[0]]

    def run_batches(t):
        """Batch mode: each request carries the transactions due (paced) or `batch` of them (maximum
        load); those answered busy or unavailable are offered again in the next request."""
        port = ports[(idx * threads + t) % len(ports)]
        conn = Conn("127.0.0.1", port, timeout=30)
        local = {k: 0 for k in counts}
        per_thread = rate_per_s / threads if rate_per_s else 0
        k = 0  # transactions handed out so far (paced mode)
        now = time.time()
        if now < start_at:
            time.sleep(start_at - now)
        t0 = time.time()
        retry = []
        while time.time() < stop_at:
            want = batch
            if per_thread:
                due = int((time.time() - t0) * per_thread) + 1 - k
                if due <= 0:
                    time.sleep(max(pace_s, (k - (time.time() - t0) * per_thread) / per_thread))
                    continue
                want = min(batch, due)
            todo = retry[:want]
            retry = retry[want:]
            if len(todo) < want:
                fresh = next_txs(want - len(todo))
                k += len(fresh)
                todo += fresh
            if not todo:
                break
            t_req = time.time()
            try:
                st, states = submit_batch(conn, todo)
            except (OSError, ValueError):
                local["errors"] += 1
                retry = todo + retry
                conn.close()
                conn = Conn("127.0.0.1", port, timeout=30)
                continue
            local["requests"] += 1
            local["sent"] += len(todo)
            if states is None:
                local["other"] += len(todo)
                if st in (429, 503):
                    retry = todo + retry
                    time.sleep(BUSY_BACKOFF_S)
                continue
            busy = [tx for tx, s in zip(todo, states) if s in ("busy", "unavailable")]
            local["accepted"] += sum(1 for s in states if s in ("accepted", "committed"))
            local["busy"] += len(busy)
            local["other"] += sum(1 for s in states if s == "rejected")
            if busy:
                retry = busy + retry  # the node is full: offer the same transactions again
                time.sleep(BUSY_BACKOFF_S)
            if per_thread:
                left = pace_s - (time.time() - t_req)
                if left > 0:
                    time.sleep(left)
        conn.close()
        with lock:
            for key in counts:
                counts[key] += local[key]

    def run(t):
        port = ports[(idx * threads + t) % len(ports)]
        conn = Conn("127.0.0.1", port, timeout=30)
        local = {k: 0 for k in counts}
        per_thread = rate_per_s / threads if rate_per_s else 0
        k = 0
        now = time.time()
        if now < start_at:
            time.sleep(start_at - now)
        t0 = time.time()
        retry = None
        while time.time() < stop_at:
            if per_thread:
                due = t0 + k / per_thread
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
            tx = retry or next_tx()
            retry = None
            if tx is None:
                break
            try:
                st = submit(conn, tx)
            except (OSError, ValueError):
                local["errors"] += 1
                conn.close()
                conn = Conn("127.0.0.1", port, timeout=30)
                continue
            local["sent"] += 1
            local["requests"] += 1
            k += 1
            if st in (200, 202):
                local["accepted"] += 1
            elif st in (429, 503):
                local["busy"] += 1
                retry = tx  # the node is full: offer the same transaction again
                time.sleep(BUSY_BACKOFF_S)
            else:
                local["other"] += 1
        conn.close()
        with lock:
            for key in counts:
                counts[key] += local[key]

    ths = [threading.Thread(target=run_batches if batch > 1 else run, args=(t,)) for t in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    out_q.put(counts)


def run_load(ports, txs, procs, threads, start_at, stop_at, rate_per_s=0.0, batch=1, pace_s=PACE_TICK_S):
    """Starts `procs` load processes; returns a function that joins them and sums their counts."""
    q = mp.Queue()
    per = (len(txs) + procs - 1) // procs
    ps = []
    for i in range(procs):
        p = mp.Process(target=worker_proc, daemon=True,
                       args=(i, ports, txs[i * per:(i + 1) * per], threads, start_at, stop_at,
                             rate_per_s / procs, batch, q, pace_s))
        p.start()
        ps.append(p)

    def join():
        total = {}
        for _ in ps:
            for k, v in q.get(timeout=120).items():
                total[k] = total.get(k, 0) + v
        for p in ps:
            p.join(timeout=30)
        return total
    return join


def sample_latency(ports, txs, samplers, stop_at):
    """Sampler threads submitting with wait=true one at a time; returns (submit time, latency ms) pairs."""
    lat = []
    lock = threading.Lock()
    cursor = [0]

    def run(t):
        conn = Conn("127.0.0.1", ports[t % len(ports)], timeout=40)
        while time.time() < stop_at:
            with lock:
                if cursor[0] >= len(txs):
                    return
                tx = txs[cursor[0]]
                cursor[0] += 1
            t0, sent_at = time.perf_counter(), time.time()
            try:
                st = submit(conn, tx, wait=True)
            except (OSError, ValueError):
                conn.close()
                conn = Conn("127.0.0.1", ports[t % len(ports)], timeout=40)
                continue
            ms = (time.perf_counter() - t0) * 1000
            if st == 200:
                with lock:
                    lat.append((sent_at, ms))
        conn.close()

    ths = [threading.Thread(target=run, args=(t,)) for t in range(samplers)]
    for th in ths:
        th.start()
    return ths, lat


def percentile(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def log_size(node):
    return node.status()["log_size"]


def wait_quiet(pids, cpu_percent_max=20.0, timeout_s=30.0):
    """Until the nodes together use under cpu_percent_max of one core over half a second (bounded):
    flushes and compactions the maximum load left behind have finished. Returns the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        a, ta = sum(cpu_ticks(p) for p in pids), time.monotonic()
        time.sleep(0.5)
        b, tb = sum(cpu_ticks(p) for p in pids), time.monotonic()
        if (b - a) / CLK_TCK / (tb - ta) * 100 < cpu_percent_max:
            break
    return round(time.monotonic() - t0, 1)


def wait_drained(nodes, timeout_s=60):
    """Until every mempool is empty (bounded); returns the seconds it took, or None on timeout."""
    t0 = time.monotonic()
    try:
        harness.wait_for("the mempools to drain", lambda: all(n.status()["mempool_txs"] == 0 for n in nodes),
                         timeout_s, interval_s=0.1)
        return round(time.monotonic() - t0, 1)
    except harness.Timeout:
        log("mempools not drained after %d s: %s" % (timeout_s, [(n.name, n.status()["mempool_txs"],
                                                                  n.status()["log_size"]) for n in nodes]))
        return None


# ------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(prog="tools/bench net", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of maximum load (half load: half of it)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--validators", type=int, default=4)
    ap.add_argument("--connections", type=int, default=8, help="concurrent submitting connections")
    ap.add_argument("--procs", type=int, default=2, help="load generator processes (the connections are split)")
    ap.add_argument("--samplers", type=int, default=4, help="wait=true latency samplers at half load")
    ap.add_argument("--batch", type=int, default=100,
                    help=f"transactions per POST /v1/transactions:batch at maximum and half load "
                         f"(1..{BATCH_MAX}; 1: one raw POST /v1/transactions each)")
    ap.add_argument("--max-txs", type=int, default=400000, help="upper bound of pre-signed transactions")
    ap.add_argument("--curve", default="",
                    help="also measure latency at these offered rates, tx/s, comma-separated (e.g. 0,500,1000,2000): "
                         "S/2 seconds each with the samplers, reported in latency_curve")
    ap.add_argument("--pace-ms", type=float, default=PACE_TICK_S * 1000,
                    help="paced load: each connection sends the transactions due at most this often")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--samples-out", default="",
                    help="write the half-load latency samples to this file, one 'unix_time_sent ms' per line")
    ap.add_argument("--log-level", default="", help="provd log_level (debug logs every commit)")
    ap.add_argument("--node-config", action="append", default=[], metavar="KEY=VALUE",
                    help="a provd.conf line for every node (repeatable; docs/operator.md lists the keys)")
    ap.add_argument("--worker-threads", type=int, default=0,
                    help="provd worker_threads for every node (default: provd's own, docs/operator.md)")
    args = ap.parse_args()
    if not (1 <= args.duration <= 3600):
        ap.error("--duration must be 1..3600")
    node_config = []  # (key, value) lines for every provd.conf
    for line in args.node_config:
        key, eq, value = (part.strip() for part in line.partition("="))
        if not eq or not key or not value or "\n" in line:
            ap.error(f"--node-config takes KEY=VALUE, got {line!r}")
        node_config.append((key, value))
    if not (0 <= args.worker_threads <= 256):
        ap.error("--worker-threads must be 1..256 (0: provd's default)")
    if not (1 <= args.batch <= BATCH_MAX):
        ap.error(f"--batch must be 1..{BATCH_MAX}")
    try:
        curve_rates = [float(r) for r in args.curve.split(",") if r.strip()]
    except ValueError:
        ap.error("--curve takes comma-separated rates in tx/s, e.g. 0,500,1000")
    if any(not (0 <= r <= 1e6) for r in curve_rates):
        ap.error("--curve rates must be 0..1000000 tx/s")
    build = os.environ.get("PROV_BUILD_DIR", os.path.join(ROOT, "build"))
    provd = os.path.join(build, "node", "provd")
    provctl = os.path.join(build, "tools", "provctl")
    provbench = os.path.join(build, "tools", "provbench")
    for p in (provd, provctl, provbench):
        if not os.access(p, os.X_OK):
            ap.error(f"{p} is missing: build it (tools/build --target provd provctl provbench)")
    if args.keep:
        os.environ["PROV_IT_KEEP"] = "1"

    cores, verify_per_s, ceiling = signature_ceiling(provbench, args.validators)
    log(f"{cores} cores x {verify_per_s:.0f} verifications/s / {args.validators} validators: "
        f"ceiling {ceiling:.0f} tx/s (measured again around the maximum-load window and after the run)")
    ceiling_before_run = ceiling

    net = harness.LocalNet(provd, provctl, validators=args.validators)
    try:
        # Sign enough for the maximum-load phase at twice the ceiling, the half-load phase and the samplers.
        n_max = int(min(args.max_txs, max(2000, 2 * ceiling * args.duration)))
        n_half = int(min(args.max_txs, max(1000, ceiling * args.duration / 2)))
        n_sample = 20000
        curve_s = max(2.0, args.duration / 2)
        n_curve = [int(r * curve_s * 1.2) + 100 for r in curve_rates]
        total = n_max + n_half + n_sample + sum(n_curve) + 5000 * len(curve_rates)
        txfile = os.path.join(net.root, "txs.b64")
        t0 = time.monotonic()
        net.ctl("tx", "anchor-batch", "--count", str(total), "--dataset-prefix", "demo/bench-", "--out", txfile,
                home=net.dir, timeout=600)
        with open(txfile) as f:
            txs = [base64.b64decode(line) for line in f]
        log(f"pre-signed {len(txs)} transactions in {time.monotonic() - t0:.1f} s "
            f"({sum(map(len, txs)) / len(txs):.0f} bytes each)")
        max_txs, half_txs = txs[:n_max], txs[n_max:n_max + n_half]
        sample_txs = txs[n_max + n_half:n_max + n_half + n_sample]
        curve_txs = txs[n_max + n_half + n_sample:]

        extra = ""
        if args.log_level:
            extra += f"log_level = {args.log_level}\n"
        if args.worker_threads:
            extra += f"worker_threads = {args.worker_threads}\n"
        for key, value in node_config:
            extra += f"{key} = {value}\n"
        if extra:
            for n in net.validators:
                with open(os.path.join(n.dir, "provd.conf"), "a") as f:
                    f.write(extra)
        net.start()
        log(f"localnet in {net.root}, API ports {[n.api_port for n in net.validators]}")
        nodes = net.validators
        ports = [n.api_port for n in nodes]
        pids = [n.proc.pid for n in nodes]

        # ---- maximum load
        log(f"maximum load for {args.duration:.0f} s over {args.connections} connections, "
            f"{args.batch} transaction(s) per request")
        threads = max(1, args.connections // args.procs)
        _, verify_at_start_per_s, ceiling_at_start = ceiling_with_nodes_paused(provbench, args.validators, pids)
        start_at = time.time() + 1.0
        stop_at = start_at + args.duration
        gen0 = os.times()
        join = run_load(ports, max_txs, args.procs, threads, start_at, stop_at, batch=args.batch)
        warm = start_at + args.duration / 4
        harness.wait_for("the warm-up to end", lambda: time.time() >= warm, args.duration + 10, interval_s=0.05)
        st0, m0 = nodes[0].status(), nodes[0].metrics()
        size0, t_size0 = st0["log_size"], time.time()
        ticks0, mach0 = [cpu_ticks(p) for p in pids], machine_ticks()
        ms0 = [n.metrics() for n in nodes]
        harness.wait_for("the load window to end", lambda: time.time() >= stop_at, args.duration + 10,
                         interval_s=0.05)
        st1, m1 = nodes[0].status(), nodes[0].metrics()
        size1, t_size1 = st1["log_size"], time.time()
        ticks1, mach1 = [cpu_ticks(p) for p in pids], machine_ticks()
        ms1 = [n.metrics() for n in nodes]
        counts_max = join()
        gen_cpu = cpu_percent_since(gen0)
        _, verify_at_end_per_s, ceiling_at_end = ceiling_with_nodes_paused(provbench, args.validators, pids)
        log(f"ceiling around the window: {ceiling_at_start:.0f} tx/s before, {ceiling_at_end:.0f} tx/s after")
        window = t_size1 - t_size0
        committed_per_s = (size1 - size0) / window
        blocks = st1["height"] - st0["height"]
        shape = {
            "blocks_per_s": round(blocks / window, 2),
            "txs_per_block": round((size1 - size0) / blocks, 1) if blocks else None,
            "rounds_per_s": round((st1["round"] - st0["round"]) / window, 2),
            "round_timeouts": int(m1.get("provd_consensus_timeouts_total", 0) - m0.get("provd_consensus_timeouts_total", 0)),
            "mempool_txs_at_end": st1["mempool_txs"],
            "safety_write_ms": write_ms(m0, m1, "provd_safety_write_seconds"),
            "commit_write_ms": write_ms(m0, m1, "provd_commit_write_seconds"),
        }
        max_machine = machine_share(mach0, mach1)
        cpu = [round((b - a) / CLK_TCK / window * 100, 1) for a, b in zip(ticks0, ticks1)]
        # What one verification cost inside the nodes during the window
        # (sampled thread CPU time), and the ceiling that cost implies.
        key = "provd_tx_signature_verify_cpu_seconds"
        v_s = sum(b.get(key + "_sum", 0) - a.get(key + "_sum", 0) for a, b in zip(ms0, ms1))
        v_n = sum(b.get(key + "_count", 0) - a.get(key + "_count", 0) for a, b in zip(ms0, ms1))
        verify_us_in_nodes = v_s / v_n * 1e6 if v_n else None
        ceiling_in_nodes = cores / (verify_us_in_nodes / 1e6) / args.validators if verify_us_in_nodes else None
        # Each transaction should be verified once per node: signatures
        # verified (memo misses) per transaction that entered the node's
        # ledger or mempool in the window, per node.
        def entered(a, b):
            return (b.get("provd_committed_txs_total", 0) - a.get("provd_committed_txs_total", 0) +
                    b.get("provd_mempool_txs", 0) - a.get("provd_mempool_txs", 0))
        # A proposal's check that did not wait for a slower admission thread
        # verified the signature a second time: those count too.
        def verified(m):
            return m.get("provd_tx_signatures_verified_total", 0) + m.get("provd_tx_signatures_overtaken_total", 0)
        verified_per_tx = [round((verified(b) - verified(a)) / max(1, entered(a, b)), 3) for a, b in zip(ms0, ms1)]
        # Where each node's CPU went, per committed transaction: the whole
        # of it, and what is left after its signature verifications. Less
        # sensitive to the machine's drift than a rate, and what the ratio
        # to the ceiling is made of: ratio = verify cost / (both costs).
        committed_in_window = max(1, size1 - size0)
        cpu_us_per_tx = [round((b - a) / CLK_TCK / committed_in_window * 1e6, 1) for a, b in zip(ticks0, ticks1)]
        mean_cpu_us = sum(cpu_us_per_tx) / len(cpu_us_per_tx)
        non_verify_us = (mean_cpu_us - verify_us_in_nodes * sum(verified_per_tx) / len(verified_per_tx)
                         if verify_us_in_nodes else None)
        # The generator's processes are children: their CPU is in children_* once they have exited.
        log(f"maximum load: {committed_per_s:.0f} committed tx/s, submissions {counts_max}, node CPU % {cpu}")
        drain_s = wait_drained(nodes)
        quiet_s = wait_quiet(pids)
        log(f"backlog drained in {drain_s} s, nodes quiet {quiet_s} s later")

        def paced(rate, seconds, load_txs, probe_txs, at_start=None):
            """Paced load at `rate` (none for 0) for `seconds` while the samplers submit
            `probe_txs` with wait=true; calls at_start() once the window opens. Returns
            (window start, (sent, ms) samples, join of the load or None, at_start's value)."""
            start_at = time.time() + 0.5
            stop_at = start_at + seconds
            join = run_load(ports, load_txs, args.procs, threads, start_at, stop_at, rate_per_s=rate,
                            batch=args.batch, pace_s=args.pace_ms / 1000) if rate > 0 else None
            harness.wait_for("the paced window to start", lambda: time.time() >= start_at, 10, interval_s=0.01)
            started = at_start() if at_start else None
            ths, timed = sample_latency(ports, probe_txs, args.samplers, stop_at)
            for th in ths:
                th.join(timeout=60)
            return start_at, timed, join, started

        def steady(timed, start_at, seconds):
            """Latencies of submissions sent after the first quarter of the window (the
            generator's processes start and open their connections in it)."""
            return [ms for sent, ms in timed if sent >= start_at + seconds / 4]

        # ---- half load with latency samples
        half_rate = max(1.0, committed_per_s / 2)
        half_s = max(2.0, args.duration / 2)
        log(f"half load: {half_rate:.0f} tx/s for {half_s:.0f} s with {args.samplers} wait=true samplers")
        size_h0 = log_size(nodes[0])
        sh0, mh0, t_h0 = nodes[0].status(), nodes[0].metrics(), time.time()
        gen_h0 = os.times()
        start_at, timed, join, ticks_h0 = paced(half_rate, half_s, half_txs, sample_txs,
                                                at_start=lambda: ([cpu_ticks(p) for p in pids], machine_ticks()))
        ticks_h0, mach_h0 = ticks_h0
        ticks_h1, t_hc, mach_h1 = [cpu_ticks(p) for p in pids], time.time(), machine_ticks()
        half_machine = machine_share(mach_h0, mach_h1)
        sh1, mh1, t_h1 = nodes[0].status(), nodes[0].metrics(), time.time()
        hw = t_h1 - t_h0
        hblocks = sh1["height"] - sh0["height"]
        half_shape = {
            "blocks_per_s": round(hblocks / hw, 2),
            "txs_per_block": round((sh1["log_size"] - sh0["log_size"]) / hblocks, 1) if hblocks else None,
            "rounds_per_s": round((sh1["round"] - sh0["round"]) / hw, 2),
            "round_timeouts": int(mh1.get("provd_consensus_timeouts_total", 0) -
                                  mh0.get("provd_consensus_timeouts_total", 0)),
            **stage_ms(mh0, mh1),
        }
        half_cpu = [round((b - a) / CLK_TCK / (t_hc - start_at) * 100, 1) for a, b in zip(ticks_h0, ticks_h1)]
        # As at maximum load, the first quarter of the window warms up:
        # latency figures are of submissions sent after it; the p99 of all
        # is reported too.
        lat = steady(timed, start_at, half_s)
        lat_all = [ms for _, ms in timed]
        if args.samples_out:
            with open(args.samples_out, "w") as f:
                f.writelines(f"{sent:.3f} {ms:.1f}\n" for sent, ms in sorted(timed))
        counts_half = join()
        half_gen_cpu = cpu_percent_since(gen_h0)
        wait_drained(nodes, timeout_s=20)
        size_h1 = log_size(nodes[0])
        half_committed_per_s = (size_h1 - size_h0) / half_s
        # ---- optional latency curve: the same samplers under paced loads
        curve = []
        at = 0
        for rate, n in zip(curve_rates, n_curve):
            wait_drained(nodes, timeout_s=30)
            wait_quiet(pids)
            log(f"latency curve: {rate:.0f} tx/s for {curve_s:.0f} s")
            load_txs, at = curve_txs[at:at + n], at + n
            probe_txs, at = curve_txs[at:at + 5000], at + 5000
            c_start, c_timed, c_join, (st_c0, mc0, t_c0, ticks_c0, mach_c0) = paced(
                rate, curve_s, load_txs, probe_txs,
                at_start=lambda: (nodes[0].status(), nodes[0].metrics(), time.time(), [cpu_ticks(p) for p in pids],
                                  machine_ticks()))
            st_c1, mc1, t_c1, ticks_c1 = nodes[0].status(), nodes[0].metrics(), time.time(), [cpu_ticks(p) for p in pids]
            c_machine = machine_share(mach_c0, machine_ticks())
            if c_join:
                c_join()
            cw = t_c1 - t_c0
            c_lat = steady(c_timed, c_start, curve_s)
            curve.append({
                "offered_tx_per_s": rate,
                "latency_ms_p50": round(percentile(c_lat, 50), 1) if c_lat else None,
                "latency_ms_p90": round(percentile(c_lat, 90), 1) if c_lat else None,
                "latency_ms_p99": round(percentile(c_lat, 99), 1) if c_lat else None,
                "latency_samples": len(c_lat),
                "rounds_per_s_node1": round((st_c1["round"] - st_c0["round"]) / cw, 1),
                "cpu_percent_per_node": [round((b - a) / CLK_TCK / cw * 100, 1) for a, b in zip(ticks_c0, ticks_c1)],
                "machine": c_machine,
                "node1": stage_ms(mc0, mc1),
            })
        heights = [n.status()["height"] for n in nodes]
        # This machine's speed drifts (shared hosts): the ceiling the window
        # is compared with is the mean of the two measured right around it;
        # the ones before the localnet started and after it is gone show
        # the drift over the whole run.
        net.close()
        _, verify_after_run_per_s, ceiling_after_run = signature_ceiling(provbench, args.validators)
        ceiling = (ceiling_at_start + ceiling_at_end) / 2
        verify_mean_per_s = (verify_at_start_per_s + verify_at_end_per_s) / 2
        log(f"ceiling before the run {ceiling_before_run:.0f} tx/s, after it {ceiling_after_run:.0f} tx/s; "
            f"around the window {ceiling:.0f} tx/s")

        result = {
            "committed_tx_per_s": round(committed_per_s, 1),
            "latency_ms_p50": round(percentile(lat, 50), 1) if lat else None,
            "latency_ms_p99": round(percentile(lat, 99), 1) if lat else None,
            "latency_ms_max": round(max(lat), 1) if lat else None,
            "latency_samples": len(lat),
            "latency_ms_p99_incl_warmup": round(percentile(lat_all, 99), 1) if lat_all else None,
            "quiet_before_half_load_s": quiet_s,
            "cpu_percent_per_node": cpu,
            "max_load_shape_node1": shape,
            "max_load_machine": max_machine,
            "load_generator_cpu_percent": gen_cpu,
            "ceiling_tx_per_s": round(ceiling, 1),
            "ceiling_before_tx_per_s": round(ceiling_at_start, 1),
            "ceiling_after_tx_per_s": round(ceiling_at_end, 1),
            "ceiling_before_run_tx_per_s": round(ceiling_before_run, 1),
            "ceiling_after_run_tx_per_s": round(ceiling_after_run, 1),
            "ratio_to_ceiling": round(committed_per_s / ceiling, 3),
            # Cross-check against drift: the same ceiling from the cost of a
            # verification measured inside the nodes during maximum load.
            "verify_us_in_nodes": round(verify_us_in_nodes, 2) if verify_us_in_nodes else None,
            "ceiling_in_nodes_tx_per_s": round(ceiling_in_nodes, 1) if ceiling_in_nodes else None,
            "ratio_to_ceiling_in_nodes": round(committed_per_s / ceiling_in_nodes, 3) if ceiling_in_nodes else None,
            "verifications_per_tx": verified_per_tx,
            "verify_us_outside_nodes": round(1e6 / verify_mean_per_s, 2),
            "node_cpu_us_per_tx": cpu_us_per_tx,
            "non_verify_cpu_us_per_tx": round(non_verify_us, 1) if non_verify_us is not None else None,
            "half_load_offered_tx_per_s": round(half_rate, 1),
            "half_load_committed_tx_per_s": round(half_committed_per_s, 1),
            "half_load_shape_node1": half_shape,
            "half_load_cpu_percent_per_node": half_cpu,
            "half_load_machine": half_machine,
            "half_load_generator_cpu_percent": half_gen_cpu,
            "cores": cores,
            "ed25519_verify_per_s": round(verify_mean_per_s, 1),
            "validators": args.validators,
            "duration_s": args.duration,
            "connections": args.connections,
            "batch": args.batch,
            "tx_bytes": round(sum(map(len, txs)) / len(txs)),
            "submissions_max_load": counts_max,
            "submissions_half_load": counts_half,
            "final_heights": heights,
            **({"latency_curve": curve} if curve_rates else {}),
        }
        if args.json:
            print(json.dumps(result))
        else:
            for k, v in result.items():
                print(f"{k:32} {v}")
        return 0
    finally:
        net.close()


if __name__ == "__main__":
    sys.exit(main())
