#!/usr/bin/env python3
"""A node that lies: forwards provctl's requests to a real provd API and
tampers with one kind of answer, so tests can show provctl catches it.

usage: lying_node.py LISTEN_PORT UPSTREAM_PORT MODE
MODE: consistency  flips a byte of every consistency-proof hash
      digest       answers every digest lookup with entry 0
      lineage      adds an edge the child's anchor does not list
      receipt      flips a byte of the inclusion path in receipts
      behind       answers receipts 404 no_checkpoint, as a node that just
                   restarted with nothing kept (not a lie: provctl should try
                   the next node)
Headers (Host, Signature, Signature-Input) pass through unchanged, so the
upstream node checks the client's RFC 9421 signature as usual.
"""
import http.client
import http.server
import json
import sys

listen, upstream, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def flip_hex(h):
    return ("1" if h[0] == "0" else "0") + h[1:]


def tamper(path, body):
    if mode == "consistency" and path.startswith("/v1/proofs/consistency"):
        j = json.loads(body)
        j["path"] = [flip_hex(h) for h in j["path"]]
        return json.dumps(j).encode()
    if mode == "digest" and path.startswith("/v1/digests/"):
        j = json.loads(body)
        j["indexes"] = ["0"]
        return json.dumps(j).encode()
    if mode == "lineage" and "/lineage" in path:
        j = json.loads(body)
        if len(j["nodes"]) >= 2:
            a, b = j["nodes"][0], j["nodes"][1]
            j["edges"].append({"child": {"dataset": b["dataset"], "version": b["version"]},
                               "parent": {"dataset": a["dataset"], "version": a["version"]}})
            j["edges"].append({"child": {"dataset": a["dataset"], "version": a["version"]},
                               "parent": {"dataset": b["dataset"], "version": b["version"]}})
        return json.dumps(j).encode()
    if mode == "receipt" and path.startswith("/v1/receipts/"):
        j = json.loads(body)
        lines = j["receipt"].split("\n")
        import base64
        raw = bytearray(base64.b64decode(lines[3])) if len(lines) > 3 and lines[3] else None
        if raw:
            raw[0] ^= 1
            lines[3] = base64.b64encode(bytes(raw)).decode()
        j["receipt"] = "\n".join(lines)
        return json.dumps(j).encode()
    return body


class Handler(http.server.BaseHTTPRequestHandler):
    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        req_body = self.rfile.read(n) if n else None
        if mode == "behind" and self.path.startswith("/v1/receipts/"):
            body = b'{"error":{"code":"no_checkpoint","message":"no checkpoint yet"}}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items()}
        conn.request(self.command, self.path, body=req_body, headers=headers)
        r = conn.getresponse()
        body = r.read()
        if r.status == 200:
            body = tamper(self.path, body)
        self.send_response(r.status)
        self.send_header("Content-Type", r.getheader("Content-Type") or "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = forward
    do_POST = forward

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", listen), Handler).serve_forever()
