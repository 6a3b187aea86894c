"""Integration tests: real provd processes, real RocksDB, real sockets on 127.0.0.1.

Each test case starts its own 4-validator network (harness.LocalNet) in a
temporary directory on free ports and kills it afterwards, also on failure.
Run through CTest (`ctest -L integration`) or directly:

    python3 tests/integration/run.py --provd build/node/provd --provctl build/tools/provctl [TestName ...]

Bounds on time assert behaviour, not performance (tools/bench net measures
that): they are generous so a loaded 2-core CI machine passes.
"""

import base64
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import unittest

import harness
from harness import LocalNet, wait_for, http

PROVD = os.environ.get("PROVD", "")
PROVCTL = os.environ.get("PROVCTL", "")

# Generous behavioural bounds (seconds).
ANCHOR_LATENCY_MAX_S = 10.0
CATCH_UP_MAX_S = 60.0
STALL_WINDOW_S = 3.0


def write_file(directory, name, content):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(content)
    return path


class NetTest(unittest.TestCase):
    """Starts a fresh network per test; dumps the node logs when a test fails."""

    validators = 4
    observers = 0
    node_config = {}  # node index (from 1) -> extra provd.conf lines

    def setUp(self):
        self.assertTrue(PROVD and PROVCTL, "PROVD and PROVCTL must name the binaries")
        self.net = LocalNet(PROVD, PROVCTL, validators=self.validators, observers=self.observers)
        for n in self.net.nodes:
            if n.index in self.node_config:
                with open(os.path.join(n.dir, "provd.conf"), "a") as f:
                    f.write(self.node_config[n.index])
        self.files = os.path.join(self.net.root, "files")
        os.makedirs(self.files)
        try:
            self.net.start()
        except BaseException:
            print(self.net.logs(), flush=True)
            self.net.close()
            raise

    def tearDown(self):
        if self._failed():
            print(f"\n==== node logs of {self.id()} (root {self.net.root})\n{self.net.logs(40)}", flush=True)
        self.net.close()

    def _failed(self):
        # Python >= 3.11 reports failures to the result before tearDown; older ones keep them in _outcome.
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        if any(err for _, err in getattr(outcome, "errors", [])):
            return True
        result = getattr(outcome, "result", None)
        return any(t is self for t, _ in getattr(result, "failures", []) + getattr(result, "errors", []))

    def anchor_ok(self, name, dataset):
        path = write_file(self.files, name, f"content of {name} {time.time_ns()}\n")
        t0 = time.monotonic()
        rc, out, err = self.net.anchor(path, dataset)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, f"anchor {name}: {out} {err}")
        return out, elapsed, path


class LoadGenerator:
    """Threads that anchor small distinct files with `provctl anchor` (waiting for commit) until stopped.

    Records every anchor that reported success (tx hash and entry index) and counts failures;
    failures are expected while nodes die (the node that held the request is gone).
    """

    def __init__(self, net, directory, threads=2, prefix="load"):
        self.net = net
        self.dir = directory
        self.prefix = prefix
        self.ok = []
        self.failed = 0
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(threads)]

    def _run(self, t):
        i = 0
        while not self.stop_event.is_set():
            name = f"{self.prefix}-{t}-{i}"
            path = write_file(self.dir, name, f"{name} {time.time_ns()}\n")
            rc, out, _ = self.net.anchor(path, f"demo/{name}")
            with self.lock:
                if rc == 0 and isinstance(out, dict) and out.get("ok"):
                    self.ok.append((out["tx_hash"], out["entry_index"]))
                else:
                    self.failed += 1
            i += 1

    def successes(self):
        with self.lock:
            return len(self.ok)

    def __enter__(self):
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for th in self.threads:
            th.join(timeout=90)


class TestCommit(NetTest):
    """(a) four validators commit, and an anchored file gets a verified receipt."""

    def test_four_validators_commit_and_anchor_gets_receipt(self):
        h0 = max(self.net.heights().values())
        self.net.wait_height(h0 + 3)
        out, elapsed, path = self.anchor_ok("hello.txt", "demo/hello")
        self.assertTrue(out["ok"])
        self.assertEqual(out["version"], 1)
        self.assertGreaterEqual(out["signatures"], 3)
        receipt = path + ".tlog-proof"
        self.assertTrue(os.path.exists(receipt))
        with open(receipt) as f:
            self.assertTrue(f.read().startswith("c2sp.org/tlog-proof@v1\n"))
        self.assertLess(elapsed, ANCHOR_LATENCY_MAX_S)
        self.net.wait_log_size(1)
        s = self.net.agree()
        self.assertGreaterEqual(s["log_size"], 1)
        for n in self.net.validators:
            wait_for(f"{n.name} to serve a checkpoint of size >= 1",
                     lambda n=n: (n.checkpoint() or (0,))[0] >= 1, 15)
        self.net.checkpoints_agree()
        # The served checkpoint is cosigned by at least q = 3 validators.
        _, _, note = self.net.validators[0].checkpoint()
        self.assertGreaterEqual(note.count("\n\u2014 validator-"), 3, note)


class TestCrashRestart(NetTest):
    """(b) a validator killed with SIGKILL under load restarts, catches up; nothing committed is lost."""

    def test_sigkill_under_load_then_restart_catches_up(self):
        victim = self.net.validators[0]  # the first node in the home: it receives the load
        others = self.net.validators[1:]
        with LoadGenerator(self.net, self.files, threads=2) as load:
            wait_for("5 anchors under load", lambda: load.successes() >= 5, 60)
            victim.kill()
            killed_at = load.successes()
            # The others keep committing while it is down (provctl fails over).
            wait_for("5 more anchors with a validator down", lambda: load.successes() >= killed_at + 5, 60)
            target = max(n.height() for n in others)
            victim.start()
            wait_for(f"{victim.name} to answer again", lambda: victim.running() and victim.status(), 30)
            wait_for(f"{victim.name} to catch up to height {target}",
                     lambda: victim.height() >= target, CATCH_UP_MAX_S)
            wait_for("3 anchors after the restart", lambda: load.successes() >= killed_at + 8, 60)
        ok = list(load.ok)
        print(f"anchors: {len(ok)} committed, {load.failed} failed (around the kill)")
        self.net.wait_log_size(max(idx for _, idx in ok) + 1, timeout_s=30)
        final = self.net.agree()
        self.assertGreaterEqual(final["log_size"], len(ok), "committed anchors lost")
        self.assertEqual(len({idx for _, idx in ok}), len(ok), "two anchors reported the same entry index")
        self.assertTrue(all(idx < final["log_size"] for _, idx in ok))
        self.net.checkpoints_agree()
        # Voted blocks are kept for a restart only until they commit (the
        # victim's from before the kill too): a handful, not one per height.
        for n in self.net.validators:
            pending = n.metrics().get("provd_voted_blocks_pending")
            self.assertIsNotNone(pending, n.name)
            self.assertLess(pending, 10, f"{n.name} keeps {pending} voted blocks at height {n.height()}")
        # Every anchor that reported success is in every node's ledger, at the index it was given.
        hashes = os.path.join(self.net.root, "hashes.txt")
        with open(hashes, "w") as f:
            f.write("".join(h + "\n" for h, _ in ok))
        want = {h: idx for h, idx in ok}
        for n in self.net.validators:
            rc, out, err = self.net.ctl("tx", "find", "--hashes-file", hashes, "--node", n.url,
                                        home=self.net.dir, check=False)
            self.assertEqual(rc, 0, f"{n.name}: {out} {err}")
            got = {e["tx_hash"]: e["entry_index"] for e in out["found"]}
            self.assertEqual(got, want, f"{n.name} disagrees on entry indexes")


class TestRebuildKeepsSafety(NetTest):
    """A validator restarted on an empty ledger with its safety/ kept (the upgrade path of
    docs/operator.md) resumes, fetches every block it lacks, re-executes them and commits again."""

    def test_empty_ledger_with_kept_safety_state(self):
        victim = self.net.validators[1]
        others = [n for n in self.net.validators if n is not victim]
        for i in range(3):
            self.anchor_ok(f"before-{i}.txt", f"demo/before-{i}")
        self.net.wait_height(victim.height() + 3)
        victim.kill()
        data = os.path.join(victim.dir, "data")
        safety = os.path.join(data, "safety")
        self.assertTrue(os.path.isdir(safety), "no safety/ in the data dir")
        self.assertTrue(any(f.endswith(".log") for f in os.listdir(safety)), "safety/ holds no write-ahead log")
        for name in os.listdir(data):
            if name != "safety":
                path = os.path.join(data, name)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        self.anchor_ok("while-down.txt", "demo/while-down")
        target = max(n.height() for n in others)
        victim.start()
        wait_for(f"{victim.name} to answer again", lambda: victim.running() and victim.status(), 30)
        wait_for(f"{victim.name} to rebuild its ledger to height {target}",
                 lambda: victim.height() >= target, CATCH_UP_MAX_S)
        self.anchor_ok("after.txt", "demo/after")
        # The receipt needed a quorum; a validator that missed the votes on the last block's child
        # commits it from the next proposal (at the latest the idle leader's heartbeat).
        self.net.wait_log_size(5, timeout_s=30)
        final = self.net.agree()
        self.assertGreaterEqual(final["log_size"], 5)
        self.net.checkpoints_agree()
        # It serves the cosigned checkpoint of the final head, as the others do.
        wait_for(f"{victim.name} to serve a checkpoint of the final size",
                 lambda: (victim.checkpoint() or (0,))[0] >= final["log_size"], 30)

        # The other way round: a ledger this validator voted from, without its
        # safety/, is refused (it could sign twice in a round), with a message.
        lost = self.net.validators[2]
        lost.kill()
        shutil.rmtree(os.path.join(lost.dir, "data", "safety"))
        with open(lost.log_path, "rb") as f:
            log_before = len(f.read())
        lost.start()
        rc = lost.proc.wait(timeout=30)
        self.assertNotEqual(rc, 0, "a validator without its safety state started")
        with open(lost.log_path, "rb") as f:
            log = f.read()[log_before:].decode(errors="replace")
        self.assertIn("holds no record of those votes", log)


class TestObserver(NetTest):
    """(c) an observer in the genesis, started later from the genesis alone, syncs to the validators."""

    observers = 1

    def validator_block_hash(self, height):
        """The hash of block `height` as a validator that has committed it reports it."""
        def find():
            for n in self.net.validators:
                s = n.status()
                if s["height"] >= height:
                    return self.net.block_hash(n, height, s)
            return None
        return wait_for(f"a validator at height {height}", find, 15)

    def test_observer_joins_late_and_syncs(self):
        obs = self.net.observers[0]
        for i in range(3):
            self.anchor_ok(f"f{i}", f"demo/f{i}")
        v = self.net.validators
        self.net.wait_height(max(n.height() for n in v) + 5, nodes=v)
        target = max(n.height() for n in v)
        obs.start()
        wait_for(f"{obs.name} to sync to height {target}", lambda: obs.running() and obs.height() >= target,
                 CATCH_UP_MAX_S)
        s_obs = obs.status()
        s_val = v[0].status()
        self.assertEqual(s_obs["log_size"], s_val["log_size"])
        self.assertEqual(s_obs["log_root"], s_val["log_root"])
        # The observer's head block is the validators' block at that height.
        self.assertEqual(self.validator_block_hash(s_obs["height"]), s_obs["last_block_hash"])
        self.assertGreater(obs.metrics().get("provd_sync_blocks_total", 0), 0)
        # It keeps following: a new anchor reaches it.
        self.anchor_ok("after", "demo/after")
        size = v[0].status()["log_size"]
        wait_for(f"{obs.name} to follow to log size {size}", lambda: obs.status()["log_size"] >= size, 30)
        s_obs = obs.status()
        self.assertEqual(self.validator_block_hash(s_obs["height"]), s_obs["last_block_hash"])
        self.net.checkpoints_agree()


class TestFDown(NetTest):
    """(d) with f = 1 validator down the others keep committing with low latency."""

    def test_one_down_keeps_committing(self):
        down = self.net.validators[2]
        down.kill()
        alive = [n for n in self.net.validators if n is not down]
        h0 = max(n.height() for n in alive)
        latencies = []
        for i in range(6):
            _, elapsed, _ = self.anchor_ok(f"d{i}", f"demo/d{i}")
            latencies.append(elapsed)
        print("anchor latencies with one validator down (s):", [round(x, 3) for x in latencies])
        self.assertLess(max(latencies), ANCHOR_LATENCY_MAX_S)
        self.net.wait_height(h0 + 5, nodes=alive)
        self.net.wait_log_size(6, nodes=alive)
        s = self.net.agree(alive)
        self.assertGreaterEqual(s["log_size"], 6)


class TestFPlusOneDown(NetTest):
    """(e) with f + 1 = 2 validators down the network stalls without divergence and resumes."""

    def test_two_down_stalls_then_resumes(self):
        a, b, c, d = self.net.validators
        # Something in the log first, and b serving a cosigned checkpoint of it.
        rc, out, err = self.net.anchor(write_file(self.files, "before", "before\n"), "demo/before")
        self.assertEqual(rc, 0, f"{out} {err}")
        wait_for("b to serve a checkpoint of the first entry", lambda: (b.checkpoint() or (0,))[0] >= 1, 20)
        c.kill()
        d.kill()
        alive = [a, b]

        # Stalled: the heights stop moving (the last pipelined commit may still land).
        def stable(window_s=1.0):
            first = self.net.heights(alive)
            deadline = time.monotonic() + window_s
            while time.monotonic() < deadline:
                if self.net.heights(alive) != first:
                    return None
                time.sleep(harness.POLL_S)
            return first
        stalled = wait_for("the two remaining validators to stop committing", stable, 20, interval_s=0)
        # A transaction is still admitted, but not committed while the quorum is missing.
        path = write_file(self.files, "pending", "pending\n")
        rc, out, err = self.net.anchor(path, "demo/pending", wait=False)
        self.assertEqual(rc, 0, f"{out} {err}")
        size_before = {n.name: n.status()["log_size"] for n in alive}
        deadline = time.monotonic() + STALL_WINDOW_S
        while time.monotonic() < deadline:
            self.assertEqual(self.net.heights(alive), stalled, "committed without a quorum")
            time.sleep(harness.POLL_S)
        self.assertEqual({n.name: n.status()["log_size"] for n in alive}, size_before)
        self.net.checkpoints_agree(alive)
        # No divergence: the same block at the lower of the two heights (they may differ by the last
        # commit, whose quorum certificate only the round's leader saw).
        self.net.agree(alive)
        # A validator killed and restarted in the stall serves the checkpoint it served before at
        # once, from its data dir: no quorum is there to cosign a new one, and it never shrinks.
        served = b.checkpoint()
        self.assertIsNotNone(served, "b served no checkpoint before the stall")
        b.kill()
        b.start()
        again = wait_for("the restarted b to serve its kept checkpoint", b.checkpoint, 30)
        self.assertGreaterEqual(again[0], served[0])
        if again[0] == served[0]:
            self.assertEqual(again[1], served[1])
        self.assertIn("serving the kept checkpoint of size", b.log_tail(200))
        self.assertEqual(self.net.heights(alive), stalled, "committed without a quorum")
        # They return: the network resumes, commits the pending transaction, and all four agree.
        c.start()
        d.start()
        top = max(stalled.values())
        self.net.wait_height(top + 3, nodes=self.net.validators, timeout_s=60)
        self.net.wait_log_size(max(size_before.values()) + 1, nodes=self.net.validators, timeout_s=30)
        self.net.agree(self.net.validators)
        self.net.checkpoints_agree(self.net.validators)


def post_batch(node, txs=None, body=None):
    """POST /v1/transactions:batch; returns (status, headers, parsed JSON or raw bytes)."""
    if body is None:
        body = json.dumps({"txs": [base64.b64encode(t).decode() for t in txs]}).encode()
    code, headers, out = http("POST", node.url + "/v1/transactions:batch", body=body,
                              headers={"Content-Type": "application/json"}, timeout=30)
    try:
        return code, headers, json.loads(out)
    except ValueError:
        return code, headers, out


class TestBatchSubmit(NetTest):
    """(h) POST /v1/transactions:batch admits each transaction like the single submit; node 1 gossips
    what it admitted in batches, and the other validators receive and commit it."""

    # A tiny mempool on node 4: a batch there answers "busy" per transaction.
    node_config = {4: "mempool_max_txs = 20\n"}

    def presign(self, count, prefix):
        out = os.path.join(self.net.root, f"{prefix}.b64")
        self.net.ctl("tx", "anchor-batch", "--count", str(count), "--dataset-prefix", f"demo/{prefix}-",
                     "--out", out, home=self.net.dir)
        with open(out) as f:
            return [base64.b64decode(line) for line in f]

    def test_batch_submit_and_gossip(self):
        v1, v2, v3, v4 = self.net.validators
        txs = self.presign(300, "batch")
        good = txs[:200]
        forged = bytearray(txs[200])
        forged[-1] ^= 1  # the signature is the last field of a SignedTransaction
        size0 = v1.status()["log_size"]
        gossip0 = {n.name: n.metrics() for n in self.net.validators}

        # 200 valid transactions, one of them twice, and a forged one.
        code, _, out = post_batch(v1, good + [good[0], bytes(forged)])
        self.assertEqual(code, 200, out)
        results = out["results"]
        self.assertEqual(len(results), 202)
        for tx, r in zip(good, results):
            self.assertEqual(r["tx_hash"], hashlib.sha256(tx).hexdigest())
            self.assertEqual((r["state"], r["code"]), ("accepted", ""), r)
        self.assertEqual(results[200]["state"], "accepted", results[200])  # pending already: as the single submit
        self.assertEqual((results[201]["state"], results[201]["code"]), ("rejected", "bad_signature"), results[201])

        # Every validator commits all 200; the others got them by gossip, in far fewer messages.
        self.net.wait_log_size(size0 + 200, timeout_s=60)
        m1 = v1.metrics()
        sent_txs = m1["provd_gossip_txs_out_total"] - gossip0[v1.name]["provd_gossip_txs_out_total"]
        sent_msgs = m1["provd_gossip_messages_out_total"] - gossip0[v1.name]["provd_gossip_messages_out_total"]
        print(f"node 1 gossiped {sent_txs:.0f} transactions in {sent_msgs:.0f} messages")
        self.assertEqual(sent_txs, 200)
        self.assertLessEqual(sent_msgs, 100, "admitted transactions were not gossiped in batches")
        for n in (v2, v3, v4):
            got = n.metrics()["provd_gossip_txs_in_total"] - gossip0[n.name]["provd_gossip_txs_in_total"]
            self.assertGreaterEqual(got, 200, f"{n.name} received {got} gossiped transactions")
        hashes = os.path.join(self.net.root, "batch-hashes.txt")
        with open(hashes, "w") as f:
            f.write("".join(r["tx_hash"] + "\n" for r in results[:200]))
        rc, found, err = self.net.ctl("tx", "find", "--hashes-file", hashes, "--node", v3.url, home=self.net.dir,
                                      check=False)
        self.assertEqual(rc, 0, f"{found} {err}")
        self.assertEqual(len(found["found"]), 200)

        # Once committed, a transaction is a duplicate, as for the single submit.
        code, _, out = post_batch(v2, [good[1]])
        self.assertEqual(code, 200, out)
        self.assertEqual((out["results"][0]["state"], out["results"][0]["code"]), ("rejected", "duplicate"))

        # A full mempool answers busy per transaction (node 4 holds at most 20), with Retry-After.
        code, headers, out = post_batch(v4, txs[220:300])
        self.assertEqual(code, 200, out)
        states = [r["state"] for r in out["results"]]
        self.assertEqual(len(states), 80)
        self.assertTrue(set(states) <= {"accepted", "busy"}, states)
        self.assertGreater(states.count("busy"), 0, states)
        self.assertTrue(all(r["code"] == "busy" for r in out["results"] if r["state"] == "busy"))
        self.assertEqual(headers.get("Retry-After"), "1")

        # Refused batches: over the bound, malformed JSON, a wait field, nothing in it.
        code, _, out = post_batch(v1, [good[0]] * 1001)
        self.assertEqual(code, 413, out)
        self.assertEqual(out["error"]["code"], "batch_too_large")
        for body in (b"{not json", b'{"txs":["AAAA"],"wait":true}', b'{"tx":"AAAA"}'):
            code, _, out = post_batch(v1, body=body)
            self.assertEqual(code, 400, body)
            self.assertEqual(out["error"]["code"], "bad_json", body)
        code, _, out = post_batch(v1, body=b'{"txs":[]}')
        self.assertEqual((code, out["error"]["code"]), (400, "empty_batch"))
        self.net.agree()


def peer_dropped(node):
    m = node.metrics()
    return {k.split('"')[1]: v for k, v in m.items() if k.startswith("provd_peer_dropped_total{")}


def send_raw(port, data, read=False, timeout=5.0):
    """Connects, sends `data`, half-closes; returns what the server answered (if read) until it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not c:
                break
            chunks.append(c)
            if not read:
                continue
        return b"".join(chunks)
    finally:
        s.close()


class TestGarbage(NetTest):
    """(f) garbage, oversized length prefixes and truncated frames on the peer and API ports."""

    def test_garbage_on_peer_and_api_ports(self):
        target = self.net.validators[1]
        before = peer_dropped(target)
        api_before = target.metrics().get("prov_api_parse_errors_total", 0)
        h0 = target.height()
        hello_len = 37 + len("localnet")
        cases = [
            ("oversized", b"\xff\xff\xff\xff" + b"\x00" * 64),               # hello length 4 GiB
            ("oversized", struct.pack(">I", 293) + b"\x00" * 293),            # just over the hello bound
            ("garbage", struct.pack(">I", hello_len) + b"\x00\x00\x00\x01"),  # truncated hello
            ("garbage", b"\x00\x00"),                                        # truncated length prefix
            ("garbage", os.urandom(3) + b"\x00"),                            # random, then EOF
            ("rejected", struct.pack(">IIB", hello_len, 99, 8) + b"localnet" + os.urandom(32)),  # wrong version
        ]
        for _, data in cases:
            send_raw(target.p2p_port, data)
        # A valid-looking hello that then sends a truncated auth frame: the node answers with its own
        # hello and auth; ours is cut off after the length prefix.
        send_raw(target.p2p_port, struct.pack(">IIB", hello_len, 1, 8) + b"localnet" + os.urandom(32)
                 + struct.pack(">I", 112) + b"\x01" * 10)
        # A truncated data frame: an absurd frame length after the same hello.
        send_raw(target.p2p_port, struct.pack(">IIB", hello_len, 1, 8) + b"localnet" + os.urandom(32)
                 + b"\xff\xff\xff\xff")

        want = {"oversized": 2, "garbage": 3, "rejected": 1}

        def counted():
            now = peer_dropped(target)
            got = {k: now.get(k, 0) - before.get(k, 0) for k in want}
            return got if all(got[k] >= n for k, n in want.items()) else None
        got = wait_for("the peer drops to be counted", counted, 15)
        total = sum(peer_dropped(target).values()) - sum(before.values())
        self.assertGreaterEqual(total, len(cases) + 2, f"dropped counters rose by {total}: {got}")

        # API port: malformed HTTP gets 4xx and the server keeps serving.
        for raw, want_status in [
            (b"GARBAGE\r\n\r\n", 400),
            (b"\x00\x01\x02\x03\xff\xfe\r\n\r\n", 400),
            (b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Length: 4294967295\r\n\r\nabc", 413),
            (b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
            (b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 9\r\n\r\n{not json", 400),
        ]:
            answer = send_raw(target.api_port, raw, read=True)
            status_line = answer.split(b"\r\n", 1)[0]
            self.assertTrue(status_line.startswith(b"HTTP/1.1 4"), f"{raw[:40]!r} -> {answer[:200]!r}")
            self.assertIn(str(want_status).encode(), status_line, f"{raw[:40]!r} -> {status_line!r}")
        send_raw(target.api_port, b"GET /v1/stat")  # truncated request, then EOF
        code, _, body = http("POST", target.url + "/v1/transactions", body=os.urandom(200),
                             headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(code, 400, body)
        self.assertGreater(target.metrics().get("prov_api_parse_errors_total", 0), api_before)

        # The node is up, still connected to its peers, and the network keeps committing through it.
        self.assertTrue(target.running())
        self.assertEqual(target.status()["peers_connected"], 3)
        self.net.wait_height(h0 + 3, nodes=[target])
        self.anchor_ok("after-garbage", "demo/after-garbage")
        self.net.agree()


class TestUnknownKey(NetTest):
    """(g) a key outside the validator set is refused at startup and at the handshake."""

    def test_unknown_key_refused(self):
        net = self.net
        # 1. A provd whose key is in no genesis refuses to start, saying why.
        d = os.path.join(net.root, "stranger")
        os.makedirs(d, mode=0o700)
        net.ctl("keygen", "--name", "stranger", "--out", os.path.join(d, "node.key"))
        stranger = harness.Node(net, 99, "stranger", d, harness.free_port(), harness.free_port())
        stranger.write_config(genesis=os.path.join(net.dir, "genesis.json"))
        stranger.start()
        rc = stranger.proc.wait(timeout=30)
        harness._live_procs.discard(stranger.proc)
        self.assertNotEqual(rc, 0)
        self.assertIn("neither a validator nor an observer", stranger.log_tail())

        # 2. A node of another network with the same chain id (other keys) dials our validators:
        #    the handshake completes cryptographically, then the key is refused.
        before = {n.name: peer_dropped(n).get("unknown_key", 0) for n in net.validators}
        h0 = max(net.heights().values())
        other = LocalNet(PROVD, PROVCTL, validators=4, observers=0, root=os.path.join(net.root, "other"))
        try:
            # Its genesis names our validators' peer addresses for its own validator keys.
            gpath = os.path.join(other.dir, "genesis.json")
            import json
            with open(gpath) as f:
                g = json.load(f)
            for i, v in enumerate(g["validators"]):
                v["address"] = f"127.0.0.1:{net.validators[i].p2p_port}"
            with open(gpath, "w") as f:
                json.dump(g, f)
            intruder_dir = os.path.join(other.dir, "intruder")
            os.makedirs(intruder_dir, mode=0o700)
            other.ctl("keygen", "--name", "intruder", "--out", os.path.join(intruder_dir, "node.key"))
            other.ctl("genesis", "add-observer", "--genesis", gpath, "--name", "intruder", "--key-file",
                      os.path.join(intruder_dir, "node.key"), "--address", f"127.0.0.1:{harness.free_port()}")
            intruder = harness.Node(other, 1, "intruder", intruder_dir, harness.free_port(), harness.free_port())
            intruder.write_config()
            other.nodes = [intruder]
            intruder.start()

            def refused():
                if not intruder.running():
                    raise AssertionError(f"intruder exited: {intruder.log_tail()}")
                now = {n.name: peer_dropped(n).get("unknown_key", 0) for n in net.validators}
                return all(now[k] > before[k] for k in now) and now
            wait_for("every validator to refuse the intruder's key", refused, 30)
            self.assertEqual(intruder.status()["peers_connected"], 0)
            self.assertEqual(intruder.status()["height"], 0)
        finally:
            other.close()
        for n in net.validators:
            self.assertEqual(n.status()["peers_connected"], 3, n.name)
        net.wait_height(h0 + 3)
        net.agree()
