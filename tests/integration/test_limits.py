"""The descriptor limit: the proxy raises its soft limit to the hard one,
derives how many connections it can hold, says so at start, and refuses
beyond it with 503 (counted, and logged within a per-second budget with a
summary line for the rest) instead of reaching EMFILE, where clients would
be accepted and dropped without a trace."""

import socket
import subprocess
import time
import unittest

from harness import (
    BINARY,
    HOST,
    OP_CLOSE,
    TIMEOUT,
    JsonLineProcess,
    Proxy,
    RawClient,
    RawUpstream,
    build_frame,
    close_payload,
    check_budget,
    is_event,
    require_proxy,
    response_101,
    upgrade_request,
)


def proxy_with_fd_limit(soft: int, hard: int, *args) -> JsonLineProcess:
    script = f'ulimit -Sn {soft} && ulimit -Hn {hard} && exec "$0" "$@"'
    argv = ["/bin/sh", "-c", script, BINARY, "proxy", "--listen", f"{HOST}:0",
            "--upstream", "builtin:echo", "--log-format", "json", *args]
    p = JsonLineProcess(argv, "proxy")
    ev = p.wait_for(is_event("listening"), what="listening")
    p.port = int(ev["address"].rpartition(":")[2])
    p.listening = ev
    return p


def open_websocket(port: int) -> socket.socket:
    s = socket.create_connection((HOST, port), timeout=TIMEOUT)
    s.sendall(upgrade_request(f"{HOST}:{port}")[0])
    return s


def read_head(s: socket.socket) -> bytes:
    out = b""
    while b"\r\n\r\n" not in out:
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    return out


class DescriptorLimit(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        check_budget(self)

    def test_limit_stated_and_enforced_with_503(self):
        p = proxy_with_fd_limit(256, 256)
        socks = []
        try:
            note = " ".join(p.listening.get("notes", []))
            self.assertIn("descriptor limit 256", note)
            limit = int(note.split("at most ")[1].split()[0])
            self.assertEqual(limit, (256 - 96) // 3)  # builtin:echo: 3 descriptors each
            for _ in range(limit):
                s = open_websocket(p.port)
                socks.append(s)
                self.assertTrue(read_head(s).startswith(b"HTTP/1.1 101 "))
            extra = 30
            answers = []
            for _ in range(extra):
                s = open_websocket(p.port)
                socks.append(s)
                answers.append(read_head(s))
            self.assertTrue(all(a.startswith(b"HTTP/1.1 503 ") for a in answers), answers[:3])
            # Logged within the budget (10 a second), the rest in a summary.
            time.sleep(0.2)
            logged = len(p.find(is_event("conn_refused")))
            self.assertGreaterEqual(logged, 1)
            self.assertLessEqual(logged, 2 * 10)
            for s in socks:
                s.close()
            socks.clear()
            p.proc.send_signal(15)
            self.assertEqual(p.wait_exit(TIMEOUT), 0, p.describe())
            stopped = p.find(is_event("stopped"))[0]
            self.assertEqual(stopped["refused"], extra)
            summarized = sum(e["refused"] for e in p.find(is_event("conn_refused_summary")))
            self.assertEqual(logged + summarized, extra)
        finally:
            for s in socks:
                s.close()
            p.stop()

    def test_soft_limit_raised_to_hard(self):
        p = proxy_with_fd_limit(200, 4096)
        try:
            note = " ".join(p.listening.get("notes", []))
            self.assertIn("descriptor limit 4096 (raised from 200)", note)
            pid = p.pid
            with open(f"/proc/{pid}/limits") as f:
                line = next(l for l in f if l.startswith("Max open files"))
            self.assertEqual(line.split()[3:5], ["4096", "4096"])
        finally:
            p.stop()


class RepeatedEvents(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        check_budget(self)

    def test_repeated_close_frames_are_capped_per_connection(self):
        # 2,000 close frames one way: 10 close events (--max-reports), the
        # rest counted; before, each one was a warn line.
        up = RawUpstream()
        proxy = Proxy(up.address, "--max-reports", "10", log_level="info")
        try:
            c = RawClient.connect(HOST, proxy.port)
            conn = proxy.conn_of(c.sock)
            c.send(upgrade_request(f"{HOST}:{proxy.port}")[0])
            s, _ = up.accept_websocket()
            self.assertEqual(c.recv_head().status, 101)
            frame = build_frame(OP_CLOSE, close_payload(1000), mask=b"abcd")
            c.send(frame * 2000)
            self.assertEqual(s.recv_exact(len(frame) * 2000), frame * 2000)
            c.close()
            s.close()
            closed = proxy.wait_conn_close(conn)
            closes = [e for e in proxy.of_conn(conn, "close") if e["dir"] == "client_to_server"
                      and not e.get("synthesized")]
            self.assertEqual(len(closes), 10)
            self.assertEqual(closed["client_to_server"]["closes"], 2000)
            self.assertEqual(closed["client_to_server"]["closes_unreported"], 1990)
        finally:
            proxy.stop()
            up.close()

    def test_refused_upgrades_on_keep_alive_are_capped_per_connection(self):
        # 30 upgrade requests on one keep-alive connection, each refused with
        # 400: 5 handshake events (--max-reports), the rest counted; before,
        # each one was an error line.
        up = RawUpstream()
        proxy = Proxy(up.address, "--max-reports", "5", log_level="info")
        try:
            c = RawClient.connect(HOST, proxy.port)
            conn = proxy.conn_of(c.sock)
            s = None
            refusal = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
            sent = bytearray()
            for _ in range(30):
                req = upgrade_request(f"{HOST}:{proxy.port}")[0]
                c.send(req)
                sent += req
                if s is None:
                    s = up.accept()
                self.assertEqual(s.recv_head().raw, req)
                s.send(refusal)
                self.assertEqual(c.recv_head().status, 400)
            c.close()
            s.close()
            closed = proxy.wait_conn_close(conn)
            self.assertEqual(bytes(s.sent), refusal * 30)
            self.assertEqual(closed["client_to_server"]["bytes"], len(sent))
            handshakes = proxy.of_conn(conn, "handshake")
            self.assertEqual(len(handshakes), 5)
            self.assertTrue(all(h["status"] == 400 and not h["upgraded"] for h in handshakes))
            self.assertEqual(closed["handshakes_unreported"], 25)
        finally:
            proxy.stop()
            up.close()

    def test_the_upgrade_after_refused_ones_is_always_reported(self):
        # Past the cap, the handshake that upgrades still has its event.
        up = RawUpstream()
        proxy = Proxy(up.address, "--max-reports", "2", log_level="info")
        try:
            c = RawClient.connect(HOST, proxy.port)
            conn = proxy.conn_of(c.sock)
            s = None
            for i in range(5):
                req, key = upgrade_request(f"{HOST}:{proxy.port}")
                c.send(req)
                if s is None:
                    s = up.accept()
                s.recv_head()
                if i < 4:
                    s.sock.sendall(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")
                    self.assertEqual(c.recv_head().status, 426)
            s.sock.sendall(response_101(key))
            self.assertEqual(c.recv_head().status, 101)
            c.close()
            s.close()
            closed = proxy.wait_conn_close(conn)
            statuses = [h["status"] for h in proxy.of_conn(conn, "handshake")]
            self.assertEqual(statuses, [426, 426, 101])
            self.assertEqual(closed["handshakes_unreported"], 2)
            self.assertTrue(closed["upgraded"])
        finally:
            proxy.stop()
            up.close()

    def test_unanswered_requests_are_capped_per_connection(self):
        # 40 pipelined requests the server never answers: 5 http events with
        # status 0 when the connection ends (--max-reports), the rest counted;
        # before, each one was a warn line.
        up = RawUpstream()
        proxy = Proxy(up.address, "--max-reports", "5", log_level="info")
        try:
            c = RawClient.connect(HOST, proxy.port)
            conn = proxy.conn_of(c.sock)
            reqs = b"".join(f"GET /r{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(40))
            c.send(reqs)
            s = up.accept()
            self.assertEqual(s.recv_exact(len(reqs)), reqs)
            c.close()
            s.close()
            closed = proxy.wait_conn_close(conn)
            unanswered = [e for e in proxy.of_conn(conn, "http") if e["status"] == 0]
            self.assertEqual([e["path"] for e in unanswered], [f"/r{i}" for i in range(5)])
            self.assertEqual(closed["unanswered_unreported"], 35)
            self.assertEqual(closed["client_to_server"]["bytes"], len(reqs))
        finally:
            proxy.stop()
            up.close()


if __name__ == "__main__":
    unittest.main()
