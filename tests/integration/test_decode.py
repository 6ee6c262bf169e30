"""`wsinspect decode --sender` on one direction's bytes, and `wsinspect rules
--lang`, run as the binary:

- every hex form `--hex` reads (plain, xxd, xxd -g1, hexdump -C, xxd -i, a
  JavaScript array, \\x escapes; the dumps made by the real xxd and hexdump
  when installed) decodes to the frames of the raw bytes;
- a stream that starts with its HTTP handshake: a request makes the bytes
  the client's and its permessage-deflate offer is assumed accepted (said in
  a line and an `assumed` event), a 101 makes them the server's and says
  what was negotiated; a --sender the handshake contradicts, a response
  other than 101, a request that is no upgrade and a cut handshake are
  usage errors;
- --preview shows a message's content as the application gets it: inflated,
  the fragments joined, in one line;
- sizes are shown with units, with the exact count from 1000 bytes;
- `rules --lang pt-BR` gives the summary and fix in Portuguese.

Every JSON line is checked against docs/events.schema.json.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
import zlib
from pathlib import Path

from harness import (
    BINARY,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    REPO,
    TIMEOUT,
    build_frame,
    check_exit,
    close_payload,
    response_101,
    upgrade_request,
    validate_lines,
)

MASK = b"\x37\xfa\x21\x3d"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ENV = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG")}


def decode(*args, data: bytes = b"", env=None):
    r = subprocess.run([str(BINARY), "decode", *args], input=data, capture_output=True, timeout=TIMEOUT, env=env or ENV)
    check_exit("wsinspect decode", r.returncode, r.stderr.decode(errors="replace"), False)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def events(*args, data: bytes = b""):
    rc, out, err = decode("--json", *args, data=data)
    return rc, validate_lines(out, f"wsinspect decode --json {' '.join(args)}"), err


def compress_messages(*texts: bytes) -> list:
    """Each message's permessage-deflate payload, one compressor for all (the
    context taken over): raw deflate, the trailing 00 00 ff ff removed."""
    c = zlib.compressobj(wbits=-15)
    out = []
    for t in texts:
        data = c.compress(t) + c.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        out.append(data[:-4])
    return out


def request_with(extensions=None, path="/chat?token=secret") -> bytes:
    return upgrade_request("example.test", path, key=KEY, extensions=extensions)[0]


def kinds(evs) -> list:
    return [e["event"] for e in evs]


class HexForms(unittest.TestCase):
    """Each form of --hex gives the frames of the raw bytes."""

    @classmethod
    def setUpClass(cls):
        cls.raw = (
            build_frame(OP_TEXT, b"Hello {hex|dump}", mask=b"\0\0\0\0")  # the text shows in the dumps
            + build_frame(OP_BINARY, bytes(range(200)), mask=MASK)
            + build_frame(OP_PING, b"p", mask=MASK)
            + build_frame(OP_CLOSE, close_payload(1000), mask=MASK)
        )
        rc, cls.expected, _ = events("--sender", "client", data=cls.raw)
        assert rc == 0, cls.expected

    def same_frames(self, text: str, form: str):
        rc, got, err = events("--sender", "client", "--hex", data=text.encode())
        self.assertEqual(rc, 0, f"{form}: {err}\n{text[:800]}")
        self.assertEqual(got, self.expected, form)

    def test_raw_frames(self):
        frames = [(e["frame_index"], e["offset"], e["opcode_name"], e["length"]) for e in self.expected if e["event"] == "frame"]
        self.assertEqual(frames, [(0, 0, "text", 16), (1, 22, "binary", 200), (2, 230, "ping", 1), (3, 237, "close", 2)])

    def test_plain_hex(self):
        h = self.raw.hex()
        self.same_frames("# frames\n" + "\n".join(h[i : i + 33] for i in range(0, len(h), 33)) + "\n", "plain")

    def tool(self, *argv) -> str:
        if not shutil.which(argv[0]):
            self.skipTest(f"{argv[0]} is not installed")
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(self.raw)
            f.flush()
            return subprocess.run([*argv, f.name], capture_output=True, check=True, timeout=TIMEOUT).stdout.decode()

    def test_xxd(self):
        dump = self.tool("xxd")
        self.assertIn("  ......Hello {hex\n", dump)  # the text column, with '{' and '|'
        self.same_frames(dump, "xxd")

    def test_xxd_one_byte_groups(self):
        self.same_frames(self.tool("xxd", "-g1"), "xxd -g1")

    def test_hexdump_canonical(self):
        dump = self.tool("hexdump", "-C")
        self.assertTrue(dump.splitlines()[-1] == f"{len(self.raw):08x}", dump)
        self.same_frames(dump, "hexdump -C")

    def test_xxd_include(self):
        dump = self.tool("xxd", "-i")
        self.assertIn("unsigned char", dump)
        self.same_frames(dump, "xxd -i")

    def test_javascript_array_and_escapes(self):
        self.same_frames("[\n" + ",\n".join(f"  0x{b:x}" for b in self.raw) + "\n];\n", "js")
        self.same_frames("[" + ", ".join(f"0x{b:02X}" for b in self.raw) + "]\n", "js")
        self.same_frames("".join(f"\\x{b:02x}" for b in self.raw[:100]) + "\n'" + "".join(f"\\x{b:02x}" for b in self.raw[100:]) + "'\n", "escapes")

    def test_forms_mixed(self):
        a, b, c = self.raw[:22], self.raw[22:100], self.raw[100:]
        text = a.hex() + "\n" + ", ".join(f"0x{x:02x}" for x in b) + ",\n" + "".join(f"\\x{x:02x}" for x in c) + "\n"
        self.same_frames(text, "mixed")

    def test_bad_hex_says_where(self):
        rc, out, err = decode("--sender", "client", "--hex", data=b"81 05\n0x81, 0x1ff\n")
        self.assertEqual(rc, 2)
        self.assertEqual(err, "wsinspect decode: -:2: '0x1ff' is not one byte (0x and one or two hex digits)\n")
        rc, out, err = decode("--sender", "client", "--hex", data=b"81 \x1b\n")
        self.assertEqual(rc, 2)
        self.assertEqual(err, "wsinspect decode: -:1: not a hex digit: '\\x1b'\n")


class LeadingHandshake(unittest.TestCase):
    def test_an_offer_a_server_declines_is_skipped(self):
        # server_max_window_bits=20 is declined by a server, which takes the next offer.
        req = request_with("permessage-deflate; server_max_window_bits=20, permessage-deflate; client_no_context_takeover")
        (c1,) = compress_messages(b"second offer")
        rc, out, err = decode("--preview", "64", data=req + build_frame(OP_TEXT, c1, rsv=4, mask=MASK))
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertTrue(lines[0].endswith("permessage-deflate offered: client_no_context_takeover"), lines[0])
        self.assertIn("    warning request-deflate-offer-malformed (RFC 7692 \u00a77, \u00a77.1): permessage-deflate offer: "
                      'server_max_window_bits="20" is not 8..15', lines)
        self.assertIn("c->s assumed: permessage-deflate with client_no_context_takeover, as offered: the input holds the "
                      "client's request only, not the server's answer: the first permessage-deflate offer a server can "
                      "accept is taken as accepted as offered", lines)
        self.assertIn(f'c->s message from frame #0: text, 12 B inflated from {len(c1)} B: "second offer"', lines)

    def test_with_every_offer_declined_compression_is_not_negotiated(self):
        req = request_with("permessage-deflate; server_max_window_bits=20")
        (c1,) = compress_messages(b"compressed anyway")
        rc, out, err = decode(data=req + build_frame(OP_TEXT, c1, rsv=4, mask=MASK))
        self.assertEqual(rc, 1, err)  # RSV1 with nothing negotiated is an error
        lines = out.splitlines()
        self.assertTrue(lines[0].endswith('permessage-deflate offered with parameters a server declines '
                                          '(server_max_window_bits="20" is not 8..15): taken as not negotiated'), lines[0])
        self.assertFalse([l for l in lines if "assumed" in l], out)
        self.assertTrue([l for l in lines if l.startswith("c->s error rsv1-without-extension at offset 0, frame #0")], out)

    def test_request_with_deflate_offer_is_assumed_accepted(self):
        req = request_with("permessage-deflate; client_max_window_bits, x-webkit-deflate-frame")
        c1, c2 = compress_messages(b"hello hello hello", b"hello again")
        data = req + build_frame(OP_TEXT, c1, rsv=4, mask=MASK) + build_frame(OP_TEXT, c2, rsv=4, mask=MASK)
        rc, out, err = decode("--preview", "64", data=data)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        n = len(req)
        self.assertEqual(
            lines[0],
            f"c->s handshake: GET /chat HTTP/1.1, {n} B; the client's frames follow, their offsets counted from its end; "
            "permessage-deflate offered: client_max_window_bits",
        )
        self.assertEqual(
            lines[1],
            "c->s assumed: permessage-deflate with no parameters, as offered (client_max_window_bits without a "
            "value is only a hint): the input holds the client's request only, not the server's answer: the first "
            "permessage-deflate offer a server can accept is taken as accepted as offered",
        )
        self.assertTrue(lines[2].startswith("c->s frame #0    @0        FIN RSV1 text         masked len="), lines[2])
        self.assertNotIn("c->s error", out)  # no violation
        self.assertNotIn("c->s warning", out)
        self.assertIn(f"c->s message from frame #0: text, {len(c1)} B in 1 frame, compressed (17 B inflated)", lines)
        self.assertIn(f'c->s message from frame #0: text, 17 B inflated from {len(c1)} B: "hello hello hello"', lines)
        self.assertIn(f'c->s message from frame #1: text, 11 B inflated from {len(c2)} B: "hello again"', lines)
        self.assertTrue(lines[-1].startswith(f"c->s summary: {len(data) - n} B, 2 frames, 2 messages, 0 close frames, 0 errors, 0 warnings"), lines[-1])
        self.assertNotIn("secret", out)

        rc, evs, _ = events(data=data)
        self.assertEqual(rc, 0)
        self.assertEqual(evs[0], {"event": "stream_handshake", "dir": "client_to_server", "http": "request", "start_line": "GET /chat HTTP/1.1", "length": n, "extensions": "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame", "findings": []})
        self.assertEqual(evs[1]["event"], "assumed")
        self.assertEqual({k: evs[1][k] for k in ("dir", "extension", "params", "source")}, {"dir": "client_to_server", "extension": "permessage-deflate", "params": "", "source": "offer"})
        self.assertEqual(kinds(evs[2:]), ["frame", "message", "frame", "message", "summary"])
        self.assertEqual(evs[-1]["errors"], 0)
        self.assertEqual([e["inflated_size"] for e in evs if e["event"] == "message"], [17, 11])

    def test_request_offer_parameters_apply(self):
        req = request_with("permessage-deflate; client_no_context_takeover; client_max_window_bits=10")
        c = zlib.compressobj(wbits=-10)
        payload = (c.compress(b"abc" * 50) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
        rc, evs, err = events(data=req + build_frame(OP_TEXT, payload, rsv=4, mask=MASK))
        self.assertEqual(rc, 0, err)
        self.assertEqual(evs[1]["params"], "client_no_context_takeover; client_max_window_bits=10")
        self.assertEqual([e["inflated_size"] for e in evs if e["event"] == "message"], [150])

    def test_permessage_deflate_option_overrides_and_is_said(self):
        req = request_with(None)
        (c1,) = compress_messages(b"hi there")
        rc, out, err = decode("--permessage-deflate", data=req + build_frame(OP_TEXT, c1, rsv=4, mask=MASK))
        self.assertEqual(rc, 0, err)
        self.assertIn(
            "c->s assumed: permessage-deflate with no parameters, as given by --permessage-deflate: "
            "--permessage-deflate was given: it overrides what the request offered",
            out.splitlines(),
        )
        rc, evs, _ = events("--permessage-deflate", data=req + build_frame(OP_TEXT, c1, rsv=4, mask=MASK))
        self.assertEqual(evs[1]["source"], "option")

    def test_request_without_deflate_offer_decodes_rsv1_as_a_violation(self):
        rc, evs, _ = events(data=request_with(None) + build_frame(OP_TEXT, b"x", rsv=4, mask=MASK))
        self.assertEqual(rc, 1)
        self.assertEqual(kinds(evs)[:2], ["stream_handshake", "frame"])  # nothing assumed
        self.assertEqual([e["rule"] for e in evs if e["event"] == "violation"], ["rsv1-without-extension"])

    def test_request_findings_are_shown_and_fail(self):
        # An upgrade the proxy would flag: no key, draft version 8.
        req = b"GET /chat?token=secret HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n\r\n"
        data = req + build_frame(OP_TEXT, b"hi", mask=MASK)
        rc, out, err = decode(data=data)
        self.assertEqual((rc, err), (1, ""))
        self.assertEqual(
            out.splitlines()[:5],
            [
                f"c->s handshake: GET /chat HTTP/1.1, {len(req)} B; the client's frames follow, their offsets counted from its end; no permessage-deflate",
                "    error request-missing-key (RFC 6455 §4.2.1): no Sec-WebSocket-Key header",
                "      fix: Check the client; if it does send the key, a hop between it and the server filters Sec-WebSocket-* headers.",
                '    error request-unsupported-version (RFC 6455 §4.2.2, §4.4): Sec-WebSocket-Version: "8", expected 13',
                "      fix: Move the client to RFC 6455 (version 13): the draft versions it may be sending are obsolete, and a hop that rewrote the header would show a different value on each side.",
            ],
        )
        self.assertTrue(out.splitlines()[5].startswith("c->s frame #0    @0        FIN text"), out)
        self.assertNotIn("secret", out)
        rc, evs, _ = events(data=data)
        self.assertEqual(rc, 1)
        self.assertEqual(kinds(evs), ["stream_handshake", "frame", "message", "summary"])
        version_at = req.index(b"Sec-WebSocket-Version")
        self.assertEqual(
            [(f["dir"], f["rule"], f["severity"], f["offset"], f["detail"]) for f in evs[0]["findings"]],
            [
                ("client_to_server", "request-missing-key", "error", len(req), "no Sec-WebSocket-Key header"),
                ("client_to_server", "request-unsupported-version", "error", version_at, 'Sec-WebSocket-Version: "8", expected 13'),
            ],
        )
        self.assertEqual((evs[0]["findings"][1]["http_status"], evs[0]["findings"][1]["rfc"]), (426, "RFC 6455 §4.2.2, §4.4"))
        # In hex, the same.
        rc, hex_evs, _ = events("--hex", data=data.hex().encode() + b"\n")
        self.assertEqual((rc, hex_evs[0]), (1, evs[0]))

    def test_a_warning_finding_is_shown_and_passes(self):
        req = request_with("permessage-deflate; =")  # malformed, so nothing is offered
        rc, out, err = decode(data=req + build_frame(OP_TEXT, b"hi", mask=MASK))
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(
            out.splitlines()[1:3],
            [
                "    warning request-deflate-offer-malformed (RFC 7692 §7, §7.1): permessage-deflate offer: expected a parameter name, found '='",
                "      fix: A conforming server then accepts the upgrade without compression, so the connection works uncompressed; fix the client's offer, or find the hop that rewrote Sec-WebSocket-Extensions.",
            ],
        )
        rc, evs, _ = events(data=req + build_frame(OP_TEXT, b"hi", mask=MASK))
        self.assertEqual(rc, 0)
        self.assertEqual([(f["rule"], f["severity"]) for f in evs[0]["findings"]], [("request-deflate-offer-malformed", "warning")])

    def test_response_headers_are_checked_for_status_and_upgrade_only(self):
        # No Sec-WebSocket-Accept, no Connection: without the request, nothing to check it by.
        resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        rc, evs, err = events(data=resp + build_frame(OP_TEXT, b"hi"))
        self.assertEqual((rc, err), (0, ""))
        self.assertNotIn("findings", evs[0])

    def test_server_stream_with_101_and_deflate(self):
        resp = response_101(KEY, "permessage-deflate; server_no_context_takeover")
        c1 = compress_messages(b"from the server")[0]
        c2 = compress_messages(b"fresh context")[0]  # a new compressor: no context taken over
        data = resp + build_frame(OP_TEXT, c1, rsv=4) + build_frame(OP_TEXT, c2, rsv=4) + build_frame(OP_CLOSE, close_payload(1000))
        rc, out, err = decode("--sender", "server", data=data)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(
            lines[0],
            f"s->c handshake: HTTP/1.1 101 Switching Protocols, {len(resp)} B; the server's frames follow, their "
            "offsets counted from its end; permessage-deflate negotiated: server_no_context_takeover",
        )
        self.assertFalse(any("assumed" in l for l in lines), out)
        self.assertIn(f"s->c message from frame #1: text, {len(c2)} B in 1 frame, compressed (13 B inflated)", lines)
        rc, evs, _ = events(data=data)
        self.assertEqual(evs[0]["http"], "response")
        self.assertEqual(kinds(evs), ["stream_handshake", "frame", "message", "frame", "message", "frame", "close", "summary"])
        self.assertEqual(evs[1]["offset"], 0)
        self.assertEqual(evs[-1]["errors"], 0)

    def test_server_stream_with_101_without_deflate(self):
        resp = response_101(KEY)
        data = resp + build_frame(OP_TEXT, b"plain") + build_frame(OP_TEXT, b"zz", rsv=4)
        rc, evs, _ = events(data=data)
        self.assertEqual(rc, 1)
        self.assertEqual(evs[0], {"event": "stream_handshake", "dir": "server_to_client", "http": "response", "start_line": "HTTP/1.1 101 Switching Protocols", "length": len(resp), "extensions": ""})
        self.assertEqual([(e["rule"], e["offset"]) for e in evs if e["event"] == "violation"], [("rsv1-without-extension", 7)])
        rc, out, _ = decode(data=data)
        self.assertTrue(out.splitlines()[0].endswith("; no permessage-deflate"), out)

    def test_interim_response_before_the_101(self):
        resp = b"HTTP/1.1 100 Continue\r\n\r\n" + response_101(KEY)
        rc, evs, err = events(data=resp + build_frame(OP_TEXT, b"hi"))
        self.assertEqual(rc, 0, err)
        self.assertEqual((evs[0]["start_line"], evs[0]["length"]), ("HTTP/1.1 101 Switching Protocols", len(resp)))
        self.assertEqual([(e["event"], e.get("offset")) for e in evs[1:3]], [("frame", 0), ("message", None)])

    def test_handshake_in_hex(self):
        data = request_with(None) + build_frame(OP_TEXT, b"hi", mask=MASK)
        rc, evs, err = events("--hex", data=data.hex().encode() + b"\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(kinds(evs), ["stream_handshake", "frame", "message", "summary"])
        self.assertEqual(evs[0]["length"], len(data) - 8)

    def test_sender_contradicted(self):
        rc, out, err = decode("--sender", "server", data=request_with(None) + build_frame(OP_TEXT, b"x", mask=MASK))
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertEqual(err, "wsinspect decode: -: it starts with an HTTP request, so the bytes after it are the client's, but --sender server was given\n")
        rc, out, err = decode("--sender", "client", data=response_101(KEY))
        self.assertEqual(rc, 2)
        self.assertEqual(err, "wsinspect decode: -: it starts with an HTTP 101 response, so the bytes after it are the server's, but --sender client was given\n")

    def test_response_not_101(self):
        rc, out, err = decode(data=b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n" + build_frame(OP_TEXT, b"x"))
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertEqual(err, "wsinspect decode: -: it starts with the response HTTP/1.1 403 Forbidden, not 101 Switching Protocols: the server did not switch to WebSocket, so no frames follow\n")

    def test_request_not_an_upgrade(self):
        rc, out, err = decode(data=b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(rc, 2)
        self.assertEqual(err, "wsinspect decode: -: it starts with an HTTP request that is not a WebSocket upgrade (GET /index.html HTTP/1.1 with no 'Upgrade: websocket'): nothing after it is frames\n")

    def test_handshake_cut_short(self):
        req = request_with(None)
        rc, out, err = decode(data=req[:-2])
        self.assertEqual(rc, 2)
        self.assertEqual(err, f"wsinspect decode: - ends inside the HTTP request it starts with ({len(req) - 2} bytes, the empty line that ends its head is missing)\n")

    def test_no_handshake_needs_sender(self):
        rc, out, err = decode(data=build_frame(OP_TEXT, b"x", mask=MASK))
        self.assertEqual(rc, 2)
        self.assertIn("--sender client|server is required", err)


class Preview(unittest.TestCase):
    def test_fragmented_message_is_one_line(self):
        data = (
            build_frame(OP_TEXT, b"Hello, ", fin=False, mask=MASK)
            + build_frame(OP_PING, b"!", mask=MASK)
            + build_frame(OP_CONT, b"frag", fin=False, mask=MASK)
            + build_frame(OP_CONT, b"mented\n world", mask=MASK)
        )
        rc, out, err = decode("--sender", "client", "--preview", "100", data=data)
        self.assertEqual(rc, 0, err)
        previews = [l for l in out.splitlines() if '"' in l]
        self.assertEqual(previews, ['c->s message from frame #0: text, 24 B: "Hello, fragmented\\n world"'])
        rc, evs, _ = events("--sender", "client", "--preview", "10", data=data)
        (p,) = [e for e in evs if e["event"] == "preview"]
        self.assertEqual(p, {"event": "preview", "dir": "client_to_server", "first_frame_index": 0, "opcode_name": "text", "frames": 3, "compressed": False, "length": 24, "payload": "Hello, fra", "truncated": True, "incomplete": False})
        self.assertEqual(kinds(evs).index("preview"), kinds(evs).index("message") + 1)

    def test_compressed_message_inflated(self):
        (c1,) = compress_messages(b"\x01compressed text")
        data = build_frame(OP_BINARY, c1, rsv=4)
        rc, out, err = decode("--sender", "server", "--permessage-deflate", "--preview", "5", data=data)
        self.assertEqual(rc, 0, err)
        self.assertIn(f'c->s message from frame #0: binary, 16 B inflated from {len(c1)} B: "\\x01comp"...'.replace("c->s", "s->c"), out.splitlines())

    def test_preview_bounded_like_the_proxy(self):
        rc, out, err = decode("--sender", "client", "--preview", "65537", data=b"")
        self.assertEqual(rc, 2)
        self.assertIn("--preview", err)
        rc, out, err = decode("--sender", "client", "--preview", "65536", data=b"")
        self.assertEqual(rc, 0, err)


class PreviewOfWholeConnections(unittest.TestCase):
    """--preview reaches the connection core (ConnConfig::preview) for
    --connection and for captures: one preview per message, after it."""

    def steps(self):
        req = request_with("permessage-deflate")
        resp = response_101(KEY, "permessage-deflate")
        (c1,) = compress_messages(b"first compressed")
        (c2,) = compress_messages(b"server's own")  # each direction has its compressor
        frames = build_frame(OP_TEXT, c1, rsv=4, mask=MASK) + build_frame(OP_TEXT, b"frag", fin=False, mask=MASK) + build_frame(OP_CONT, b"ments", mask=MASK)
        return [
            ("client", "data", req),
            ("server", "data", resp),
            ("client", "data", frames),
            ("server", "data", build_frame(OP_TEXT, c2, rsv=4)),
            ("client", "fin", None),
            ("server", "fin", None),
        ]

    def previews(self, evs):
        return [(e["dir"], e["payload"], e["frames"], e["compressed"]) for e in evs if e["event"] == "preview"]

    def test_connection_vector(self):
        lines = []
        for who, kind, data in self.steps():
            lines.append(f"{who} hex: {data.hex()}" if kind == "data" else f"{who} fin")
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "v.txt"
            path.write_text("\n".join(lines) + "\n")
            rc, evs, err = events("--connection", "--preview", "64", str(path))
            self.assertEqual(rc, 0, err)
            rc2, out, _ = decode("--connection", "--preview", "64", str(path))
        want = [("client_to_server", "first compressed", 1, True), ("client_to_server", "fragments", 2, False), ("server_to_client", "server's own", 1, True)]
        self.assertEqual(self.previews(evs), want)
        self.assertIn('c->s message from frame #1: text, 9 B: "fragments"', out.splitlines())

    def test_capture(self):
        from test_decode_pcap import Conversation, write_pcap

        conv = Conversation().steps(self.steps())
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "c.pcap"
            write_pcap(path, conv.link, conv.packets)
            rc, evs, err = events("--preview", "6", str(path))
        self.assertEqual(rc, 0, err)
        self.assertEqual(
            [(e["dir"], e["payload"], e["truncated"]) for e in evs if e["event"] == "preview"],
            [("client_to_server", "first ", True), ("client_to_server", "fragme", True), ("server_to_client", "server", True)],
        )


class Sizes(unittest.TestCase):
    def test_units_and_exact_counts(self):
        data = build_frame(OP_BINARY, bytes(1234), mask=MASK) + build_frame(OP_TEXT, b"ok", mask=MASK)
        rc, out, err = decode("--sender", "client", data=data)
        self.assertEqual(rc, 0, err)
        self.assertEqual(
            out.splitlines(),
            [
                "c->s frame #0    @0        FIN binary       masked len=1.2 kB (1234)",
                "c->s message from frame #0: binary, 1.2 kB (1234) in 1 frame",
                "c->s frame #1    @1242     FIN text         masked len=2 B",
                "c->s message from frame #1: text, 2 B in 1 frame",
                "c->s summary: 1.2 kB (1250), 2 frames, 2 messages, 0 close frames, 0 errors, 0 warnings",
            ],
        )


class RulesLanguage(unittest.TestCase):
    def rules(self, *args, env_lang=None):
        env = dict(ENV)
        if env_lang:
            env["LANG"] = env_lang
        r = subprocess.run([str(BINARY), "rules", *args], capture_output=True, text=True, timeout=TIMEOUT, env=env)
        check_exit("wsinspect rules", r.returncode, r.stderr, False)
        return r

    def test_pt_br_text(self):
        r = self.rules("--lang", "pt-BR", "reserved-opcode")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "reserved-opcode  [erro, RFC 6455 §5.2, fechamento 1002]")
        self.assertTrue(lines[2].startswith("    correção: "), lines)
        en = self.rules("--lang", "en", "reserved-opcode").stdout.splitlines()
        self.assertEqual(en[0], "reserved-opcode  [error, RFC 6455 §5.2, close 1002]")
        self.assertNotEqual(lines[1], en[1])
        self.assertEqual(self.rules("reserved-opcode", env_lang="pt_BR.UTF-8").stdout, r.stdout)
        self.assertEqual(self.rules("reserved-opcode", env_lang="C.UTF-8").stdout.splitlines(), en)

    def test_pt_br_json(self):
        pt = [json.loads(l) for l in self.rules("--json", "--lang", "pt_BR").stdout.splitlines()]
        en = [json.loads(l) for l in self.rules("--json", env_lang="pt_BR.UTF-8").stdout.splitlines()]
        self.assertEqual(len(pt), len(en))
        self.assertGreater(len(pt), 30)
        for a, b in zip(pt, en):
            self.assertEqual({k: v for k, v in a.items() if k not in ("summary", "fix")}, {k: v for k, v in b.items() if k not in ("summary", "fix")})
        self.assertGreater(sum(a["summary"] != b["summary"] for a, b in zip(pt, en)), len(pt) // 2)
        en_text = self.rules("--lang", "en").stdout
        self.assertIn(en[0]["summary"], en_text)  # English JSON is the English text's
        validate_lines("\n".join(json.dumps(e) for e in pt), "rules --json --lang pt_BR", "rule_entry")

    def test_unknown_language(self):
        r = self.rules("--lang", "pt-PT")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown language 'pt-PT'", r.stderr)


if __name__ == "__main__":
    unittest.main()
