"""The fault matrix: one row per way a connection can break, each asserting
what the client saw, what the server saw and what the proxy logged.

| fault                          | client sees               | server sees                | log                                   |
|--------------------------------|---------------------------|----------------------------|---------------------------------------|
| upstream refuses               | 502, then FIN             | -                          | upstream_error connect 502            |
| upstream accepts, then resets  | a reset, no byte          | the request                | handshake status 0, server_reset      |
| upstream stalls in handshake   | 504, then FIN             | the request, then FIN      | upstream_error response 504           |
| upstream resets mid-frame      | the bytes, then a reset   | -                          | stream-ended-mid-frame, server_reset  |
| client vanishes mid-frame: RST | -                         | the bytes, then a reset    | stream-ended-mid-frame, client_reset  |
| client vanishes mid-frame: FIN | -                         | the bytes, then FIN        | stream-ended-mid-frame, client_fin    |
| client half-closes             | all of the server's data  | the frame, FIN             | client_fin, no violation              |
| server half-closes             | the frame, FIN            | all of the client's data   | server_fin, no violation              |
| both close at once (frames)    | server's close, FIN       | client's close, FIN        | close_handshake, no 1006              |
| both reset at once             | -                         | -                          | client_reset or server_reset, 1006    |
| SIGTERM during heavy traffic   | every byte                | every byte                 | shutdown, close_handshake, exit 0     |
| SIGHUP during traffic          | every byte                | every byte                 | reopened; later events in the new log |

Single-fault tests elsewhere go deeper on one aspect (test_relay: 502,
resets mid-frame, client half-close, SIGTERM with an idle session and the
drain time running out; test_timeouts: each HTTP-phase timeout;
test_hardening: SIGHUP rotation of the log and key log); this module holds
every fault in one table, with both peers' view of the end (a reset stays a
reset, a FIN a FIN) and the log's account of it. The table is printed at
the end of the run.
"""

import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

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
    RawClient,
    RawConn,
    RawSession,
    RawUpstream,
    build_frame,
    check_exit,
    close_payload,
    closed_port,
    is_event,
    require_proxy,
    run_threads,
    upgrade_request,
    validate_events,
)

HEAD_MS = 1500  # --handshake-timeout for the stalled upstream

ROWS: list = []  # (fault, client saw, server saw, log), printed at the end


def data_frames(rng: random.Random, masked: bool, size: int) -> bytes:
    """Valid binary and text frames, about `size` bytes."""
    out = bytearray()
    while len(out) < size:
        n = rng.choice([0, 1, 125, 126, 1000, 65535, 65536, rng.randint(0, 200_000)])
        op = OP_BINARY if rng.random() < 0.7 else OP_TEXT
        payload = rng.randbytes(n) if op == OP_BINARY else b"x" * n
        out += build_frame(op, payload, mask=rng.randbytes(4) if masked else None)
    return bytes(out)


def send_in_pieces(conn: RawConn, data: bytes, rng: random.Random, progress=None) -> None:
    i = 0
    while i < len(data):
        n = rng.choice([1, 7, 1460, 4096, 65536, rng.randint(1, 100_000)])
        conn.sock.sendall(data[i : i + n])
        i += n
        if progress:
            progress(i)


def end_of(conn: RawConn) -> str:
    """How the connection ended for this peer: 'reset' or 'fin'."""
    return "reset" if conn.reset_seen else "fin"


def synthesized(proxy: Proxy, conn: int) -> list:
    return [e for e in proxy.of_conn(conn, "close") if e.get("synthesized")]


class FaultMatrix(unittest.TestCase):
    @classmethod
    def tearDownClass(cls):
        if ROWS:
            w = [max(len(r[i]) for r in ROWS + [("fault", "client saw", "server saw", "log")]) for i in range(4)]
            lines = ["", "fault matrix:"]
            for r in [("fault", "client saw", "server saw", "log")] + sorted(ROWS):
                lines.append("  " + " | ".join(r[i].ljust(w[i]) for i in range(4)))
            print("\n".join(lines), file=sys.stderr, flush=True)

    def setUp(self):
        require_proxy(self)

    def row(self, fault, client, server, log):
        ROWS.append((fault, client, server, log))

    def start(self, *args, log_level="debug"):
        up = RawUpstream()
        self.addCleanup(up.close)
        proxy = Proxy(up.address, *args, log_level=log_level)
        self.addCleanup(proxy.stop)
        return up, proxy

    def session(self, up, proxy) -> RawSession:
        s = RawSession(up, proxy)
        self.addCleanup(s.close)
        return s

    # --- the upstream's faults before the upgrade ---------------------------------

    def test_upstream_refuses(self):
        port = closed_port()
        proxy = Proxy(f"{HOST}:{port}")
        self.addCleanup(proxy.stop)
        c = RawClient.connect(proxy.host, proxy.port)
        self.addCleanup(c.close)
        req, _ = upgrade_request("example.test", "/ws")
        c.send(req)
        answer = c.recv_http_response()
        rest = c.recv_until_eof()
        conn = proxy.conn_of(c.sock)
        ctx = "\n" + proxy.describe()
        self.assertTrue(answer.startswith(b"HTTP/1.1 502 "), answer[:80])
        self.assertEqual((rest, end_of(c)), (b"", "fin"), ctx)
        err = proxy.wait_for(is_event("upstream_error", conn=conn))
        self.assertEqual((err["stage"], err["status"], err["upstream"]), ("connect", 502, f"{HOST}:{port}"), ctx)
        closed = proxy.wait_conn_close(conn)
        self.assertEqual((closed["ended_by"], closed["upgraded"]), ("upstream_unreachable", False), ctx)
        self.row("upstream refuses", "502, FIN", "-", f"upstream_error connect 502; ended_by {closed['ended_by']}")

    def test_upstream_accepts_then_resets(self):
        up, proxy = self.start()
        c = RawClient.connect(proxy.host, proxy.port)
        self.addCleanup(c.close)
        req, _ = upgrade_request(f"{proxy.host}:{proxy.port}", "/ws")
        c.send(req)
        server = up.accept()
        got = server.recv_head()
        server.reset()
        saw = c.recv_until_eof()
        conn = proxy.conn_of(c.sock)
        closed = proxy.wait_conn_close(conn)
        ctx = "\n" + proxy.describe()
        self.assertEqual(got.raw, req, "the upstream got the request unchanged")
        # A reset is passed on as a reset: the client sees what it would
        # have seen without the proxy, not an answer the server never gave.
        self.assertEqual((saw, end_of(c)), (b"", "reset"), ctx)
        hs = proxy.wait_for(is_event("handshake", conn=conn))
        self.assertEqual((hs["status"], hs["upgraded"]), (0, False), ctx)
        self.assertEqual(closed["ended_by"], "server_reset", ctx)
        self.assertEqual(closed["client_to_server"]["bytes"], len(req), ctx)
        self.assertEqual(closed["server_to_client"]["bytes"], 0, ctx)
        self.row("upstream accepts, then resets", "reset, no byte", "the request", "handshake status 0; ended_by server_reset")

    def test_upstream_stalls_in_the_handshake(self):
        up, proxy = self.start("--handshake-timeout", f"{HEAD_MS}ms")
        c = RawClient.connect(proxy.host, proxy.port)
        self.addCleanup(c.close)
        req, _ = upgrade_request(f"{proxy.host}:{proxy.port}", "/ws")
        c.send(req)
        server = up.accept()
        got = server.recv_head()
        t0 = time.monotonic()
        answer = c.recv_http_response(timeout=4 * HEAD_MS / 1000 + TIMEOUT)
        waited = time.monotonic() - t0
        rest = c.recv_until_eof()
        server_rest = server.recv_until_eof()
        conn = proxy.conn_of(c.sock)
        ctx = "\n" + proxy.describe()
        self.assertEqual(got.raw, req)
        self.assertTrue(answer.startswith(b"HTTP/1.1 504 "), answer[:80])
        self.assertGreater(waited, HEAD_MS / 1000 * 0.8)
        self.assertEqual((rest, end_of(c)), (b"", "fin"), ctx)
        # The upstream is let go with a FIN, nothing more written to it.
        self.assertEqual((server_rest, end_of(server)), (b"", "fin"), ctx)
        err = proxy.wait_for(is_event("upstream_error", conn=conn))
        self.assertEqual((err["stage"], err["status"]), ("response", 504), ctx)
        closed = proxy.wait_conn_close(conn)
        self.assertEqual((closed["ended_by"], closed["upgraded"]), ("handshake_timeout", False), ctx)
        hs = proxy.wait_for(is_event("handshake", conn=conn))
        self.assertEqual(hs["status"], 0, ctx)
        self.row("upstream stalls in the handshake", "504, FIN", "the request, FIN", "upstream_error response 504; ended_by handshake_timeout")

    # --- resets and FINs inside a frame ------------------------------------------------

    def check_mid_frame(self, who: str, how: str):
        up, proxy = self.start()
        s = self.session(up, proxy)
        masked = who == "client"
        first = build_frame(OP_TEXT, b"a whole frame", mask=True if masked else None)
        second = build_frame(OP_BINARY, bytes(range(200)), mask=True if masked else None)
        partial = first + second[:40]
        sender, receiver = s.ends(who)
        d = C2S if who == "client" else S2C
        sender.send(partial)
        self.assertEqual(receiver.recv_exact(len(partial)), partial)
        proxy.wait_for(lambda e: e.get("event") == "frame" and e.get("conn") == s.conn and e.get("dir") == d and e.get("frame_index") == 1,
                       what="the second frame's header")
        if how == "reset":
            sender.reset()
        else:
            sender.sock.close()
        rest = receiver.recv_until_eof()
        receiver.sock.close()  # after a FIN the proxy waits for this side's end too
        closed = proxy.wait_conn_close(s.conn)
        ctx = "\n" + proxy.describe()
        self.assertEqual((rest, end_of(receiver)), (b"", how), ctx)
        cause = f"{who}_{'reset' if how == 'reset' else 'fin'}"
        self.assertEqual(closed["ended_by"], cause, ctx)
        self.assertIn(("stream-ended-mid-frame", len(first), 1, d), proxy.violations(s.conn), ctx)
        synth = synthesized(proxy, s.conn)
        self.assertEqual(sorted(e["dir"] for e in synth), [C2S, S2C], ctx)
        self.assertTrue(all((e["code"], e["cause"]) == (1006, cause) for e in synth), ctx)
        return cause

    def test_upstream_resets_mid_frame(self):
        cause = self.check_mid_frame("server", "reset")
        self.row("upstream resets mid-frame", "the bytes, reset", "-", f"stream-ended-mid-frame; ended_by {cause}; 1006 both ways")

    def test_client_vanishes_mid_frame_with_a_reset(self):
        cause = self.check_mid_frame("client", "reset")
        self.row("client vanishes mid-frame (RST)", "-", "the bytes, reset", f"stream-ended-mid-frame; ended_by {cause}; 1006 both ways")

    def test_client_vanishes_mid_frame_with_a_fin(self):
        cause = self.check_mid_frame("client", "fin")
        self.row("client vanishes mid-frame (FIN)", "-", "the bytes, FIN", f"stream-ended-mid-frame; ended_by {cause}; 1006 both ways")

    # --- half-closes ---------------------------------------------------------------------

    def check_half_close(self, who: str):
        """`who` sends a frame and shuts down writing; the other side gets
        it and the FIN, then still sends 200 KB that arrive whole."""
        up, proxy = self.start()
        s = self.session(up, proxy)
        closer, other = s.ends(who)
        last = build_frame(OP_TEXT, b"last words", mask=True if who == "client" else None)
        closer.send(last)
        closer.shutdown_write()
        got = other.recv_until_eof()
        more = data_frames(random.Random(3), who == "server", 200_000)
        send_in_pieces(other, more, random.Random(4))
        got_more = closer.recv_exact(len(more), TIMEOUT * 3)
        other.sock.close()
        tail = closer.recv_until_eof()
        closed = proxy.wait_conn_close(s.conn)
        ctx = "\n" + proxy.describe()
        self.assertEqual((got, end_of(other)), (last, "fin"), ctx)
        self.assertEqual(hashlib.sha256(got_more).digest(), hashlib.sha256(more).digest(), ctx)
        self.assertEqual((tail, end_of(closer)), (b"", "fin"), ctx)
        self.assertEqual(closed["ended_by"], f"{who}_fin", ctx)
        self.assertEqual(proxy.violations(s.conn), [], ctx)
        d_other = S2C if who == "client" else C2S
        self.assertEqual(closed[d_other]["bytes"], len(more) + (len(s.response.raw) if who == "client" else len(s.request.raw)), ctx)
        return closed

    def test_client_half_closes(self):
        closed = self.check_half_close("client")
        self.row("client half-closes", "all 200 KB after its FIN, FIN", "the frame, FIN", f"ended_by {closed['ended_by']}; no violation")

    def test_server_half_closes(self):
        closed = self.check_half_close("server")
        self.row("server half-closes", "the frame, FIN", "all 200 KB after its FIN, FIN", f"ended_by {closed['ended_by']}; no violation")

    # --- both at once ----------------------------------------------------------------------

    def test_both_close_at_once(self):
        up, proxy = self.start()
        s = self.session(up, proxy)
        close_c = build_frame(OP_CLOSE, close_payload(1000, "client done"), mask=True)
        close_s = build_frame(OP_CLOSE, close_payload(1001, "server done"))
        go = threading.Barrier(2)

        def close(conn, frame):
            go.wait(TIMEOUT)
            conn.sock.sendall(frame)
            conn.shutdown_write()
            return conn.recv_until_eof()

        got_c, got_s = run_threads(lambda: close(s.client, close_c), lambda: close(s.server, close_s), timeout=TIMEOUT * 2)
        closed = proxy.wait_conn_close(s.conn)
        ctx = "\n" + proxy.describe()
        self.assertEqual((got_s, end_of(s.server)), (close_c, "fin"), ctx)
        self.assertEqual((got_c, end_of(s.client)), (close_s, "fin"), ctx)
        self.assertEqual(closed["ended_by"], "close_handshake", ctx)
        closes = proxy.of_conn(s.conn, "close")
        self.assertEqual(sorted((e["dir"], e["code"]) for e in closes), [(C2S, 1000), (S2C, 1001)], ctx)
        self.assertEqual(synthesized(proxy, s.conn), [], ctx)
        self.assertEqual(proxy.violations(s.conn), [], ctx)
        self.row("both close at once (close frames, FIN)", "server's close, FIN", "client's close, FIN", "close 1000 and 1001; ended_by close_handshake; no 1006")

    def test_both_reset_at_once(self):
        up, proxy = self.start()
        s = self.session(up, proxy)
        go = threading.Barrier(2)

        def reset(conn):
            go.wait(TIMEOUT)
            conn.reset()

        run_threads(lambda: reset(s.client), lambda: reset(s.server), timeout=TIMEOUT)
        closed = proxy.wait_conn_close(s.conn)
        ctx = "\n" + proxy.describe()
        self.assertIn(closed["ended_by"], ("client_reset", "server_reset"), ctx)
        synth = synthesized(proxy, s.conn)
        self.assertEqual(sorted(e["dir"] for e in synth), [C2S, S2C], ctx)
        self.assertTrue(all(e["code"] == 1006 and e["cause"] == closed["ended_by"] for e in synth), ctx)
        self.assertEqual(proxy.violations(s.conn), [], ctx)
        self.row("both reset at once", "-", "-", f"ended_by {closed['ended_by']}; 1006 both ways")

    # --- signals during traffic ----------------------------------------------------------------

    def stream_sessions(self, up, proxy, count: int, size: int, seed: int, fault):
        """`count` sessions streaming `size` bytes each way at once, then a
        close handshake and FINs; returns per session (sent c2s, got c2s,
        sent s2c, got s2c). Once every sender has written a random part of
        its stream (inside a frame, as often as not), `fault()` runs while
        those bytes are in flight; the senders go on when it returns."""
        sessions = [RawSession(up, proxy) for _ in range(count)]
        for s in sessions:
            self.addCleanup(s.close)
        at_cut = threading.Barrier(2 * count + 1)

        def send(conn, data, rng):
            cut = rng.randint(len(data) // 4, 3 * len(data) // 4)
            send_in_pieces(conn, data[:cut], rng)
            at_cut.wait(60)  # every sender is at its cut
            at_cut.wait(60)  # the fault has happened
            send_in_pieces(conn, data[cut:], rng)

        def inject():
            at_cut.wait(60)
            try:
                fault()
            finally:
                at_cut.wait(60)

        plans = []
        for i, s in enumerate(sessions):
            rng = random.Random(seed + i)
            c2s = data_frames(rng, True, size) + build_frame(OP_CLOSE, close_payload(1000), mask=True)
            s2c = data_frames(rng, False, size) + build_frame(OP_CLOSE, close_payload(1000))
            plans.append((s, c2s, s2c))

        def client(i):
            s, c2s, s2c = plans[i]
            send(s.client, c2s, random.Random(i))
            got = s.client.recv_exact(len(s2c), 60)
            s.client.shutdown_write()
            s.client.recv_until_eof(30)
            return got

        def server(i):
            s, c2s, s2c = plans[i]
            t = threading.Thread(target=send, args=(s.server, s2c, random.Random(100 + i)), daemon=True)
            t.start()
            got = bytearray()
            while len(got) < len(c2s):
                got += s.server.recv_exact(min(65536, len(c2s) - len(got)), 60)
            t.join(60)
            s.server.recv_until_eof(30)
            s.server.sock.close()
            return bytes(got)

        results = run_threads(*[lambda i=i: client(i) for i in range(count)], *[lambda i=i: server(i) for i in range(count)], inject, timeout=120)
        return sessions, [(plans[i][1], results[count + i], plans[i][2], results[i]) for i in range(count)]

    def test_sigterm_during_heavy_traffic(self):
        up, proxy = self.start("--drain-timeout", "60s", log_level="info")
        box = {}

        def sigterm():
            proxy.proc.send_signal(signal.SIGTERM)
            box["sent_at"] = time.monotonic()
            proxy.wait_for(is_event("shutdown"), what="shutdown")
            # No new client is accepted once the drain has begun.
            try:
                socket.create_connection((proxy.host, proxy.port), timeout=2).close()
                box["new_client"] = "accepted"
            except OSError as e:
                box["new_client"] = type(e).__name__

        sessions, results = self.stream_sessions(up, proxy, 6, 2_000_000, 50, sigterm)
        rc = proxy.wait_exit(30)
        ctx = "\n" + proxy.describe()
        self.assertIn("sent_at", box, "SIGTERM was never sent" + ctx)
        for c2s, got_c2s, s2c, got_s2c in results:
            self.assertEqual(hashlib.sha256(got_c2s).digest(), hashlib.sha256(c2s).digest(), ctx)
            self.assertEqual(hashlib.sha256(got_s2c).digest(), hashlib.sha256(s2c).digest(), ctx)
        self.assertEqual(rc, 0, ctx)
        self.assertEqual(box["new_client"], "ConnectionRefusedError", ctx)
        sd = proxy.wait_for(is_event("shutdown"))
        self.assertEqual((sd["signal"], sd["open_connections"]), ("SIGTERM", 6), ctx)
        self.assertFalse(proxy.find(lambda e: e.get("event") == "shutdown" and e.get("phase") == "forced"), ctx)
        for s in sessions:
            closed = proxy.wait_conn_close(s.conn)
            self.assertEqual(closed["ended_by"], "close_handshake", ctx)
        stopped = proxy.wait_for(is_event("stopped"))
        self.assertEqual(stopped["connections"], 6, ctx)
        total = sum(len(r[0]) + len(r[2]) for r in results)
        self.row("SIGTERM during heavy traffic", "every byte (6 x 2 MB)", "every byte (6 x 2 MB)",
                 f"shutdown open 6; new client refused; close_handshake x6; exit 0 ({total / 1e6:.0f} MB relayed)")

    def test_sighup_during_traffic(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        log = Path(tmp.name) / "proxy.log"
        up = RawUpstream()
        self.addCleanup(up.close)
        proxy = FileLogProxy(log, "--upstream", up.address, "--log-level", "info")
        self.addCleanup(proxy.kill)
        box = {}

        def rotate():
            os.rename(log, str(log) + ".1")
            proxy.proc.send_signal(signal.SIGHUP)
            box["reopened"] = proxy.wait_event(lambda e: e.get("event") == "reopened", "reopened")

        sessions, results = self.stream_sessions(up, _ConnOf(proxy), 4, 2_000_000, 70, rotate)
        ctx = "\n" + proxy.describe()
        self.assertIn("reopened", box, "no reopened event" + ctx)
        self.assertIsNone(proxy.proc.poll(), "the proxy died at SIGHUP" + ctx)
        for c2s, got_c2s, s2c, got_s2c in results:
            self.assertEqual(hashlib.sha256(got_c2s).digest(), hashlib.sha256(c2s).digest(), ctx)
            self.assertEqual(hashlib.sha256(got_s2c).digest(), hashlib.sha256(s2c).digest(), ctx)
        self.assertEqual((box["reopened"]["files"], box["reopened"]["failed"]), ([str(log)], []), ctx)
        # The sessions began in the old file and ended in the new one.
        old = read_events(Path(str(log) + ".1"))
        new = proxy.wait_events(lambda ev: sum(1 for e in ev if e.get("event") == "conn_close") >= 4, "4 conn_close in the new log")
        conns = {s.conn for s in sessions}
        self.assertEqual({e["conn"] for e in old if e.get("event") == "handshake"}, conns, ctx)
        self.assertEqual({e["conn"] for e in new if e.get("event") == "conn_close"}, conns, ctx)
        self.assertFalse(any(e.get("event") == "conn_close" for e in old), ctx)
        self.assertTrue(all(e["ended_by"] == "close_handshake" for e in new if e.get("event") == "conn_close"), ctx)
        rc = proxy.terminate()
        self.assertEqual(rc, 0, ctx)
        self.assertTrue(any(e.get("event") == "stopped" for e in read_events(log)), ctx)
        self.row("SIGHUP during traffic", "every byte (4 x 2 MB)", "every byte (4 x 2 MB)",
                 "reopened [log]; handshakes in the old file, conn_close x4 in the new; exit 0")


# --- the proxy with its log in a file ------------------------------------------------------------


def read_events(path: Path) -> list:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    # Only whole lines: the proxy may be writing the last one.
    return validate_events([json.loads(line) for line in text.split("\n")[:-1] if line.strip()], str(path))


class FileLogProxy:
    """`wsinspect proxy` with --log-file (JSON), for rotating its log."""

    def __init__(self, log: Path, *args):
        self.log = log
        argv = [str(BINARY), "proxy", "--listen", f"{HOST}:0", "--log-format", "json", "--log-file", str(log), *args]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            ev = self.wait_event(lambda e: e.get("event") == "listening", "listening")
        except BaseException:
            self.kill()
            raise
        self.host, self.port = HOST, int(ev["address"].rpartition(":")[2])

    def wait_events(self, pred, what: str, timeout: float = TIMEOUT) -> list:
        deadline = time.monotonic() + timeout
        while True:
            evs = read_events(self.log)
            if pred(evs):
                return evs
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no {what} in {self.log} within {timeout} s:\n" + self.describe())
            time.sleep(0.05)

    def wait_event(self, pred, what: str, timeout: float = TIMEOUT) -> dict:
        evs = self.wait_events(lambda ev: any(pred(e) for e in ev), what, timeout)
        return next(e for e in evs if pred(e))

    def describe(self) -> str:
        lines = [f"--- proxy (pid {self.proc.pid}, rc {self.proc.poll()})"]
        for p in (Path(str(self.log) + ".1"), self.log):
            lines += [f"{p.name}: " + json.dumps(e)[:300] for e in read_events(p)[-20:]]
        return "\n".join(lines)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("the proxy did not stop at SIGTERM")
        check_exit("proxy", self.proc.returncode, (err or b"").decode("utf-8", "replace"), True)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=TIMEOUT)


class _ConnOf:
    """What RawSession needs of a proxy (host, port, conn_of), from the
    log file: the conn id of a client, looked up in either file."""

    def __init__(self, proxy: FileLogProxy):
        self.proxy, self.host, self.port = proxy, proxy.host, proxy.port

    def conn_of(self, sock, timeout: float = TIMEOUT) -> int:
        h, p = sock.getsockname()[:2]
        addr = f"{h}:{p}"

        def match(e):
            return e.get("event") == "conn_open" and e.get("client") == addr

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in (self.proxy.log, Path(str(self.proxy.log) + ".1")):
                for e in read_events(path):
                    if match(e):
                        return e["conn"]
            time.sleep(0.05)
        raise AssertionError(f"no conn_open from {addr}\n" + self.proxy.describe())


if __name__ == "__main__":
    unittest.main()
