"""Real intermediaries breaking real WebSockets, seen at the endpoints.

The scenarios that wsinspect's "which hop broke it?" features (bracket mode,
`compare`) will be checked against, each proved here at the endpoints alone:
the Python `websockets` server of tests/peers/py_sender.py (it talks first),
the Node `ws` client of tests/peers/ws_probe.js (one JSON result line), raw
peers where bytes matter, and between them HAProxy, nginx or the corrupting
relay of intermediaries.py. Only the last class puts wsinspect in the path.

What the endpoints report (measured with ws 8.18 and websockets 10.4):
- A hop that hides the server's Sec-WebSocket-Extensions (HAProxy
  `http-response del-header`, nginx `proxy_hide_header`): the server
  compresses, the client has not negotiated it; ws fails on the first frame
  with WS_ERR_UNEXPECTED_RSV_1 "Invalid WebSocket frame: RSV1 must be clear",
  sends close 1002 (the server reports 1002) and itself reports 1006: it
  stops reading once it has failed the connection, so it never sees the
  server's reply.
- An idle timeout (HAProxy `timeout tunnel`, nginx `proxy_read_timeout`): no
  close frame either way; ws reports 1006 with no error, websockets 1006.
  HAProxy resets the server side and sends FIN to the client (termination
  flags cD--); nginx sends FIN to both ("upstream timed out ... while
  proxying upgraded connection" in its error log).
- The relay's corruptions: RSV2|RSV3 → ws WS_ERR_UNEXPECTED_RSV_2_3, 1006
  (server gets 1002); invalid UTF-8 → WS_ERR_INVALID_UTF8, 1006 (server gets
  1007); a dropped frame → that message missing; a split frame → the message
  intact; a swallowed close → ws 1006 and websockets 1006 (neither got the
  other's close frame); frames above a size dropped → those messages missing.
"""

import os
import random
import socket
import time
import unittest

from harness import (
    C2S,
    HOST,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_TEXT,
    RSV1,
    S2C,
    TIMEOUT,
    Proxy,
    RawClient,
    RawUpstream,
    build_frame,
    check_budget,
    close_payload,
    is_event,
    parse_frames,
    require_proxy,
    run_threads,
    upgrade_request,
)
from intermediaries import (
    CorruptingRelay,
    Haproxy,
    Nginx,
    SenderServer,
    require_haproxy,
    require_nginx,
    require_peers,
    run_probe,
)

STRIP_HAPROXY = "http-response del-header Sec-WebSocket-Extensions"
STRIP_NGINX = "proxy_hide_header Sec-WebSocket-Extensions"


def server_sent(server) -> list:
    """The sha256 of each message the sender server sent on its latest
    connection, in order."""
    out = []
    for e in server.snapshot():
        if e.get("event") == "open":
            out = []
        elif e.get("event") == "sent":
            out.append(e["sha256"])
    return out


def got(result) -> list:
    return [m["sha256"] for m in result["messages"]]


class Case(unittest.TestCase):
    def start(self, obj):
        self.addCleanup(obj.stop)
        return obj

    def describe(self, *objs) -> str:
        return "\n" + "\n".join(o.describe() for o in objs if hasattr(o, "describe"))


# --- hops that hide the server's extension ---------------------------------------------


class ExtensionStrippedTest(Case):
    """The server negotiates permessage-deflate and compresses; the hop
    removes Sec-WebSocket-Extensions from the 101, so the client has not
    negotiated it and its first compressed frame fails the connection."""

    def setUp(self):
        require_peers(self)

    def check_stripped(self, hop, server):
        r = run_probe(hop.url)
        ctx = f"\n{r}" + self.describe(hop, server)
        self.assertTrue(r["open"], ctx)
        self.assertEqual(r["extensions"], "", ctx)
        self.assertEqual(r["messages"], [], ctx)
        self.assertEqual(r["errors"], [{"code": "WS_ERR_UNEXPECTED_RSV_1", "message": "Invalid WebSocket frame: RSV1 must be clear"}], ctx)
        # ws sent 1002 and stopped reading: its own close event says 1006.
        self.assertEqual(r["close"], {"code": 1006, "reason": ""}, ctx)
        self.assertEqual(r["closed_by"], "self", ctx)
        close = server.wait_close()
        self.assertEqual((close["code"], close["close_frame"]), (1002, True), ctx)
        opened = server.find(is_event("open"))
        self.assertEqual([e["extensions"] for e in opened], ["permessage-deflate"], ctx)

    def check_control(self, hop, server):
        """The same hop without the directive: deflate negotiated, every message arrives."""
        r = run_probe(hop.url, "--expect", "3")
        ctx = f"\n{r}" + self.describe(hop, server)
        self.assertEqual(r["extensions"], "permessage-deflate", ctx)
        self.assertEqual((r["errors"], r["close"]), ([], {"code": 1000, "reason": "got enough"}), ctx)
        self.assertEqual(got(r), server_sent(server), ctx)

    def test_haproxy_del_header(self):
        require_haproxy(self)
        server = self.start(SenderServer("--send", "3"))
        self.check_stripped(self.start(Haproxy(0, server.address, extra_backend=[STRIP_HAPROXY])), server)

    def test_nginx_proxy_hide_header(self):
        require_nginx(self)
        server = self.start(SenderServer("--send", "3"))
        self.check_stripped(self.start(Nginx(0, server.address, extra=[STRIP_NGINX])), server)

    def test_controls_without_the_directive(self):
        require_haproxy(self)
        require_nginx(self)
        server = self.start(SenderServer("--send", "3"))
        self.check_control(self.start(Haproxy(0, server.address)), server)
        self.check_control(self.start(Nginx(0, server.address)), server)


# --- idle timeouts -----------------------------------------------------------------------


class IdleTimeoutTest(Case):
    """A hop's idle timeout ends a quiet WebSocket without a close frame."""

    def setUp(self):
        require_peers(self)

    def check_idle(self, hop, server):
        # The client would stay idle for 20 s; the hop ends it after 1 s.
        r = run_probe(hop.url, "--idle", "20", "--timeout", "25")
        ctx = f"\n{r}" + self.describe(hop, server)
        self.assertTrue(r["open"], ctx)
        self.assertEqual((r["close"], r["errors"], r["closed_by"]), ({"code": 1006, "reason": ""}, [], None), ctx)
        self.assertTrue(0.8 <= r["idle_s"] <= 3.0, f"idle {r['idle_s']:.3f} s{ctx}")
        close = server.wait_close()
        self.assertEqual((close["code"], close["close_frame"]), (1006, False), ctx)

    def test_haproxy_timeout_tunnel(self):
        require_haproxy(self)
        server = self.start(SenderServer("--send", "0"))
        hop = self.start(Haproxy(0, server.address, timeouts={"tunnel": "1s", "client": "30s", "server": "30s"}))
        self.check_idle(hop, server)
        # The log line of the upgraded request: 101, ended by a timeout (c)
        # while the data phase (D) went on.
        lines = [l for l in hop.log_lines() if '"GET / HTTP/1.1"' in l]
        self.assertEqual(len(lines), 1, self.describe(hop))
        self.assertIn(" 101 ", lines[0])
        self.assertIn(" cD-- ", lines[0])

    def test_nginx_proxy_read_timeout(self):
        require_nginx(self)
        server = self.start(SenderServer("--send", "0"))
        hop = self.start(Nginx(0, server.address, extra=["proxy_read_timeout 1s"]))
        self.check_idle(hop, server)
        self.assertTrue(any("upstream timed out" in l and "upgraded" in l for l in hop.error_log_lines()), self.describe(hop))


class IdleTimeoutTcpTest(Case):
    """How each hop ends the idle tunnel on the wire, with raw peers: FIN or
    RST to each side (their order, about 0.1 ms apart, is not checked)."""

    def ends(self, hop_factory) -> dict:
        up = RawUpstream()
        self.addCleanup(up.close)
        hop = self.start(hop_factory(up.address))
        client = RawClient.connect(HOST, hop.port)
        self.addCleanup(client.close)
        req, _ = upgrade_request(f"{HOST}:{hop.port}")
        client.sock.sendall(req)
        server, _ = up.accept_websocket()
        self.assertEqual(client.recv_head().status, 101)
        t0 = time.monotonic()

        def end(conn):
            data = conn.recv_until_eof(TIMEOUT)
            return (data, "RST" if conn.reset_seen else "FIN", time.monotonic() - t0)

        c, s = run_threads(lambda: end(client), lambda: end(server), timeout=2 * TIMEOUT)
        for data, _, t in (c, s):
            self.assertEqual(data, b"")
            self.assertTrue(0.8 <= t <= 3.0, f"ended after {t:.3f} s" + self.describe(hop))
        return {"client": c[1], "server": s[1]}

    def test_haproxy_resets_the_server_and_fins_the_client(self):
        require_haproxy(self)
        self.assertEqual(self.ends(lambda a: Haproxy(0, a, timeouts={"tunnel": "1s"})), {"client": "FIN", "server": "RST"})

    def test_nginx_fins_both(self):
        require_nginx(self)
        self.assertEqual(self.ends(lambda a: Nginx(0, a, extra=["proxy_read_timeout 1s"])), {"client": "FIN", "server": "FIN"})


# --- the hops pass corrupted frames on -----------------------------------------------------


class HopForwardsCorruptionTest(Case):
    """RSV bits set behind HAProxy or nginx reach the client as they are: a
    tunnel relays bytes, it does not check frames."""

    def setUp(self):
        require_peers(self)

    def check(self, hop_class, **kw):
        server = self.start(SenderServer("--deflate", "off", "--send", "3", "--size", "100"))
        relay = self.start(CorruptingRelay(server.address, "rsv", n=1))
        hop = self.start(hop_class(0, relay.address, **kw))
        r = run_probe(hop.url, "--expect", "3")
        ctx = f"\n{r}\n{relay.actions}" + self.describe(hop, server)
        self.assertEqual(got(r), server_sent(server)[:1], ctx)
        self.assertEqual([e["code"] for e in r["errors"]], ["WS_ERR_UNEXPECTED_RSV_2_3"], ctx)
        self.assertEqual(r["close"]["code"], 1006, ctx)
        self.assertEqual(server.wait_close()["code"], 1002, ctx)
        self.assertEqual(len(relay.actions), 1, ctx)

    def test_haproxy(self):
        require_haproxy(self)
        self.check(Haproxy)

    def test_nginx(self):
        require_nginx(self)
        self.check(Nginx)


# --- the corrupting relay ------------------------------------------------------------------


def text_frame_size(n: int) -> int:
    """An unmasked frame's size on the wire for a payload of n bytes."""
    return n + (2 if n < 126 else 4 if n < 65536 else 10)


class RelayPeersTest(Case):
    """Each corruption between the Python server and the Node client."""

    def setUp(self):
        require_peers(self)

    def one_action(self, relay, **fields) -> dict:
        acts = relay.actions
        self.assertEqual(len(acts), 1, acts)
        for k, v in fields.items():
            self.assertEqual(acts[0].get(k), v, f"{k}: {acts}")
        return acts[0]

    def test_rsv(self):
        server = self.start(SenderServer("--deflate", "off", "--send", "3", "--size", "100"))
        relay = self.start(CorruptingRelay(server.address, "rsv", n=1))
        r = run_probe(relay.url, "--expect", "3")
        ctx = f"\n{r}" + self.describe(server)
        self.assertEqual(got(r), server_sent(server)[:1], ctx)
        self.assertEqual(r["errors"], [{"code": "WS_ERR_UNEXPECTED_RSV_2_3", "message": "Invalid WebSocket frame: RSV2 and RSV3 must be clear"}], ctx)
        self.assertEqual(r["close"], {"code": 1006, "reason": ""}, ctx)
        self.assertEqual(server.wait_close()["code"], 1002, ctx)
        self.one_action(relay, kind="rsv", direction=S2C, frame_index=1, offset=102, out_frame_index=1, out_offset=102, rsv_after=3)

    def test_flip_server_text_into_invalid_utf8(self):
        server = self.start(SenderServer("--deflate", "off", "--send", "2", "--size", "100"))
        relay = self.start(CorruptingRelay(server.address, "flip", n=0))
        r = run_probe(relay.url, "--expect", "2")
        ctx = f"\n{r}" + self.describe(server)
        self.assertEqual(r["messages"], [], ctx)
        self.assertEqual([e["code"] for e in r["errors"]], ["WS_ERR_INVALID_UTF8"], ctx)
        self.assertEqual(r["close"]["code"], 1006, ctx)
        self.assertEqual(server.wait_close()["code"], 1007, ctx)
        a = self.one_action(relay, kind="flip", frame_index=0, offset=0, payload_offset=50, byte_offset=52, masked=False)
        self.assertEqual(a["after"], a["before"] ^ 0x80)

    def test_flip_masked_client_text_changes_the_echo(self):
        server = self.start(SenderServer("--deflate", "off", "--send", "0"))
        relay = self.start(CorruptingRelay(server.address, "flip", direction=C2S, n=0, xor=0x01, byte=4))
        r = run_probe(relay.url, "--send", "1", "--size", "100", "--expect", "1")
        ctx = f"\n{r}" + self.describe(server)
        # "cli 0 pack..." with byte 4 ('0') XOR 1: "cli 1 pack...".
        sent = "cli 0 " + ("pack my box with five dozen liquor jugs; " * 3)
        sent = sent[:100]
        self.assertEqual([m.get("data") for m in r["messages"]], ["cli 1" + sent[5:]], ctx)
        self.assertEqual(r["close"], {"code": 1000, "reason": "got enough"}, ctx)
        self.one_action(relay, kind="flip", direction=C2S, frame_index=0, payload_offset=4, before=ord("0"), after=ord("1"), masked=True)

    def test_split_compressed_frame_arrives_intact(self):
        server = self.start(SenderServer("--send", "3", "--size", "1000"))
        relay = self.start(CorruptingRelay(server.address, "split", n=1))
        r = run_probe(relay.url, "--expect", "3")
        ctx = f"\n{r}" + self.describe(server)
        self.assertEqual(r["extensions"], "permessage-deflate", ctx)
        self.assertEqual((r["errors"], r["close"]), ([], {"code": 1000, "reason": "got enough"}), ctx)
        self.assertEqual(got(r), server_sent(server), ctx)
        a = self.one_action(relay, kind="split", frame_index=1, out_frame_index=1, fin=True, opcode=OP_TEXT)
        self.assertEqual(sum(a["lengths"]), a["length"])

    def test_drop_loses_one_message(self):
        server = self.start(SenderServer("--deflate", "off", "--send", "3", "--size", "100", "--close", "1000"))
        relay = self.start(CorruptingRelay(server.address, "drop", n=1))
        r = run_probe(relay.url)
        ctx = f"\n{r}" + self.describe(server)
        sent = server_sent(server)
        self.assertEqual(got(r), [sent[0], sent[2]], ctx)
        self.assertEqual((r["errors"], r["close"], r["closed_by"]), ([], {"code": 1000, "reason": "server done"}, "peer"), ctx)
        self.one_action(relay, kind="drop", frame_index=1, offset=102, out_frame_index=1, out_offset=102)

    def test_swallow_close(self):
        # The server closes after one message and waits 5 s for the reply;
        # the relay drops its close frame and ends both sides after 1 s.
        server = self.start(SenderServer("--deflate", "off", "--send", "1", "--size", "100", "--close", "1000", "--close-timeout", "5"))
        relay = self.start(CorruptingRelay(server.address, "swallow_close", hold=1.0))
        r = run_probe(relay.url, "--timeout", "20")
        ctx = f"\n{r}\n{relay.actions}" + self.describe(server)
        self.assertEqual(got(r), server_sent(server), ctx)
        self.assertEqual((r["errors"], r["close"], r["closed_by"]), ([], {"code": 1006, "reason": ""}, None), ctx)
        self.assertTrue(0.8 <= r["idle_s"] <= 3.0, ctx)
        close = server.wait_close()
        self.assertEqual((close["code"], close["close_frame"]), (1006, False), ctx)
        relay.wait_finished()
        self.one_action(relay, kind="swallow_close", frame_index=1, offset=102, close_code=1000, hold_ended="timer")

    def test_cut_above(self):
        sizes = [10, 2000, 10, 70000, 10]
        server = self.start(SenderServer("--deflate", "off", "--sizes", ",".join(map(str, sizes)), "--close", "1000"))
        relay = self.start(CorruptingRelay(server.address, "cut_above", size=1000))
        r = run_probe(relay.url)
        ctx = f"\n{r}" + self.describe(server)
        sent = server_sent(server)
        self.assertEqual(got(r), [sent[0], sent[2], sent[4]], ctx)
        self.assertEqual((r["errors"], r["close"]), ([], {"code": 1000, "reason": "server done"}), ctx)
        acts = relay.actions
        self.assertEqual([(a["frame_index"], a["length"], a["out_frame_index"]) for a in acts], [(1, 2000, 1), (3, 70000, 2)], acts)
        self.assertEqual([a["offset"] for a in acts], [12, 12 + 2004 + 12], acts)

    def test_none_is_transparent(self):
        server = self.start(SenderServer("--send", "3", "--size", "5000"))
        relay = self.start(CorruptingRelay(server.address, "none"))
        r = run_probe(relay.url, "--send", "2", "--size", "3000", "--expect", "5")
        ctx = f"\n{r}" + self.describe(server)
        self.assertEqual(r["extensions"], "permessage-deflate", ctx)
        self.assertEqual(got(r)[:3], server_sent(server), ctx)
        self.assertEqual(len(r["messages"]), 5, ctx)
        self.assertEqual(relay.actions, [])


class RelayRawTest(Case):
    """The relay's bytes exactly, with raw peers: frames cut across reads in
    every way, masks, half-close."""

    def setUp(self):
        check_budget(self)

    def session(self, relay_kw: dict):
        up = RawUpstream()
        self.addCleanup(up.close)
        relay = self.start(CorruptingRelay(up.address, **relay_kw))
        client = RawClient.connect(HOST, relay.port)
        self.addCleanup(client.close)
        req, _ = upgrade_request(f"{HOST}:{relay.port}")
        client.sock.sendall(req)
        server, request = up.accept_websocket()
        self.assertEqual(request.raw, req, "the relay changed the request")
        self.assertEqual(client.recv_head().status, 101)
        return relay, client, server

    def test_rsv_across_reads(self):
        # The relay forwards a frame once it is complete: bytewise, only
        # the short frames (570 bytes).
        frames = [build_frame(OP_TEXT, b"a" * n) for n in (0, 5, 125, 126, 300, 70000)]
        for pattern in ("bytewise", "random"):
            with self.subTest(pattern=pattern):
                relay, client, server = self.session({"kind": "rsv", "n": 4})
                data = b"".join(frames if pattern == "random" else frames[:5])
                server.send(data, pattern, random.Random(7))
                expect = bytearray(data)
                off = sum(len(f) for f in frames[:4])
                expect[off] |= 0x30
                self.assertEqual(client.recv_exact(len(data)).hex(), bytes(expect).hex())
                a = relay.wait_actions(1)
                self.assertEqual([(x["frame_index"], x["offset"], x["length"]) for x in a], [(4, off, 300)])

    def test_split_masked_fragment(self):
        key = bytes.fromhex("37fa213d")
        frames = [
            build_frame(OP_TEXT, b"hello ", fin=False, mask=key),
            build_frame(OP_CONT, b"fragmented world", fin=False, mask=key),
            build_frame(OP_CONT, b"!", mask=key),
        ]
        relay, client, server = self.session({"kind": "split", "direction": C2S, "n": 1})
        client.send(b"".join(frames), "random", random.Random(3))
        got_frames, rest = parse_frames(server.recv_exact(sum(map(len, frames)) + 6))
        self.assertEqual(rest, b"")
        self.assertEqual(
            [(f.opcode, f.fin, f.rsv, f.payload, f.mask_key) for f in got_frames],
            [
                (OP_TEXT, False, 0, b"hello ", key),
                (OP_CONT, False, 0, b"fragment", key),
                (OP_CONT, False, 0, b"ed world", key),
                (OP_CONT, True, 0, b"!", key),
            ],
        )
        a = relay.wait_actions(1)
        self.assertEqual((a[0]["frame_index"], a[0]["offset"], a[0]["out_frame_index"], a[0]["lengths"]), (1, 12, 1, [8, 8]))

    def test_split_keeps_rsv1_on_the_first_fragment(self):
        relay, client, server = self.session({"kind": "split"})
        server.send(build_frame(OP_BINARY, bytes(range(10)), rsv=RSV1))
        out, _ = parse_frames(client.recv_exact(7 + 7))
        self.assertEqual([(f.opcode, f.fin, f.rsv, f.payload) for f in out], [(OP_BINARY, False, RSV1, bytes(range(5))), (OP_CONT, True, 0, bytes(range(5, 10)))])

    def test_flip_masked_payload(self):
        key = bytes.fromhex("01020304")
        relay, client, server = self.session({"kind": "flip", "direction": C2S, "n": 1, "byte": 2, "xor": 0xFF})
        client.send(build_frame(OP_TEXT, b"one", mask=key) + build_frame(OP_BINARY, b"\x00\x01\x02\x03\x04", mask=key))
        out, _ = parse_frames(server.recv_exact(9 + 11))
        self.assertEqual([f.payload for f in out], [b"one", b"\x00\x01\xfd\x03\x04"])
        self.assertEqual([f.mask_key for f in out], [key, key])

    def test_swallow_close_until_the_other_side_closes(self):
        relay, client, server = self.session({"kind": "swallow_close", "hold": 30.0})
        server.send(build_frame(OP_TEXT, b"last") + build_frame(OP_CLOSE, close_payload(1001, "going")))
        server.shutdown_write()
        self.assertEqual(client.recv_exact(6), build_frame(OP_TEXT, b"last"))
        # Neither the close frame nor the server's FIN gets through while
        # the client keeps its side open.
        client.sock.settimeout(0.3)
        with self.assertRaises(socket.timeout):
            client.sock.recv(1)
        client.shutdown_write()
        self.assertEqual(client.recv_until_eof(), b"")
        relay.wait_finished()
        a = relay.actions
        self.assertEqual([(x["kind"], x["close_code"], x["hold_ended"]) for x in a], [("swallow_close", 1001, "other_side_closed")])

    def test_half_close_both_ways(self):
        relay, client, server = self.session({"kind": "drop", "n": 5})
        client.send(build_frame(OP_TEXT, b"c2s", mask=True))
        client.shutdown_write()
        self.assertEqual(len(server.recv_until_eof()), 9)
        # The server can still write after the client's FIN.
        server.send(build_frame(OP_TEXT, b"after the client's FIN"))
        server.shutdown_write()
        self.assertEqual(parse_frames(client.recv_until_eof())[0][0].payload, b"after the client's FIN")
        relay.wait_finished()
        self.assertEqual(relay.actions, [])

    def test_non_101_is_relayed_raw(self):
        up = RawUpstream()
        self.addCleanup(up.close)
        relay = self.start(CorruptingRelay(up.address, "rsv"))
        client = RawClient.connect(HOST, relay.port)
        self.addCleanup(client.close)
        client.sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        server = up.accept()
        server.recv_head()
        body = build_frame(OP_TEXT, b"not a frame")
        server.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        self.assertEqual(client.recv_http_response()[-len(body) :], body)
        self.assertEqual(relay.actions, [])


class HopProcessTest(Case):
    """The hops leave nothing behind."""

    def test_stop_leaves_no_process(self):
        require_haproxy(self)
        require_nginx(self)
        up = RawUpstream()
        self.addCleanup(up.close)
        for cls in (Haproxy, Nginx):
            with self.subTest(cls.__name__):
                hop = cls(0, up.address)
                pid, tmp = hop.pid, hop.tmpdir
                try:
                    with open(f"/proc/{pid}/task/{pid}/children") as f:
                        children = f.read().split()
                    self.assertEqual(children, [], f"{cls.__name__} started children")
                finally:
                    hop.stop()
                self.assertFalse(tmp.exists())
                with self.assertRaises(ProcessLookupError):
                    os.kill(pid, 0)


# --- with wsinspect in front --------------------------------------------------------------


class RelayUnderWsinspectTest(Case):
    """client → wsinspect → relay (rsv) → server: wsinspect flags the
    corrupted frame where the relay says it put it."""

    def test_rsv_flagged_server_to_client(self):
        require_proxy(self)
        require_peers(self)
        server = self.start(SenderServer("--deflate", "off", "--send", "3", "--size", "100"))
        relay = self.start(CorruptingRelay(server.address, "rsv", n=1))
        proxy = self.start(Proxy(relay.address))
        client, _ = RawClient.websocket(proxy.host, proxy.port)
        self.addCleanup(client.close)
        conn = proxy.conn_of(client.sock)
        a = relay.wait_actions(1)[0]
        proxy.wait_for(is_event("violation", conn=conn), what="violation")
        ctx = "\n" + proxy.describe()
        self.assertIn(("reserved-bits-set", a["out_offset"], a["out_frame_index"], S2C), proxy.violations(conn, S2C), ctx)
        self.assertEqual(proxy.violations(conn, C2S), [], ctx)
        client.close()
        proxy.wait_conn_close(conn)


if __name__ == "__main__":
    unittest.main()
