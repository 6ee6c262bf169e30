"""Real WebSocket peers through the proxy: Node `ws` and Python `websockets`.

Each client (tests/peers/ws_client.js, py_peer.py client) runs the same steps
against each server (ws_server.js, py_peer.py server): a text message, a
binary one, a fragmented one, a ping, a server ping, a fragmented server
message, then a close (1000 or 1002, from either side). The peers print what
they observe; through the proxy they must observe exactly what they observe
on a direct connection, and the proxy must log both close frames with their
explanations.

Then the peers' own reaction to a corrupted frame: a raw sender writes a frame
that breaks a rule to a real peer, which closes with the code RFC 6455 asks
for; through the proxy, the proxy's `close` event for that close names the
rule in `caused_by`.
"""

import os
import unittest

from harness import (
    C2S,
    HOST,
    OP_BINARY,
    OP_CLOSE,
    OP_TEXT,
    RSV2,
    S2C,
    TIMEOUT,
    PeerServer,
    Proxy,
    RawClient,
    RawUpstream,
    build_frame,
    check_budget,
    close_payload,
    finish_peer,
    is_event,
    peers_available,
    require_proxy,
    run_peer_client,
    start_peer_client,
)

KINDS = ("py", "node")
PATH = "/chat?room=1"
REASONS = {1000: "bye now", 1002: "protocol error test"}
CLOSE_MODES = ("client-1000", "server-1000", "client-1002", "server-1002")


def msg(data):
    if isinstance(data, bytes):
        return {"event": "message", "type": "binary", "hex": data.hex()}
    return {"event": "message", "type": "text", "data": data}


def expected_client(code, reason):
    return [
        {"event": "open"},
        msg("hello \u2603"),
        msg(bytes(range(256))),
        msg("fragmented \u2603 text"),
        {"event": "pong", "data": "cli-ping"},
        msg("got pong"),
        msg("server fragments"),
        {"event": "close", "code": code, "reason": reason},
    ]


def expected_server(code, reason, server_closes):
    out = [
        {"event": "open", "path": "/chat"},
        msg("hello \u2603"),
        msg(bytes(range(256))),
        msg("fragmented \u2603 text"),
        msg("ping-me"),
        {"event": "pong", "data": "srv-ping"},
        msg("fragment-me"),
    ]
    if server_closes:
        out.append(msg(f"close {code} {reason}"))
    return out + [{"event": "close", "code": code, "reason": reason}]


def without_extensions(obs):
    return [{k: v for k, v in e.items() if k != "extensions"} for e in obs]


class PeersTestCase(unittest.TestCase):
    def setUp(self):
        check_budget(self)
        if not peers_available():
            self.skipTest("tests/peers/node_modules/ws missing: run scripts/setup-deps.sh")

    def run_session(self, client_kind, server_kind, close_mode, via_proxy):
        """One scripted session; returns (client obs, server obs, proxy)."""
        server = PeerServer(server_kind, "--once")
        self.addCleanup(server.stop)
        proxy = None
        if via_proxy:
            proxy = Proxy(server.address)
            self.addCleanup(proxy.stop)
            url = f"ws://{proxy.host}:{proxy.port}{PATH}"
        else:
            url = f"ws://{server.address}{PATH}"
        rc, client_obs = run_peer_client(client_kind, url, "--close", close_mode)
        self.assertEqual(rc, 0, client_obs)
        srv_rc = finish_peer(server)
        self.assertEqual(srv_rc, 0, server.describe())
        return client_obs, server.observations(), proxy


class DirectPeersTest(PeersTestCase):
    """The peers against each other without a proxy: the baseline."""


class ProxiedPeersTest(PeersTestCase):
    """The same sessions through the proxy: identical observations, and the
    log shows both close frames, explained."""

    def setUp(self):
        super().setUp()
        require_proxy(self)

    def check_log(self, proxy, close_mode, client_kind, server_kind):
        who, code = close_mode.split("-")
        code = int(code)
        reason = REASONS[code]
        conn = proxy.wait_for(is_event("conn_open"), what="conn_open")["conn"]
        done = proxy.wait_conn_close(conn)
        ctx = "\n" + proxy.describe()
        hs = proxy.wait_for(is_event("handshake", conn=conn), what="handshake")
        self.assertEqual(hs.get("path"), "/chat", ctx)
        self.assertEqual(hs.get("status"), 101, ctx)
        self.assertIs(hs.get("upgraded"), True, ctx)
        self.assertEqual(proxy.violations(conn), [], ctx)

        closes = [e for e in proxy.of_conn(conn, "close") if not e.get("synthesized")]
        first_dir = C2S if who == "client" else S2C
        self.assertEqual([e.get("dir") for e in closes], [first_dir, S2C if first_dir == C2S else C2S], ctx)
        self.assertEqual([e.get("in_reply") for e in closes], [False, True], ctx)
        for e in closes:
            self.assertEqual((e.get("code"), e.get("reason"), e.get("valid"), e.get("on_wire")), (code, reason, True, True), ctx)
            self.assertIsInstance(e.get("name"), str, ctx)
            expl = e.get("explanation")
            self.assertIsInstance(expl, dict, ctx)
            for k in ("description", "when", "fix"):
                self.assertTrue(isinstance(expl.get(k), str) and expl.get(k), f"explanation.{k} missing{ctx}")
            self.assertNotIn("caused_by", e, ctx)
        if code == 1002:
            # 1002 with no violation seen: the proxy says the corruption (if
            # any) was between itself and the endpoint that closed.
            self.assertTrue(isinstance(closes[0].get("note"), str) and closes[0]["note"], ctx)

        self.assertEqual(done.get("ended_by"), "close_handshake", ctx)
        self.assertIs(done.get("upgraded"), True, ctx)
        c2s, s2c = done.get(C2S, {}), done.get(S2C, {})
        # client: hello, binary, fragmented (3 frames), ping-me, fragment-me
        # [, the close command], plus a ping, a pong and the close frame.
        # `websockets` ends a fragmented message with an empty continuation
        # frame of its own (4 frames for 3 fragments); `ws` does not.
        cmd = 1 if who == "server" else 0
        py_c, py_s = int(client_kind == "py"), int(server_kind == "py")
        self.assertEqual((c2s.get("messages"), c2s.get("frames"), c2s.get("closes"), c2s.get("errors")), (5 + cmd, 10 + cmd + py_c, 1, 0), ctx)
        # server: three echoes, "got pong", "server fragments" (3 frames),
        # plus a pong, a ping and the close frame.
        self.assertEqual((s2c.get("messages"), s2c.get("frames"), s2c.get("closes"), s2c.get("errors")), (5, 10 + py_s, 1, 0), ctx)


def _direct_test(client_kind, server_kind, close_mode):
    def test(self):
        who, code = close_mode.split("-")
        code = int(code)
        client_obs, server_obs, _ = self.run_session(client_kind, server_kind, close_mode, via_proxy=False)
        self.assertEqual(without_extensions(client_obs), expected_client(code, REASONS[code]))
        self.assertEqual(without_extensions(server_obs), expected_server(code, REASONS[code], who == "server"))

    return test


def _proxied_test(client_kind, server_kind, close_mode):
    def test(self):
        direct_client, direct_server, _ = self.run_session(client_kind, server_kind, close_mode, via_proxy=False)
        client_obs, server_obs, proxy = self.run_session(client_kind, server_kind, close_mode, via_proxy=True)
        self.assertEqual(client_obs, direct_client, "the client observed something else through the proxy\n" + proxy.describe())
        self.assertEqual(server_obs, direct_server, "the server observed something else through the proxy\n" + proxy.describe())
        self.check_log(proxy, close_mode, client_kind, server_kind)

    return test


for _c in KINDS:
    for _s in KINDS:
        for _m in CLOSE_MODES:
            _name = f"test_{_c}_to_{_s}_{_m.replace('-', '_')}"
            setattr(DirectPeersTest, _name, _direct_test(_c, _s, _m))
            setattr(ProxiedPeersTest, _name, _proxied_test(_c, _s, _m))


class BuiltinEchoTest(PeersTestCase):
    """The real clients against `--upstream builtin:echo`."""

    def setUp(self):
        super().setUp()
        require_proxy(self)

    def echo(self, kind):
        proxy = Proxy("builtin:echo")
        self.addCleanup(proxy.stop)
        rc, obs = run_peer_client(kind, f"ws://{proxy.host}:{proxy.port}/echo", "--close", "client-1000")
        ctx = f"\n{obs}\n" + proxy.describe()
        self.assertEqual(rc, 0, ctx)
        got = [e for e in obs if e["event"] in ("message", "pong")]
        self.assertEqual(
            got,
            [
                msg("hello \u2603"),
                msg(bytes(range(256))),
                msg("fragmented \u2603 text"),
                {"event": "pong", "data": "cli-ping"},
                msg("ping-me"),
                msg("fragment-me"),
            ],
            ctx,
        )
        self.assertEqual(obs[-1].get("event"), "close", ctx)
        self.assertEqual(obs[-1].get("code"), 1000, ctx)
        conn = proxy.wait_for(is_event("conn_open"))["conn"]
        proxy.wait_conn_close(conn)
        self.assertEqual(proxy.violations(conn), [], ctx)

    def test_py_client(self):
        self.echo("py")

    def test_node_client(self):
        self.echo("node")


# --- the peers' reaction to corrupted frames ----------------------------------

# name: (frame builder given a mask key or None, the rule, the close code both
# `ws` and `websockets` answer it with (measured without the proxy), and for
# payload rules the index in the payload of the byte the violation is at)
CORRUPTIONS = {
    "rsv2": (lambda m: build_frame(OP_TEXT, b"Hello", rsv=RSV2, mask=m), "reserved-bits-set", 1002, None),
    "reserved_opcode": (lambda m: build_frame(0x3, b"abc", mask=m), "reserved-opcode", 1002, None),
    "invalid_utf8": (lambda m: build_frame(OP_TEXT, b"He\xc3(o", mask=m), "invalid-utf8-text", 1007, 3),
    "invalid_utf8_close_reason": (
        lambda m: build_frame(OP_CLOSE, close_payload(1000, b"ok\xc3("), mask=m),
        "invalid-utf8-close-reason",
        1007,
        5,
    ),
    "length_msb_set": (
        lambda m: build_frame(OP_BINARY, b"abc", length=(1 << 63) + 3, length_form=64, mask=m),
        "length-msb-set",
        1009,
        None,
    ),
}


def violation_offset(corruption, masked):
    """Where the proxy must place the violation in the corrupted frame."""
    index = CORRUPTIONS[corruption][3]
    return 0 if index is None else 2 + (4 if masked else 0) + index


class ReactionTestCase(PeersTestCase):
    def server_reaction(self, kind, corruption, proxy_args=None):
        """A raw client sends the corrupted frame to a real server (through a
        proxy when proxy_args is a list). Returns (close frame, proxy)."""
        build = CORRUPTIONS[corruption][0]
        server = PeerServer(kind, "--once", "--deflate", "off")
        self.addCleanup(server.stop)
        proxy, host, port = None, HOST, server.port
        if proxy_args is not None:
            proxy = Proxy(server.address, *proxy_args)
            self.addCleanup(proxy.stop)
            host, port = proxy.host, proxy.port
        c, _ = RawClient.websocket(host, port)
        self.addCleanup(c.close)
        c.send(build(os.urandom(4)))
        frame = c.recv_close_frame(TIMEOUT)
        c.close()
        finish_peer(server)
        return frame, proxy

    def client_reaction(self, kind, corruption, proxy_args=None):
        """A raw upstream sends the corrupted frame to a real client."""
        build = CORRUPTIONS[corruption][0]
        up = RawUpstream()
        self.addCleanup(up.close)
        proxy, address = None, up.address
        if proxy_args is not None:
            proxy = Proxy(up.address, *proxy_args)
            self.addCleanup(proxy.stop)
            address = proxy.address
        client = start_peer_client(kind, f"ws://{address}/", "--steps", "none", "--deflate", "off")
        self.addCleanup(client.stop)
        s, _ = up.accept_websocket()
        s.send(build(None))
        frame = s.recv_close_frame(TIMEOUT)
        self.assertTrue(frame.masked, "a client's close frame must be masked")
        s.close()
        self.assertEqual(finish_peer(client), 0, client.describe())
        return frame, proxy


class PeerReactionTest(ReactionTestCase):
    """What `ws` and `websockets` send on the wire for each corruption,
    without the proxy."""


class ProxiedReactionTest(ReactionTestCase):
    """The same through the proxy: the peer's close crosses unchanged and the
    proxy links it to the violation it flagged."""

    def setUp(self):
        super().setUp()
        require_proxy(self)

    def check_caused_by(self, proxy, corruption, close_dir):
        _, rule, code, _ = CORRUPTIONS[corruption]
        bad_dir = S2C if close_dir == C2S else C2S
        offset = violation_offset(corruption, masked=bad_dir == C2S)
        conn = proxy.wait_for(is_event("conn_open"))["conn"]
        ev = proxy.wait_for(
            lambda e: e.get("event") == "close" and e.get("conn") == conn and e.get("dir") == close_dir and not e.get("synthesized"),
            what=f"close {close_dir}",
        )
        ctx = "\n" + proxy.describe()
        self.assertEqual(ev.get("code"), code, ctx)
        # The peer's close answers the corrupted close frame when the rule is
        # about close reasons: a reply, still linked to the flagged frame.
        self.assertIs(ev.get("in_reply"), rule.endswith("close-reason"), ctx)
        cb = ev.get("caused_by")
        self.assertIsInstance(cb, dict, "no caused_by on the peer's close" + ctx)
        self.assertEqual((cb.get("rule"), cb.get("dir"), cb.get("offset"), cb.get("frame_index")), (rule, bad_dir, offset, 0), ctx)
        self.assertIsInstance(cb.get("ms_before"), (int, float), ctx)
        self.assertGreaterEqual(cb.get("ms_before"), 0, ctx)
        self.assertIn((rule, offset, 0, bad_dir), proxy.violations(conn), ctx)


def _reaction_test(role, kind, corruption, via_proxy):
    def test(self):
        code = CORRUPTIONS[corruption][2]
        args = [] if via_proxy else None
        if role == "server":
            frame, proxy = self.server_reaction(kind, corruption, args)
        else:
            frame, proxy = self.client_reaction(kind, corruption, args)
        self.assertEqual(frame.close_code, code, f"{kind} {role} closed with {frame.close_code}")
        if via_proxy:
            self.check_caused_by(proxy, corruption, S2C if role == "server" else C2S)

    return test


for _k in KINDS:
    for _role in ("server", "client"):
        for _corr in CORRUPTIONS:
            _name = f"test_{_k}_{_role}_{_corr}"
            setattr(PeerReactionTest, _name, _reaction_test(_role, _k, _corr, False))
            setattr(ProxiedReactionTest, _name, _reaction_test(_role, _k, _corr, True))


if __name__ == "__main__":
    unittest.main()
