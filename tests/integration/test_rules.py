"""Every frame vector through the proxy: the violations it logs and the bytes
the receiving peer gets.

For each tests/vectors/frames/*.txt a raw sender (the raw client for `sender:
client`, the raw upstream for `sender: server`) writes the vector's bytes
through the proxy in several TCP write patterns; the receiving raw peer must
get exactly those bytes, and the proxy must log exactly the expected
`violation` events (rule, offset, frame_index, dir), in order, for that
connection. Vectors that end inside a frame are sent and then the sender
shuts down its write side: the receiver still gets every byte, then EOF.

The classes without the proxy check the harness itself: the frame builder
against the vectors' hex, and the raw peers talking straight to each other.
"""

import random
import unittest
import zlib

from harness import (
    BYTEWISE_LIMIT,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    RSV2,
    RSV3,
    TIMEOUT,
    Proxy,
    RawSession,
    RawUpstream,
    build_frame,
    close_payload,
    is_event,
    load_vectors,
    parse_frames,
    require_proxy,
)

VECTORS = load_vectors()
K = bytes.fromhex("37fa213d")  # the mask key every client vector uses


def patterns_for(v) -> list:
    out = ["whole", "random"]
    if len(v.data) <= BYTEWISE_LIMIT:
        out.insert(1, "bytewise")
    return out


def rebuild(data: bytes) -> bytes:
    """Parses `data` into frames and builds each again from its fields."""
    frames, rest = parse_frames(data)
    out = b""
    for f in frames:
        out += build_frame(f.opcode, f.payload, fin=f.fin, rsv=f.rsv, mask=f.mask_key, length_form=f.length_form)
    return out + rest


# Independent builds of the vectors' bytes, frame by frame.
BUILT = {
    "rfc6455-5.7-unmasked-text": lambda: build_frame(OP_TEXT, b"Hello"),
    "rfc6455-5.7-masked-text": lambda: build_frame(OP_TEXT, b"Hello", mask=K),
    "rfc6455-5.7-fragmented-text": lambda: build_frame(OP_TEXT, b"Hel", fin=False) + build_frame(OP_CONT, b"lo"),
    "rfc6455-5.7-unmasked-ping": lambda: build_frame(OP_PING, b"Hello"),
    "rfc6455-5.7-masked-pong": lambda: build_frame(OP_PONG, b"Hello", mask=K),
    "rfc6455-5.7-256-bytes-binary": lambda: build_frame(OP_BINARY, bytes(range(256))),
    "non-minimal-length": lambda: build_frame(OP_TEXT, b"Hello", length_form=16),
    "non-minimal-length-64-bit": lambda: build_frame(OP_BINARY, bytes(200), mask=K, length_form=64),
    "non-minimal-length-64-bit-server": lambda: build_frame(OP_TEXT, b"hello", length_form=64),
    "non-minimal-length-pong": lambda: build_frame(OP_PONG, b"0123456789", length_form=16),
    "non-minimal-length-masked-ping": lambda: build_frame(OP_TEXT, b"hi", mask=K)
    + build_frame(OP_PING, b"0123456789", mask=K, length_form=16),
    "length-msb-set": lambda: build_frame(OP_BINARY, b"abc", length=(1 << 63) + 3, length_form=64),
    "reserved-bits-set": lambda: build_frame(OP_TEXT, b"Hello", rsv=RSV2) + build_frame(OP_TEXT, b"Hello"),
    "reserved-bits-set-rsv3-masked": lambda: build_frame(OP_TEXT, b"Hello", mask=K)
    + build_frame(OP_BINARY, b"ab", rsv=RSV3, mask=K),
    "several-violations-one-frame": lambda: build_frame(0x4, b"x", rsv=RSV3, mask=K),
    "reserved-opcode": lambda: build_frame(0x3, b"abc") + build_frame(OP_TEXT, b"Hello") + build_frame(0xB),
    "rsv1-without-extension": lambda: build_frame(OP_TEXT, b"Hello", rsv=RSV1),
    "rsv1-on-control": lambda: build_frame(OP_PING, b"", rsv=RSV1, mask=K),
    "rsv1-on-continuation": lambda: build_frame(OP_TEXT, bytes.fromhex("f248cd"), fin=False, rsv=RSV1)
    + build_frame(OP_CONT, bytes.fromhex("c9c90700"), rsv=RSV1),
    "valid-close-1000-server": lambda: build_frame(OP_CLOSE, close_payload(1000, "done")),
    "valid-close-empty": lambda: build_frame(OP_CLOSE),
    "invalid-close-code": lambda: build_frame(OP_CLOSE, close_payload(1005)),
    "invalid-close-code-5000": lambda: build_frame(OP_CLOSE, close_payload(5000, "x")),
    "invalid-close-code-999": lambda: build_frame(OP_TEXT, b"hi", mask=K) + build_frame(OP_CLOSE, close_payload(999), mask=K),
    "invalid-utf8-close-reason": lambda: build_frame(OP_CLOSE, close_payload(1000, b"ok\xc3(")),
    "invalid-utf8-text": lambda: build_frame(OP_TEXT, b"He\xc3(o"),
    "close-payload-length-1": lambda: build_frame(OP_CLOSE, b"\x03", mask=K),
    "frame-after-close": lambda: build_frame(OP_CLOSE, close_payload(1000)) + build_frame(OP_TEXT, b"late"),
    "data-frame-during-fragmented-message": lambda: build_frame(OP_TEXT, b"Hel", fin=False) + build_frame(OP_TEXT, b"lo"),
    "continuation-without-start": lambda: build_frame(OP_TEXT, b"Hello", mask=K) + build_frame(OP_CONT, b"lo", mask=K),
    "message-too-big": lambda: build_frame(OP_TEXT, b"Hello", fin=False, mask=K) + build_frame(OP_CONT, b"Hello", mask=K),
    "stream-ended-mid-frame": lambda: build_frame(OP_TEXT, b"Hello")[:4],
    "stream-ended-mid-header": lambda: build_frame(OP_TEXT, b"ok", mask=K) + build_frame(OP_BINARY, length_form=64)[:3],
    "unmasked-client-frame": lambda: build_frame(OP_TEXT, b"Hello"),
    "masked-server-frame": lambda: build_frame(OP_TEXT, b"Hello", mask=K),
    "fragmented-control-frame": lambda: build_frame(OP_PING, b"p", fin=False, mask=K),
    "control-frame-too-long": lambda: build_frame(OP_PING, b"p" * 126) + build_frame(OP_TEXT, b"Hello"),
    "valid-utf8-four-byte-split-every-frame": lambda: build_frame(OP_TEXT, b"\xf0", fin=False)
    + build_frame(OP_CONT, b"\x9d", fin=False)
    + build_frame(OP_CONT, b"\x84", fin=False)
    + build_frame(OP_CONT, b"\x9e", fin=False)
    + build_frame(OP_CONT, b" music"),
}


class VectorFilesTest(unittest.TestCase):
    """The vector parser and the frame builder, against the files."""

    def test_every_vector_loads(self):
        self.assertGreaterEqual(len(VECTORS), 40)
        for v in VECTORS:
            with self.subTest(v.name):
                self.assertTrue(v.data)
                self.assertIn(v.sender, ("client", "server"))
                for e in v.expect:
                    self.assertLess(e.offset, len(v.data), e)

    def test_builder_reproduces_vectors(self):
        by_name = {v.name: v for v in VECTORS}
        self.assertGreaterEqual(len(BUILT), 30)
        for name, build in BUILT.items():
            with self.subTest(name):
                self.assertEqual(build().hex(" "), by_name[name].data.hex(" "))

    def test_parse_then_build_round_trips_every_vector(self):
        for v in VECTORS:
            with self.subTest(v.name):
                self.assertEqual(rebuild(v.data).hex(" "), v.data.hex(" "))

    def test_deflate_vector_inflates(self):
        v = next(v for v in VECTORS if v.name == "rsv1-on-continuation")
        frames, _ = parse_frames(v.data)
        body = b"".join(f.payload for f in frames) + b"\x00\x00\xff\xff"
        self.assertEqual(zlib.decompressobj(-15).decompress(body), b"Hello")

    def test_parsed_metadata(self):
        by_name = {v.name: v for v in VECTORS}
        v = by_name["message-too-big"]
        self.assertEqual((v.sender, v.max_message_size), ("client", 8))
        self.assertEqual([(e.rule, e.offset, e.frame_index) for e in v.expect], [("message-too-big", 11, 1)])
        self.assertTrue(by_name["rsv1-on-control"].deflate)
        self.assertEqual(by_name["invalid-close-code"].closes, [(1005, False)])
        self.assertTrue(by_name["length-msb-set"].ends_mid_frame)


def send_vector(test, v, pattern, session):
    """Sends `v` from its sender to the other end of `session`; asserts the
    receiver got exactly the bytes sent."""
    sender, receiver = session.ends(v.sender)
    rng = random.Random(f"{v.name}/{pattern}")
    sender.send(v.data, pattern, rng)
    if v.ends_mid_frame:
        sender.shutdown_write()
        got = receiver.recv_until_eof(TIMEOUT)
    else:
        got = receiver.recv_exact(len(v.data), TIMEOUT)
    test.assertEqual(bytes(sender.sent), v.data)
    test.assertEqual(got.hex(" "), v.data.hex(" "), "the receiving peer got other bytes than were sent")


class RawPeersDirectTest(unittest.TestCase):
    """The raw client and raw upstream without a proxy, in every pattern."""

    def test_every_vector_crosses_byte_exact(self):
        up = RawUpstream()
        self.addCleanup(up.close)
        for v in VECTORS:
            for pattern in patterns_for(v):
                with self.subTest(v.name, pattern=pattern):
                    s = RawSession(up, None, deflate=v.deflate)
                    try:
                        send_vector(self, v, pattern, s)
                    finally:
                        s.close()


class ProxyVectorTest(unittest.TestCase):
    """One test per vector; subtests per write pattern, one connection each."""

    def setUp(self):
        require_proxy(self)


def _vector_test(v):
    def test(self):
        args = ["--max-message-size", str(v.max_message_size)] if v.max_message_size else []
        up = RawUpstream()
        self.addCleanup(up.close)
        proxy = Proxy(up.address, *args)
        self.addCleanup(proxy.stop)
        expected = [(e.rule, e.offset, e.frame_index, v.direction) for e in v.expect]
        for pattern in patterns_for(v):
            with self.subTest(pattern=pattern):
                s = RawSession(up, proxy, deflate=v.deflate)
                try:
                    if v.deflate:
                        hs = proxy.wait_for(is_event("handshake", conn=s.conn), what="handshake")
                        self.assertIn("permessage-deflate", str(hs.get("extensions")), hs)
                    send_vector(self, v, pattern, s)
                finally:
                    s.close()
                # conn_close comes after every event of the connection.
                proxy.wait_conn_close(s.conn)
                ctx = "\n" + proxy.describe()
                self.assertEqual(proxy.violations(s.conn), expected, ctx)
                closes = [
                    (e.get("code"), e.get("valid"))
                    for e in proxy.of_conn(s.conn, "close")
                    if e.get("dir") == v.direction and not e.get("synthesized")
                ]
                self.assertEqual(closes, v.closes, ctx)
                for ev in proxy.of_conn(s.conn, "violation"):
                    self.assertIsInstance(ev.get("header_hex"), str, ev)
                    self.assertIsInstance(ev.get("close_code"), int, ev)
                    if ev.get("rule") == "non-minimal-length":
                        # RFC 6455 §5.2 MUST: Chromium (any frame) and `ws`
                        # (control frames) fail it with 1002.
                        self.assertEqual((ev.get("severity"), ev.get("close_code")), ("error", 1002), ev)

    return test


for _v in VECTORS:
    setattr(ProxyVectorTest, "test_" + _v.name.replace("-", "_").replace(".", "_"), _vector_test(_v))
del _v


if __name__ == "__main__":
    unittest.main()
