"""Credentials never reach the log, however a client sends them.

Through the real proxy, in the JSON log and in the text log: a header name
with whitespace before its colon ("Authorization : Bearer X", also a
request-header-name-whitespace finding), bearer tokens carried in
Sec-WebSocket-Protocol (Kubernetes' base64url.bearer.authorization.k8s.io.),
X-Api-Key and its kin, token parameters of Referer and Origin URLs,
;jsessionid= in the path, and the names given with --redact-header.
--show-secrets shows them all; the relayed bytes are never changed.
"""

import json
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from harness import (
    BINARY,
    HOST,
    TIMEOUT,
    Proxy,
    RawClient,
    RawUpstream,
    accept_for,
    check_exit,
    is_event,
    make_key,
    require_proxy,
)

K8S = "base64url.bearer.authorization.k8s.io."
PATH = "/chat;jsessionid=JSESSION-SECRET"


def secret_request(host: str, key: str) -> bytes:
    lines = [
        f"GET {PATH}?token=QUERY-SECRET&x=1 HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Authorization : Bearer SPACE-SECRET",
        f"Sec-WebSocket-Protocol: {K8S}K8S-SECRET, base64.channel.k8s.io",
        "X-Api-Key: APIKEY-SECRET",
        "x-auth-token: AUTHTOKEN-SECRET",
        "Api-Key: APIKEY2-SECRET",
        "Referer: https://app.example/page?x=1&token=REFERER-SECRET&access_token=ACCESS-SECRET",
        "Origin: https://user:ORIGINPW-SECRET@app.example",
        "X-Custom-Credential: CUSTOM-SECRET",
        "X-Trace: visible-trace",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def switching(key: str, protocol: str) -> bytes:
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_for(key)}",
        f"Sec-WebSocket-Protocol: {protocol}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def exchange(port: int, up: RawUpstream) -> None:
    """One upgrade with every kind of credential (the server echoes the
    offered subprotocols, the bearer token first, as a careless one might:
    the response-multiple-subprotocols finding quotes them), then a plain request whose
    path carries ;jsessionid= and a token in its query. Asserts that each
    side received exactly what the other sent."""
    key = make_key()
    req = secret_request(f"{HOST}:{port}", key)
    c = RawClient.connect(HOST, port)
    c.send(req)
    s = up.accept()
    if s.recv_head().raw != req:
        raise AssertionError("the request was changed")
    resp = switching(key, K8S + "K8S-SECRET, base64.channel.k8s.io")
    s.send(resp)
    if c.recv_head().raw != resp:
        raise AssertionError("the response was changed")
    c2 = RawClient.connect(HOST, port)
    get = b"GET /page;JSESSIONID=PLAIN-SECRET?api_key=PLAINQ-SECRET HTTP/1.1\r\nHost: x\r\nX-Api-Key: PLAINKEY-SECRET\r\n\r\n"
    c2.send(get)
    s2 = up.accept()
    if s2.recv_head().raw != get:
        raise AssertionError("the plain request was changed")
    s2.send(b"HTTP/1.1 204 No Content\r\n\r\n")
    c2.recv_head()
    for x in (c, s, c2, s2):
        x.close()


def free_port() -> int:
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RedactionTest(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        self.up = RawUpstream()
        self.addCleanup(self.up.close)

    def json_run(self, *args) -> "tuple[Proxy, list, bytes]":
        proxy = Proxy(self.up.address, "--redact-header", "X-Custom-Credential", *args)
        self.addCleanup(proxy.stop)
        exchange(proxy.port, self.up)
        proxy.wait_for(is_event("http"), what="http")
        proxy.wait_count(lambda e: e.get("event") == "conn_close", 2, what="two conn_close")
        proxy.stop()
        return proxy, proxy.snapshot(), proxy.stdout_bytes()

    def test_every_bypass_is_redacted_in_the_json_log(self):
        proxy, events, out = self.json_run()
        ctx = "\n" + proxy.describe()
        self.assertNotIn(b"SECRET", out, ctx)
        hs = next(e for e in events if e.get("event") == "handshake")
        h = hs["headers"]
        for name in ("Authorization ", "X-Api-Key", "x-auth-token", "Api-Key", "X-Custom-Credential", "Sec-WebSocket-Key"):
            self.assertEqual(h.get(name), "[redacted]", name + ctx)
        self.assertEqual(h["Sec-WebSocket-Protocol"], K8S + "[redacted], base64.channel.k8s.io", ctx)
        self.assertEqual(hs["subprotocols_offered"], [K8S + "[redacted]", "base64.channel.k8s.io"], ctx)
        self.assertEqual(hs["subprotocol"], K8S + "[redacted]", ctx)
        self.assertEqual(h["Referer"], "https://app.example/page?x=1&token=[redacted]&access_token=[redacted]", ctx)
        self.assertEqual(h["Origin"], "https://user:[redacted]@app.example", ctx)
        self.assertEqual(h["X-Trace"], "visible-trace", ctx)
        self.assertEqual(hs["path"], "/chat;jsessionid=[redacted]", ctx)
        http = next(e for e in events if e.get("event") == "http")
        self.assertEqual(http["path"], "/page;JSESSIONID=[redacted]", ctx)
        finding = next(f for f in hs["findings"] if f["rule"] == "request-header-name-whitespace")
        self.assertEqual(finding["rfc"], "RFC 9112 §5.1")
        self.assertEqual(finding["http_status"], 400)
        self.assertEqual(finding["severity"], "error")
        self.assertIn('"Authorization "', finding["detail"])

    def test_show_secrets_shows_them(self):
        proxy, events, out = self.json_run("--show-secrets")
        ctx = "\n" + proxy.describe()
        for secret in ("SPACE", "K8S", "APIKEY", "AUTHTOKEN", "APIKEY2", "REFERER", "ACCESS", "ORIGINPW", "CUSTOM", "JSESSION", "PLAIN"):
            self.assertIn(f"{secret}-SECRET".encode(), out, secret + ctx)
        hs = next(e for e in events if e.get("event") == "handshake")
        self.assertEqual(hs["subprotocol"], K8S + "K8S-SECRET")
        # The query string, only with --show-secrets, beside the path.
        self.assertEqual(hs["query"], "?token=QUERY-SECRET&x=1", ctx)
        http = next(e for e in events if e.get("event") == "http")
        self.assertEqual((http["path"], http["query"]), ("/page;JSESSIONID=PLAIN-SECRET", "?api_key=PLAINQ-SECRET"), ctx)

    def text_run(self, *args) -> bytes:
        """The exchange through a proxy writing its text log (debug level) to
        a file; returns the log."""
        with tempfile.TemporaryDirectory() as d:
            log = Path(d) / "proxy.log"
            port = free_port()
            argv = [str(BINARY), "proxy", "--listen", f"{HOST}:{port}", "--upstream", self.up.address]
            argv += ["--log-format", "text", "--log-level", "debug", "--log-file", str(log)]
            argv += ["--redact-header", "X-Custom-Credential", *args]
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                deadline = time.monotonic() + TIMEOUT
                while b"listening" not in (log.read_bytes() if log.exists() else b""):
                    self.assertLess(time.monotonic(), deadline, "no listening line")
                    self.assertIsNone(proc.poll())
                    time.sleep(0.02)
                exchange(port, self.up)
                deadline = time.monotonic() + TIMEOUT
                while log.read_bytes().count(b"http GET") < 1:
                    self.assertLess(time.monotonic(), deadline, "no http line")
                    time.sleep(0.02)
                proc.send_signal(signal.SIGTERM)
                _, err = proc.communicate(timeout=TIMEOUT)
                check_exit("proxy", proc.returncode, err.decode("utf-8", "replace"), True)
                self.assertEqual(proc.returncode, 0, err)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            return log.read_bytes()

    def test_every_bypass_is_redacted_in_the_text_log(self):
        text = self.text_run()
        self.assertNotIn(b"SECRET", text, text.decode("utf-8", "replace"))
        # The query string is hidden whole: tokens travel there under any name.
        self.assertIn(b"handshake GET /chat;jsessionid=[redacted]?[query hidden] ", text)
        # Offered and selected, both redacted.
        self.assertIn(b"subprotocols offered [" + K8S.encode() + b"[redacted], base64.channel.k8s.io]", text)
        self.assertIn(b"selected " + K8S.encode() + b"[redacted]", text)
        self.assertIn(b"http GET /page;JSESSIONID=[redacted]?[query hidden] -> 204", text)
        self.assertIn(b"request-header-name-whitespace (RFC 9112 \xc2\xa75.1)", text)

    def test_show_secrets_shows_the_query_string_in_the_text_log(self):
        text = self.text_run("--show-secrets")
        self.assertIn(b"handshake GET /chat;jsessionid=JSESSION-SECRET?token=QUERY-SECRET&x=1 ", text)
        self.assertIn(b"http GET /page;JSESSIONID=PLAIN-SECRET?api_key=PLAINQ-SECRET -> 204", text)
        self.assertNotIn(b"[query hidden]", text)

    def test_a_bad_redact_header_name_is_a_bad_setting(self):
        r = subprocess.run(
            [str(BINARY), "proxy", "--listen", f"{HOST}:0", "--upstream", "builtin:echo", "--redact-header", "X Bad"],
            capture_output=True,
            timeout=TIMEOUT,
        )
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"is not a header name", r.stderr)


if __name__ == "__main__":
    unittest.main()
