"""TLS records cut anywhere: a client whose TLS runs over memory BIOs sends
its records to wsinspect's TLS listener in pieces (one byte at a time, and at
random cuts), and the WebSocket bytes inside must reach the plain upstream
exactly, inspected the same way as unsplit records; the reverse direction
too. A record that does not decrypt ends that leg like a reset and leaves the
proxy serving other clients.
"""

import hashlib
import random
import socket
import ssl
import time
import unittest

from harness import (
    HOST,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    TIMEOUT,
    Proxy,
    RawUpstream,
    build_frame,
    check_budget,
    close_payload,
    is_event,
    parse_frames,
    require_proxy,
    upgrade_request,
)

KEY = b"\x11\x22\x33\x44"


class TlsClient:
    """TLS over a socket through ssl.MemoryBIO, so the test decides how the
    records are cut on the wire."""

    def __init__(self, port: int, cut):
        self.sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # The self-signed certificate is checked by its fingerprint below.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.cut = cut
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                self._fill()
        self.flush()

    def flush(self) -> None:
        data = self.outgoing.read()
        for piece in self.cut(data):
            self.sock.sendall(piece)
            if len(piece) < 8:
                time.sleep(0.0005)  # let small pieces arrive as separate reads

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            self.incoming.write_eof()
            return False
        self.incoming.write(chunk)
        return True

    def send(self, plain: bytes) -> None:
        self.tls.write(plain)
        self.flush()

    def recv_exact(self, n: int, timeout: float = TIMEOUT) -> bytes:
        out = b""
        deadline = time.monotonic() + timeout
        while len(out) < n:
            try:
                out += self.tls.read(n - len(out))
                continue
            except ssl.SSLWantReadError:
                pass
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            if time.monotonic() > deadline or not self._fill():
                raise AssertionError(f"got {len(out)} of {n} bytes: {out[:80]!r}")
        return out

    def recv_head(self) -> bytes:
        out = b""
        while not out.endswith(b"\r\n\r\n"):
            out += self.recv_exact(1)
        return out

    def fingerprint(self) -> str:
        der = self.tls.getpeercert(binary_form=True)
        digest = hashlib.sha256(der).hexdigest().upper()
        return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))

    def close(self) -> None:
        self.sock.close()


def bytewise(data: bytes) -> list:
    return [data[i:i + 1] for i in range(len(data))]


def random_cuts(seed: int):
    rng = random.Random(seed)

    def cut(data: bytes) -> list:
        out, at = [], 0
        while at < len(data):
            n = rng.choice((1, 2, 3, 5, 7, 13, 31, 64, 200, 1000))
            out.append(data[at:at + n])
            at += n
        return out

    return cut


def client_frames() -> bytes:
    return (build_frame(OP_TEXT, "h\u00e9llo".encode(), mask=KEY)
            + build_frame(OP_BINARY, bytes(range(256)) * 8, fin=False, mask=KEY)
            + build_frame(0, b"\x00" * 3000, mask=KEY)
            + build_frame(OP_PING, b"p", mask=KEY))


def server_frames() -> bytes:
    return (build_frame(OP_TEXT, b"back " * 400)
            + build_frame(OP_BINARY, bytes(range(200)))
            + build_frame(OP_CLOSE, close_payload(1000, b"done")))


class TlsRecordsCutAnywhere(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        check_budget(self)
        self.upstream = RawUpstream()
        self.proxy = Proxy(self.upstream.address, "--tls-self-signed")

    def tearDown(self):
        self.proxy.stop()
        self.upstream.close()

    def exchange(self, cut) -> None:
        client = TlsClient(self.proxy.port, cut)
        try:
            listening = self.proxy.find(is_event("listening"))[0]
            self.assertEqual(client.fingerprint(), listening["tls"]["fingerprint_sha256"])
            request, _ = upgrade_request(f"{HOST}:{self.proxy.port}", "/cut")
            client.send(request)
            up, head = self.upstream.accept_websocket()
            self.assertEqual(head.raw, request)  # HOST:PORT upstream: Host untouched
            self.assertTrue(client.recv_head().startswith(b"HTTP/1.1 101 "))
            frames = client_frames()
            client.send(frames)
            self.assertEqual(up.recv_exact(len(frames)), frames)
            # And back: the proxy re-encrypts; the client reads the same bytes.
            back = server_frames()
            up.sock.sendall(back)
            self.assertEqual(client.recv_exact(len(back)), back)
        except AssertionError:
            client.close()
            raise
        self.client, self.up = client, up

    def check_log(self) -> None:
        conn = self.proxy.conn_of(self.client.sock)
        self.client.send(build_frame(OP_CLOSE, close_payload(1000), mask=KEY))
        self.up.recv_exact(len(build_frame(OP_CLOSE, close_payload(1000), mask=KEY)))
        self.client.close()
        self.up.close()
        closed = self.proxy.wait_conn_close(conn)
        self.assertEqual(closed["ended_by"], "close_handshake")
        self.assertEqual(self.proxy.violations(conn), [])
        c2s = closed["client_to_server"]
        self.assertEqual(c2s["frames"], 5)  # text, two fragments, ping, close
        self.assertEqual(c2s["messages"], 2)
        hs = self.proxy.of_conn(conn, "handshake")[0]
        self.assertEqual(hs["tls"]["client"]["version"], "TLSv1.3")
        self.assertNotIn("server", hs["tls"])

    def test_one_byte_at_a_time(self):
        self.exchange(bytewise)
        self.check_log()

    def test_random_cuts(self):
        for seed in (1, 2, 3):
            with self.subTest(seed=seed):
                self.exchange(random_cuts(seed))
                self.check_log()

    def test_a_record_that_does_not_decrypt(self):
        client = TlsClient(self.proxy.port, lambda d: [d])
        conn = self.proxy.conn_of(client.sock)
        request, _ = upgrade_request(f"{HOST}:{self.proxy.port}", "/bad")
        client.send(request)
        up, _ = self.upstream.accept_websocket()
        client.tls.write(build_frame(OP_TEXT, b"x" * 100, mask=KEY))
        record = bytearray(client.outgoing.read())
        record[-5] ^= 0x40  # inside the authentication tag
        client.sock.sendall(bytes(record))
        closed = self.proxy.wait_conn_close(conn)
        self.assertEqual(closed["ended_by"], "client_reset")
        # The log says why: the record did not decrypt, a change inside TLS.
        errors = self.proxy.of_conn(conn, "tls_error")
        self.assertEqual([(e["leg"], e["error"]) for e in errors], [("client", "tls-record-corrupted")], self.proxy.describe())
        self.assertIn("did not decrypt", errors[0]["explanation"])
        up.sock.settimeout(TIMEOUT)
        try:
            self.assertEqual(up.sock.recv(100), b"")
        except ConnectionResetError:
            pass  # passed on as a reset
        client.close()
        up.close()
        # Still serving.
        again = TlsClient(self.proxy.port, lambda d: [d])
        again.send(upgrade_request(f"{HOST}:{self.proxy.port}", "/again")[0])
        up2, head = self.upstream.accept_websocket()
        self.assertTrue(head.raw.startswith(b"GET /again "))
        again.close()
        up2.close()


if __name__ == "__main__":
    unittest.main()
