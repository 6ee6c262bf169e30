"""Forward mode with raw sockets: what the proxy answers to each kind of proxy
request, what reaches the target, and what the log says. (Chromium through
forward mode with TLS interception is in test_chromium.)"""

import os
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import (
    BINARY,
    NODE,
    PEERS_DIR,
    PYTHON,
    PeerServer,
    peers_available,
    HOST,
    OP_CLOSE,
    OP_TEXT,
    RSV2,
    TIMEOUT,
    Proxy,
    RawConn,
    RawUpstream,
    build_frame,
    check_budget,
    close_payload,
    is_event,
    require_proxy,
    upgrade_request,
    validate_lines,
)

KEY = b"\x01\x02\x03\x04"


def connect(proxy) -> RawConn:
    return RawConn(socket.create_connection((HOST, proxy.port), timeout=TIMEOUT))


def read_answer(c: RawConn) -> bytes:
    return c.recv_http_response()


class CaInit(unittest.TestCase):
    """`wsinspect ca init DIR`, as text for a person and as one JSON object."""

    def setUp(self):
        require_proxy(self)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_json_names_the_files_it_made(self):
        for i, flag in enumerate((["--json"], ["--log-format", "json"])):
            d = Path(self.tmp.name) / f"ca{i}"
            r = subprocess.run([BINARY, "ca", "init", str(d), *flag], capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0, r.stderr)
            (obj,) = validate_lines(r.stdout, "ca init --json")
            self.assertEqual(obj, {
                "event": "ca_created",
                "dir": str(d),
                "certificate": f"{d}/ca.pem",
                "key": f"{d}/ca.key",
                "proxy_command": f"wsinspect proxy --forward --ca {d}",
            })
            self.assertIn(b"BEGIN CERTIFICATE", Path(obj["certificate"]).read_bytes())
            self.assertEqual(os.stat(obj["key"]).st_mode & 0o777, 0o600)
            # A second run refuses to overwrite it, on standard error, exit 1.
            again = subprocess.run([BINARY, "ca", "init", str(d), *flag], capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual((again.returncode, again.stdout), (1, ""), again.stderr)
            self.assertTrue(again.stderr.startswith("wsinspect ca init: "), again.stderr)

    def test_text_says_how_to_trust_it(self):
        d = Path(self.tmp.name) / "ca"
        r = subprocess.run([BINARY, "ca", "init", str(d)], capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"wsinspect proxy --forward --ca {d}", r.stdout)
        self.assertIn(f"NODE_EXTRA_CA_CERTS={d}/ca.pem", r.stdout)


class ForwardRequests(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        check_budget(self)
        self.upstream = RawUpstream()
        self.proxy = Proxy(None, "--forward")

    def tearDown(self):
        self.proxy.stop()
        self.upstream.close()

    def test_absolute_form_goes_out_in_origin_form_and_is_inspected(self):
        c = connect(self.proxy)
        conn = self.proxy.conn_of(c.sock)
        request, _ = upgrade_request(self.upstream.address, "/chat?x=1")
        absolute = request.replace(b"GET /chat?x=1 ", f"GET ws://{self.upstream.address}/chat?x=1 ".encode(), 1)
        c.send(absolute)
        up, head = self.upstream.accept_websocket()
        self.assertEqual(head.raw, request)  # only the request line changed
        self.assertTrue(c.recv_head().status == 101)
        bad = build_frame(OP_TEXT, b"hi", rsv=RSV2, mask=KEY)
        c.send(bad)
        self.assertEqual(up.recv_exact(len(bad)), bad)
        fwd = self.proxy.wait_for(is_event("forward", conn=conn))
        self.assertEqual((fwd["method"], fwd["target"], fwd["mode"]), ("GET", self.upstream.address, "plain"))
        v = self.proxy.wait_for(is_event("violation", conn=conn))
        self.assertEqual(v["rule"], "reserved-bits-set")
        c.close()
        up.close()

    def test_connect_then_plain_websocket(self):
        c = connect(self.proxy)
        conn = self.proxy.conn_of(c.sock)
        c.send(f"CONNECT {self.upstream.address} HTTP/1.1\r\nHost: {self.upstream.address}\r\n\r\n".encode())
        self.assertTrue(read_answer(c).startswith(b"HTTP/1.1 200 "))
        request, _ = upgrade_request(self.upstream.address, "/in-tunnel")
        c.send(request)
        up, head = self.upstream.accept_websocket()
        self.assertEqual(head.raw, request)
        self.assertEqual(c.recv_head().status, 101)
        close = build_frame(OP_CLOSE, close_payload(1000), mask=KEY)
        c.send(close)
        up.recv_exact(len(close))
        up.sock.sendall(build_frame(OP_CLOSE, close_payload(1000)))
        c.close()
        up.close()
        closed = self.proxy.wait_conn_close(conn)
        self.assertTrue(closed["upgraded"])
        fwd = self.proxy.of_conn(conn, "forward")
        self.assertEqual([f["mode"] for f in fwd], ["plain"])
        self.assertEqual(self.proxy.of_conn(conn, "handshake")[0]["path"], "/in-tunnel")

    def test_tls_after_connect_without_ca_is_tunnelled_byte_for_byte(self):
        c = connect(self.proxy)
        conn = self.proxy.conn_of(c.sock)
        c.send(f"CONNECT {self.upstream.address} HTTP/1.1\r\n\r\n".encode())
        self.assertTrue(read_answer(c).startswith(b"HTTP/1.1 200 "))
        up = self.upstream.accept()
        hello = b"\x16\x03\x01\x00\x05hello" + bytes(range(256))
        c.send(hello)
        self.assertEqual(up.recv_exact(len(hello)), hello)
        back = b"\x16\x03\x03 server bytes"
        up.sock.sendall(back)
        self.assertEqual(c.recv_exact(len(back)), back)
        c.close()
        up.close()
        closed = self.proxy.wait_conn_close(conn)
        self.assertEqual(closed["client_to_server"]["bytes"], len(hello))
        self.assertEqual([f["mode"] for f in self.proxy.of_conn(conn, "forward")], ["tunnelled"])
        self.assertEqual(self.proxy.of_conn(conn, "http_error"), [])  # TLS is not judged as HTTP

    def test_what_is_refused_and_why(self):
        cases = [
            (b"GET /chat HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 400 ", 400),
            (b"GET wss://example.com/ HTTP/1.1\r\n\r\n", b"HTTP/1.1 405 ", 405),
            (b"CONNECT nowhere HTTP/1.1\r\n\r\n", b"HTTP/1.1 400 ", 400),
        ]
        for raw, answer, status in cases:
            with self.subTest(raw=raw):
                c = connect(self.proxy)
                conn = self.proxy.conn_of(c.sock)
                c.send(raw)
                self.assertTrue(read_answer(c).startswith(answer))
                fwd = self.proxy.wait_for(is_event("forward", conn=conn))
                self.assertEqual((fwd["mode"], fwd["status"]), ("refused", status))
                self.assertEqual(fwd["level"], "warn")
                c.close()

    def test_an_unreachable_target_is_named(self):
        dead = socket.socket()
        dead.bind((HOST, 0))
        port = dead.getsockname()[1]
        dead.close()  # nothing listens there now
        c = connect(self.proxy)
        conn = self.proxy.conn_of(c.sock)
        c.send(f"CONNECT {HOST}:{port} HTTP/1.1\r\n\r\n".encode())
        answer = read_answer(c)
        self.assertTrue(answer.startswith(b"HTTP/1.1 502 "), answer)
        self.assertIn(f"{HOST}:{port}".encode(), answer)
        err = self.proxy.wait_for(is_event("upstream_error", conn=conn))
        self.assertEqual(err["upstream"], f"{HOST}:{port}")
        fwd = self.proxy.wait_for(is_event("forward", conn=conn))
        self.assertEqual((fwd["target"], fwd["mode"], fwd["status"]), (f"{HOST}:{port}", "refused", 502))
        c.close()


class ForwardTargets(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        check_budget(self)

    def test_allow_target_limits_where_it_goes(self):
        upstream = RawUpstream()
        proxy = Proxy(None, "--forward", "--allow-target", f"localhost:{upstream.port}",
                      "--allow-target", f"{HOST}:{upstream.port}")
        try:
            c = connect(proxy)
            c.send(f"CONNECT {HOST}:{upstream.port} HTTP/1.1\r\n\r\n".encode())
            self.assertTrue(read_answer(c).startswith(b"HTTP/1.1 200 "))
            upstream.accept().close()
            c.close()
            c.sock.close()
            c = connect(proxy)
            conn = proxy.conn_of(c.sock)
            c.send(f"CONNECT {HOST}:{upstream.port + 1 if upstream.port < 65535 else 1} HTTP/1.1\r\n\r\n".encode())
            self.assertTrue(read_answer(c).startswith(b"HTTP/1.1 403 "))
            fwd = proxy.wait_for(is_event("forward", conn=conn))
            self.assertEqual((fwd["mode"], fwd["status"]), ("refused", 403))
            self.assertIn("--allow-target", fwd["detail"])
            c.close()
        finally:
            proxy.stop()
            upstream.close()

    def test_an_open_forward_proxy_does_not_start(self):
        r = subprocess.run([BINARY, "proxy", "--forward", "--listen", "0.0.0.0:0"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--allow-target", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_forward_settings_need_forward(self):
        r = subprocess.run([BINARY, "proxy", "--upstream", "a:1", "--passthrough", "x.example"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--passthrough needs --forward", r.stderr)


# A Python `websockets` client through the forward proxy: CONNECT, then TLS
# (trusting only wsinspect's CA) and a WebSocket inside; text echoed, close 1000.
PY_CLIENT = r"""
import asyncio, socket, ssl, sys, websockets
async def main(proxy_port, host, port, ca):
    s = socket.create_connection(("127.0.0.1", proxy_port))
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 200 "), head
    ctx = ssl.create_default_context(cafile=ca)
    async with websockets.connect(f"wss://{host}:{port}/py", sock=s, ssl=ctx,
                                  server_hostname=host) as ws:
        await ws.send("via the forward proxy")
        print(await ws.recv())
asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""

# The same with Node `ws`: the tunnel from http.request CONNECT, TLS over it.
NODE_CLIENT = r"""
const http = require('http'), tls = require('tls'), fs = require('fs');
const WebSocket = require('ws');
const [proxyPort, host, port, ca] = process.argv.slice(1);
const req = http.request({host: '127.0.0.1', port: proxyPort, method: 'CONNECT',
                          path: `${host}:${port}`});
req.on('connect', (res, socket) => {
  if (res.statusCode !== 200) { console.log('status ' + res.statusCode); process.exit(2); }
  const ws = new WebSocket(`wss://${host}:${port}/node`, {
    createConnection: () => tls.connect({socket, servername: host, ca: fs.readFileSync(ca)}),
  });
  ws.on('open', () => ws.send('via the forward proxy'));
  ws.on('message', (m) => { console.log(m.toString()); ws.close(1000); });
  ws.on('error', (e) => { console.log('error ' + e.message); process.exit(3); });
});
req.end();
"""


class ForwardWithRealClients(unittest.TestCase):
    """Python and Node through forward mode, TLS intercepted with the CA of
    `wsinspect ca init`, to a TLS WebSocket server (Python websockets)."""

    def setUp(self):
        require_proxy(self)
        check_budget(self)
        from test_tls import Certs

        self.tmp = tempfile.TemporaryDirectory()
        root = Path(self.tmp.name)
        self.certs = Certs(root)
        self.ca_dir = root / "wsinspect-ca"
        r = subprocess.run([BINARY, "ca", "init", self.ca_dir], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("certutil", r.stdout)
        self.server = PeerServer("py", "--tls-cert", self.certs.cert, "--tls-key", self.certs.key)
        self.proxy = Proxy(None, "--forward", "--ca", self.ca_dir, "--upstream-ca", self.certs.ca)

    def tearDown(self):
        self.proxy.stop()
        self.server.stop()
        self.tmp.cleanup()

    def run_client(self, argv, path):
        r = subprocess.run(argv + [str(self.proxy.port), "localhost", str(self.server.port),
                                   str(self.ca_dir / "ca.pem")],
                           capture_output=True, text=True, timeout=TIMEOUT, cwd=PEERS_DIR)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.proxy.describe())
        self.assertEqual(r.stdout.strip(), "via the forward proxy")
        fwd = self.proxy.wait_for(is_event("forward", mode="intercepted"))
        conn = fwd["conn"]
        self.assertEqual(fwd["target"], f"localhost:{self.server.port}")
        closed = self.proxy.wait_conn_close(conn)
        self.assertEqual(closed["ended_by"], "close_handshake")
        hs = self.proxy.of_conn(conn, "handshake")[0]
        self.assertEqual(hs["path"], path)
        self.assertEqual(hs["tls"]["client"]["sni"], "localhost")
        self.assertTrue(hs["tls"]["server"]["verification"] == "ok", hs["tls"])
        # The upstream leg saw the server's own certificate, from the test CA.
        self.assertIn("CN=wsinspect test CA", hs["tls"]["server"]["peer_certificate"]["issuer"])
        self.assertEqual(self.proxy.violations(conn), [])

    def test_python_websockets(self):
        self.run_client([PYTHON, "-c", PY_CLIENT], "/py")

    def test_node_ws(self):
        if not peers_available():
            self.skipTest("Node ws is not installed: run scripts/setup-deps.sh")
        self.run_client([NODE, "-e", NODE_CLIENT], "/node")


if __name__ == "__main__":
    unittest.main()
