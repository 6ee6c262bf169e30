"""The text log a person reads: 50 Node `ws` clients through the proxy in
front of its echo server, 20 messages each, 5 of them terminated abruptly.

At the default level each connection takes a few lines and each explanation
appears once; at warn only the listening line, the 5 abnormal connections
and the totals remain; the filters keep what they promise.
"""

import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import BINARY, HOST, TIMEOUT, JsonLineProcess, check_budget, require_proxy
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


if __name__ == "__main__":
    unittest.main()
