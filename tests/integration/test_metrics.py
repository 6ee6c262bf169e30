"""The admin endpoint (--admin-listen): /metrics scraped during real traffic
and parsed with the Prometheus client's own parser of the text format, its
counters checked against what was sent; /healthz through a drain;
/connections; the HTTP errors; and clients that try to hold the endpoint
(slowloris, a huge head, a body flood) while scrapes go on."""

import json
import signal
import socket
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from harness import (
    BINARY,
    C2S,
    HOST,
    OP_BINARY,
    OP_CLOSE,
    OP_TEXT,
    S2C,
    TIMEOUT,
    Proxy,
    RawConn,
    RawSession,
    RawUpstream,
    build_frame,
    check_budget,
    close_payload,
    closed_port,
    is_event,
    require_proxy,
)

KEY = b"\x01\x02\x03\x04"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def admin_address(proxy: Proxy) -> str:
    """HOST:PORT of the admin endpoint, from the listening event's notes."""
    ev = proxy.wait_for(is_event("listening"))
    for note in ev.get("notes", []):
        if note.startswith("admin endpoint on http://"):
            return note[len("admin endpoint on http://"):].split("/", 1)[0]
    raise AssertionError("no admin endpoint in the listening event: " + json.dumps(ev))


def get(admin: str, path: str, timeout: float = 5.0):
    """(status, headers, body) of GET http://admin/path."""
    try:
        with urllib.request.urlopen(f"http://{admin}{path}", timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


class Scrape:
    """One /metrics scrape, parsed by prometheus_client."""

    def __init__(self, admin: str):
        status, headers, body = get(admin, "/metrics")
        assert status == 200, (status, body)
        assert headers.get("Content-Type") == CONTENT_TYPE, headers
        self.text = body
        self.families = {f.name: f for f in text_string_to_metric_families(body)}
        self.samples = {}
        for f in self.families.values():
            for s in f.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def value(self, name: str, **labels) -> float:
        key = (name, frozenset(labels.items()))
        if key not in self.samples:
            raise AssertionError(f"no series {name}{labels} in the scrape")
        return self.samples[key]

    def total(self, name: str, **labels) -> float:
        """The sum over every series of `name` that has these labels."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and want <= ls)


def raw_admin(admin: str) -> RawConn:
    host, _, port = admin.rpartition(":")
    return RawConn(socket.create_connection((host, int(port)), timeout=TIMEOUT))


class MetricsAgainstTraffic(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        check_budget(self)
        self.upstream = RawUpstream()
        self.proxy = Proxy(self.upstream.address, "--admin-listen", f"{HOST}:0")
        self.admin = admin_address(self.proxy)

    def tearDown(self):
        self.proxy.stop()
        self.upstream.close()

    def test_every_family_has_help_and_type_and_starts_at_zero(self):
        s = Scrape(self.admin)
        self.assertIn("# HELP wsinspect_connections_total ", s.text)
        self.assertIn("# TYPE wsinspect_connections_total counter", s.text)
        for name, fam in s.families.items():
            self.assertTrue(name.startswith("wsinspect_"), name)
            self.assertIn(fam.type, ("counter", "gauge"), name)
            self.assertTrue(fam.documentation, name)
        self.assertEqual(s.value("wsinspect_connections_open"), 0)
        self.assertEqual(s.value("wsinspect_connections_total"), 0)
        self.assertEqual(s.value("wsinspect_draining"), 0)
        self.assertEqual(s.value("wsinspect_closes_total", code="4000-4999", direction=C2S), 0)
        self.assertEqual(s.value("wsinspect_violations_total", rule="unmasked-client-frame", direction=C2S), 0)

    def test_counters_match_what_was_sent(self):
        sess = RawSession(self.upstream, self.proxy, path="/feed")
        c2s = [build_frame(OP_TEXT, b"hello", mask=KEY), build_frame(OP_TEXT, b"x" * 300, mask=KEY),
               build_frame(OP_BINARY, bytes(1000), mask=KEY)]
        s2c = [build_frame(OP_TEXT, b"a" * n) for n in (1, 20, 200, 70000)]
        for f in c2s:
            sess.client.send(f)
        for f in s2c:
            sess.server.send(f)
        for _ in c2s:
            sess.server.recv_frame()
        for _ in s2c:
            sess.client.recv_frame()

        # While the connection is open: the live bytes and the frame counters.
        s = Scrape(self.admin)
        self.assertEqual(s.value("wsinspect_connections_open"), 1)
        self.assertEqual(s.value("wsinspect_connections_total"), 1)
        self.assertEqual(s.value("wsinspect_handshakes_total", outcome="upgraded"), 1)
        self.assertEqual(s.value("wsinspect_frames_total", direction=C2S, opcode="text"), 2)
        self.assertEqual(s.value("wsinspect_frames_total", direction=C2S, opcode="binary"), 1)
        self.assertEqual(s.value("wsinspect_frames_total", direction=S2C, opcode="text"), 4)
        self.assertEqual(s.value("wsinspect_frame_payload_bytes_total", direction=C2S, opcode="text"), 305)
        self.assertEqual(s.value("wsinspect_frame_payload_bytes_total", direction=C2S, opcode="binary"), 1000)
        self.assertEqual(s.value("wsinspect_frame_payload_bytes_total", direction=S2C, opcode="text"), 70221)
        self.assertEqual(s.value("wsinspect_messages_total", direction=S2C, opcode="text"), 4)
        self.assertEqual(s.value("wsinspect_message_payload_bytes_total", direction=C2S, opcode="binary"), 1000)
        sent_c2s = len(sess.request.raw) + len(sess.client.sent)
        sent_s2c = len(sess.response.raw) + len(sess.server.sent)
        self.assertEqual(s.value("wsinspect_bytes_total", direction=C2S), sent_c2s)
        self.assertEqual(s.value("wsinspect_bytes_total", direction=S2C), sent_s2c)

        # A violation (an unmasked client frame), then closes: 4001 from the
        # client (a private-use code: its range), 1000 from the server.
        bad = build_frame(OP_TEXT, b"unmasked")
        sess.client.send(bad)
        sess.server.recv_frame()
        sess.client.send(build_frame(OP_CLOSE, close_payload(4001, "bye"), mask=KEY))
        sess.server.recv_close_frame()
        sess.server.send(build_frame(OP_CLOSE, close_payload(1000)))
        sess.client.recv_close_frame()
        sess.server.close()
        sess.client.close()
        self.proxy.wait_conn_close(sess.conn)

        # A second connection whose server drops TCP with no close frame: the
        # client's application reports a 1006.
        drop = RawSession(self.upstream, self.proxy)
        drop.server.send(build_frame(OP_TEXT, b"last"))
        drop.client.recv_frame()
        drop.server.close()
        drop.client.wait_eof()
        drop.client.close()
        self.proxy.wait_conn_close(drop.conn)

        s = Scrape(self.admin)
        self.assertEqual(s.value("wsinspect_connections_open"), 0)
        self.assertEqual(s.value("wsinspect_connections_total"), 2)
        self.assertEqual(s.value("wsinspect_violations_total", rule="unmasked-client-frame", direction=C2S), 1)
        self.assertEqual(s.total("wsinspect_violations_total"), 1)
        self.assertEqual(s.value("wsinspect_closes_total", code="4000-4999", direction=C2S), 1)
        self.assertEqual(s.value("wsinspect_closes_total", code="1000", direction=S2C), 1)
        self.assertEqual(s.total("wsinspect_closes_total"), 2)
        self.assertEqual(s.value("wsinspect_frames_total", direction=C2S, opcode="close"), 1)
        self.assertEqual(s.value("wsinspect_frames_total", direction=C2S, opcode="text"), 3)
        self.assertEqual(s.value("wsinspect_synthesized_closes_total", code="1006", cause="server_fin", direction=S2C), 1)
        sent_c2s += len(bad) + len(build_frame(OP_CLOSE, close_payload(4001, "bye"), mask=KEY))
        sent_c2s += len(drop.request.raw)
        sent_s2c += len(build_frame(OP_CLOSE, close_payload(1000))) + len(drop.response.raw) + len(drop.server.sent)
        self.assertEqual(s.value("wsinspect_bytes_total", direction=C2S), sent_c2s)
        self.assertEqual(s.value("wsinspect_bytes_total", direction=S2C), sent_s2c)

        # Everything the log says, the counters say.
        log = self.proxy.snapshot()
        ends = {}
        for e in log:
            if e.get("event") == "conn_close":
                ends[e["ended_by"]] = ends.get(e["ended_by"], 0) + 1
        for cause, n in ends.items():
            self.assertEqual(s.value("wsinspect_connections_ended_total", cause=cause), n, cause)
        self.assertEqual(s.total("wsinspect_connections_ended_total"), 2)
        synthesized = [e for e in log if e.get("event") == "close" and e.get("synthesized")]
        self.assertEqual(s.total("wsinspect_synthesized_closes_total"), len(synthesized))

    def test_refused_handshake_and_findings(self):
        c = RawConn(socket.create_connection((HOST, self.proxy.port), timeout=TIMEOUT))
        c.send(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        up = self.upstream.accept()
        up.recv_head()
        up.sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(c.recv_head().status, 403)
        self.proxy.wait_for(is_event("handshake", status=403))
        s = Scrape(self.admin)
        self.assertEqual(s.value("wsinspect_handshakes_total", outcome="refused"), 1)
        self.assertEqual(s.value("wsinspect_handshakes_total", outcome="upgraded"), 0)
        self.assertEqual(s.value("wsinspect_handshake_findings_total", rule="request-missing-host"), 1)
        c.close()
        up.close()


class UpstreamErrors(unittest.TestCase):
    def test_an_unreachable_upstream_is_counted_by_stage(self):
        require_proxy(self)
        check_budget(self)
        proxy = Proxy(f"{HOST}:{closed_port()}", "--admin-listen", f"{HOST}:0")
        try:
            admin = admin_address(proxy)
            for _ in range(2):
                c = RawConn(socket.create_connection((HOST, proxy.port), timeout=TIMEOUT))
                c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(c.recv_head().status, 502)
                c.close()
            proxy.wait_count(is_event("upstream_error"), 2)
            s = Scrape(admin)
            self.assertEqual(s.value("wsinspect_upstream_errors_total", stage="connect"), 2)
            self.assertEqual(s.total("wsinspect_upstream_errors_total"), 2)
        finally:
            proxy.stop()


class AdminAddress(unittest.TestCase):
    def test_a_bare_port_is_on_loopback_and_bad_addresses_are_refused_clearly(self):
        require_proxy(self)
        check_budget(self)
        proxy = Proxy("builtin:echo", "--admin-listen", "0")
        try:
            self.assertTrue(admin_address(proxy).startswith("127.0.0.1:"))
        finally:
            proxy.stop()
        for value, rc, message in [
            ("70000", 2, "--admin-listen: admin address '70000' is not PORT, HOST:PORT or [IPv6]:PORT"),
            ("example.com:9100", 1, "--admin-listen example.com:9100: the host must be an IP address"),
        ]:
            r = subprocess.run([str(BINARY), "proxy", "--upstream", "builtin:echo", "--listen", f"{HOST}:0",
                                "--admin-listen", value], capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, rc, r.stderr)
            self.assertIn(message, r.stderr)
        # The address of the proxy's own listener is taken.
        with socket.socket() as taken:
            taken.bind((HOST, 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            r = subprocess.run([str(BINARY), "proxy", "--upstream", "builtin:echo", "--listen", f"{HOST}:0",
                                "--admin-listen", f"{HOST}:{port}"], capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"cannot listen on {HOST}:{port} (--admin-listen): address already in use", r.stderr)


class HealthAndConnections(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        check_budget(self)
        self.upstream = RawUpstream()

    def tearDown(self):
        self.upstream.close()

    def test_healthz_is_503_while_draining_and_the_endpoint_closes_with_the_proxy(self):
        proxy = Proxy(self.upstream.address, "--admin-listen", f"{HOST}:0", "--drain-timeout", "20s")
        try:
            admin = admin_address(proxy)
            self.assertEqual(get(admin, "/healthz")[::2], (200, "ok\n"))
            sess = RawSession(self.upstream, proxy)
            proxy.proc.send_signal(signal.SIGTERM)
            proxy.wait_for(is_event("shutdown"))
            status, _, body = get(admin, "/healthz")
            self.assertEqual((status, body), (503, "draining\n"))
            self.assertEqual(Scrape(admin).value("wsinspect_draining"), 1)
            self.assertEqual(Scrape(admin).value("wsinspect_connections_open"), 1)
            # The drain ends with the last connection, and the loop with it.
            sess.client.send(build_frame(OP_CLOSE, close_payload(1001), mask=KEY))
            sess.server.recv_close_frame()
            sess.server.send(build_frame(OP_CLOSE, close_payload(1001)))
            sess.client.recv_close_frame()
            sess.close()
            self.assertEqual(proxy.wait_exit(TIMEOUT), 0)
            host, _, port = admin.rpartition(":")
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection((host, int(port)), timeout=2).close()
        finally:
            proxy.stop()

    def test_connections_lists_the_open_connections(self):
        proxy = Proxy(self.upstream.address, "--admin-listen", f"{HOST}:0")
        try:
            admin = admin_address(proxy)
            sess = RawSession(self.upstream, proxy, path="/chat?token=s3cret")
            sess.client.send(build_frame(OP_TEXT, b"hi", mask=KEY))
            sess.server.recv_frame()
            sess.server.send(build_frame(OP_TEXT, b"hello"))
            sess.server.send(build_frame(OP_TEXT, b"again"))
            sess.client.recv_frame()
            sess.client.recv_frame()
            status, headers, body = get(admin, "/connections")
            self.assertEqual(status, 200)
            self.assertEqual(headers.get("Content-Type"), "application/json")
            conns = json.loads(body)
            self.assertEqual(len(conns), 1, body)
            c = conns[0]
            h, p = sess.client.sock.getsockname()[:2]
            self.assertEqual(c["id"], sess.conn)
            self.assertEqual(c["client"], f"{h}:{p}")
            self.assertEqual(c["path"], "/chat")
            self.assertNotIn("s3cret", body)
            self.assertEqual(c["state"], "websocket")
            self.assertGreaterEqual(c["age_ms"], 0)
            self.assertEqual(c[C2S]["frames"], 1)
            self.assertEqual(c[S2C]["frames"], 2)
            self.assertEqual(c[C2S]["bytes"], len(sess.request.raw) + len(sess.client.sent))
            self.assertEqual(c[S2C]["bytes"], len(sess.response.raw) + len(sess.server.sent))
            sess.client.send(build_frame(OP_CLOSE, close_payload(1000), mask=KEY))
            sess.server.recv_close_frame()
            self.assertEqual(json.loads(get(admin, "/connections")[2])[0]["state"], "closing")
            sess.close()
            proxy.wait_conn_close(sess.conn)
            self.assertEqual(json.loads(get(admin, "/connections")[2]), [])
        finally:
            proxy.stop()


class AdminHttp(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        check_budget(self)
        self.upstream = RawUpstream()
        self.proxy = Proxy(self.upstream.address, "--admin-listen", f"{HOST}:0")
        self.admin = admin_address(self.proxy)

    def tearDown(self):
        self.proxy.stop()
        self.upstream.close()

    def exchange(self, request: bytes):
        c = raw_admin(self.admin)
        c.send(request)
        head = c.recv_head()
        body = c.recv_exact(int(head.get("content-length", "0")))
        return c, head, body

    def test_unknown_paths_other_methods_and_bad_requests(self):
        self.assertEqual(get(self.admin, "/nope")[0], 404)
        c, head, _ = self.exchange(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        self.assertEqual(head.status, 405)
        self.assertEqual(head.get("allow"), "GET, HEAD")
        c.close()
        c, head, body = self.exchange(b"BR@KEN / HTTP/1.1\r\n\r\n")
        self.assertEqual(head.status, 400)
        self.assertEqual(head.get("connection"), "close")
        self.assertEqual(c.wait_eof(), b"")
        c.close()
        c, head, body = self.exchange(b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"z" * 4096)
        self.assertEqual(head.status, 413)
        c.close()
        # HEAD: the headers of GET, no body.
        c = raw_admin(self.admin)
        c.send(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = c.recv_head()
        self.assertEqual((head.status, head.get("content-length")), (200, "3"))
        self.assertEqual(c.wait_eof(), b"")
        c.close()

    def test_keep_alive_and_pipelined_requests(self):
        c = raw_admin(self.admin)
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 3 + b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(3):
            head = c.recv_head()
            self.assertEqual((head.status, head.get("connection")), (200, "keep-alive"))
            self.assertEqual(c.recv_exact(3), b"ok\n")
        head = c.recv_head()
        self.assertEqual(head.get("content-type"), CONTENT_TYPE)
        body = c.recv_exact(int(head.get("content-length"))).decode()
        self.assertTrue(list(text_string_to_metric_families(body)))
        # HTTP/1.0 without keep-alive: answered, then closed.
        c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        head = c.recv_head()
        self.assertEqual(head.get("connection"), "close")
        self.assertEqual(c.wait_eof(), b"ok\n")
        c.close()

    def test_hostile_clients_do_not_stall_scrapes_or_the_relay(self):
        # More slowloris clients than the endpoint keeps connections, each
        # trickling a head that never ends.
        slow = []
        for i in range(24):
            c = raw_admin(self.admin)
            c.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(c)
        # A huge head, and a flood of body.
        big = raw_admin(self.admin)
        try:
            big.sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * (200 * 1024) + b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        head = big.recv_head()
        self.assertEqual(head.status, 431)
        big.close()
        started = time.monotonic()
        for _ in range(6):
            for c in slow:
                try:
                    c.sock.sendall(b"s")
                except OSError:
                    pass
            t0 = time.monotonic()
            s = Scrape(self.admin)
            self.assertLess(time.monotonic() - t0, 2.0)
            self.assertEqual(s.value("wsinspect_draining"), 0)
            # The proxy relays meanwhile.
            sess = RawSession(self.upstream, self.proxy)
            sess.client.send(build_frame(OP_TEXT, b"ping", mask=KEY))
            self.assertEqual(sess.server.recv_frame().payload, b"ping")
            sess.close()
            time.sleep(0.3)
        # Every slow client is closed: evicted, or at the request timeout (5 s).
        for c in slow:
            remaining = max(0.5, 8.0 - (time.monotonic() - started))
            try:
                c.wait_eof(remaining)
            except OSError:
                pass
            self.assertTrue(c.eof, "a slowloris client is still connected")
            c.close()


if __name__ == "__main__":
    unittest.main()
