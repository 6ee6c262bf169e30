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


if __name__ == "__main__":
    unittest.main()
