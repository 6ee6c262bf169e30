"""The HTTP phase's timeouts: a head (request or response) must come within
--handshake-timeout, counted from when it is awaited; a message in progress
is bounded by --http-inactivity-timeout; nothing of the kind applies once the
connection has upgraded. What the client gets: 408, 504, or a silent close
when it never sent a byte."""

import socket
import time
import unittest

from harness import (
    HOST,
    OP_TEXT,
    TIMEOUT,
    Proxy,
    RawConn,
    RawUpstream,
    build_frame,
    check_budget,
    is_event,
    require_proxy,
    response_101,
    upgrade_request,
)

HEAD_MS = 1500
IDLE_MS = 1000
KEY = b"\x09\x08\x07\x06"


def connect(proxy) -> RawConn:
    return RawConn(socket.create_connection((HOST, proxy.port), timeout=TIMEOUT))


def answer_200(c: RawConn, body: bytes = b"ok") -> None:
    c.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


class HttpPhaseTimeouts(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        check_budget(self)
        self.upstream = RawUpstream()
        self.proxy = Proxy(self.upstream.address, "--handshake-timeout", f"{HEAD_MS}ms",
                           "--http-inactivity-timeout", f"{IDLE_MS}ms")

    def tearDown(self):
        self.proxy.stop()
        self.upstream.close()

    def test_a_slow_upload_is_not_cut_by_the_head_timeout(self):
        # 60 KiB at about 20 KiB/s: three times the head timeout, never idle.
        c = connect(self.proxy)
        body = b"u" * (60 * 1024)
        c.send(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        up = self.upstream.accept()
        up.recv_head()
        start = time.monotonic()
        for i in range(0, len(body), 2048):
            c.send(body[i:i + 2048])
            time.sleep(0.1)
        self.assertGreater(time.monotonic() - start, 2 * HEAD_MS / 1000)
        self.assertEqual(up.recv_exact(len(body)), body)
        answer_200(up)
        self.assertTrue(c.recv_http_response().startswith(b"HTTP/1.1 200 "))
        c.close()
        up.close()

    def test_keep_alive_slowloris_gets_408(self):
        c = connect(self.proxy)
        conn = self.proxy.conn_of(c.sock)
        c.send(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        up = self.upstream.accept()
        up.recv_head()
        answer_200(up)
        self.assertTrue(c.recv_http_response().startswith(b"HTTP/1.1 200 "))
        answered = time.monotonic()
        # The next head, one byte every 200 ms: never idle, never complete.
        answer = b""
        c.sock.settimeout(0.2)
        for ch in b"GET /two HTTP/1.1\r\nX-Slow: " + b"a" * 100:
            try:
                c.sock.sendall(bytes([ch]))
            except OSError:
                break
            try:
                got = c.sock.recv(4096)
                if got:
                    answer += got
                    break
            except socket.timeout:
                pass
            if time.monotonic() - answered > 4 * HEAD_MS / 1000:
                break
        c.sock.settimeout(TIMEOUT)
        while b"\r\n\r\n" not in answer:
            more = c.sock.recv(4096)
            if not more:
                break
            answer += more
        self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer[:80])
        elapsed = time.monotonic() - answered
        self.assertGreater(elapsed, HEAD_MS / 1000 * 0.8)
        self.assertLess(elapsed, HEAD_MS / 1000 * 2.5)
        closed = self.proxy.wait_conn_close(conn)
        self.assertEqual(closed["ended_by"], "handshake_timeout")
        c.close()
        up.close()

    def test_a_client_that_sends_nothing_is_closed_without_an_answer(self):
        c = connect(self.proxy)
        conn = self.proxy.conn_of(c.sock)
        self.assertEqual(c.recv_until_eof(timeout=4 * HEAD_MS / 1000), b"")
        closed = self.proxy.wait_conn_close(conn)
        self.assertEqual(closed["ended_by"], "handshake_timeout")
        c.close()

    def test_a_request_without_answer_gets_504(self):
        c = connect(self.proxy)
        conn = self.proxy.conn_of(c.sock)
        c.send(b"GET /silent HTTP/1.1\r\nHost: x\r\n\r\n")
        up = self.upstream.accept()
        up.recv_head()
        sent = time.monotonic()
        answer = c.recv_http_response(timeout=4 * HEAD_MS / 1000)
        self.assertTrue(answer.startswith(b"HTTP/1.1 504 "), answer[:80])
        self.assertGreater(time.monotonic() - sent, HEAD_MS / 1000 * 0.8)
        err = self.proxy.wait_for(is_event("upstream_error", conn=conn))
        self.assertEqual((err["stage"], err["status"]), ("response", 504))
        c.close()
        up.close()

    def test_a_stalled_request_body_gets_408(self):
        c = connect(self.proxy)
        conn = self.proxy.conn_of(c.sock)
        c.send(b"POST /stall HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nhalf")
        up = self.upstream.accept()
        up.recv_head()
        answer = c.recv_http_response(timeout=4 * IDLE_MS / 1000)
        self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer[:80])
        closed = self.proxy.wait_conn_close(conn)
        self.assertEqual(closed["ended_by"], "http_inactivity")
        c.close()
        up.close()

    def test_no_head_timeout_after_an_upgrade_even_with_an_oversized_101(self):
        c = connect(self.proxy)
        conn = self.proxy.conn_of(c.sock)
        request, key = upgrade_request(self.upstream.address)
        c.send(request)
        up = self.upstream.accept()
        up.recv_head()
        # A 101 whose head is over the parser's limit: the proxy relays it
        # unparsed; the connection then lives past the head timeout.
        big = response_101(key).replace(b"\r\n\r\n", b"\r\nX-Big: " + b"b" * 90000 + b"\r\n\r\n", 1)
        up.sock.sendall(big)
        self.assertEqual(c.recv_exact(len(big)), big)
        time.sleep(2.5 * HEAD_MS / 1000)
        frame = build_frame(OP_TEXT, b"still here", mask=KEY)
        c.send(frame)
        self.assertEqual(up.recv_exact(len(frame)), frame)
        self.assertEqual(self.proxy.of_conn(conn, "conn_close"), [])
        c.close()
        up.close()

    def test_an_idle_websocket_is_not_cut_by_the_http_timeouts(self):
        c = connect(self.proxy)
        conn = self.proxy.conn_of(c.sock)
        request, key = upgrade_request(self.upstream.address)
        c.send(request)
        up = self.upstream.accept()
        up.recv_head()
        up.sock.sendall(response_101(key))
        c.recv_head()
        time.sleep(2.5 * HEAD_MS / 1000)
        frame = build_frame(OP_TEXT, b"later", mask=KEY)
        c.send(frame)
        self.assertEqual(up.recv_exact(len(frame)), frame)
        self.assertEqual(self.proxy.of_conn(conn, "conn_close"), [])
        c.close()
        up.close()


if __name__ == "__main__":
    unittest.main()
