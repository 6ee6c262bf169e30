"""The live proxy's log budget (--log-rate, log.max_lines_per_second): many
connections flood repeatable warn events (close frames and the frames after
them, --max-reports set out of the way); the lines written stay within
rate * elapsed + burst beside the kinds that are never dropped, the dropped
lines are stated in log_dropped events (at most one a second) adding up to
the stopped event's total, which is exactly what a run without a budget
wrote more; every conn_close, listening and stopped is there, and every
byte is relayed unchanged. With 0 nothing is dropped."""

import os
import tempfile
import threading
import time
import unittest
from datetime import datetime

from harness import (
    HOST,
    OP_CLOSE,
    OP_TEXT,
    Proxy,
    RawClient,
    RawUpstream,
    build_frame,
    check_budget,
    close_payload,
    is_event,
    require_proxy,
    upgrade_request,
)

# The events the budget never drops.
KEPT = {"listening", "shutdown", "stopped", "conn_close", "conn_refused_summary", "log_dropped"}

CONNECTIONS = 8
FRAMES = 1200  # per connection: one text frame, then close frames
CHUNKS = 40  # sent over about two seconds


def flood_bytes(i: int) -> bytes:
    # Close 1002 is a warn event, and every frame after the first close is
    # frame-after-close: about two warn lines per frame.
    text = build_frame(OP_TEXT, f"connection {i}".encode(), mask=b"abcd")
    close = build_frame(OP_CLOSE, close_payload(1002, b"flood"), mask=b"wxyz")
    return text + close * (FRAMES - 1)


def run_flood(test, *args, config_text=None):
    """Runs CONNECTIONS flooding clients through a proxy started with `args`
    (and a --config file with `config_text`); returns its events and the
    seconds from just before it started until it had exited."""
    up = RawUpstream()
    extra = list(args)
    cfg_path = None
    if config_text is not None:
        fd, cfg_path = tempfile.mkstemp(suffix=".toml")
        with os.fdopen(fd, "w") as f:
            f.write(config_text)
        extra += ["--config", cfg_path]
    started = time.monotonic()
    proxy = Proxy(up.address, "--max-reports", "1000000", *extra, log_level="info")
    try:
        clients, servers, conns, received = [], [], [], {}
        for _ in range(CONNECTIONS):
            c = RawClient.connect(HOST, proxy.port)
            conns.append(proxy.conn_of(c.sock))
            req, _ = upgrade_request(f"{HOST}:{proxy.port}")
            c.send(req)
            s, _ = up.accept_websocket()
            test.assertEqual(c.recv_head().status, 101)
            clients.append(c)
            servers.append(s)

        def send(i: int) -> None:
            data = flood_bytes(i)
            step = len(data) // CHUNKS + 1
            for at in range(0, len(data), step):
                clients[i].send(data[at : at + step])
                time.sleep(2.0 / CHUNKS)

        def receive(i: int) -> None:
            received[i] = servers[i].recv_exact(len(flood_bytes(i)), timeout=30)

        threads = [threading.Thread(target=f, args=(i,)) for i in range(CONNECTIONS) for f in (send, receive)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for i in range(CONNECTIONS):
            test.assertEqual(received.get(i), flood_bytes(i), f"connection {i} relayed exactly")
        for c, s in zip(clients, servers):
            c.close()
            s.close()
        for conn in conns:
            proxy.wait_conn_close(conn, timeout=30)
    finally:
        proxy.stop()
        up.close()
        if cfg_path:
            os.unlink(cfg_path)
    elapsed = time.monotonic() - started
    return proxy.snapshot(), conns, elapsed


def ts(e: dict) -> float:
    return datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp()


class LogBudget(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        check_budget(self)

    def check_complete(self, events: list, conns: list) -> dict:
        """listening, a conn_close per connection and stopped are all there;
        returns stopped."""
        self.assertEqual(sum(1 for e in events if e.get("event") == "listening"), 1)
        closed = {e["conn"] for e in events if e.get("event") == "conn_close"}
        self.assertEqual(closed, set(conns))
        stopped = [e for e in events if e.get("event") == "stopped"]
        self.assertEqual(len(stopped), 1)
        self.assertEqual(events[-1], stopped[0], "stopped is the last line")
        self.assertEqual(sum(1 for e in events if e.get("event") == "_unparsed"), 0)
        return stopped[0]

    def test_a_flood_stays_within_the_budget_and_every_drop_is_counted(self):
        rate = 200
        unlimited, conns0, _ = run_flood(self, "--log-rate", "0")
        stopped0 = self.check_complete(unlimited, conns0)
        # Without a budget nothing is dropped, and this is what was to be written.
        self.assertEqual(stopped0["log_dropped"], 0)
        self.assertFalse([e for e in unlimited if e.get("event") == "log_dropped"])
        wanted = [e for e in unlimited if e.get("event") not in KEPT]
        self.assertGreater(len(wanted), CONNECTIONS * FRAMES, "the flood provoked its warn lines")

        events, conns, elapsed = run_flood(self, "--log-rate", str(rate))
        stopped = self.check_complete(events, conns)
        written = [e for e in events if e.get("event") not in KEPT]
        burst = rate
        self.assertLessEqual(len(written), rate * elapsed + burst, f"{len(written)} lines in {elapsed:.1f} s")
        self.assertGreater(len(written), rate, "the budget was used, not shut")
        self.assertEqual(sum(1 for e in events if e.get("event") == "listening"), 1)

        # Every line not written is counted: in log_dropped lines adding up
        # to the total in stopped, which is what the run without a budget
        # wrote more (the same bytes give the same events).
        drops = [e for e in events if e.get("event") == "log_dropped"]
        self.assertTrue(drops)
        self.assertEqual(sum(e["dropped"] for e in drops), stopped["log_dropped"])
        self.assertEqual(stopped["log_dropped"], len(wanted) - len(written))
        self.assertEqual(drops[-1]["total"], stopped["log_dropped"])
        for e in drops:
            self.assertEqual(e["level"], "warn")
            self.assertEqual(e["max_lines_per_second"], rate)
        # At most one a second (the last one comes before stopped, for the rest).
        for a, b in zip(drops, drops[1:-1]):
            self.assertGreaterEqual(b["window_ms"], 1000)
            self.assertGreaterEqual(ts(b) - ts(a), 0.9)
        self.assertLessEqual(len(drops), elapsed + 2)
        # The conn_close summaries still count every close frame.
        for e in events:
            if e.get("event") == "conn_close":
                self.assertEqual(e["client_to_server"]["closes"], FRAMES - 1)

    def test_the_budget_from_the_config_file(self):
        events, conns, elapsed = run_flood(self, config_text="[log]\nmax_lines_per_second = 50\n")
        stopped = self.check_complete(events, conns)
        written = [e for e in events if e.get("event") not in KEPT]
        self.assertLessEqual(len(written), 50 * elapsed + 50)
        self.assertGreater(stopped["log_dropped"], 0)
        drops = [e for e in events if e.get("event") == "log_dropped"]
        self.assertEqual(sum(e["dropped"] for e in drops), stopped["log_dropped"])
        self.assertTrue(all(e["max_lines_per_second"] == 50 for e in drops))


if __name__ == "__main__":
    unittest.main()
