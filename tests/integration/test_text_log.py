"""The text log a person reads: 50 Node `ws` clients through the proxy in
front of its echo server, 20 messages each, 5 of them terminated abruptly;
and, with raw clients, the colours, previews and query string of its lines.

At the default level each connection takes a few lines and each explanation
appears once; at warn only the listening line, the 5 abnormal connections
and the totals remain; the filters keep what they promise.
"""

import os
import re
import signal
import subprocess
import tempfile
import time
import unittest
import zlib
from pathlib import Path

from harness import (
    BINARY,
    HOST,
    OP_CLOSE,
    OP_TEXT,
    TIMEOUT,
    JsonLineProcess,
    RawClient,
    build_frame,
    check_budget,
    close_payload,
    parse_frames,
    require_proxy,
)
from intermediaries import require_peers

CLIENTS = 50
ABRUPT = {0, 10, 20, 30, 40}

SCRIPT = r"""
const WebSocket = require(process.argv[2]);
const base = process.argv[3];
let done = 0;
for (let i = 0; i < 50; i++) {
  const ws = new WebSocket(base + (i % 2 ? '/b' : '/a'));
  let n = 0;
  ws.on('open', () => { for (let k = 0; k < 20; k++) ws.send('message ' + k); });
  ws.on('message', () => {
    if (++n === 20) { if (i % 10 === 0) ws.terminate(); else ws.close(); }
  });
  ws.on('close', () => { if (++done === 50) process.exit(0); });
  ws.on('error', () => {});
}
setTimeout(() => process.exit(3), 20000);
"""

CONN = re.compile(r"^\S+ #(\d+) ")


class TextLogTest(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        require_peers(self)
        check_budget(self)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def run_scenario(self, *args) -> str:
        log = Path(self.tmp.name) / f"log{len(list(Path(self.tmp.name).iterdir()))}.txt"
        argv = [BINARY, "proxy", "--listen", f"{HOST}:0", "--upstream", "builtin:echo",
                "--log-format", "text", "--log-file", log, *args]
        p = JsonLineProcess(argv, "proxy-text")
        self.addCleanup(p.stop)
        port = None
        for _ in range(200):
            m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", log.read_bytes() if log.exists() else b"")
            if m:
                port = int(m.group(1))
                break
            subprocess.run(["sleep", "0.05"])
        self.assertIsNotNone(port, "no listening line")
        script = Path(self.tmp.name) / "fifty.js"
        script.write_text(SCRIPT)
        ws = Path(__file__).resolve().parent.parent / "peers" / "node_modules" / "ws"
        r = subprocess.run(["node", str(script), str(ws), f"ws://{HOST}:{port}"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Every connection has its summary before the proxy is stopped.
        for _ in range(200):
            if log.read_text().count("connection closed after") >= CLIENTS or args:
                break
            subprocess.run(["sleep", "0.05"])
        p.proc.terminate()
        self.assertEqual(p.wait_exit(TIMEOUT), 0)
        return log.read_text()

    @staticmethod
    def by_conn(text: str) -> dict:
        out = {}
        for line in text.splitlines():
            m = CONN.match(line)
            if m:
                out.setdefault(int(m.group(1)), []).append(line)
        return out

    def test_default_level_is_a_few_lines_per_connection_each_explained_once(self):
        text = self.run_scenario()
        conns = self.by_conn(text)
        self.assertEqual(len(conns), CLIENTS, text[-2000:])
        self.assertLessEqual(max(len(v) for v in conns.values()), 4, text[:3000])
        # One summary line per connection, naming the client and the path.
        summaries = [l for l in text.splitlines() if "connection closed after" in l]
        self.assertEqual(len(summaries), CLIENTS)
        self.assertTrue(all(re.search(r": 127\.0\.0\.1:\d+ /[ab], ", l) for l in summaries), summaries[0])
        # Each explanation at most once in the run.
        for marker in ("what it means:", "cause: "):
            explained = [l for l in text.splitlines() if l.strip().startswith(marker)]
            self.assertEqual(len(explained), len(set(explained)), marker)
        self.assertEqual(text.count("what it means: The connection ended without a close frame"), 1)
        # The totals table at the end.
        self.assertIn("stopped after 50 connections", text)
        self.assertRegex(text, r"ended by: client_fin 5, close_handshake 45")

    def test_warn_shows_the_listening_line_the_abnormal_connections_and_the_totals(self):
        text = self.run_scenario("-q")
        conns = self.by_conn(text)
        self.assertEqual(len(conns), len(ABRUPT), text)
        self.assertIn("wsinspect listening on", text.splitlines()[0])
        self.assertIn("stopped after 50 connections", text)
        for lines in conns.values():
            self.assertTrue(any("1006" in l for l in lines), lines)
            self.assertTrue(any("first problem" in l for l in lines), lines)

    def test_only_problems_and_only_path(self):
        text = self.run_scenario("--only-problems", "--only-path", "/a")
        conns = self.by_conn(text)
        # The abrupt ones are the even clients: all on /a.
        self.assertEqual(len(conns), len(ABRUPT), text)
        for lines in conns.values():
            self.assertIn("handshake GET /a", lines[0])
        text = self.run_scenario("--only-path", "/b")
        conns = self.by_conn(text)
        self.assertEqual(len(conns), CLIENTS // 2)
        self.assertTrue(all(" /b" in v[-1] for v in conns.values()))

    def test_explanations_in_portuguese(self):
        text = self.run_scenario("--lang", "pt-BR")
        self.assertIn("Descrição: ", text)
        self.assertIn("Como corrigir: ", text)
        self.assertNotIn("what it means:", text)
        # The environment decides when --lang is not given.
        old = os.environ.get("LANG")
        os.environ["LANG"] = "pt_BR.UTF-8"
        try:
            text = self.run_scenario()
        finally:
            if old is None:
                del os.environ["LANG"]
            else:
                os.environ["LANG"] = old
        self.assertIn("Descrição: ", text)
        text = self.run_scenario("--lang", "en")
        self.assertIn("what it means:", text)

    def test_only_rule_with_no_such_violation_prints_no_connection(self):
        text = self.run_scenario("--only-rule", "reserved-bits-set")
        self.assertEqual(self.by_conn(text), {})
        self.assertIn("stopped after 50 connections", text)
        r = subprocess.run([str(BINARY), "proxy", "--upstream", "builtin:echo", "--only-rule", "nope"],
                           capture_output=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"no rule 'nope'", r.stderr)



class TextLineDetailsTest(unittest.TestCase):
    """Colour, message previews and the query string on the text log's lines,
    with raw clients in front of the built-in echo server (which compresses
    its replies when permessage-deflate is offered)."""

    TEXT = "preview me, " * 10

    def setUp(self):
        require_proxy(self)
        check_budget(self)

    def run_proxy(self, *args, env_extra=None) -> str:
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env.update(env_extra or {})
        argv = [BINARY, "proxy", "-l", f"{HOST}:0", "-u", "builtin:echo", "--log-format", "text", *args]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        first = proc.stdout.readline().decode("utf-8", "replace")
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", first)
        self.assertIsNotNone(m, first)
        port = int(m.group(1))
        self.good_exchange(port)
        self.bad_exchange(port)
        time.sleep(0.2)  # the connections' last lines are written before the signal
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 0, err)
        return first + out.decode("utf-8", "replace")

    def good_exchange(self, port: int) -> None:
        """A compressed text message echoed back compressed, then a clean close."""
        c, head = RawClient.websocket(HOST, port, path="/room?token=T0P-SECRET", deflate=True)
        self.addCleanup(c.close)
        self.assertIn("permessage-deflate", head.get("sec-websocket-extensions") or "")
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = z.compress(self.TEXT.encode()) + z.flush(zlib.Z_SYNC_FLUSH)
        c.send(build_frame(OP_TEXT, body[:-4], rsv=4, mask=os.urandom(4)))
        frames = []
        buf = b""
        while not frames:
            buf += c.recv_exact(1)
            frames, _ = parse_frames(buf)
        self.assertEqual(frames[0].opcode, OP_TEXT)
        c.send(build_frame(OP_CLOSE, close_payload(1000), mask=os.urandom(4)))
        while not any(f.opcode == OP_CLOSE for f in frames):
            buf += c.recv_exact(1)
            frames, _ = parse_frames(buf)
        c.close()

    def bad_exchange(self, port: int) -> None:
        """An unmasked client frame: an error line."""
        c, _ = RawClient.websocket(HOST, port, path="/bad")
        self.addCleanup(c.close)
        c.send(build_frame(OP_TEXT, b"not masked"))
        time.sleep(0.1)
        c.close()

    def preview_lines(self, log: str) -> list:
        """The previews of the first connection's messages."""
        return [l for l in log.splitlines() if " #1 " in l and "message from frame #0: text" in l]

    def test_colour_marks_directions_and_problems(self):
        log = self.run_proxy("--color", "always", "--preview", "11", env_extra={"NO_COLOR": "1"})
        inflated = f"{len(self.TEXT)} B inflated from"
        c2s = [l for l in self.preview_lines(log) if "\x1b[36mc->s\x1b[0m message" in l]
        s2c = [l for l in self.preview_lines(log) if "\x1b[35ms->c\x1b[0m message" in l]
        self.assertEqual(len(c2s), 1, log)
        self.assertEqual(len(s2c), 1, log)
        for line in c2s + s2c:
            self.assertIn(inflated, line)
            self.assertTrue(line.endswith(': "preview me,"...'), repr(line))
        # The violation's line is red from its start, the healthy ones have no colour of their own.
        bad = [l for l in log.splitlines() if " error unmasked-client-frame at offset 0" in l]
        self.assertEqual(len(bad), 1, log)
        self.assertTrue(bad[0].startswith("\x1b[1;31m"), repr(bad[0]))
        self.assertTrue(bad[0].endswith("\x1b[0m"), repr(bad[0]))
        self.assertIn("\x1b[36mc->s\x1b[0m\x1b[1;31m", bad[0])
        # Its explanation, indented under it, is plain.
        lines = log.splitlines()
        after = lines[lines.index(bad[0]) + 1]
        self.assertTrue(after.startswith("    rule: "), repr(after))
        self.assertNotIn("\x1b", after)
        self.assertFalse(c2s[0].startswith("\x1b["), repr(c2s[0]))
        # No escape sequence but the colours: \x1b is always followed by one of them.
        for seq in re.findall("\x1b[^m]*m", log):
            self.assertIn(seq, {"\x1b[36m", "\x1b[35m", "\x1b[0m", "\x1b[1;31m", "\x1b[1;33m"})

    def test_no_colour_when_not_a_terminal_and_the_query_hidden(self):
        log = self.run_proxy("--preview", "200")
        self.assertNotIn("\x1b", log)
        self.assertIn(" handshake GET /room?[query hidden] ", log)
        self.assertNotIn("T0P-SECRET", log)
        lines = self.preview_lines(log)
        self.assertEqual(len(lines), 2, log)
        for line in lines:
            self.assertTrue(line.endswith(f': "{self.TEXT}"'), repr(line))

    def test_show_secrets_shows_the_query(self):
        log = self.run_proxy("--show-secrets")
        self.assertIn(" handshake GET /room?token=T0P-SECRET ", log)
        self.assertEqual(self.preview_lines(log), [], log)


if __name__ == "__main__":
    unittest.main()
