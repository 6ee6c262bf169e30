"""Which hop broke my WebSocket? wsinspect's answer, checked against real hops.

The scenarios of test_intermediaries.py (proved there at the endpoints), now
with wsinspect naming what the hop did:

- bracket mode: one wsinspect on both sides of the hop (--bracket-listen is
  where the hop forwards to, --bracket-upstream the server); A is "front"
  (client side), B is "back" (server side) in its texts;
- two wsinspect instances, one in front of the hop and one behind it, each
  with --capture and --log-digests, then `wsinspect compare` of the two
  captures, of the two logs, and of a capture with a log;
- two dumpcaps on loopback (no wsinspect in the path), one on the
  client-to-hop port and one on the hop-to-server port, then `compare`.

The hops: HAProxy and nginx hiding the server's Sec-WebSocket-Extensions or
ending an idle tunnel after 1 s, and the corrupting relay of intermediaries.py
(its .actions say which frame it changed: frame_index in the stream as the
sender wrote it, out_frame_index as relayed). For a server-to-client change
the sender's side is back (frame_b = frame_index, frame_a =
out_frame_index); for client-to-server it is front.

Peers: the Python `websockets` sender server (tests/peers/py_sender.py) and
the Node `ws` probe (tests/peers/ws_probe.js). Everything skips when haproxy,
nginx, node/ws, python3-websockets or a capturing dumpcap is missing.
"""

import re
import shutil
import tempfile
import unittest
from pathlib import Path

from harness import BINARY, C2S, OP_TEXT, RSV1, S2C, TIMEOUT, Proxy, is_event, require_proxy
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
from which_hop_support import (
    Chain,
    DelayRelay,
    Dumpcap,
    Instances,
    describe_events,
    dumpcap_available,
    hop_events,
    idle_seconds,
    run_compare,
    start_bracket,
    which_hop_built,
    DUMPCAP,
)

STRIP_HAPROXY = "http-response del-header Sec-WebSocket-Extensions"
STRIP_NGINX = "proxy_hide_header Sec-WebSocket-Extensions"

HOPS_STRIP = {
    "haproxy": lambda up: Haproxy(0, up, extra_backend=[STRIP_HAPROXY]),
    "nginx": lambda up: Nginx(0, up, extra=[STRIP_NGINX]),
}
HOPS_IDLE = {
    "haproxy": lambda up: Haproxy(0, up, timeouts={"tunnel": "1s", "client": "30s", "server": "30s"}),
    "nginx": lambda up: Nginx(0, up, extra=["proxy_read_timeout 1s"]),
}
# How each hop ends the idle tunnel (test_intermediaries.IdleTimeoutTcpTest):
# (towards the client, towards the server) in the comparer's words.
IDLE_ENDS = {"haproxy": ("a FIN", "a reset"), "nginx": ("a FIN", "a FIN")}

TCP_END_RE = re.compile(
    r"^the hop ended both legs \(towards (\S+) with (a FIN|a reset), towards (\S+) with (a FIN|a reset)\) "
    r"after (\d+(?:\.\d+)?) s of silence, while neither the client nor the server had closed$"
)


def require_which_hop(test) -> None:
    require_proxy(test)
    if not which_hop_built():
        test.skipTest(f"{BINARY} has no bracket mode or `compare` (a build from before them)")


def require_hop(test, name: str) -> None:
    (require_haproxy if name == "haproxy" else require_nginx)(test)


def server_sent(server) -> list:
    """The sha256 of each message the sender server sent on its latest connection."""
    out = []
    for e in server.snapshot():
        if e.get("event") == "open":
            out = []
        elif e.get("event") == "sent":
            out.append(e["sha256"])
    return out


def first_byte(header_hex: str) -> int:
    return int(header_hex[:2], 16)


class Case(unittest.TestCase):
    def setUp(self):
        require_which_hop(self)
        require_peers(self)

    def start(self, obj):
        self.addCleanup(obj.stop)
        return obj

    def tmpdir(self) -> Path:
        d = tempfile.mkdtemp(prefix="wsi-which-hop-")
        self.addCleanup(shutil.rmtree, d, True)
        return Path(d)

    def bracket(self, hop_factory, server, *args):
        proxy, hop = start_bracket(hop_factory, server.address, *args)
        self.addCleanup(hop.stop)
        self.addCleanup(proxy.stop)  # runs first
        return proxy, hop

    def instances(self, hop_factory, server, *args) -> Instances:
        return self.start(Instances(hop_factory, server.address, self.tmpdir(), *args))

    def bracket_events(self, proxy) -> list:
        """The hop_* events, once the pair's hop_verdict is logged."""
        proxy.wait_for(is_event("hop_verdict"), TIMEOUT, "hop_verdict")
        return hop_events(proxy.snapshot())

    # --- checks on one matched pair

    def one_pair(self, events: list, ctx: str) -> "tuple[list, dict]":
        """(the hop_diff events, the hop_verdict) of the one matched pair;
        checks that the verdict counts what the diffs say."""
        ctx = ctx + "\n--- hop events:\n" + describe_events(events)
        self.assertEqual([e for e in events if e.get("event") == "hop_unmatched"], [], ctx)
        verdicts = [e for e in events if e.get("event") == "hop_verdict"]
        self.assertEqual(len(verdicts), 1, ctx)
        v = verdicts[0]
        diffs = [e for e in events if e.get("event") == "hop_diff"]
        for d in diffs:
            self.assertEqual((d.get("conn_a"), d.get("conn_b")), (v.get("conn_a"), v.get("conn_b")), ctx)
        significant = [d for d in diffs if d.get("significant")]
        self.assertEqual(v.get("differences"), len(diffs), ctx)
        self.assertEqual(v.get("benign"), len(diffs) - len(significant), ctx)
        self.assertEqual(v.get("significant"), bool(significant), ctx)
        self.assertEqual(v.get("identical"), not diffs, ctx)
        self.assertEqual(v.get("path"), "/", ctx)
        return diffs, v

    def check_summary(self, c, significant: int, ctx: str, identical: int = 0, benign_only: int = 0) -> None:
        s = c.of("compare_summary")
        self.assertEqual(len(s), 1, ctx)
        got = {k: s[0].get(k) for k in ("matched", "significant", "benign_only", "identical", "only_in_a", "only_in_b")}
        want = {"matched": 1, "significant": significant, "benign_only": benign_only, "identical": identical, "only_in_a": 0, "only_in_b": 0}
        self.assertEqual(got, want, ctx)


# --- a hop hides the server's Sec-WebSocket-Extensions ---------------------------------


class ExtensionStrippedTest(Case):
    """The server compresses (permessage-deflate in its 101); the hop removes
    the header, so the client fails on the first RSV1 frame (frame 0) and
    closes with 1002. wsinspect must blame the header, not the frames."""

    def run_client(self, url: str, server, ctx: str = "") -> dict:
        r = run_probe(url)
        ctx = f"\n{r}{ctx}"
        self.assertTrue(r["open"], ctx)
        self.assertEqual(r["extensions"], "", ctx)
        self.assertEqual(r["messages"], [], ctx)
        self.assertEqual(r["errors"], [{"code": "WS_ERR_UNEXPECTED_RSV_1", "message": "Invalid WebSocket frame: RSV1 must be clear"}], ctx)
        self.assertEqual((r["close"], r["closed_by"]), ({"code": 1006, "reason": ""}, "self"), ctx)
        close = server.wait_close()
        self.assertEqual((close["code"], close["close_frame"]), (1002, True), ctx)
        return r

    def check_blame(self, events: list, a: str, b: str, ctx: str) -> None:
        diffs, v = self.one_pair(events, ctx)
        ctx = ctx + "\n--- hop events:\n" + describe_events(events)
        removed = [d for d in diffs if d.get("kind") == "header-removed"]
        self.assertEqual(len(removed), 1, ctx)
        d = removed[0]
        self.assertEqual((d.get("header"), d.get("significant")), ("Sec-WebSocket-Extensions", True), ctx)
        self.assertTrue(d["text"].startswith("the response lost Sec-WebSocket-Extensions: permessage-deflate"), ctx)
        # The frames went through unchanged: the header is the first (and
        # the main) significant difference. Two more can come from a race:
        # ws sends its 1002 and a FIN at once, and nginx, which does not
        # half-close an upgraded connection, may tear both legs down before
        # the server's reply passes it: that close frame is then really lost,
        # and the client's FIN reaches the server as a reset (both seen in
        # about one run in three).
        significant = [x for x in diffs if x.get("significant")]
        self.assertEqual(significant[0].get("kind"), "header-removed", ctx)
        teardown = {
            ("close-lost", S2C): rf"the server's close frame \(1002\) \(frame \d+ at {b}\) never reached {a}: the client reports 1006 instead",
            ("tcp-end", C2S): rf"the client ended its stream with a FIN at {a}, which reached {b} as a reset",
        }
        for x in significant[1:]:
            self.assertIn((x.get("kind"), x.get("dir")), teardown, ctx)
            self.assertRegex(x.get("text", ""), "^" + teardown[(x.get("kind"), x.get("dir"))] + "$", ctx)
        self.assertTrue(v["significant"], ctx)
        t = v.get("text", "")
        self.assertTrue(t.startswith(f"between {a} and {b}: the response lost Sec-WebSocket-Extensions"), ctx)
        self.assertIn("then the client closed with 1002", t, ctx)
        self.assertIn(f"rsv1-without-extension on frame 0 of what it received, seen at {a}", t, ctx)

    # (a) bracket mode

    def bracket_case(self, name: str):
        require_hop(self, name)
        server = self.start(SenderServer("--send", "3"))
        proxy, hop = self.bracket(HOPS_STRIP[name], server)
        self.run_client(proxy.url, server, "\n" + hop.describe())
        events = self.bracket_events(proxy)
        self.check_blame(events, "front", "back", "\n" + proxy.describe())

    def test_haproxy_bracket(self):
        self.bracket_case("haproxy")

    def test_nginx_bracket(self):
        self.bracket_case("nginx")

    # (b) and (d): two wsinspect instances; their captures, their logs, and one of each

    def instances_case(self, name: str):
        require_hop(self, name)
        server = self.start(SenderServer("--send", "3"))
        inst = self.instances(HOPS_STRIP[name], server)
        self.run_client(inst.url, server, "\n" + inst.describe())
        inst.wait_closed()
        inst.stop()
        inputs = {
            "captures": (inst.front_pcap, inst.back_pcap),
            "logs": (inst.front_log, inst.back_log),
            "capture_and_log": (inst.front_pcap, inst.back_log),
        }
        for what, (a, b) in inputs.items():
            with self.subTest(what):
                c = run_compare(a, b, "--json")
                ctx = "\n" + c.describe()
                self.assertEqual(c.rc, 1, ctx)
                self.check_blame(c.events, "A", "B", ctx)
                self.check_summary(c, 1, ctx)

    def test_haproxy_compare_instances(self):
        self.instances_case("haproxy")

    def test_nginx_compare_instances(self):
        self.instances_case("nginx")

    # (c) two dumpcaps, no wsinspect in the path

    def dumpcap_case(self, name: str):
        require_hop(self, name)
        if not dumpcap_available():
            self.skipTest(f"no dumpcap at {DUMPCAP}")
        tmp = self.tmpdir()
        server = self.start(SenderServer("--send", "3"))
        hop = self.start(HOPS_STRIP[name](server.address))
        caps = [self.start(Dumpcap(hop.port, tmp / "a.pcapng")), self.start(Dumpcap(server.port, tmp / "b.pcapng"))]
        for d in caps:
            why = d.wait_ready()
            if why:
                self.skipTest(f"dumpcap cannot capture on lo: {why}")
        self.run_client(hop.url, server, "\n" + hop.describe())
        hop.stop()  # every connection of the hop ends: both captures are complete
        Dumpcap.settle(caps)
        for d in caps:
            d.stop()
            if not d.packets():
                self.skipTest(f"dumpcap captured nothing on lo: {d.stderr_text()[-300:]}")
        c = run_compare(tmp / "a.pcapng", tmp / "b.pcapng", "--json")
        ctx = "\n" + c.describe()
        self.assertEqual(c.rc, 1, ctx)
        self.check_blame(c.events, "A", "B", ctx)
        self.check_summary(c, 1, ctx)
        # The same in the text form a person reads.
        t = run_compare(tmp / "a.pcapng", tmp / "b.pcapng")
        ctx = "\n" + t.describe()
        self.assertEqual(t.rc, 1, ctx)
        lines = t.stdout.splitlines()
        self.assertTrue(any(l.startswith("hop header-removed: the response lost Sec-WebSocket-Extensions") for l in lines), ctx)
        self.assertTrue(any(l.startswith("hop verdict") and "then the client closed with 1002" in l for l in lines), ctx)
        self.assertTrue(lines[-1].startswith("compare: 1 connection matched (1 with differences an endpoint sees"), ctx)

    def test_haproxy_compare_dumpcaps(self):
        self.dumpcap_case("haproxy")

    def test_nginx_compare_dumpcaps(self):
        self.dumpcap_case("nginx")


# --- a hop's idle timeout --------------------------------------------------------------


class IdleTimeoutTest(Case):
    """HAProxy `timeout tunnel 1s`, nginx `proxy_read_timeout 1s`: after 1 s
    without traffic the hop ends both legs without a close frame; wsinspect
    must say the hop did it, after about 1 s of silence, with no close from
    either endpoint."""

    def run_client(self, url: str, server, ctx: str = "") -> None:
        r = run_probe(url, "--idle", "20", "--timeout", "25")
        ctx = f"\n{r}{ctx}"
        self.assertTrue(r["open"], ctx)
        self.assertEqual((r["close"], r["errors"], r["closed_by"]), ({"code": 1006, "reason": ""}, [], None), ctx)
        self.assertTrue(0.8 <= r["idle_s"] <= 3.0, f"idle {r['idle_s']:.3f} s{ctx}")
        close = server.wait_close()
        self.assertEqual((close["code"], close["close_frame"]), (1006, False), ctx)

    def check_tcp_end(self, events: list, name: str, a: str, b: str, ctx: str) -> None:
        diffs, v = self.one_pair(events, ctx)
        ctx = ctx + "\n--- hop events:\n" + describe_events(events)
        ends = [d for d in diffs if d.get("kind") == "tcp-end"]
        self.assertEqual(len(ends), 1, ctx)
        d = ends[0]
        self.assertTrue(d.get("significant"), ctx)
        self.assertEqual([x.get("kind") for x in diffs if x.get("significant")], ["tcp-end"], ctx)
        m = TCP_END_RE.match(d.get("text", ""))
        self.assertIsNotNone(m, f"tcp-end text not as expected{ctx}")
        towards_a, how_a, towards_b, how_b, secs = m.groups()
        self.assertEqual((towards_a, towards_b), (a, b), ctx)
        self.assertEqual((how_a, how_b), IDLE_ENDS[name], ctx)
        self.assertEqual(idle_seconds(d["text"]), float(secs))
        self.assertTrue(0.8 <= float(secs) <= 3.0, f"{secs} s of silence{ctx}")
        self.assertTrue(v["significant"], ctx)
        self.assertTrue(v["text"].startswith(f"between {a} and {b}: the hop ended both legs"), ctx)
        self.assertIn("the client reports 1006", v["text"], ctx)

    def bracket_case(self, name: str):
        require_hop(self, name)
        server = self.start(SenderServer("--send", "0"))
        proxy, hop = self.bracket(HOPS_IDLE[name], server)
        self.run_client(proxy.url, server, "\n" + hop.describe())
        self.check_tcp_end(self.bracket_events(proxy), name, "front", "back", "\n" + proxy.describe())

    def instances_case(self, name: str):
        require_hop(self, name)
        server = self.start(SenderServer("--send", "0"))
        inst = self.instances(HOPS_IDLE[name], server)
        self.run_client(inst.url, server, "\n" + inst.describe())
        inst.wait_closed()
        inst.stop()
        c = run_compare(inst.front_pcap, inst.back_pcap, "--json")
        ctx = "\n" + c.describe()
        self.assertEqual(c.rc, 1, ctx)
        self.check_tcp_end(c.events, name, "A", "B", ctx)
        self.check_summary(c, 1, ctx)

    def test_haproxy_bracket(self):
        self.bracket_case("haproxy")

    def test_nginx_bracket(self):
        self.bracket_case("nginx")

    def test_haproxy_compare_captures(self):
        self.instances_case("haproxy")

    def test_nginx_compare_captures(self):
        self.instances_case("nginx")


# --- the corrupting relay as the hop, in bracket mode --------------------------------------


def sender_side_frames(action: dict) -> dict:
    """Where the relay's frame is in wsinspect's numbering: the sender's side
    saw it as the sender wrote it, the receiver's side as relayed."""
    if action["direction"] == S2C:
        return {"frame_b": action["frame_index"], "frame_a": action["out_frame_index"]}
    return {"frame_a": action["frame_index"], "frame_b": action["out_frame_index"]}


class RelayBracketTest(Case):
    """client -> wsinspect (front) -> relay -> wsinspect (back) -> server: each
    corruption named with the kind, direction and frame the relay reports."""

    def relay_case(self, kind: str, relay_kw: dict, server_args: tuple, probe_args: tuple, proxy_args: tuple = (), delay: float = 0.0):
        """The relay as the hop (with `delay`: and behind it, on the server's
        side, a link that passes the server's bytes on that much later)."""

        def hop(up):
            if not delay:
                return CorruptingRelay(up, kind, **relay_kw)
            slow = DelayRelay(up, delay)
            try:
                return Chain(CorruptingRelay(slow.address, kind, **relay_kw), slow)
            except BaseException:
                slow.stop()
                raise

        server = self.start(SenderServer(*server_args))
        proxy, relay = self.bracket(hop, server, *proxy_args)
        r = run_probe(proxy.url, *probe_args)
        relay.wait_finished(timeout=TIMEOUT)
        events = self.bracket_events(proxy)
        ctx = f"\nprobe {r}\nrelay actions {relay.actions}\n" + proxy.describe()
        diffs, v = self.one_pair(events, ctx)
        ctx += "\n--- hop events:\n" + describe_events(events)
        # Benign header-case-or-order diffs aside, the relay passes the
        # handshake through: only frame differences remain.
        frame_diffs = [d for d in diffs if not d.get("kind", "").startswith("header-")]
        return r, relay.actions, frame_diffs, v, ctx

    def assert_at(self, d: dict, action: dict, ctx: str, sides=("frame_a", "frame_b")) -> None:
        want = sender_side_frames(action)
        self.assertEqual(d.get("dir"), action["direction"], ctx)
        for k in sides:
            self.assertEqual(d.get(k), want[k], f"{k}{ctx}")

    def test_rsv_is_frame_bits_changed(self):
        r, acts, diffs, v, ctx = self.relay_case("rsv", {"n": 1}, ("--deflate", "off", "--send", "3", "--size", "100"), ("--expect", "3"))
        self.assertEqual([e["code"] for e in r["errors"]], ["WS_ERR_UNEXPECTED_RSV_2_3"], ctx)
        self.assertEqual(len(acts), 1, ctx)
        a = acts[0]
        self.assertEqual([d["kind"] for d in diffs], ["frame-bits-changed"], ctx)
        d = diffs[0]
        self.assertTrue(d["significant"], ctx)
        self.assert_at(d, a, ctx)
        # The header bytes at each side: back as the server wrote it, front
        # with the relay's RSV bits.
        self.assertEqual((first_byte(d["header_hex_b"]) >> 4) & 7, a["rsv_before"], ctx)
        self.assertEqual((first_byte(d["header_hex_a"]) >> 4) & 7, a["rsv_after"], ctx)
        self.assertIn("then the client closed with 1002", v["text"], ctx)
        self.assertIn(f"reserved-bits-set on frame {a['out_frame_index']} of what it received, seen at front", v["text"], ctx)

    def test_flip_is_payload_changed(self):
        r, acts, diffs, v, ctx = self.relay_case("flip", {"n": 0}, ("--deflate", "off", "--send", "2", "--size", "100"), ("--expect", "2"))
        self.assertEqual([e["code"] for e in r["errors"]], ["WS_ERR_INVALID_UTF8"], ctx)
        self.assertEqual(len(acts), 1, ctx)
        self.assertEqual([d["kind"] for d in diffs], ["payload-changed"], ctx)
        self.assertTrue(diffs[0]["significant"], ctx)
        self.assert_at(diffs[0], acts[0], ctx)
        self.assertIn("then the client closed with 1007", v["text"], ctx)

    def test_flip_client_to_server(self):
        r, acts, diffs, v, ctx = self.relay_case(
            "flip", {"direction": C2S, "n": 0, "xor": 0x01, "byte": 4}, ("--deflate", "off", "--send", "0"), ("--send", "1", "--size", "100", "--expect", "1")
        )
        self.assertEqual(len(r["messages"]), 1, ctx)
        self.assertEqual(len(acts), 1, ctx)
        self.assertEqual([d["kind"] for d in diffs], ["payload-changed"], ctx)
        self.assertTrue(diffs[0]["significant"], ctx)
        self.assert_at(diffs[0], acts[0], ctx)
        self.assertTrue(diffs[0]["text"].startswith("the client's text message"), ctx)

    def test_split_is_benign(self):
        r, acts, diffs, v, ctx = self.relay_case("split", {"n": 1}, ("--send", "3", "--size", "1000"), ("--expect", "3"))
        self.assertEqual((r["errors"], len(r["messages"])), ([], 3), ctx)
        self.assertEqual(len(acts), 1, ctx)
        a = acts[0]
        self.assertEqual([d["kind"] for d in diffs], ["split"], ctx)
        d = diffs[0]
        self.assertFalse(d["significant"], ctx)
        self.assert_at(d, a, ctx)
        self.assertIn("1 frame became 2, content unchanged", d["text"], ctx)
        # Back: the whole compressed message (FIN, RSV1); front: its first
        # fragment (no FIN, RSV1 kept).
        self.assertEqual(first_byte(d["header_hex_b"]), 0x80 | (RSV1 << 4) | OP_TEXT, ctx)
        self.assertEqual(first_byte(d["header_hex_a"]), (RSV1 << 4) | OP_TEXT, ctx)
        self.assertEqual((v["significant"], v["identical"]), (False, False), ctx)

    def test_drop_is_dropped(self):
        r, acts, diffs, v, ctx = self.relay_case("drop", {"n": 1}, ("--deflate", "off", "--send", "3", "--size", "100", "--close", "1000"), ())
        self.assertEqual(len(r["messages"]), 2, ctx)
        self.assertEqual(len(acts), 1, ctx)
        self.assertEqual([d["kind"] for d in diffs], ["dropped"], ctx)
        d = diffs[0]
        self.assertTrue(d["significant"], ctx)
        self.assert_at(d, acts[0], ctx, sides=("frame_b",))
        self.assertIn(f"(frame {acts[0]['frame_index']} at back) never reached front", d["text"], ctx)

    def test_drop_with_a_small_window(self):
        # The server writes 12 messages at once and the hop is slow (0.3 s
        # on the server's side): back has them all before front has the
        # first, more than --bracket-window 4 ahead. Messages on their way
        # are not missing: front has not moved past them. Only frame 1 was
        # dropped; nothing was changed, inserted or reordered.
        r, acts, diffs, v, ctx = self.relay_case(
            "drop", {"n": 1}, ("--deflate", "off", "--send", "12", "--size", "100"), ("--expect", "11"), ("--bracket-window", "4"), delay=0.3
        )
        self.assertEqual(len(r["messages"]), 11, ctx)
        self.assertEqual(len(acts), 1, ctx)
        frames = [(d["kind"], d.get("frame_a"), d.get("frame_b")) for d in diffs if d["kind"] != "tcp-end"]
        self.assertEqual(frames, [("dropped", None, acts[0]["frame_index"])], ctx)

    def swallow_close(self):
        return self.relay_case(
            "swallow_close",
            {"hold": 1.0},
            ("--deflate", "off", "--send", "1", "--size", "100", "--close", "1000", "--close-timeout", "5"),
            ("--timeout", "20"),
        )

    def test_swallow_close_is_close_lost(self):
        r, acts, diffs, v, ctx = self.swallow_close()
        self.assertEqual(r["close"], {"code": 1006, "reason": ""}, ctx)
        self.assertEqual(len(acts), 1, ctx)
        lost = [d for d in diffs if d["kind"] == "close-lost"]
        self.assertEqual(len(lost), 1, ctx)
        d = lost[0]
        self.assertTrue(d["significant"], ctx)
        self.assert_at(d, acts[0], ctx, sides=("frame_b",))
        self.assertIn('close frame (1000 "server done")', d["text"], ctx)
        self.assertIn("never reached front: the client reports 1006", d["text"], ctx)
        self.assertTrue(v["text"].startswith("between front and back: the server's close frame"), ctx)

    def test_swallow_close_tcp_end_does_not_deny_the_server_close(self):
        # The relay ends both legs 1 s after swallowing the server's close
        # frame. A tcp-end diff may say so, but must not claim that the
        # server had not closed: back saw its close frame (the close-lost diff
        # of the same pair says so).
        r, acts, diffs, v, ctx = self.swallow_close()
        self.assertEqual([d["kind"] for d in diffs if d["kind"] == "close-lost"], ["close-lost"], ctx)
        for d in diffs:
            if d["kind"] == "tcp-end":
                self.assertNotIn("neither the client nor the server had closed", d["text"], ctx)

    def test_cut_above_drops_each_oversized_message(self):
        sizes = [10, 2000, 10, 70000, 10]
        r, acts, diffs, v, ctx = self.relay_case(
            "cut_above", {"size": 1000}, ("--deflate", "off", "--sizes", ",".join(map(str, sizes)), "--close", "1000"), ()
        )
        self.assertEqual(len(r["messages"]), 3, ctx)
        self.assertEqual(len(acts), 2, ctx)
        self.assertEqual([d["kind"] for d in diffs], ["dropped", "dropped"], ctx)
        for d, a in zip(diffs, acts):
            self.assertTrue(d["significant"], ctx)
            self.assert_at(d, a, ctx, sides=("frame_b",))
            self.assertIn(f"of {a['length']} bytes (frame {a['frame_index']} at back) never reached front", d["text"], ctx)

    def test_none_is_identical(self):
        r, acts, diffs, v, ctx = self.relay_case("none", {}, ("--send", "3", "--size", "5000"), ("--send", "2", "--size", "3000", "--expect", "5"))
        self.assertEqual(len(r["messages"]), 5, ctx)
        self.assertEqual(acts, [], ctx)
        self.assertEqual(diffs, [], ctx)
        self.assertFalse(v["significant"], ctx)
        self.assertTrue(v["identical"] or v["differences"] == v["benign"], ctx)


class RelayCompareControlTest(Case):
    """A relay that changes nothing, between two instances: compare exits 0."""

    def test_none_compare_exit_0(self):
        server = self.start(SenderServer("--send", "3", "--size", "5000"))
        inst = self.instances(lambda up: CorruptingRelay(up, "none"), server)
        r = run_probe(inst.url, "--send", "2", "--size", "3000", "--expect", "5")
        self.assertEqual(len(r["messages"]), 5, f"{r}\n{inst.describe()}")
        inst.wait_closed()
        inst.stop()
        for what, (a, b) in {"captures": (inst.front_pcap, inst.back_pcap), "logs": (inst.front_log, inst.back_log)}.items():
            with self.subTest(what):
                c = run_compare(a, b, "--json")
                ctx = "\n" + c.describe()
                self.assertEqual(c.rc, 0, ctx)
                _, v = self.one_pair(hop_events(c.events), ctx)
                self.assertEqual((v["identical"], v["significant"]), (True, False), ctx)
                self.check_summary(c, 0, ctx, identical=1)


# --- compare's usage errors ------------------------------------------------------------------


class CompareUsageTest(unittest.TestCase):
    def setUp(self):
        require_which_hop(self)
        d = tempfile.mkdtemp(prefix="wsi-which-hop-")
        self.addCleanup(shutil.rmtree, d, True)
        self.dir = Path(d)
        self.text = self.dir / "notes.txt"
        self.text.write_text("neither a capture nor a log\n")

    def check_error(self, c, *words) -> None:
        ctx = "\n" + c.describe()
        self.assertEqual(c.rc, 2, ctx)
        self.assertEqual(c.stdout, "", ctx)
        for w in words:
            self.assertIn(w, c.stderr, ctx)

    def test_missing_file(self):
        missing = self.dir / "nowhere.pcap"
        self.check_error(run_compare(missing, self.text), "cannot open", str(missing))
        self.check_error(run_compare(self.text, missing, "--json"), str(missing))

    def test_log_without_digests(self):
        # A real JSON log of a real connection, without --log-digests.
        require_peers(self)
        server = SenderServer("--send", "1")
        self.addCleanup(server.stop)
        proxy = Proxy(server.address)
        self.addCleanup(proxy.stop)
        run_probe(proxy.url, "--expect", "1")
        proxy.wait_for(is_event("conn_close"), what="conn_close")
        proxy.stop()
        log = self.dir / "plain.log"
        log.write_bytes(proxy.stdout_bytes())
        self.check_error(run_compare(log, log), str(log), "--log-digests")

    def test_text_file(self):
        self.check_error(run_compare(self.text, self.text), str(self.text), "neither a capture")

    def test_capture_and_log_need_the_key(self):
        require_peers(self)
        server = self.start_server()
        inst = Instances(lambda up: CorruptingRelay(up, "none"), server.address, self.dir)
        self.addCleanup(inst.stop)
        run_probe(inst.url, "--expect", "1")
        inst.wait_closed()
        inst.stop()
        self.check_error(run_compare(inst.front_pcap, inst.back_log, key=False), "WSINSPECT_DIGEST_KEY", "--digest-key-file")

    def start_server(self):
        s = SenderServer("--send", "1")
        self.addCleanup(s.stop)
        return s


if __name__ == "__main__":
    unittest.main()
