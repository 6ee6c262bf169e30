"""Chromium's own WebSocket client through the proxy.

A real browser is the client here: headless Chromium loads a file:// page
whose script opens `new WebSocket("wss://...")`, sends a short text message,
a large one (where Chromium's permessage-deflate matters) and a binary one,
checks each echo, closes with 4000 "page done" and prints what it saw on the
console, which the test reads from Chromium's stderr
(--enable-logging=stderr). Chromium is then ended by the test. The page
is a file, not a data: URL: Chromium's Local Network Access checks refuse a
data: page's connection to loopback (ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS).

Chromium checks certificates against an NSS database at $HOME/.pki/nssdb,
where HOME is a temporary directory given to Chromium's environment only;
the CAs a case trusts are added to it with certutil. Certificate checks are
never switched off.

  1. reverse proxy over TLS: Chromium -> wss://localhost:PROXY -> the proxy
     (a leaf of the test CA) -> wss://localhost:SERVER, a Python
     `websockets` echo server; the page's echoes, close code and extensions,
     and the proxy's handshake (permessage-deflate negotiated), messages
     (compressed, inflated) and both close frames;
  2. forward proxy: Chromium with --proxy-server sends CONNECT; the proxy
     intercepts TLS with a leaf signed by the CA of `wsinspect ca init`
     (the only CA Chromium trusts in that run) and inspects the WebSocket;
     with --passthrough localhost the TLS is tunnelled to the server, whose
     own certificate Chromium then checks, and nothing is inspected;
  3. Chromium that does not trust the proxy's certificate: the TLS handshake
     fails the way a real browser makes it fail, and the proxy says so.

Skipped when chromium, certutil or openssl is missing (scripts/setup-deps.sh
installs them).
"""

import base64
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path
from typing import Optional

from harness import (
    BINARY,
    C2S,
    PYTHON,
    S2C,
    JsonLineProcess,
    Proxy,
    _die_with_parent,
    is_event,
    require_proxy,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CERTUTIL = shutil.which("certutil")
OPENSSL = shutil.which("openssl")

CA_NAME = "wsinspect chromium test CA"
CLOSE_CODE, CLOSE_REASON = 4000, "page done"
PAGE_TIMEOUT = 20.0  # the page reports by itself after this long

# The sizes of the page's three messages (see PAGE): the large text message
# is repetitive JSON, which permessage-deflate shrinks many times over.
SMALL_TEXT = "hello from chromium"
BIG_TEXT_SIZE = len(json.dumps([{"seq": i, "text": "the same words again and again"} for i in range(3000)], separators=(",", ":")))
BINARY_SIZE = 300


# --- the test PKI --------------------------------------------------------------


class TestPki:
    """A CA and a leaf for localhost and 127.0.0.1, made with the openssl CLI."""

    def __init__(self, root: Path):
        self.root = root
        self.ca, self.ca_key = root / "ca.pem", root / "ca.key"
        self.cert, self.key = root / "localhost.pem", root / "localhost.key"
        self._openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", self.ca_key, "-out", self.ca, "-days", "2", "-subj", f"/CN={CA_NAME}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        ext = root / "localhost.ext"
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid,issuer\n"
        )
        csr = root / "localhost.csr"
        self._openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", self.key, "-out", csr, "-subj", "/CN=localhost",
        )  # fmt: skip
        self._openssl(
            "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
            "-set_serial", "2", "-days", "2", "-out", self.cert, "-extfile", ext,
        )  # fmt: skip

    def _openssl(self, *args) -> None:
        r = subprocess.run([OPENSSL, *map(str, args)], capture_output=True, text=True, timeout=30, cwd=self.root)
        if r.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(map(str, args))} failed: {r.stderr}")


def run(argv: list, env: Optional[dict] = None, shell: bool = False) -> str:
    r = subprocess.run(argv if shell else [str(a) for a in argv], capture_output=True, text=True, timeout=30, env=env, shell=shell)
    if r.returncode != 0:
        raise AssertionError(f"{argv} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r.stdout


class BrowserHome:
    """A throwaway HOME for Chromium whose NSS database trusts the given CAs."""

    def __init__(self, root: Path):
        self.path = root
        self.nssdb = root / ".pki" / "nssdb"
        self.nssdb.mkdir(parents=True)
        run([CERTUTIL, "-d", f"sql:{self.nssdb}", "-N", "--empty-password"])

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            HOME=str(self.path),
            XDG_CONFIG_HOME=str(self.path / ".config"),
            XDG_CACHE_HOME=str(self.path / ".cache"),
            XDG_DATA_HOME=str(self.path / ".local" / "share"),
        )
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def trust(self, ca: Path, nickname: str) -> None:
        run([CERTUTIL, "-d", f"sql:{self.nssdb}", "-A", "-t", "C,,", "-n", nickname, "-i", ca])

    def trusted(self) -> str:
        return run([CERTUTIL, "-d", f"sql:{self.nssdb}", "-L"])


# --- the page and the browser --------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><title>wsinspect</title></head><body><script>
"use strict";
const url = decodeURIComponent(location.hash.slice(1));
const out = {url: url, events: [], echoes: []};
let reported = false;
function report() {
  if (reported) return;
  reported = true;
  document.title = "done";
  console.log("WSI-RESULT " + btoa(JSON.stringify(out)));
}
setTimeout(() => { out.events.push("page-timeout"); report(); }, PAGE_TIMEOUT_MS);
const rows = [];
for (let i = 0; i < 3000; i++) rows.push({seq: i, text: "the same words again and again"});
const bytes = new Uint8Array(BINARY_SIZE);
for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 255;
const plan = [SMALL_TEXT, JSON.stringify(rows), bytes];
function same(a, b) {
  if (typeof b === "string") return a === b;
  const x = new Uint8Array(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
}
function run() {
  let ws;
  try {
    ws = new WebSocket(url);
  } catch (e) {
    out.events.push("throw:" + e.name);
    report();
    return;
  }
  ws.binaryType = "arraybuffer";
  let next = 0;
  const sendNext = () => {
    if (next < plan.length) ws.send(plan[next]);
    else ws.close(CLOSE_CODE, CLOSE_REASON);
  };
  ws.onopen = () => {
    out.events.push("open");
    out.extensions = ws.extensions;
    out.protocol = ws.protocol;
    sendNext();
  };
  ws.onmessage = (m) => {
    const text = typeof m.data === "string";
    out.events.push("message");
    out.echoes.push({kind: text ? "text" : "binary", size: text ? m.data.length : m.data.byteLength, same: same(m.data, plan[next])});
    next++;
    sendNext();
  };
  ws.onerror = () => out.events.push("error");
  ws.onclose = (e) => {
    out.events.push("close");
    out.code = e.code;
    out.reason = e.reason;
    out.clean = e.wasClean;
    report();
  };
}
run();
</script></body></html>
"""


def write_page(root: Path) -> Path:
    page = root / "ws.html"
    text = PAGE
    for name, value in {
        "PAGE_TIMEOUT_MS": str(int(PAGE_TIMEOUT * 1000)),
        "BINARY_SIZE": str(BINARY_SIZE),
        "SMALL_TEXT": json.dumps(SMALL_TEXT),
        "CLOSE_CODE": str(CLOSE_CODE),
        "CLOSE_REASON": json.dumps(CLOSE_REASON),
    }.items():
        text = text.replace(name, value)
    page.write_text(text)
    return page


# Nothing of Chromium's own (updates, metrics, safe browsing, DNS probes)
# leaves the machine: every name but localhost fails to resolve (the rule
# would catch the proxy's 127.0.0.1 too).
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--enable-logging=stderr",
    "--v=0",
]

RESULT = re.compile(r"WSI-RESULT ([A-Za-z0-9+/=]+)")


class Chromium:
    """One headless Chromium on the page, in its own process group; `result`
    waits for the page's report, `stop` ends every process of the group."""

    def __init__(self, home: BrowserHome, page: Path, ws_url: str, *flags: str):
        self.profile = Path(tempfile.mkdtemp(prefix="profile-", dir=home.path))
        url = page.as_uri() + "#" + ws_url
        self.argv = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", *flags, url]
        self.stderr: list = []
        self._result: Optional[dict] = None
        self._cond = threading.Condition()
        self._eof = False
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=home.env(),
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            m = RESULT.search(line)
            with self._cond:
                self.stderr.append(line)
                if m and self._result is None:
                    self._result = json.loads(base64.b64decode(m.group(1)))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def describe(self) -> str:
        noise = ("dbus", "bluez", "vaapi", "sandbox_linux", "property.cc", "idle_linux", "zygote")
        with self._cond:
            lines = [l for l in self.stderr if not any(n in l for n in noise)]
        return f"--- chromium (pid {self.proc.pid}, rc {self.proc.poll()}):\n" + "\n".join(lines[-40:])

    def result(self, timeout: float = PAGE_TIMEOUT + 15) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._result is None and not self._eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
            if self._result is None:
                raise AssertionError(f"the page reported nothing within {timeout}s\n" + self.describe())
            return self._result

    def stop(self) -> None:
        """Kills the browser and every helper process (zygotes, renderers,
        the network service: all in its process group) and waits until the
        group is gone. The page has reported by then; nothing of the profile
        is kept."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self._reader.join(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()


# --- the WebSocket server ---------------------------------------------------------

# A Python `websockets` echo server over TLS (or plain without a certificate);
# one JSON line per thing it saw.
ECHO_SERVER = r"""
import asyncio, json, ssl, sys
import websockets

def say(**kw):
    print(json.dumps(kw), flush=True)

async def echo(ws, path=None):
    say(event="open", path=ws.path, extensions=ws.response_headers.get("Sec-WebSocket-Extensions"))
    try:
        async for m in ws:
            text = isinstance(m, str)
            say(event="message", kind="text" if text else "binary", size=len(m.encode() if text else m))
            await ws.send(m)
    except websockets.ConnectionClosed:
        pass
    say(event="closed", code=ws.close_code, reason=ws.close_reason)

async def main():
    ctx = None
    if len(sys.argv) > 2:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    async with websockets.serve(echo, "127.0.0.1", 0, ssl=ctx, max_size=None) as server:
        say(event="listening", port=server.sockets[0].getsockname()[1])
        await asyncio.Future()

asyncio.run(main())
"""


class EchoServer(JsonLineProcess):
    def __init__(self, cert: Path, key: Path):
        super().__init__([PYTHON, "-c", ECHO_SERVER, cert, key], "echo-server")
        try:
            self.port = int(self.wait_for(is_event("listening"), what="listening")["port"])
        except BaseException:
            self.stop()
            raise


# --- the cases ---------------------------------------------------------------------

PKI: Optional[TestPki] = None
_tmp: Optional[tempfile.TemporaryDirectory] = None


def setUpModule():
    global PKI, _tmp
    if not (CHROMIUM and CERTUTIL and OPENSSL):
        return
    _tmp = tempfile.TemporaryDirectory(prefix="wsi-chromium-", ignore_cleanup_errors=True)
    root = Path(_tmp.name) / "pki"
    root.mkdir()
    PKI = TestPki(root)


def tearDownModule():
    if _tmp is not None:
        _tmp.cleanup()


class ChromiumTestCase(unittest.TestCase):
    def setUp(self):
        missing = [n for n, p in (("chromium", CHROMIUM), ("certutil (libnss3-tools)", CERTUTIL), ("openssl", OPENSSL)) if not p]
        if missing:
            self.skipTest(f"{', '.join(missing)} not installed: run scripts/setup-deps.sh")
        require_proxy(self)
        self.dir = Path(tempfile.mkdtemp(prefix=self.id().rsplit(".", 1)[-1] + "-", dir=_tmp.name))
        self.page = write_page(self.dir)

    def home(self, name: str, *cas: "tuple[Path, str]") -> BrowserHome:
        h = BrowserHome(self.dir / name)
        for ca, nickname in cas:
            h.trust(ca, nickname)
        return h

    def proxy(self, upstream: Optional[str], *args) -> Proxy:
        p = Proxy(upstream, *args)
        self.addCleanup(p.stop)
        return p

    def echo_server(self) -> EchoServer:
        s = EchoServer(PKI.cert, PKI.key)
        self.addCleanup(s.stop)
        return s

    def browse(self, home: BrowserHome, ws_url: str, *flags: str) -> "tuple[dict, Chromium]":
        """Runs Chromium on the page until it reports; returns what it saw."""
        c = Chromium(home, self.page, ws_url, *flags)
        self.addCleanup(c.stop)
        try:
            return c.result(), c
        finally:
            c.stop()

    def context(self, *procs) -> str:
        return "\n" + "\n".join(p.describe() for p in procs)

    # What the page saw and what the server saw, on a connection that worked.

    def check_page(self, seen: dict, ctx: str) -> None:
        self.assertEqual(seen["events"], ["open", "message", "message", "message", "close"], ctx)
        self.assertEqual(
            seen["echoes"],
            [
                {"kind": "text", "size": len(SMALL_TEXT), "same": True},
                {"kind": "text", "size": BIG_TEXT_SIZE, "same": True},
                {"kind": "binary", "size": BINARY_SIZE, "same": True},
            ],
            ctx,
        )
        self.assertEqual((seen["code"], seen["reason"], seen["clean"]), (CLOSE_CODE, CLOSE_REASON, True), ctx)
        self.assertTrue(seen["extensions"].startswith("permessage-deflate"), ctx)

    def check_server(self, server: EchoServer, ctx: str) -> None:
        server.wait_for(is_event("closed"), what="closed")
        seen = [(e["kind"], e["size"]) for e in server.find(is_event("message"))]
        self.assertEqual(seen, [("text", len(SMALL_TEXT)), ("text", BIG_TEXT_SIZE), ("binary", BINARY_SIZE)], ctx)
        closed = server.find(is_event("closed"))
        self.assertEqual([(e["code"], e["reason"]) for e in closed], [(CLOSE_CODE, CLOSE_REASON)], ctx)

    def check_inspected(self, proxy: Proxy, conn: int, page: dict, ctx: str) -> dict:
        """The proxy decoded the whole WebSocket of `conn`: the handshake with
        permessage-deflate as the page got it, the messages both ways (the
        large one compressed and inflated to its size), both close frames,
        and no violation. Returns the handshake event."""
        proxy.wait_conn_close(conn)
        hs = proxy.of_conn(conn, "handshake")
        self.assertEqual(len(hs), 1, ctx)
        hs = hs[0]
        self.assertEqual((hs["path"], hs["status"], hs["upgraded"]), ("/chat", 101, True), ctx)
        self.assertIn("permessage-deflate", hs["extensions_offered"], ctx)
        self.assertEqual(hs["extensions"], page["extensions"], ctx)
        self.assertEqual([f for f in hs.get("findings", []) if f.get("severity") == "error"], [], ctx)
        for d in (C2S, S2C):
            msgs = [e for e in proxy.of_conn(conn, "message") if e.get("dir") == d]
            self.assertEqual(len(msgs), 3, f"{d}{ctx}")
            big = msgs[1]
            self.assertTrue(big["compressed"], f"{d}{ctx}")
            self.assertEqual(big["inflated_size"], BIG_TEXT_SIZE, f"{d}{ctx}")
            self.assertLess(big["size"], BIG_TEXT_SIZE // 4, f"{d}{ctx}")
            self.assertEqual([m["opcode_name"] for m in msgs], ["text", "text", "binary"], f"{d}{ctx}")
        closes = {e["dir"]: e for e in proxy.of_conn(conn, "close")}
        self.assertEqual(set(closes), {C2S, S2C}, ctx)
        for d in (C2S, S2C):
            self.assertEqual((closes[d]["code"], closes[d]["reason"], closes[d]["valid"]), (CLOSE_CODE, CLOSE_REASON, True), f"{d}{ctx}")
            self.assertFalse(closes[d].get("synthesized", False), f"{d}{ctx}")
        self.assertTrue(closes[S2C].get("in_reply"), ctx)
        self.assertEqual(proxy.of_conn(conn, "violation"), [], ctx)
        done = proxy.of_conn(conn, "conn_close")[0]
        self.assertEqual(done["ended_by"], "close_handshake", ctx)
        return hs

    def check_tls(self, hs: dict, ctx: str) -> None:
        """The handshake event's "tls": Chromium's leg (TLS 1.3, SNI
        localhost, ALPN http/1.1, no client certificate) and the upstream's
        (SNI localhost, no ALPN from the Python server, the test leaf,
        verified against --upstream-ca)."""
        tls = hs.get("tls")
        self.assertIsInstance(tls, dict, f"handshake.tls{ctx}")
        expected = {"client": ("localhost", "http/1.1"), "server": ("localhost", "")}
        for leg, (sni, alpn) in expected.items():
            info = tls.get(leg)
            where = f"tls.{leg}{ctx}"
            self.assertIsInstance(info, dict, where)
            self.assertEqual(info.get("version"), "TLSv1.3", where)
            self.assertTrue(info.get("cipher"), where)
            self.assertEqual((info.get("sni") or "", info.get("alpn") or ""), (sni, alpn), where)
        self.assertIsNone(tls["client"].get("peer_certificate"), ctx)
        self.assertEqual(tls["server"].get("verification"), "ok", ctx)
        cert = tls["server"].get("peer_certificate") or {}
        self.assertEqual((cert.get("subject"), cert.get("issuer")), ("CN=localhost", f"CN={CA_NAME}"), ctx)


class ReverseProxyTest(ChromiumTestCase):
    """1. Chromium -> wss://localhost:PROXY (the test CA's leaf, which the NSS
    database trusts) -> wss://localhost:SERVER, the Python echo server."""

    def test_chromium_through_the_tls_reverse_proxy(self):
        server = self.echo_server()
        proxy = self.proxy(
            f"wss://localhost:{server.port}", "--tls-cert", PKI.cert, "--tls-key", PKI.key, "--upstream-ca", PKI.ca
        )
        home = self.home("home", (PKI.ca, "test"))
        page, chromium = self.browse(home, f"wss://localhost:{proxy.port}/chat")
        ctx = self.context(proxy, server, chromium) + f"\npage: {json.dumps(page)}"
        self.check_page(page, ctx)
        self.check_server(server, ctx)

        hs = proxy.wait_for(is_event("handshake", path="/chat"), what="handshake")
        hs = self.check_inspected(proxy, hs["conn"], page, ctx)
        self.assertEqual(hs["host"], f"localhost:{proxy.port}", ctx)
        self.assertEqual(hs.get("forwarded_host"), f"localhost:{server.port}", ctx)
        self.check_tls(hs, ctx)
        self.assertEqual(len(proxy.find(is_event("conn_open"))), 1, ctx)
        self.assertEqual(proxy.find(is_event("tls_error")), [], ctx)


class ForwardProxyTest(ChromiumTestCase):
    """2. Chromium with --proxy-server: CONNECT localhost:SERVER, then TLS
    intercepted with a leaf signed by the CA of `wsinspect ca init`, or
    tunnelled to the server for a --passthrough host."""

    def wsinspect_ca(self) -> "tuple[Path, str]":
        """`wsinspect ca init DIR`: the CA's directory, and the certutil
        command it prints for Chromium's NSS database."""
        ca_dir = self.dir / "wsinspect-ca"
        out = run([BINARY, "ca", "init", ca_dir])
        self.assertTrue((ca_dir / "ca.pem").is_file(), out)
        self.assertEqual(stat.S_IMODE((ca_dir / "ca.key").stat().st_mode), 0o600, out)
        lines = [l.strip() for l in out.splitlines() if l.strip().startswith("certutil -d sql:$HOME/.pki/nssdb -A ")]
        self.assertEqual(len(lines), 1, out)
        return ca_dir, lines[0]

    def forward_proxy(self, ca_dir: Path, server: EchoServer, *args) -> Proxy:
        # --allow-target: Chromium's own requests (update checks, accounts)
        # come through the proxy as well; they are refused, not resolved.
        return self.proxy(
            None, "--forward", "--ca", ca_dir, "--upstream-ca", PKI.ca, "--allow-target", f"localhost:{server.port}", *args
        )

    def proxy_flags(self, proxy: Proxy) -> list:
        # Chromium sends nothing for loopback through a proxy unless told to.
        return [f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=<-loopback>"]

    def forward_event(self, proxy: Proxy, server: EchoServer, ctx: str) -> dict:
        """The one forward event for the server; every other is refused."""
        target = f"localhost:{server.port}"
        proxy.wait_for(is_event("forward", target=target), what=f"forward {target}")
        forwards = proxy.find(is_event("forward"))
        ours = [e for e in forwards if e.get("target") == target]
        self.assertEqual(len(ours), 1, ctx)
        self.assertEqual(ours[0].get("method"), "CONNECT", ctx)
        self.assertEqual([e for e in forwards if e not in ours and e.get("mode") != "refused"], [], ctx)
        return ours[0]

    def test_intercepted(self):
        ca_dir, trust_command = self.wsinspect_ca()
        server = self.echo_server()
        proxy = self.forward_proxy(ca_dir, server)
        # Chromium trusts wsinspect's CA only, added with the very command
        # `ca init` printed: the page works only if the proxy intercepted.
        home = self.home("home")
        run(trust_command, env=home.env(), shell=True)
        self.assertIn("wsinspect", home.trusted())
        page, chromium = self.browse(home, f"wss://localhost:{server.port}/chat", *self.proxy_flags(proxy))
        ctx = self.context(proxy, server, chromium) + f"\npage: {json.dumps(page)}"
        self.check_page(page, ctx)
        self.check_server(server, ctx)

        fwd = self.forward_event(proxy, server, ctx)
        self.assertEqual(fwd.get("mode"), "intercepted", ctx)
        hs = self.check_inspected(proxy, fwd["conn"], page, ctx)
        self.assertEqual(hs["host"], f"localhost:{server.port}", ctx)
        self.check_tls(hs, ctx)
        self.assertEqual(proxy.find(is_event("tls_error")), [], ctx)

    def test_passthrough(self):
        ca_dir, _ = self.wsinspect_ca()
        server = self.echo_server()
        proxy = self.forward_proxy(ca_dir, server, "--passthrough", "localhost")
        # The server's own certificate reaches Chromium: it must trust the test CA.
        home = self.home("home", (ca_dir / "ca.pem", "wsinspect"), (PKI.ca, "test"))
        page, chromium = self.browse(home, f"wss://localhost:{server.port}/chat", *self.proxy_flags(proxy))
        ctx = self.context(proxy, server, chromium) + f"\npage: {json.dumps(page)}"
        self.check_page(page, ctx)
        self.check_server(server, ctx)

        fwd = self.forward_event(proxy, server, ctx)
        self.assertEqual(fwd.get("mode"), "passthrough", ctx)
        done = proxy.wait_conn_close(fwd["conn"])
        # Only counted: the TLS records of the whole session, both ways.
        self.assertFalse(done["upgraded"], ctx)
        for d in (C2S, S2C):
            self.assertGreater(done[d]["bytes"], 1000, f"{d}{ctx}")
        for kind in ("handshake", "frame", "message", "close", "violation", "tls_error", "tls_end"):
            self.assertEqual(proxy.of_conn(fwd["conn"], kind), [], f"{kind}{ctx}")


class UntrustedCertificateTest(ChromiumTestCase):
    """3. Chromium does not trust the proxy's certificate (its NSS database
    lacks the test CA): it aborts the TLS handshake with an alert."""

    def test_chromium_rejects_the_certificate(self):
        proxy = self.proxy("builtin:echo", "--tls-cert", PKI.cert, "--tls-key", PKI.key)
        home = self.home("home")
        page, chromium = self.browse(home, f"wss://localhost:{proxy.port}/chat")
        ctx = self.context(proxy, chromium) + f"\npage: {json.dumps(page)}"
        self.assertEqual(page["events"], ["error", "close"], ctx)
        self.assertEqual((page["code"], page["clean"]), (1006, False), ctx)

        err = proxy.wait_for(is_event("tls_error"), what="tls_error")
        done = proxy.wait_conn_close(err["conn"])
        self.assertEqual((err.get("leg"), err.get("error"), err.get("level")), ("client", "client-rejected-certificate", "warn"), ctx)
        # BoringSSL answers a certificate its verifier rejects with
        # certificate_unknown; bad_certificate is the other alert a
        # browser may use for it.
        self.assertIn(err.get("alert"), ("certificate_unknown (46) from the client", "bad_certificate (42) from the client"), ctx)
        self.assertTrue(err.get("explanation"), ctx)
        self.assertEqual(done.get("ended_by"), "tls_handshake_failed", ctx)
        # One attempt, no WebSocket: Chromium does not retry a certificate error.
        self.assertEqual(len(proxy.find(is_event("conn_open"))), 1, ctx)
        self.assertEqual(len(proxy.find(is_event("tls_error"))), 1, ctx)
        self.assertEqual(proxy.find(is_event("handshake")), [], ctx)


if __name__ == "__main__":
    unittest.main()
