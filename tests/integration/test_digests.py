"""--log-digests on real sockets: each digest is the HMAC-SHA-256 (cut to
128 bits) of what it stands for, under the shared key, recomputed here with
Python's hmac; no payload and no key reaches the log; and the options that
need each other say so.
"""

import hashlib
import hmac
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import (
    BINARY,
    C2S,
    HOST,
    OP_CLOSE,
    OP_CONT,
    OP_TEXT,
    S2C,
    TIMEOUT,
    Proxy,
    RawClient,
    build_frame,
    check_budget,
    close_payload,
    is_event,
    require_proxy,
    upgrade_request,
)

SECRET = b"a secret both vantage points share"


def digest(data: bytes) -> str:
    return hmac.new(SECRET, data, hashlib.sha256).hexdigest()[:32]


def run_proxy(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BINARY), "proxy", *args], capture_output=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL, env=env)


class DigestLogTest(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        check_budget(self)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.key_file = Path(self.tmp.name) / "key"
        self.key_file.write_bytes(SECRET)

    def test_digests_are_keyed_hmacs_of_the_unmasked_and_whole_payloads(self):
        proxy = Proxy("builtin:echo", "--log-digests", "--digest-key-file", str(self.key_file))
        self.addCleanup(proxy.stop)
        c = proxy_conn = RawClient.connect(HOST, proxy.port)
        self.addCleanup(c.close)
        req, key = upgrade_request(f"{HOST}", "/d")
        c.sock.sendall(req)
        self.assertEqual(c.recv_head().status, 101)
        words = b"a short private message"
        # One message in two masked fragments, then a close.
        c.sock.sendall(build_frame(OP_TEXT, words[:7], fin=False, mask=b"\x01\x02\x03\x04")
                       + build_frame(OP_CONT, words[7:], fin=True, mask=b"\xaa\xbb\xcc\xdd")
                       + build_frame(OP_CLOSE, close_payload(1000), mask=b"\x05\x06\x07\x08"))
        c.shutdown_write()
        conn = proxy.conn_of(proxy_conn.sock)
        proxy.wait_conn_close(conn)
        hs = proxy.wait_for(is_event("handshake", conn=conn))
        self.assertEqual(hs["key_digest"], digest(key.encode()))
        frames = [e for e in proxy.of_conn(conn) if e.get("event") == "frame_digest"]
        c2s = [f for f in frames if f["dir"] == C2S]
        self.assertEqual([f["digest"] for f in c2s[:2]], [digest(words[:7]), digest(words[7:])])
        self.assertEqual(c2s[2]["digest"], digest(close_payload(1000)))
        self.assertEqual([f["masked"] for f in c2s], [True, True, True])
        msgs = [e for e in proxy.of_conn(conn) if e.get("event") == "message_digest"]
        self.assertEqual([(m["dir"], m["digest"], m["frames"]) for m in msgs],
                         [(C2S, digest(words), 2), (S2C, digest(words), 2)])
        # The echo's frames carry the same payloads, unmasked.
        s2c = [f for f in frames if f["dir"] == S2C]
        self.assertEqual([f["digest"] for f in s2c[:2]], [digest(words[:7]), digest(words[7:])])
        log = proxy.stdout_bytes()
        self.assertNotIn(words[:7], log)
        self.assertNotIn(key.encode(), log)

    def test_no_digest_lines_without_the_option(self):
        proxy = Proxy("builtin:echo")
        self.addCleanup(proxy.stop)
        c, _ = RawClient.websocket(HOST, proxy.port)
        self.addCleanup(c.close)
        c.sock.sendall(build_frame(OP_TEXT, b"hi", mask=b"\x01\x02\x03\x04")
                       + build_frame(OP_CLOSE, close_payload(1000), mask=b"\x01\x02\x03\x04"))
        c.shutdown_write()
        conn = proxy.conn_of(c.sock)
        proxy.wait_conn_close(conn)
        kinds = {e.get("event") for e in proxy.of_conn(conn)}
        self.assertNotIn("frame_digest", kinds)
        self.assertNotIn("message_digest", kinds)
        hs = proxy.wait_for(is_event("handshake", conn=conn))
        self.assertNotIn("key_digest", hs)

    def test_the_key_comes_from_the_environment_too(self):
        old = os.environ.get("WSINSPECT_DIGEST_KEY")
        os.environ["WSINSPECT_DIGEST_KEY"] = SECRET.decode()
        try:
            proxy = Proxy("builtin:echo", "--log-digests")
        finally:
            if old is None:
                del os.environ["WSINSPECT_DIGEST_KEY"]
            else:
                os.environ["WSINSPECT_DIGEST_KEY"] = old
        self.addCleanup(proxy.stop)
        c, _ = RawClient.websocket(HOST, proxy.port)
        self.addCleanup(c.close)
        c.sock.sendall(build_frame(OP_TEXT, b"env", mask=b"\x01\x02\x03\x04"))
        ev = proxy.wait_for(is_event("message_digest", dir=C2S))
        self.assertEqual(ev["digest"], digest(b"env"))


class DigestOptionsTest(unittest.TestCase):
    def setUp(self):
        require_proxy(self)

    def test_log_digests_without_a_key_is_refused(self):
        env = {k: v for k, v in os.environ.items() if k != "WSINSPECT_DIGEST_KEY"}
        r = run_proxy("--upstream", "builtin:echo", "--listen", f"{HOST}:0", "--log-digests", env=env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"--digest-key-file", r.stderr)
        self.assertIn(b"WSINSPECT_DIGEST_KEY", r.stderr)

    def test_an_unreadable_key_file_is_refused(self):
        r = run_proxy("--upstream", "builtin:echo", "--listen", f"{HOST}:0", "--log-digests",
                      "--digest-key-file", "/nonexistent/key")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"/nonexistent/key", r.stderr)

    def test_key_file_needs_log_digests(self):
        r = run_proxy("--upstream", "builtin:echo", "--digest-key-file", "/etc/hostname")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--digest-key-file needs --log-digests", r.stderr)

    def test_bracket_options_need_each_other_and_a_real_server(self):
        r = run_proxy("--upstream", f"{HOST}:1", "--bracket-listen", f"{HOST}:0")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--bracket-listen needs --bracket-upstream", r.stderr)
        r = run_proxy("--upstream", f"{HOST}:1", "--bracket-upstream", f"{HOST}:2")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--bracket-upstream needs --bracket-listen", r.stderr)
        r = run_proxy("--upstream", f"{HOST}:1", "--bracket-listen", f"{HOST}:0",
                      "--bracket-upstream", "builtin:echo")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"builtin:echo", r.stderr)
        r = run_proxy("--forward", "--bracket-listen", f"{HOST}:0", "--bracket-upstream", f"{HOST}:2")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--forward", r.stderr)


if __name__ == "__main__":
    unittest.main()
