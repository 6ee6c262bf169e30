"""Whole-connection behaviour that comes from the connection core and the
relay shell: wire order across the upgrade, client bytes held before a 101,
shutdown close frames at frame boundaries, resets passed on as resets,
pipelined requests, and the built-in echo server's backpressure and closes.
Each test names the defect it guards against."""

import os
import signal
import socket
import threading
import time
import unittest

from harness import (
    C2S,
    HOST,
    OP_BINARY,
    OP_CLOSE,
    OP_TEXT,
    S2C,
    TIMEOUT,
    Proxy,
    RawClient,
    RawUpstream,
    binary_is_sanitized,
    build_frame,
    close_payload,
    is_event,
    parse_frames,
    require_proxy,
    response_101,
    run_threads,
    upgrade_request,
)

K = b"\x37\xfa\x21\x3d"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ConnTestCase(unittest.TestCase):
    def setUp(self):
        require_proxy(self)

    def start(self, *args, upstream=None, log_level="debug"):
        up = None
        if upstream is None:
            up = RawUpstream()
            self.addCleanup(up.close)
            upstream = up.address
        proxy = Proxy(upstream, *args, log_level=log_level)
        self.addCleanup(proxy.stop)
        return up, proxy

    def client(self, proxy):
        c = RawClient.connect(proxy.host, proxy.port)
        self.addCleanup(c.close)
        return c

    def accept(self, up):
        c = up.accept()
        self.addCleanup(c.close)
        return c

    def upgrade(self, proxy, up, first_client_bytes=b"", answer=b""):
        """The client's upgrade request sent together with first_client_bytes;
        the server answers 101 followed by `answer` in one write."""
        c = self.client(proxy)
        req, key = upgrade_request(f"{proxy.host}:{proxy.port}")
        c.sock.sendall(req + first_client_bytes)
        s = self.accept(up)
        s.recv_head()
        s.sock.sendall(response_101(key) + answer)
        c.recv_head()
        return c, s, proxy.conn_of(c.sock)


class WireOrderTest(ConnTestCase):
    def test_violation_in_the_upgrade_write_causes_the_servers_close(self):
        """Defect 1: the upgrade request and a bad client frame in one write;
        the server answers 101 and close 1002 in one write. The violation is
        logged first and the close is linked to it."""
        up, proxy = self.start()
        bad = build_frame(OP_TEXT, b"Hello", rsv=0x2, mask=K)
        server_close = build_frame(OP_CLOSE, close_payload(1002, b"reserved bits"))
        c, s, conn = self.upgrade(proxy, up, bad, server_close)
        self.assertEqual(s.recv_exact(len(bad)), bad)
        self.assertEqual(c.recv_exact(len(server_close)), server_close)
        c.close()
        s.close()
        proxy.wait_conn_close(conn)
        ctx = "\n" + proxy.describe()
        events = [e for e in proxy.of_conn(conn) if e.get("event") in ("violation", "close") and not e.get("synthesized")]
        kinds = [(e["event"], e["dir"]) for e in events]
        self.assertEqual(kinds[:2], [("violation", C2S), ("close", S2C)], ctx)
        close = events[1]
        self.assertEqual(close.get("code"), 1002, ctx)
        self.assertEqual((close.get("caused_by") or {}).get("rule"), "reserved-bits-set", ctx)
        self.assertEqual((close.get("caused_by") or {}).get("dir"), C2S, ctx)
        self.assertNotIn("note", close, ctx)


class HeldClientBytesTest(ConnTestCase):
    def test_more_than_256_kib_before_the_101_is_inspected(self):
        """Defect 2: 320 KiB of client frames and a close frame sent before
        the server answers: every frame is inspected, none is skipped, no
        false stream-ended-mid-frame."""
        up, proxy = self.start(log_level="info")
        c = self.client(proxy)
        req, key = upgrade_request(f"{proxy.host}:{proxy.port}")
        frames = b"".join(build_frame(OP_BINARY, bytes([i]) * 65536, mask=K) for i in range(5))
        close = build_frame(OP_CLOSE, close_payload(1000), mask=K)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)

        def client_sends():
            c.sock.sendall(req + frames + close)

        conn = proxy.conn_of(c.sock)
        sender = threading.Thread(target=client_sends, daemon=True)
        sender.start()
        s = self.accept(up)
        s.recv_head()
        time.sleep(0.5)  # the client's frames pile up at the proxy before the answer
        s.sock.sendall(response_101(key))
        self.assertEqual(s.recv_exact(len(frames + close), TIMEOUT), frames + close)
        sender.join(TIMEOUT)
        reply = build_frame(OP_CLOSE, close_payload(1000))
        s.sock.sendall(reply)
        self.assertEqual(c.recv_head().status, 101)
        self.assertEqual(c.recv_exact(len(reply)), reply)
        c.close()
        s.close()
        done = proxy.wait_conn_close(conn)
        ctx = "\n" + proxy.describe()
        self.assertEqual(proxy.violations(conn), [], ctx)
        self.assertEqual(proxy.of_conn(conn, "gap"), [], ctx)
        closes = [e for e in proxy.of_conn(conn, "close") if not e.get("synthesized")]
        self.assertIn((C2S, 1000, 5), [(e["dir"], e["code"], e["frame_index"]) for e in closes], ctx)
        self.assertEqual(done[C2S].get("frames"), 6, ctx)
        self.assertEqual(done.get("ended_by"), "close_handshake", ctx)


class ShutdownCloseFrameTest(ConnTestCase):
    def test_close_1001_only_at_a_frame_boundary(self):
        """Defect 3: at the end of the drain the server is inside a frame
        towards the client: the client gets no close frame in the middle of
        it, the server (whose direction is between frames) gets close 1001,
        and only the close actually sent is logged as sent."""
        up, proxy = self.start("--drain-timeout", "300ms", "--shutdown-close-frames")
        c, s, conn = self.upgrade(proxy, up)
        whole = build_frame(OP_TEXT, b"x" * 1000)
        partial = whole[:40]
        s.sock.sendall(partial)
        self.assertEqual(c.recv_exact(len(partial)), partial)
        proxy.proc.send_signal(signal.SIGTERM)
        rest = c.recv_until_eof(TIMEOUT)
        to_server = s.recv_until_eof(TIMEOUT)
        proxy.wait_exit(10)
        ctx = f"\nclient got {rest!r} after the partial frame\n" + proxy.describe()
        self.assertEqual(rest, b"", "bytes written inside the server's frame" + ctx)
        frames, left = parse_frames(to_server)
        self.assertEqual(left, b"", ctx)
        self.assertEqual([(f.opcode, f.masked, f.close_code) for f in frames], [(OP_CLOSE, True, 1001)], ctx)
        synth = [e for e in proxy.of_conn(conn, "close") if e.get("synthesized")]
        sent = [e["dir"] for e in synth if e.get("sent_by") == "wsinspect"]
        self.assertEqual(sent, [C2S], ctx)
        self.assertIn((S2C, 1006), [(e["dir"], e["code"]) for e in synth], ctx)

    def test_close_frame_stuck_behind_a_backlog_is_not_logged_as_sent(self):
        """Defect 3, second half: the server reads nothing, so the proxy's
        queue towards it never drains; the close 1001 queued behind it at the
        end of the drain is never written, so it is not logged as sent, and
        the server's side is reported as 1006."""
        up, proxy = self.start("--drain-timeout", "300ms", "--shutdown-close-frames", log_level="info")
        c, s, conn = self.upgrade(proxy, up)
        s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        c.sock.settimeout(2.0)
        frame = build_frame(OP_BINARY, b"q" * 65536, mask=K)
        try:
            for _ in range(400):  # until the proxy stops reading the client
                c.sock.sendall(frame)
        except (socket.timeout, OSError):
            pass
        proxy.proc.send_signal(signal.SIGTERM)
        proxy.wait_exit(15)
        ctx = "\n" + proxy.describe()
        synth = [e for e in proxy.of_conn(conn, "close") if e.get("synthesized")]
        self.assertNotIn(C2S, [e["dir"] for e in synth if e.get("sent_by") == "wsinspect"], ctx)
        self.assertIn((C2S, 1006), [(e["dir"], e["code"]) for e in synth], ctx)
        self.assertIn(S2C, [e["dir"] for e in synth if e.get("sent_by") == "wsinspect"], ctx)


class ResetAfterDataTest(ConnTestCase):
    def test_reset_right_after_data_is_passed_on_as_a_reset(self):
        """Defect 4: a frame and a reset in quick succession: the frame
        reaches the server, then the server's connection is reset (not
        closed with FIN), and the log says client_reset."""
        up, proxy = self.start()
        c, s, conn = self.upgrade(proxy, up)
        data = build_frame(OP_BINARY, b"z" * 20000, mask=K)
        c.sock.sendall(data)
        c.reset()
        got = s.recv_until_eof(TIMEOUT)
        done = proxy.wait_conn_close(conn)
        ctx = f"\nserver got {len(got)} bytes, reset_seen={s.reset_seen}\n" + proxy.describe()
        self.assertEqual(got, data, ctx)
        self.assertTrue(s.reset_seen, "passed on as a FIN" + ctx)
        self.assertEqual(done.get("ended_by"), "client_reset", ctx)


class PipelineTest(ConnTestCase):
    REQ = b"GET /p HTTP/1.1\r\nHost: a\r\n\r\n"
    RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    def test_forty_thousand_pipelined_requests_are_cheap(self):
        """Defect 5a: 40,000 pipelined requests answered at once cost the
        proxy little: every response is relayed within seconds."""
        up, proxy = self.start(log_level="info")
        n = 40000
        c = self.client(proxy)

        def upstream():
            s = self.accept(up)
            seen = 0
            buf = b""
            while seen < n:
                chunk = s.sock.recv(1 << 20)
                if not chunk:
                    return
                buf += chunk
                k = buf.count(b"\r\n\r\n")
                buf = buf[buf.rfind(b"\r\n\r\n") + 4 :] if k else buf
                s.sock.sendall(self.RESP * k)
                seen += k

        def client():
            c.sock.sendall(self.REQ * n)
            want = len(self.RESP) * n
            got = 0
            while got < want:
                chunk = c.sock.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
            return got

        cpu0 = cpu_seconds(proxy.pid)
        _, got = run_threads(upstream, client, timeout=60)
        cpu = cpu_seconds(proxy.pid) - cpu0
        self.assertEqual(got, len(self.RESP) * n)
        limit = 12.0 if binary_is_sanitized() else 3.0
        self.assertLess(cpu, limit, f"{n} pipelined requests cost the proxy {cpu:.1f} s of CPU")

    def test_unanswered_pipelined_requests_hold_the_client_back(self):
        """Defect 5b: an upstream that never answers: the proxy stops reading
        the client instead of queueing requests without bound."""
        up, proxy = self.start(log_level="info")
        c = self.client(proxy)
        c.sock.settimeout(3.0)
        total = len(self.REQ) * 400000  # 11 MB of requests
        sent = [0]

        def client():
            data = self.REQ * 400000
            try:
                while sent[0] < total:
                    sent[0] += c.sock.send(data[sent[0] : sent[0] + (1 << 20)])
            except (socket.timeout, OSError):
                pass

        s = self.accept(up)
        t = threading.Thread(target=client, daemon=True)
        t.start()
        t.join(6)
        before = proxy.rss_kib()
        received = 0
        s.sock.settimeout(0.5)
        try:
            while True:
                chunk = s.sock.recv(1 << 20)
                if not chunk:
                    break
                received += len(chunk)
        except socket.timeout:
            pass
        ctx = f"\nclient sent {sent[0]} of {total} bytes; upstream received {received}; proxy RSS {before} KiB"
        self.assertLess(sent[0], total, "the client was never held back" + ctx)
        if not binary_is_sanitized():
            self.assertLess(before, 60 * 1024, ctx)


class BuiltinEchoTest(ConnTestCase):
    def echo_session(self, *args, log_level="info"):
        _, proxy = self.start(*args, upstream="builtin:echo", log_level=log_level)
        c = self.client(proxy)
        req, key = upgrade_request(f"{proxy.host}:{proxy.port}")
        c.sock.sendall(req)
        head = c.recv_head()
        self.assertEqual(head.status, 101)
        return proxy, c, proxy.conn_of(c.sock)

    def test_client_that_never_reads_is_held_back(self):
        """Defect 6a: a client that sends and never reads does not grow the
        proxy's (and echo's) memory without bound."""
        proxy, c, conn = self.echo_session(log_level="info")
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        c.sock.settimeout(2.0)
        frame = build_frame(OP_BINARY, b"e" * 65536, mask=K)
        sent = [0]
        deadline = time.monotonic() + 8
        try:
            while time.monotonic() < deadline and sent[0] < (400 << 20):
                c.sock.sendall(frame)
                sent[0] += len(frame)
        except (socket.timeout, OSError):
            pass
        rss = proxy.rss_kib()
        ctx = f"\nsent {sent[0] >> 20} MiB without reading; proxy RSS {rss} KiB"
        self.assertLess(sent[0], 400 << 20, "never held back" + ctx)
        if not binary_is_sanitized():
            self.assertLess(rss, 80 * 1024, ctx)

    def test_violation_inside_a_frame_closes_after_the_echoed_frame(self):
        """Defect 6b: invalid UTF-8 in the middle of a text frame: the echo
        finishes the frame it began, then closes with 1007; its output is
        valid (the proxy flags nothing server to client)."""
        proxy, c, conn = self.echo_session(log_level="debug")
        payload = b"abcde\xffghijklmnopqrst"
        frame = build_frame(OP_TEXT, payload, mask=K)
        c.send(frame[:12])  # header (6) and the invalid byte
        time.sleep(0.2)
        c.send(frame[12:])
        out = c.recv_until_eof(TIMEOUT)
        c.close()
        frames, left = parse_frames(out)
        proxy.wait_conn_close(conn)
        ctx = f"\necho sent {out!r}\n" + proxy.describe()
        self.assertEqual(left, b"", ctx)
        self.assertEqual([(f.opcode, f.payload) for f in frames[:1]], [(OP_TEXT, payload)], ctx)
        self.assertEqual([f.close_code for f in frames[1:]], [1007], ctx)
        # The echoed text is as invalid as the client's, but its framing is intact.
        self.assertEqual({v[0] for v in proxy.violations(conn, S2C)} - {"invalid-utf8-text"}, set(), ctx)


if __name__ == "__main__":
    unittest.main()
