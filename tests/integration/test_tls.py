"""TLS on both legs: wss:// clients, wss:// upstreams, and what goes wrong.

The certificates are made for this run with the `openssl` command-line tool
in a temporary directory: a test CA, a leaf for localhost, 127.0.0.1 and ::1
(what the proxy and the test servers present), and a second leaf for
other.example (the name-mismatch case). Every client checks the certificate
it is shown against the test CA, except where a case is about a client that
does not trust it.

  - the real peers (Python `websockets`, Node `ws`), each as client and as
    server, over TLS on both legs, with and without permessage-deflate: they
    observe what they observe on a plain connection, and the log shows the
    closes explained and each leg's TLS parameters in the handshake event;
  - byte exactness inside TLS: a raw TLS client and a raw TLS upstream; what
    one sent is what the other received, but for the documented Host rewrite
    of the first request head;
  - a corrupted frame over TLS is flagged, and the real peer's 1002 is linked
    to it by caused_by;
  - --tls-self-signed, --tls-keylog, --upstream-insecure;
  - each TLS failure provoked for real and found in the log with its id;
  - TLS truncation (a TCP end without close_notify), before and after the
    WebSocket close handshake.

The JSON events checked: tls_error, tls_end, upstream_error at stage "tls",
the handshake event's "tls" and "forwarded_host", http_error's hint for TLS
sent to a plain listener, and the listening event's "tls",
"upstream_insecure" and "host_rewrite".
"""

import datetime
import hashlib
import json
import os
import random
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import unittest
import warnings
from pathlib import Path
from typing import Optional

import test_peers as scripted  # the peers' scripted steps and what they observe
from harness import (
    C2S,
    HOST,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV2,
    S2C,
    TIMEOUT,
    PeerServer,
    Proxy,
    RawClient,
    RawConn,
    RawUpstream,
    accept_for,
    build_frame,
    close_payload,
    finish_peer,
    is_event,
    parse_head,
    peers_available,
    require_proxy,
    response_101,
    run_peer_client,
    run_threads,
    start_peer_client,
    upgrade_request,
)

OPENSSL = shutil.which("openssl")
CA_NAME = "wsinspect test CA"


# --- the test PKI ----------------------------------------------------------------


class Certs:
    """A CA and two leaves signed by it, as PEM files in `root`."""

    def __init__(self, root: Path):
        self.root = root
        self._dates: dict = {}
        self.ca, self.ca_key = root / "ca.pem", root / "ca.key"
        self.cert, self.key = root / "localhost.pem", root / "localhost.key"
        self.other_cert, self.other_key = root / "other.pem", root / "other.key"
        self._openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", self.ca_key, "-out", self.ca, "-days", "2", "-subj", f"/CN={CA_NAME}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        self._leaf("localhost", "DNS:localhost,IP:127.0.0.1,IP:::1", self.cert, self.key, 2)
        self._leaf("other.example", "DNS:other.example", self.other_cert, self.other_key, 3)

    def _openssl(self, *args) -> str:
        r = subprocess.run([OPENSSL, *map(str, args)], capture_output=True, text=True, timeout=30, cwd=self.root)
        if r.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(map(str, args))} failed: {r.stderr}")
        return r.stdout

    def _leaf(self, cn: str, san: str, cert: Path, key: Path, serial: int) -> None:
        csr, ext = self.root / f"{cn}.csr", self.root / f"{cn}.ext"
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            f"subjectAltName={san}\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid,issuer\n"
        )
        self._openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN={cn}",
        )  # fmt: skip
        self._openssl(
            "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
            "-set_serial", serial, "-days", "2", "-out", cert, "-extfile", ext,
        )  # fmt: skip

    def dates(self, cert: Path) -> "tuple[str, str]":
        """notBefore and notAfter as the log writes them, 2026-12-01T09:00:00Z."""
        if cert not in self._dates:
            out = self._openssl("x509", "-in", cert, "-noout", "-startdate", "-enddate")
            found = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
            iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ssl.cert_time_to_seconds(t)))
            self._dates[cert] = iso(found["notBefore"]), iso(found["notAfter"])
        return self._dates[cert]


CERTS: Optional[Certs] = None
_tmp: Optional[tempfile.TemporaryDirectory] = None


def setUpModule():
    global CERTS, _tmp
    if OPENSSL is None:
        return
    _tmp = tempfile.TemporaryDirectory(prefix="wsi-tls-")
    CERTS = Certs(Path(_tmp.name))


def tearDownModule():
    if _tmp is not None:
        _tmp.cleanup()


# --- TLS ends for the raw peers --------------------------------------------------------


def client_context(trust: bool = True, alpn=None, keylog: Optional[Path] = None) -> ssl.SSLContext:
    """A verifying client context: trusts the test CA (or, with trust=False,
    only the system's store, which does not know it)."""
    ctx = ssl.create_default_context(cafile=str(CERTS.ca)) if trust else ssl.create_default_context()
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if keylog:
        ctx.keylog_filename = str(keylog)
    return ctx


def server_context(cert: Optional[Path] = None, key: Optional[Path] = None, alpn=None, keylog=None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert or CERTS.cert), str(key or CERTS.key))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if keylog:
        ctx.keylog_filename = str(keylog)
    return ctx


def old_tls_context(ctx: Optional[ssl.SSLContext] = None) -> ssl.SSLContext:
    """`ctx` (a new client context without checks by default) limited to
    TLS 1.0 and 1.1, at the security level that still allows them."""
    if ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


def tls_connect(port: int, server_hostname: Optional[str] = "localhost", ctx=None, timeout: float = TIMEOUT) -> RawConn:
    """A TCP connection to 127.0.0.1:port past a verified TLS handshake."""
    raw = socket.create_connection((HOST, port), timeout=timeout)
    try:
        s = (ctx or client_context()).wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise
    return RawConn(s)


def tls_websocket(port: int, path: str = "/", ctx=None) -> "tuple[RawConn, object]":
    """A raw TLS client past a verified 101 (the upstream answers by itself)."""
    c = tls_connect(port, ctx=ctx)
    req, key = upgrade_request(f"{HOST}:{port}", path)
    c.send(req)
    head = c.recv_head()
    if head.status != 101 or head.get("sec-websocket-accept") != accept_for(key):
        c.close()
        raise AssertionError(f"bad handshake response {head.raw!r}")
    return c, head


def close_notify_then_close(*conns: RawConn) -> None:
    """Sends close_notify on each (concurrently: each waits for the peer's,
    which the proxy passes on), then closes the TCP connections."""
    for c in conns:
        c.sock.settimeout(TIMEOUT)
    raws = run_threads(*[c.sock.unwrap for c in conns], timeout=TIMEOUT)
    for r in raws:
        r.close()


def truncate(c: RawConn) -> None:
    """Ends the TCP stream under the TLS stream without close_notify
    (SSLSocket.shutdown drops the TLS state, then sends a FIN), then reads
    what the proxy sends until it closes: closing a socket with unread bytes
    would reset the connection instead."""
    c.sock.shutdown(socket.SHUT_WR)
    c.sock.settimeout(TIMEOUT)
    try:
        while c.sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    c.close()


def client_hello(server_hostname: str = "localhost") -> bytes:
    """The ClientHello a verifying Python client sends first."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context().wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


class TlsUpstream(RawUpstream):
    """A raw upstream on 127.0.0.1:0 that speaks TLS (the localhost leaf by
    default); records the server names the proxy sends."""

    def __init__(self, cert: Optional[Path] = None, key: Optional[Path] = None, alpn=None, keylog=None):
        super().__init__()
        self.ctx = server_context(cert, key, alpn, keylog)
        self.server_names: list = []
        self.ctx.sni_callback = lambda _obj, name, _ctx: self.server_names.append(name)

    def accept(self, timeout: float = TIMEOUT) -> RawConn:
        self.listener.settimeout(timeout)
        try:
            s, _ = self.listener.accept()
        except socket.timeout:
            raise TimeoutError("no connection reached the upstream")
        s.settimeout(timeout)
        try:
            tls = self.ctx.wrap_socket(s, server_side=True)
        except BaseException:
            s.close()
            raise
        tls.settimeout(None)
        c = RawConn(tls)
        self.accepted.append(c)
        return c

    def accept_failing(self, timeout: float = TIMEOUT) -> Exception:
        """Accepts one connection whose TLS handshake must fail; returns the error."""
        try:
            c = self.accept(timeout)
        except (ssl.SSLError, OSError) as e:
            if isinstance(e, TimeoutError):
                raise
            return e
        c.close()
        raise AssertionError("the TLS handshake with the upstream succeeded")


def fingerprint(der: bytes) -> str:
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def ts_seconds(ev: dict) -> float:
    return datetime.datetime.strptime(ev["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


# --- the test cases ------------------------------------------------------------------------


class TlsTestCase(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        if CERTS is None:
            self.skipTest("no openssl command to make the test certificates")

    def tls_proxy(self, upstream: str, *args) -> Proxy:
        """The proxy with the localhost leaf on its listener."""
        return self.proxy(upstream, "--tls-cert", CERTS.cert, "--tls-key", CERTS.key, *args)

    def proxy(self, upstream: str, *args) -> Proxy:
        p = Proxy(upstream, *args)
        self.addCleanup(p.stop)
        return p

    def listening(self, proxy: Proxy) -> dict:
        return proxy.find(is_event("listening"))[0]

    def one(self, proxy: Proxy, conn: int, kind: str, **fields) -> dict:
        """The only event `kind` of `conn` with these fields (the log is read
        after the connection's conn_close, which follows all its events)."""
        found = [e for e in proxy.of_conn(conn, kind) if all(e.get(k) == v for k, v in fields.items())]
        self.assertEqual(len(found), 1, f"wanted one {kind} {fields or ''} for conn {conn}\n" + proxy.describe())
        return found[0]

    def check_tls_error(self, proxy: Proxy, conn: int, leg: str, error: str, alert: Optional[str] = None) -> dict:
        ctx = "\n" + proxy.describe()
        ev = self.one(proxy, conn, "tls_error")
        self.assertEqual((ev.get("leg"), ev.get("error")), (leg, error), ctx)
        self.assertEqual(ev.get("level"), "warn", ctx)
        if alert is not None:
            self.assertEqual(ev.get("alert"), alert, ctx)
        for k in ("reason", "explanation"):
            self.assertIsInstance(ev.get(k), str, f"tls_error.{k}{ctx}")
        self.assertTrue(ev["explanation"], ctx)
        return ev

    def check_leg(self, tls: dict, leg: str, version=None, cipher=None, sni="", alpn="", cert=None, verification=None):
        """One leg of the handshake event's "tls": what the test's own end of
        that leg negotiated. cert: the certificate file the peer presented."""
        ctx = f"tls.{leg} = {json.dumps(tls)}"
        self.assertIsInstance(tls, dict, ctx)
        for k in ("version", "cipher", "sni", "alpn", "verification", "peer_certificate"):
            self.assertIn(k, tls, ctx)
        self.assertIn(tls["version"], ("TLSv1.2", "TLSv1.3"), ctx)
        if version:
            self.assertEqual(tls["version"], version, ctx)
        self.assertTrue(tls["cipher"], ctx)
        if cipher:
            self.assertEqual(tls["cipher"], cipher, ctx)
        self.assertEqual(tls["sni"] or "", sni, ctx)
        self.assertEqual(tls["alpn"] or "", alpn, ctx)
        if verification is not None:
            self.assertEqual(tls["verification"], verification, ctx)
        if cert is None:
            self.assertIsNone(tls["peer_certificate"], ctx)
        else:
            pc = tls["peer_certificate"]
            self.assertIsInstance(pc, dict, ctx)
            not_before, not_after = CERTS.dates(cert)
            cn = "localhost" if cert == CERTS.cert else "other.example"
            self.assertEqual(pc, {"subject": f"CN={cn}", "issuer": f"CN={CA_NAME}", "not_before": not_before, "not_after": not_after}, ctx)


# 1. The real peers over TLS on both legs ---------------------------------------------


class PeersOverTlsTest(TlsTestCase):
    """client -wss-> wsinspect (--tls-cert) -wss-> server (--upstream
    wss://localhost:PORT --upstream-ca): each peer runs the scripted steps of
    test_peers and observes exactly what it observes on a plain connection;
    the log has the closes explained, as test_peers checks them, and the TLS
    parameters of each leg."""

    def setUp(self):
        super().setUp()
        if not peers_available():
            self.skipTest("tests/peers/node_modules/ws missing: run scripts/setup-deps.sh")

    def session(self, client_kind: str, server_kind: str, deflate: str, close_mode: str) -> None:
        who, code = close_mode.split("-")
        code = int(code)
        server = PeerServer(server_kind, "--once", "--deflate", deflate, "--tls-cert", CERTS.cert, "--tls-key", CERTS.key)
        self.addCleanup(server.stop)
        proxy = self.tls_proxy(f"wss://localhost:{server.port}", "--upstream-ca", CERTS.ca)
        url = f"wss://{HOST}:{proxy.port}{scripted.PATH}"
        rc, client_obs = run_peer_client(client_kind, url, "--close", close_mode, "--deflate", deflate, "--ca", CERTS.ca)
        ctx = f"\nclient: {client_obs}\n{server.describe()}\n{proxy.describe()}"
        self.assertEqual(rc, 0, ctx)
        self.assertEqual(finish_peer(server), 0, ctx)
        server_obs = server.observations()

        # What the peers saw: the steps as on a plain connection, compressed or not.
        self.assertEqual(scripted.without_extensions(client_obs), scripted.expected_client(code, scripted.REASONS[code]), ctx)
        self.assertEqual(
            scripted.without_extensions(server_obs), scripted.expected_server(code, scripted.REASONS[code], who == "server"), ctx
        )
        for obs in (client_obs, server_obs):
            exts = obs[0].get("extensions") or ""
            if deflate == "on":
                self.assertIn("permessage-deflate", exts, ctx)
            else:
                self.assertNotIn("permessage-deflate", exts, ctx)

        # The closes explained, the frame counts, no violation: as in plain TCP.
        scripted.ProxiedPeersTest.check_log(self, proxy, close_mode, client_kind, server_kind)

        conn = proxy.find(is_event("conn_open"))[0]["conn"]
        ctx = "\n" + proxy.describe()
        hs = self.one(proxy, conn, "handshake")
        self.assertEqual(hs.get("host"), f"{HOST}:{proxy.port}", ctx)  # as the client sent it
        self.assertEqual(hs.get("forwarded_host"), f"localhost:{server.port}", ctx)
        self.assertEqual("permessage-deflate" in (hs.get("extensions") or ""), deflate == "on", ctx)
        tls = hs.get("tls")
        self.assertIsInstance(tls, dict, "no tls in the handshake event" + ctx)
        self.assertEqual(sorted(tls), ["client", "server"], ctx)
        # The clients connect to an address: no SNI; neither offers ALPN. The
        # proxy offers http/1.1, which Node's https server takes.
        self.check_leg(tls["client"], "client", version="TLSv1.3", sni="", alpn="", cert=None)
        alpn = "http/1.1" if server_kind == "node" else ""
        self.check_leg(tls["server"], "server", version="TLSv1.3", sni="localhost", alpn=alpn, cert=CERTS.cert, verification="ok")

        # The close handshake completed, so however each TLS stream ended, it
        # is not a truncation.
        ends = proxy.of_conn(conn, "tls_end")
        self.assertTrue(ends, "no tls_end event" + ctx)
        for e in ends:
            self.assertIn(e.get("leg"), ("client", "upstream"), ctx)
            self.assertIs(e.get("problem"), False, ctx)
            self.assertIsInstance(e.get("close_notify"), bool, ctx)
            self.assertTrue(e.get("detail"), ctx)


def _peers_test(client_kind, server_kind, deflate):
    close_mode = "client-1000" if deflate == "on" else "server-1002"

    def test(self):
        self.session(client_kind, server_kind, deflate, close_mode)

    test.__doc__ = f"{client_kind} client, {server_kind} server, permessage-deflate {deflate}, {close_mode}"
    return test


for _c in scripted.KINDS:
    for _s in scripted.KINDS:
        for _d in ("on", "off"):
            setattr(PeersOverTlsTest, f"test_{_c}_to_{_s}_deflate_{_d}", _peers_test(_c, _s, _d))


# 2. Byte exactness inside TLS ----------------------------------------------------------


class TlsByteExactnessTest(TlsTestCase):
    """A raw TLS client and a raw TLS upstream write hand-made bytes in odd
    pieces (one TLS record each); each side receives exactly what the other
    sent, except the Host line of the first request head, which names the
    upstream URL's authority (--keep-host keeps it)."""

    def test_bytes_cross_unchanged_both_ways(self):
        rng = random.Random(6455)
        up = TlsUpstream(alpn=["http/1.1"])
        self.addCleanup(up.close)
        proxy = self.tls_proxy(f"wss://localhost:{up.port}", "--upstream-ca", CERTS.ca)
        authority = f"localhost:{up.port}"
        self.assertEqual(self.listening(proxy).get("host_rewrite"), authority, proxy.describe())

        c = tls_connect(proxy.port, ctx=client_context(alpn=["http/1.1"]))
        self.addCleanup(c.close)
        # "Host-Extra" is not a Host field; the rewrite leaves it alone.
        req, key = upgrade_request(
            f"{HOST}:{proxy.port}", "/exact?q=1", extensions="permessage-deflate", extra="Host-Extra: keep\r\nX-Trace: tls\r\n"
        )
        c.send(req, "random", rng)
        s = up.accept()
        got_head = s.recv_head()
        s.send(response_101(key), "random", rng)
        resp = c.recv_head()
        self.assertEqual((resp.status, resp.get("sec-websocket-accept")), (101, accept_for(key)))

        client_frames = b"".join(
            [
                build_frame(OP_TEXT, "hello \u2603", mask=True),
                build_frame(OP_BINARY, rng.randbytes(70000), mask=True),
                build_frame(OP_TEXT, "frag", fin=False, mask=True),
                build_frame(OP_PING, b"in between", mask=True),
                build_frame(OP_CONT, "men", fin=False, mask=True),
                build_frame(OP_CONT, "ted", mask=True),
                build_frame(OP_BINARY, b"", mask=True),
                build_frame(OP_PONG, b"unsolicited", mask=True),
            ]
        )
        c.send(client_frames, "random", rng)
        got_frames = s.recv_exact(len(client_frames))
        server_frames = b"".join(
            [
                build_frame(OP_TEXT, "welcome"),
                build_frame(OP_BINARY, rng.randbytes(300)),
                build_frame(OP_PING, b"srv"),
                build_frame(OP_TEXT, "one", fin=False),
                build_frame(OP_CONT, "two"),
            ]
        )
        s.send(server_frames, "random", rng)
        got_server_frames = c.recv_exact(len(server_frames))
        client_close = build_frame(OP_CLOSE, close_payload(1000, "done"), mask=True)
        c.send(client_close, "bytewise")
        got_close = s.recv_exact(len(client_close))
        server_close = build_frame(OP_CLOSE, close_payload(1000, "done"))
        s.send(server_close, "bytewise")
        got_server_close = c.recv_exact(len(server_close))
        # What each end negotiated, before close_notify takes the TLS state away.
        seen = {
            "client": (c.sock.version(), c.sock.cipher()[0], c.sock.selected_alpn_protocol()),
            "server": (s.sock.version(), s.sock.cipher()[0], s.sock.selected_alpn_protocol()),
        }
        close_notify_then_close(c, s)

        # client -> server: the head but for its Host line, then every byte.
        sent, received = bytes(c.sent), got_head.raw + got_frames + got_close
        self.assertEqual(received[len(got_head.raw) :], sent[len(req) :])
        sent_lines, got_lines = req.split(b"\r\n"), got_head.raw.split(b"\r\n")
        self.assertEqual([i for i, line in enumerate(sent_lines) if line.lower().startswith(b"host:")], [1])
        self.assertEqual(sent_lines[1], f"Host: {HOST}:{proxy.port}".encode())
        self.assertEqual(got_lines[1], f"Host: {authority}".encode())
        self.assertEqual(got_lines[:1] + got_lines[2:], sent_lines[:1] + sent_lines[2:])
        # server -> client: every byte.
        self.assertEqual(resp.raw + got_server_frames + got_server_close, bytes(s.sent))
        self.assertEqual(bytes(c.buf) + bytes(s.buf), b"")
        self.assertEqual(up.server_names, ["localhost"])
        self.assertEqual([v[2] for v in seen.values()], ["http/1.1", "http/1.1"])

        conn = proxy.find(is_event("conn_open"))[0]["conn"]
        done = proxy.wait_conn_close(conn)
        ctx = "\n" + proxy.describe()
        self.assertEqual(proxy.violations(conn), [], ctx)
        self.assertEqual(done.get("ended_by"), "close_handshake", ctx)
        # The client's bytes as it sent them, the server's as it sent them.
        self.assertEqual((done[C2S].get("bytes"), done[S2C].get("bytes")), (len(sent), len(s.sent)), ctx)
        self.assertEqual((done[C2S].get("frames"), done[S2C].get("frames")), (9, 6), ctx)
        hs = self.one(proxy, conn, "handshake")
        self.assertEqual((hs.get("path"), hs.get("status"), hs.get("upgraded")), ("/exact", 101, True), ctx)
        self.assertEqual(hs.get("host"), f"{HOST}:{proxy.port}", ctx)
        self.assertEqual(hs.get("forwarded_host"), authority, ctx)
        tls = hs.get("tls") or {}
        version, cipher, _ = seen["client"]
        self.check_leg(tls.get("client"), "client", version=version, cipher=cipher, sni="localhost", alpn="http/1.1")
        version, cipher, _ = seen["server"]
        self.check_leg(
            tls.get("server"), "server", version=version, cipher=cipher, sni="localhost", alpn="http/1.1",
            cert=CERTS.cert, verification="ok",
        )  # fmt: skip
        ends = {e.get("leg"): e for e in proxy.of_conn(conn, "tls_end")}
        self.assertEqual(sorted(ends), ["client", "upstream"], ctx)
        for e in ends.values():
            self.assertEqual((e.get("close_notify"), e.get("problem")), (True, False), ctx)


# 3. A corrupted frame over TLS ------------------------------------------------------------


class CorruptionOverTlsTest(TlsTestCase):
    """A raw TLS end writes a frame that breaks a rule to a real peer over
    TLS; the peer closes with 1002, and the proxy flags the frame (offset,
    rule) and links the peer's close to it."""

    def setUp(self):
        super().setUp()
        if not peers_available():
            self.skipTest("tests/peers/node_modules/ws missing: run scripts/setup-deps.sh")

    def check_caused_by(self, proxy: Proxy, conn: int, rule: str, bad_dir: str) -> None:
        proxy.wait_conn_close(conn)
        ctx = "\n" + proxy.describe()
        self.assertIn((rule, 0, 0, bad_dir), proxy.violations(conn), ctx)
        close_dir = C2S if bad_dir == S2C else S2C
        closes = [e for e in proxy.of_conn(conn, "close") if e.get("dir") == close_dir and not e.get("synthesized")]
        self.assertEqual(len(closes), 1, ctx)
        ev = closes[0]
        self.assertEqual((ev.get("code"), ev.get("in_reply")), (1002, False), ctx)
        self.assertTrue(ev.get("explanation", {}).get("description"), ctx)
        cb = ev.get("caused_by")
        self.assertIsInstance(cb, dict, "no caused_by on the peer's close" + ctx)
        self.assertEqual((cb.get("rule"), cb.get("dir"), cb.get("offset"), cb.get("frame_index")), (rule, bad_dir, 0, 0), ctx)
        self.assertGreaterEqual(cb.get("ms_before"), 0, ctx)

    def server_reaction(self, kind: str) -> None:
        """RSV2 set in a client frame, to a real TLS server."""
        server = PeerServer(kind, "--once", "--deflate", "off", "--tls-cert", CERTS.cert, "--tls-key", CERTS.key)
        self.addCleanup(server.stop)
        proxy = self.tls_proxy(f"wss://localhost:{server.port}", "--upstream-ca", CERTS.ca)
        c, _ = tls_websocket(proxy.port)
        self.addCleanup(c.close)
        conn = proxy.conn_of(c.sock)
        c.send(build_frame(OP_TEXT, b"Hello", rsv=RSV2, mask=os.urandom(4)))
        frame = c.recv_close_frame()
        self.assertEqual((frame.close_code, frame.masked), (1002, False), f"{kind} server")
        c.close()
        finish_peer(server)
        self.check_caused_by(proxy, conn, "reserved-bits-set", C2S)

    def client_reaction(self, kind: str) -> None:
        """A masked server frame, to a real TLS client."""
        up = TlsUpstream()
        self.addCleanup(up.close)
        proxy = self.tls_proxy(f"wss://localhost:{up.port}", "--upstream-ca", CERTS.ca)
        client = start_peer_client(kind, f"wss://{HOST}:{proxy.port}/", "--steps", "none", "--deflate", "off", "--ca", CERTS.ca)
        self.addCleanup(client.stop)
        s, _ = up.accept_websocket()
        s.send(build_frame(OP_TEXT, b"Hello", mask=os.urandom(4)))
        frame = s.recv_close_frame()
        self.assertEqual((frame.close_code, frame.masked), (1002, True), f"{kind} client")
        s.close()
        self.assertEqual(finish_peer(client), 0, client.describe())
        conn = proxy.find(is_event("conn_open"))[0]["conn"]
        self.check_caused_by(proxy, conn, "masked-server-frame", S2C)

    def test_py_server_rsv2(self):
        self.server_reaction("py")

    def test_node_server_rsv2(self):
        self.server_reaction("node")

    def test_py_client_masked_server_frame(self):
        self.client_reaction("py")

    def test_node_client_masked_server_frame(self):
        self.client_reaction("node")


# 4. --tls-self-signed ------------------------------------------------------------------------


class SelfSignedTest(TlsTestCase):
    def test_listening_shows_the_certificate_presented(self):
        proxy = self.proxy("builtin:echo", "--tls-self-signed")
        ev = self.listening(proxy)
        ctx = "\n" + proxy.describe()
        self.assertTrue(ev.get("url", "").startswith("wss://"), ctx)
        # Fetching the certificate to pin it is the one read that cannot check it.
        pem = ssl.get_server_certificate((HOST, proxy.port), timeout=TIMEOUT)
        tls = ev.get("tls")
        self.assertIsInstance(tls, dict, "no tls in the listening event" + ctx)
        self.assertEqual(tls.get("fingerprint_sha256"), fingerprint(ssl.PEM_cert_to_DER_cert(pem)), ctx)
        self.assertEqual(tls.get("names"), ["localhost", "127.0.0.1", "::1"], ctx)
        self.assertIs(tls.get("self_signed"), True, ctx)

        # Trusted as pinned, it carries a verified session.
        pinned = CERTS.root / f"self-signed-{proxy.port}.pem"
        pinned.write_text(pem)
        rc, obs = run_peer_client("py", f"wss://{HOST}:{proxy.port}/echo", "--ca", pinned, "--close", "client-1000")
        self.assertEqual(rc, 0, obs)
        self.assertEqual(obs[-1], {"event": "close", "code": 1000, "reason": "bye now"}, obs)
        self.assertIn({"event": "pong", "data": "cli-ping"}, obs)


# 5. --tls-keylog ------------------------------------------------------------------------------


def keylog_lines(path: Path) -> "dict[str, set]":
    """NSS key log lines by client random (comments skipped)."""
    out: dict = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            out.setdefault(parts[1].lower(), set()).add(line)
    return out


class KeyLogTest(TlsTestCase):
    def test_both_legs_secrets(self):
        keylog = CERTS.root / f"keylog-{os.getpid()}-{time.monotonic_ns()}.txt"
        client_keys, upstream_keys = keylog.with_suffix(".client"), keylog.with_suffix(".upstream")
        up = TlsUpstream(keylog=upstream_keys)
        self.addCleanup(up.close)
        proxy = self.tls_proxy(f"wss://localhost:{up.port}", "--upstream-ca", CERTS.ca, "--tls-keylog", keylog)
        self.assertTrue(keylog.exists(), "the key log is not created at start")
        self.assertEqual(stat.S_IMODE(os.stat(keylog).st_mode), 0o600)

        c = tls_connect(proxy.port, ctx=client_context(keylog=client_keys))
        self.addCleanup(c.close)
        req, key = upgrade_request(f"{HOST}:{proxy.port}", "/")
        c.send(req)
        s, _ = up.accept_websocket()
        self.assertEqual(c.recv_head().status, 101)
        c.send(build_frame(OP_TEXT, b"secret", mask=True))
        self.assertEqual(s.recv_frame().payload, b"secret")
        conn = proxy.conn_of(c.sock)
        c.close()
        s.close()
        proxy.wait_conn_close(conn)

        # Both legs' secrets, the same lines the test's own ends logged.
        ours = keylog_lines(keylog)
        client_leg, upstream_leg = keylog_lines(client_keys), keylog_lines(upstream_keys)
        self.assertEqual(len(client_leg), 1, client_leg)
        self.assertEqual(len(upstream_leg), 1, upstream_leg)
        self.assertEqual(ours, {**client_leg, **upstream_leg})
        labels = {line.split()[0] for lines in ours.values() for line in lines}
        self.assertTrue(labels & {"CLIENT_RANDOM", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"}, labels)
        for lines in ours.values():
            self.assertTrue(any(l.startswith(("CLIENT_RANDOM ", "CLIENT_TRAFFIC_SECRET_0 ")) for l in lines), lines)
        self.assertEqual(stat.S_IMODE(os.stat(keylog).st_mode), 0o600)


# 6. Failures ---------------------------------------------------------------------------------


class ClientTlsFailureTest(TlsTestCase):
    """TLS failures on the client's leg, each provoked by a real client."""

    def rejected(self, proxy: Proxy, conn: int, alert: str) -> None:
        done = proxy.wait_conn_close(conn)
        self.assertEqual(done.get("ended_by"), "tls_handshake_failed", proxy.describe())
        self.assertEqual(proxy.of_conn(conn, "handshake"), [])
        self.check_tls_error(proxy, conn, "client", "client-rejected-certificate", alert)

    def peer_rejects(self, kind: str) -> None:
        if kind == "node" and not peers_available():
            self.skipTest("tests/peers/node_modules/ws missing: run scripts/setup-deps.sh")
        proxy = self.tls_proxy("builtin:echo")
        # No --ca: the client checks against the system's store, which lacks the test CA.
        rc, obs = run_peer_client(kind, f"wss://{HOST}:{proxy.port}/", "--steps", "none")
        self.assertEqual(rc, 0, obs)
        self.assertEqual([e["event"] for e in obs], ["error", "close"], obs)
        self.assertEqual(obs[1]["code"], 1006, obs)
        # Neither sends an alert: Node checks the certificate after OpenSSL's
        # handshake and hangs up; asyncio drops the alert OpenSSL made when
        # it closes the transport.
        self.rejected(proxy, proxy.find(is_event("conn_open"))[0]["conn"], "")

    def test_python_client_does_not_trust_the_certificate(self):
        """Python's ssl on a socket: OpenSSL sends the unknown_ca alert."""
        proxy = self.tls_proxy("builtin:echo")
        raw = socket.create_connection((HOST, proxy.port), timeout=TIMEOUT)
        self.addCleanup(raw.close)
        conn = proxy.conn_of(raw)
        with self.assertRaises(ssl.SSLCertVerificationError) as err:
            client_context(trust=False).wrap_socket(raw, server_hostname="localhost")
        self.assertEqual(err.exception.verify_code, 20)  # unable to get local issuer certificate
        self.rejected(proxy, conn, "unknown_ca (48) from the client")

    def test_websockets_client_does_not_trust_the_certificate(self):
        self.peer_rejects("py")

    def test_node_client_does_not_trust_the_certificate(self):
        self.peer_rejects("node")

    def test_client_offers_only_tls_1_1(self):
        """The listener accepts TLS 1.2 and 1.3; a TLS 1.1 client gets the
        protocol_version alert, and the log names the mismatch."""
        proxy = self.tls_proxy("builtin:echo")
        raw = socket.create_connection((HOST, proxy.port), timeout=TIMEOUT)
        self.addCleanup(raw.close)
        conn = proxy.conn_of(raw)
        with self.assertRaises(ssl.SSLError) as err:
            old_tls_context().wrap_socket(raw, server_hostname="localhost")
        self.assertIn("PROTOCOL_VERSION", str(err.exception).upper())
        done = proxy.wait_conn_close(conn)
        self.assertEqual(done.get("ended_by"), "tls_handshake_failed", proxy.describe())
        ev = self.check_tls_error(proxy, conn, "client", "tls-version-mismatch", "")
        self.assertIn("TLS 1.2", ev["explanation"])

    def test_renegotiation_is_refused(self):
        """A TLS 1.2 client (openssl s_client, whose `R` command renegotiates)
        asks to renegotiate inside a WebSocket: refused with no_renegotiation,
        and the log says so."""
        openssl = shutil.which("openssl")
        if not openssl:
            self.skipTest("no openssl command")
        proxy = self.tls_proxy("builtin:echo")
        p = subprocess.Popen(
            [openssl, "s_client", "-connect", f"{HOST}:{proxy.port}", "-tls1_2", "-servername", "localhost"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(p.kill)
        req, _ = upgrade_request(f"{HOST}:{proxy.port}", "/renegotiate")
        p.stdin.write(req)
        p.stdin.flush()
        hs = proxy.wait_for(is_event("handshake"), what="the WebSocket handshake over TLS 1.2")
        self.assertEqual(hs["tls"]["client"]["version"], "TLSv1.2", hs)
        p.stdin.write(b"R\n")
        p.stdin.flush()
        out, _ = p.communicate(timeout=TIMEOUT)
        self.assertIn(b"RENEGOTIATING", out)
        self.assertIn(b"no renegotiation", out.lower())
        done = proxy.wait_conn_close(hs["conn"])
        self.assertNotEqual(done.get("ended_by"), "close_handshake", proxy.describe())
        ev = self.check_tls_error(proxy, hs["conn"], "client", "tls-renegotiation-refused")
        self.assertIn("renegotiat", ev["explanation"])

    def test_plain_http_to_the_tls_listener(self):
        proxy = self.tls_proxy("builtin:echo")
        c = RawClient.connect(HOST, proxy.port)
        self.addCleanup(c.close)
        c.send(b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\r\n")
        resp = c.recv_http_response()
        head = parse_head(resp[: resp.index(b"\r\n\r\n") + 4])
        self.assertEqual(head.status, 400, resp)
        self.assertIn(b"wss://", resp)
        self.assertEqual(c.recv_until_eof(), b"")
        conn = proxy.conn_of(c.sock)
        done = proxy.wait_conn_close(conn)
        self.assertEqual(done.get("ended_by"), "tls_handshake_failed", proxy.describe())
        self.check_tls_error(proxy, conn, "client", "plain-http-to-tls-listener", "")

    def test_handshake_timeout(self):
        proxy = self.tls_proxy("builtin:echo", "--tls-handshake-timeout", "500ms")
        hello = client_hello()
        c = RawClient.connect(HOST, proxy.port)
        self.addCleanup(c.close)
        started = time.monotonic()
        c.send(hello[: len(hello) // 2])
        self.assertEqual(c.recv_until_eof(), b"")
        waited = time.monotonic() - started
        self.assertGreaterEqual(waited, 0.45)
        self.assertLess(waited, 5.0)
        conn = proxy.conn_of(c.sock)
        proxy.wait_conn_close(conn)
        err = self.check_tls_error(proxy, conn, "client", "client-tls-handshake-timeout", "")
        opened = self.one(proxy, conn, "conn_open")
        self.assertGreaterEqual(ts_seconds(err) - ts_seconds(opened), 0.45, proxy.describe())

    def test_client_hello_to_a_plain_listener(self):
        """wss:// to a plain listener: the request stream begins with a TLS
        record. The log says where HTTP broke, and that it is TLS."""
        up = RawUpstream()
        self.addCleanup(up.close)
        proxy = self.proxy(up.address)
        hello = client_hello()
        c = RawClient.connect(HOST, proxy.port)
        self.addCleanup(c.close)
        c.send(hello)
        s = up.accept()
        self.assertEqual(s.recv_exact(len(hello)), hello)  # relayed unchanged
        conn = proxy.conn_of(c.sock)
        s.close()
        self.assertEqual(c.recv_until_eof(), b"")
        c.close()
        proxy.wait_conn_close(conn)
        ctx = "\n" + proxy.describe()
        err = self.one(proxy, conn, "http_error")
        self.assertEqual((err.get("dir"), err.get("offset"), err.get("error")), (C2S, 0, "HPE_INVALID_METHOD"), ctx)
        self.assertEqual(proxy.of_conn(conn, "tls_error"), [], ctx)
        # The hint: the bytes are named as TLS, with the options that make
        # the listener speak it.
        hints = [t for t in _strings(err) if "TLS" in t]
        self.assertTrue(hints, "no hint that the client speaks TLS to a plain listener" + ctx)
        self.assertTrue(any("--tls-cert" in t and "--tls-self-signed" in t for t in hints), ctx)


def _strings(v):
    """Every string inside a JSON value."""
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from _strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from _strings(x)


class UpstreamTlsFailureTest(TlsTestCase):
    """TLS failures towards the upstream: a tls_error for the upstream's leg,
    an upstream_error at stage "tls" and a 502 to the client."""

    def failed_upgrade(self, proxy: Proxy, error: str, provoke) -> dict:
        """A TLS client asks for an upgrade; `provoke()` makes the upstream's
        handshake fail. Returns the tls_error event."""
        c = tls_connect(proxy.port)
        self.addCleanup(c.close)
        req, _ = upgrade_request(f"{HOST}:{proxy.port}", "/")
        c.send(req)
        provoke()
        resp = c.recv_http_response()
        self.assertEqual(parse_head(resp).status, 502, resp)
        self.assertIn(error.encode(), resp)
        self.assertEqual(c.recv_until_eof(), b"")
        conn = proxy.conn_of(c.sock)
        done = proxy.wait_conn_close(conn)
        ctx = "\n" + proxy.describe()
        self.assertEqual(done.get("ended_by"), "upstream_unreachable", ctx)
        ue = self.one(proxy, conn, "upstream_error")
        self.assertEqual((ue.get("stage"), ue.get("error"), ue.get("status")), ("tls", error, 502), ctx)
        return self.check_tls_error(proxy, conn, "upstream", error)

    def test_untrusted_upstream(self):
        up = TlsUpstream()
        self.addCleanup(up.close)
        proxy = self.tls_proxy(f"wss://localhost:{up.port}")  # the system's store only
        seen = []
        ev = self.failed_upgrade(proxy, "upstream-verification-failed", lambda: seen.append(up.accept_failing()))
        self.assertIsInstance(seen[0], ssl.SSLError, seen)
        self.assertIn("unknown ca", str(seen[0]).lower())  # the alert the proxy sent
        self.assertIn("issuer", ev.get("reason", ""), ev)

    def test_upstream_certificate_for_another_name(self):
        up = TlsUpstream(CERTS.other_cert, CERTS.other_key)
        self.addCleanup(up.close)
        proxy = self.tls_proxy(f"wss://localhost:{up.port}", "--upstream-ca", CERTS.ca)
        seen = []
        self.failed_upgrade(proxy, "upstream-hostname-mismatch", lambda: seen.append(up.accept_failing()))
        self.assertIsInstance(seen[0], ssl.SSLError, seen)
        self.assertEqual(up.server_names, ["localhost"])

    def test_upstream_speaks_only_tls_1_1(self):
        up = TlsUpstream()
        self.addCleanup(up.close)
        old_tls_context(up.ctx)
        proxy = self.tls_proxy(f"wss://localhost:{up.port}", "--upstream-ca", CERTS.ca)
        seen = []
        self.failed_upgrade(proxy, "tls-version-mismatch", lambda: seen.append(up.accept_failing()))
        self.assertIsInstance(seen[0], ssl.SSLError, seen)
        self.assertIn("unsupported protocol", str(seen[0]).lower())  # it sent protocol_version

    def test_plain_server_given_as_wss(self):
        if not peers_available():
            self.skipTest("tests/peers/node_modules/ws missing: run scripts/setup-deps.sh")
        server = PeerServer("node")  # ws://, answers the ClientHello with an HTTP 400
        self.addCleanup(server.stop)
        proxy = self.tls_proxy(f"wss://localhost:{server.port}", "--upstream-ca", CERTS.ca)
        self.failed_upgrade(proxy, "upstream-not-tls", lambda: None)
        self.assertEqual(server.observations(), [])

    def test_upstream_insecure_accepts_the_untrusted_upstream(self):
        up = TlsUpstream()
        self.addCleanup(up.close)
        proxy = self.tls_proxy(f"wss://localhost:{up.port}", "--upstream-insecure")
        ctx = "\n" + proxy.describe()
        self.assertIs(self.listening(proxy).get("upstream_insecure"), True, ctx)
        c = tls_connect(proxy.port)
        self.addCleanup(c.close)
        req, _ = upgrade_request(f"{HOST}:{proxy.port}", "/")
        c.send(req)
        s, _ = up.accept_websocket()
        self.assertEqual(c.recv_head().status, 101)
        c.send(build_frame(OP_TEXT, b"through", mask=True))
        self.assertEqual(s.recv_frame().payload, b"through")
        conn = proxy.conn_of(c.sock)
        c.close()
        s.close()
        proxy.wait_conn_close(conn)
        ctx = "\n" + proxy.describe()
        self.assertEqual(proxy.of_conn(conn, "tls_error") + proxy.of_conn(conn, "upstream_error"), [], ctx)
        server_leg = (self.one(proxy, conn, "handshake").get("tls") or {}).get("server")
        self.check_leg(server_leg, "server", sni="localhost", alpn="", cert=CERTS.cert)
        self.assertTrue(server_leg["verification"].startswith("not checked"), ctx)


# 7. TLS truncation ----------------------------------------------------------------------------


class TruncationTest(TlsTestCase):
    """A TCP end without close_notify: a truncation while the WebSocket is
    open, harmless once the close handshake is done."""

    def tls_end_after(self, close_first: bool) -> dict:
        proxy = self.tls_proxy("builtin:echo")
        c, _ = tls_websocket(proxy.port)
        self.addCleanup(c.close)
        conn = proxy.conn_of(c.sock)
        c.send(build_frame(OP_TEXT, b"echo me", mask=True))
        self.assertEqual(c.recv_frame().payload, b"echo me")
        if close_first:
            c.send(build_frame(OP_CLOSE, close_payload(1000, "done"), mask=True))
            self.assertEqual(c.recv_close_frame().close_code, 1000)
        truncate(c)
        done = proxy.wait_conn_close(conn)
        ctx = "\n" + proxy.describe()
        if close_first:
            self.assertEqual(done.get("ended_by"), "close_handshake", ctx)
        ev = self.one(proxy, conn, "tls_end", leg="client")
        self.assertIs(ev.get("close_notify"), False, ctx)
        self.assertTrue(ev.get("detail"), ctx)
        return ev

    def test_truncated_before_the_close_handshake(self):
        ev = self.tls_end_after(close_first=False)
        self.assertIs(ev.get("problem"), True, ev)
        self.assertEqual(ev.get("level"), "warn", ev)

    def test_no_close_notify_after_the_close_handshake(self):
        ev = self.tls_end_after(close_first=True)
        self.assertIs(ev.get("problem"), False, ev)


if __name__ == "__main__":
    unittest.main()
