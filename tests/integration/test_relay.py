"""The proxy as a relay: plain HTTP unchanged, byte-exact frame streams both
ways at once, backpressure toward a slow reader, an unreachable upstream,
resets mid-frame, SIGTERM with a session open, half-close and idle timeout.

Classes named Direct* run the same traffic without the proxy: they check the
harness (recording HTTP server, stream generator, raw peers).
"""

import hashlib
import http.server
import random
import signal
import socket
import socketserver
import threading
import time
import unittest

from harness import (
    C2S,
    HOST,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    S2C,
    TIMEOUT,
    Proxy,
    RawClient,
    RawSession,
    RawUpstream,
    binary_is_sanitized,
    build_frame,
    close_payload,
    closed_port,
    is_event,
    require_proxy,
    run_threads,
    upgrade_request,
)

# --- a recording HTTP/1.1 upstream --------------------------------------------


class _Tee:
    """Wraps a file object and records every byte read or written."""

    def __init__(self, f, log: bytearray):
        self._f, self._log = f, log

    def readline(self, size=-1):
        b = self._f.readline(size)
        self._log += b
        return b

    def read(self, n=-1):
        b = self._f.read(n)
        self._log += b
        return b

    def write(self, b):
        self._log += b
        return self._f.write(b)

    def __getattr__(self, name):
        return getattr(self._f, name)


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def setup(self):
        super().setup()
        rec = {"in": bytearray(), "out": bytearray(), "done": threading.Event()}
        self.server.records.append(rec)
        self._rec = rec
        self.rfile = _Tee(self.rfile, rec["in"])
        self.wfile = _Tee(self.wfile, rec["out"])

    def finish(self):
        try:
            super().finish()
        finally:
            self._rec["done"].set()

    def version_string(self):
        return "recording-upstream"

    def date_time_string(self, timestamp=None):
        return "Thu, 01 Jan 2026 00:00:00 GMT"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = f"you asked for {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = bytearray()
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body += self.rfile.read(int(self.headers.get("Content-Length", "0")))
        digest = hashlib.sha256(body).hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (b"sha256=", digest, b"\n", f"bytes={len(body)}\n".encode()):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")


class RecordingHttpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self):
        self.records = []
        super().__init__((HOST, 0), RecordingHandler)
        self.address = f"{HOST}:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()
        self._thread.join(5)


def chunked(body: bytes, sizes) -> bytes:
    out, i = b"", 0
    for n in sizes:
        out += b"%x\r\n%s\r\n" % (n, body[i : i + n])
        i += n
    return out + b"0\r\n\r\n"


def http_exchange(test, host, port, server):
    """Two requests on one connection (a GET, a chunked POST); returns
    (bytes the client sent, bytes it received, the server's record)."""
    c = RawClient.connect(host, port)
    try:
        hostport = f"{host}:{port}"
        get = f"GET /first?x=1 HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: relay-test\r\nAccept: */*\r\n\r\n".encode()
        c.send(get)
        r1 = c.recv_http_response()
        body = bytes(random.Random(7).randrange(256) for _ in range(5000))
        post = (
            f"POST /upload?y=2 HTTP/1.1\r\nHost: {hostport}\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode() + chunked(body, [1, 999, 4000])
        c.send(post, "random", random.Random(3))
        r2 = c.recv_http_response()
    finally:
        c.close()
    test.assertTrue(r1.startswith(b"HTTP/1.1 200 "), r1[:100])
    test.assertTrue(r2.endswith(b"0\r\n\r\n"), r2[-100:])
    test.assertIn(hashlib.sha256(body).hexdigest().encode(), r2)
    deadline = time.monotonic() + TIMEOUT
    while not server.records and time.monotonic() < deadline:
        time.sleep(0.01)
    test.assertEqual(len(server.records), 1, "both requests must arrive on one upstream connection")
    rec = server.records[0]
    test.assertTrue(rec["done"].wait(TIMEOUT), "the upstream connection was not closed")
    return get + post, r1 + r2, rec


# --- random frame streams ------------------------------------------------------


def random_stream(rng: random.Random, masked: bool, target: int) -> "tuple[bytes, dict]":
    """Valid frames, about `target` bytes: text (UTF-8 split anywhere across
    fragments), binary of every length form, pings and pongs between
    fragments. Returns the bytes and the counts the proxy should report."""
    out = bytearray()
    counts = {"frames": 0, "messages": 0}
    sizes = [0, 1, 125, 126, 127, 65535, 65536, 65537]

    def mask():
        return rng.randbytes(4) if masked else None

    def frame(op, payload, fin=True):
        out.extend(build_frame(op, payload, fin=fin, mask=mask()))
        counts["frames"] += 1

    alphabet = "abcXYZ 0123456789é€😀ω"
    while len(out) < target:
        kind = rng.random()
        if kind < 0.1:
            frame(rng.choice([OP_PING, OP_PONG]), rng.randbytes(rng.randint(0, 125)))
            continue
        if kind < 0.5:
            n = rng.choice(sizes) if rng.random() < 0.5 else rng.randint(0, 200_000)
            payload, op = rng.randbytes(n), OP_BINARY
        else:
            n = rng.randint(0, 20_000)
            payload, op = "".join(rng.choice(alphabet) for _ in range(n)).encode(), OP_TEXT
        parts = 1 if rng.random() < 0.6 else rng.randint(2, 4)
        cuts = sorted(rng.randint(0, len(payload)) for _ in range(parts - 1))
        bounds = [0] + cuts + [len(payload)]
        for i in range(parts):
            frame(op if i == 0 else OP_CONT, payload[bounds[i] : bounds[i + 1]], fin=i == parts - 1)
            if i < parts - 1 and rng.random() < 0.3:
                frame(OP_PING, b"mid")
        counts["messages"] += 1
    return bytes(out), counts


def send_in_pieces(conn, data: bytes, rng: random.Random) -> None:
    i = 0
    while i < len(data):
        n = rng.choice([1, 2, 7, 100, 1460, 4096, 65536, rng.randint(1, 200_000)])
        conn.sock.sendall(data[i : i + n])
        i += n


def recv_n(conn, n: int, timeout: float) -> bytes:
    return conn.recv_exact(n, timeout)


def exchange_streams(test, session, seed: int, size: int = 3 << 20):
    """Both directions at once; asserts sha256 of sent == received."""
    c2s, c2s_counts = random_stream(random.Random(seed), True, size)
    s2c, s2c_counts = random_stream(random.Random(seed + 1), False, size)
    _, _, got_c2s, got_s2c = run_threads(
        lambda: send_in_pieces(session.client, c2s, random.Random(seed + 2)),
        lambda: send_in_pieces(session.server, s2c, random.Random(seed + 3)),
        lambda: recv_n(session.server, len(c2s), 60),
        lambda: recv_n(session.client, len(s2c), 60),
        timeout=90,
    )
    test.assertEqual(hashlib.sha256(got_c2s).hexdigest(), hashlib.sha256(c2s).hexdigest(), "client->server bytes differ")
    test.assertEqual(hashlib.sha256(got_s2c).hexdigest(), hashlib.sha256(s2c).hexdigest(), "server->client bytes differ")
    return (c2s, c2s_counts), (s2c, s2c_counts)


# --- tests without the proxy (harness checks) -------------------------------------


class DirectRelayTest(unittest.TestCase):
    def test_http_recording_server(self):
        server = RecordingHttpServer()
        self.addCleanup(server.stop)
        sent, received, rec = http_exchange(self, HOST, server.server_address[1], server)
        self.assertEqual(bytes(rec["in"]), sent)
        self.assertEqual(bytes(rec["out"]), received)

    def test_random_streams(self):
        up = RawUpstream()
        self.addCleanup(up.close)
        s = RawSession(up)
        self.addCleanup(s.close)
        exchange_streams(self, s, seed=11, size=1 << 20)

    def test_half_close(self):
        up = RawUpstream()
        self.addCleanup(up.close)
        half_close(self, up, None)

    def test_random_stream_parses_back(self):
        from harness import parse_frames

        data, counts = random_stream(random.Random(5), True, 1 << 20)
        frames, rest = parse_frames(data)
        self.assertEqual(rest, b"")
        self.assertEqual(len(frames), counts["frames"])
        self.assertTrue(all(f.masked for f in frames))
        self.assertEqual({f.length_form for f in frames}, {7, 16, 64})


# --- through the proxy --------------------------------------------------------------


class ProxyTestCase(unittest.TestCase):
    def setUp(self):
        require_proxy(self)

    def start(self, *args, log_level="debug"):
        """A raw upstream and a proxy in front of it."""
        up = RawUpstream()
        self.addCleanup(up.close)
        proxy = Proxy(up.address, *args, log_level=log_level)
        self.addCleanup(proxy.stop)
        return up, proxy

    def session(self, up, proxy):
        s = RawSession(up, proxy)
        self.addCleanup(s.close)
        return s


class HttpRelayTest(ProxyTestCase):
    def test_two_requests_keep_alive_and_chunked_post_unchanged(self):
        server = RecordingHttpServer()
        self.addCleanup(server.stop)
        proxy = Proxy(server.address)
        self.addCleanup(proxy.stop)
        sent, received, rec = http_exchange(self, proxy.host, proxy.port, server)
        ctx = "\n" + proxy.describe()
        self.assertEqual(bytes(rec["in"]), sent, "the upstream got other request bytes than the client sent" + ctx)
        self.assertEqual(received, bytes(rec["out"]), "the client got other response bytes than the upstream sent" + ctx)
        evs = proxy.wait_count(is_event("http"), 2, what="http")
        self.assertEqual(
            [(e.get("method"), e.get("path"), e.get("status")) for e in evs],
            [("GET", "/first", 200), ("POST", "/upload", 200)],
            ctx,
        )
        self.assertEqual(proxy.find(is_event("handshake")), [], ctx)


class StreamRelayTest(ProxyTestCase):
    def test_random_frame_streams_both_ways_byte_exact(self):
        up, proxy = self.start(log_level="info")
        s = self.session(up, proxy)
        (c2s, cc), (s2c, sc) = exchange_streams(self, s, seed=42)
        s.client.close()
        s.server.close()
        done = proxy.wait_conn_close(s.conn, 30)
        ctx = "\n" + proxy.describe()
        self.assertEqual(proxy.violations(s.conn), [], ctx)
        for d, data, counts in ((C2S, c2s, cc), (S2C, s2c, sc)):
            st = done.get(d, {})
            self.assertEqual((st.get("frames"), st.get("messages"), st.get("errors")), (counts["frames"], counts["messages"], 0), f"{d}{ctx}")
            # `bytes` may or may not include the handshake head; the frames must be there.
            self.assertGreaterEqual(st.get("bytes", 0), len(data), f"{d}{ctx}")
            self.assertLess(st.get("bytes", 0), len(data) + 1024, f"{d}{ctx}")

    def test_two_sessions_at_once(self):
        up, proxy = self.start(log_level="info")
        a = self.session(up, proxy)
        b = self.session(up, proxy)
        self.assertNotEqual(a.conn, b.conn)
        run_threads(
            lambda: exchange_streams(self, a, seed=100, size=1 << 20),
            lambda: exchange_streams(self, b, seed=200, size=1 << 20),
            timeout=120,
        )


class BackpressureTest(ProxyTestCase):
    TOTAL = 64 << 20
    FRAME = 65536
    LIMIT_KIB = 40 * 1024

    def test_slow_reader_bounds_proxy_memory(self):
        up, proxy = self.start("--high-watermark", str(1 << 20), "--low-watermark", str(256 << 10), log_level="info")
        # Small socket buffers at the two ends so the backlog sits in the proxy
        # if it does not stop reading.
        s = self.session(up, proxy)
        s.client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 << 10)
        s.server.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 128 << 10)
        frame = build_frame(OP_BINARY, random.Random(1).randbytes(self.FRAME))
        count = self.TOTAL // self.FRAME
        expected = hashlib.sha256(frame * count).hexdigest()
        sent = [0]
        peak = [0]
        stop = threading.Event()

        def upstream_sends():
            for _ in range(count):
                s.server.sock.sendall(frame)
                sent[0] += len(frame)

        def sample_rss():
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], proxy.rss_kib())
                except OSError:
                    return
                time.sleep(0.02)

        def client_reads():
            time.sleep(3.0)  # not reading at all
            sent_during_pause = sent[0]
            h = hashlib.sha256()
            got = 0
            slow_until = time.monotonic() + 2.0
            while got < len(frame) * count:
                chunk = s.client.sock.recv(16384 if time.monotonic() < slow_until else 1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                got += len(chunk)
                if time.monotonic() < slow_until:
                    time.sleep(0.001)
            return sent_during_pause, got, h.hexdigest()

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        s.client.sock.settimeout(60)
        try:
            _, (sent_during_pause, got, digest) = run_threads(upstream_sends, client_reads, timeout=120)
        finally:
            stop.set()
            sampler.join(5)
        ctx = f"\npeak VmRSS {peak[0]} KiB, upstream had sent {sent_during_pause} bytes when the client started reading\n" + proxy.describe(20)
        self.assertEqual(got, len(frame) * count, ctx)
        self.assertEqual(digest, expected, "the client got other bytes than the upstream sent" + ctx)
        self.assertLess(sent_during_pause, len(frame) * count, "the upstream was never held back" + ctx)
        if binary_is_sanitized():
            return  # ASan's shadow memory and quarantine dwarf the limit; the rest still holds
        self.assertLess(peak[0], self.LIMIT_KIB, "the proxy buffered the backlog" + ctx)


class UpstreamDownTest(ProxyTestCase):
    def check_502(self, request: bytes, upgrade: bool):
        port = closed_port()
        proxy = Proxy(f"{HOST}:{port}")
        self.addCleanup(proxy.stop)
        c = RawClient.connect(proxy.host, proxy.port)
        self.addCleanup(c.close)
        c.send(request)
        head = c.recv_head(TIMEOUT)
        ctx = "\n" + proxy.describe()
        self.assertEqual(head.status, 502, head.raw.decode("latin-1") + ctx)
        ev = proxy.wait_for(is_event("upstream_error"), what="upstream_error")
        self.assertEqual((ev.get("upstream"), ev.get("stage"), ev.get("status")), (f"{HOST}:{port}", "connect", 502), ctx)
        self.assertIsInstance(ev.get("error"), str, ctx)
        self.assertIsInstance(ev.get("conn"), int, ctx)

    def test_upgrade_request_gets_502(self):
        req, _ = upgrade_request("example.test", "/ws")
        self.check_502(req, True)

    def test_plain_request_gets_502(self):
        self.check_502(b"GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n", False)


class ResetTest(ProxyTestCase):
    def check_reset(self, who: str):
        up, proxy = self.start()
        s = self.session(up, proxy)
        # A whole frame, then the header and two payload bytes of a second one.
        first = build_frame(OP_TEXT, b"whole", mask=True if who == "client" else None)
        second = build_frame(OP_BINARY, b"12345", mask=True if who == "client" else None)
        partial = second[: len(second) - 3]
        sender, receiver = s.ends(who)
        d = C2S if who == "client" else S2C
        sender.send(first + partial)
        self.assertEqual(receiver.recv_exact(len(first + partial)), first + partial)
        proxy.wait_for(lambda e: e.get("event") == "frame" and e.get("conn") == s.conn and e.get("dir") == d and e.get("frame_index") == 1, what="second frame header")
        sender.reset()
        receiver.recv_until_eof(TIMEOUT)  # the other peer's connection ends too
        done = proxy.wait_conn_close(s.conn)
        ctx = "\n" + proxy.describe()
        cause = f"{who}_reset"
        self.assertEqual(done.get("ended_by"), cause, ctx)
        synth = [e for e in proxy.of_conn(s.conn, "close") if e.get("synthesized")]
        self.assertIn(d, [e.get("dir") for e in synth], ctx)
        for e in synth:
            self.assertEqual((e.get("code"), e.get("on_wire"), e.get("name"), e.get("cause")), (1006, False, "Abnormal Closure", cause), ctx)
            self.assertTrue(isinstance(e.get("cause_detail"), str) and e["cause_detail"], ctx)
            self.assertIsInstance(e.get("explanation"), dict, ctx)
        self.assertIn(("stream-ended-mid-frame", len(first), 1, d), proxy.violations(s.conn), ctx)

    def test_client_reset_mid_frame(self):
        self.check_reset("client")

    def test_server_reset_mid_frame(self):
        self.check_reset("server")


class ShutdownTest(ProxyTestCase):
    def test_sigterm_with_open_session_drains_then_exits_0(self):
        up, proxy = self.start("--drain-timeout", "2s")
        s = self.session(up, proxy)
        t0 = time.monotonic()
        proxy.proc.send_signal(signal.SIGTERM)
        ev = proxy.wait_for(lambda e: e.get("event") == "shutdown" and e.get("phase") != "forced", what="shutdown")
        ctx = "\n" + proxy.describe()
        self.assertEqual((ev.get("signal"), ev.get("open_connections")), ("SIGTERM", 1), ctx)
        # The session is still relayed while draining.
        msg = build_frame(OP_TEXT, b"still there?", mask=True)
        s.client.send(msg)
        self.assertEqual(s.server.recv_exact(len(msg)), msg, ctx)
        rc = proxy.wait_exit(2 + 8)
        elapsed = time.monotonic() - t0
        ctx = f"\nexited after {elapsed:.1f}s\n" + proxy.describe()
        self.assertEqual(rc, 0, ctx)
        self.assertTrue(proxy.find(lambda e: e.get("event") == "shutdown" and e.get("phase") == "forced"), ctx)
        synth = [e for e in proxy.of_conn(s.conn, "close") if e.get("synthesized")]
        self.assertTrue(synth and all(e.get("cause") == "proxy_shutdown" for e in synth), ctx)
        self.assertEqual(proxy.wait_conn_close(s.conn).get("ended_by"), "proxy_shutdown", ctx)
        s.client.recv_until_eof(TIMEOUT)
        s.server.recv_until_eof(TIMEOUT)

    def test_sigterm_exits_when_last_session_closes(self):
        up, proxy = self.start("--drain-timeout", "60s")
        s = self.session(up, proxy)
        proxy.proc.send_signal(signal.SIGTERM)
        proxy.wait_for(is_event("shutdown"), what="shutdown")
        close_c = build_frame(OP_CLOSE, close_payload(1001, "going"), mask=True)
        close_s = build_frame(OP_CLOSE, close_payload(1001, "going"))
        s.client.send(close_c)
        self.assertEqual(s.server.recv_exact(len(close_c)), close_c)
        s.server.send(close_s)
        self.assertEqual(s.client.recv_exact(len(close_s)), close_s)
        s.server.close()
        s.client.close()
        rc = proxy.wait_exit(15)  # far below the 60 s drain time
        ctx = "\n" + proxy.describe()
        self.assertEqual(rc, 0, ctx)
        self.assertEqual(proxy.wait_conn_close(s.conn).get("ended_by"), "close_handshake", ctx)
        self.assertFalse(proxy.find(lambda e: e.get("event") == "shutdown" and e.get("phase") == "forced"), ctx)


def half_close(test, up, proxy):
    """The client sends a frame and shuts down its write side; the server
    gets the frame then EOF, and can still send to the client."""
    s = RawSession(up, proxy)
    test.addCleanup(s.close)
    hello = build_frame(OP_TEXT, b"last words", mask=True)
    s.client.send(hello)
    s.client.shutdown_write()
    test.assertEqual(s.server.recv_until_eof(TIMEOUT), hello, "the server must get the frame, then EOF")
    replies = b"".join(build_frame(OP_BINARY, bytes([i]) * (1000 * i)) for i in range(1, 20))
    s.server.send(replies, "random", random.Random(9))
    test.assertEqual(s.client.recv_exact(len(replies)), replies, "the client must still receive after its FIN")
    s.server.close()
    test.assertEqual(s.client.recv_until_eof(TIMEOUT), b"")
    return s


class HalfCloseTest(ProxyTestCase):
    def test_client_half_close_server_still_sends(self):
        up, proxy = self.start()
        s = half_close(self, up, proxy)
        done = proxy.wait_conn_close(s.conn)
        ctx = "\n" + proxy.describe()
        self.assertEqual(proxy.violations(s.conn), [], ctx)
        self.assertEqual(done.get(S2C, {}).get("frames"), 19, ctx)


class IdleTimeoutTest(ProxyTestCase):
    def test_idle_session_is_closed(self):
        up, proxy = self.start("--idle-timeout", "1s")
        s = self.session(up, proxy)
        ping = build_frame(OP_PING, b"once", mask=True)
        s.client.send(ping)
        self.assertEqual(s.server.recv_exact(len(ping)), ping)
        self.assertEqual(s.client.recv_until_eof(TIMEOUT), b"")
        self.assertEqual(s.server.recv_until_eof(TIMEOUT), b"")
        done = proxy.wait_conn_close(s.conn)
        ctx = "\n" + proxy.describe()
        self.assertEqual(done.get("ended_by"), "idle_timeout", ctx)
        synth = [e for e in proxy.of_conn(s.conn, "close") if e.get("synthesized")]
        self.assertEqual(sorted(e.get("dir") for e in synth), [C2S, S2C], ctx)
        self.assertTrue(all(e.get("cause") == "idle_timeout" for e in synth), ctx)


if __name__ == "__main__":
    unittest.main()
