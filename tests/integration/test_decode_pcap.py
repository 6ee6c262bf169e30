"""`wsinspect decode FILE.pcap|FILE.pcapng` on captures written here with
struct (classic pcap with Ethernet, 802.1Q, Linux cooked SLL and SLL2, BSD
loopback and raw IP over IPv4 and IPv6; pcapng with SHB, IDB and EPB blocks),
carrying connections built from the project's vectors:

- every connection vector, as a capture, gives the events `decode
  --connection` gives for it, whole and cut in 7-byte segments that are
  reordered and retransmitted;
- every frame vector, sent after a synthesized handshake, gives the frames,
  messages and violations `decode --sender` gives on the raw bytes;
- every handshake vector gives the events of `decode --connection` on its
  request and response;
- a missing segment is a gap, never a verdict; a conflicting retransmission
  is reported; a capture that starts mid-connection resynchronises on a frame
  header and says so; a pcapng whose interfaces differ in link type is
  refused with an explanation;
- a real capture by dumpcap or tcpdump on the loopback interface of a raw
  WebSocket exchange with a corrupted frame (skipped when neither can capture).

Lines of a capture carry ts, level, conn, client_addr and server_addr (and
midstream); they are dropped before comparing with the other decode modes.
"""

import json
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

from harness import (
    BINARY,
    REPO,
    accept_for,
    build_frame,
    check_exit,
    close_payload,
    load_vectors,
    make_key,
    upgrade_request,
    validate_lines,
)
from test_conn_vectors import VECTORS as CONN_VECTORS
from test_conn_vectors import load as load_conn_vector
from test_conn_vectors import render

HANDSHAKE_VECTORS = REPO / "tests" / "vectors" / "handshake"
LABEL_FIELDS = ("ts", "level", "conn", "client_addr", "server_addr", "midstream")

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10

# --- packets ---------------------------------------------------------------------


def tcp(sport, dport, seq, ack, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0) + payload


def ipv4(src, dst, seg):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 1, 0x4000, 64, 6, 0, bytes(src), bytes(dst)) + seg


def ipv6(src, dst, seg):
    return struct.pack("!IHBB16s16s", 0x60000000, len(seg), 6, 64, bytes(src), bytes(dst)) + seg


V4 = ([10, 0, 0, 1], [10, 0, 0, 2])
V6 = ([0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [1], [0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [2])

# name: (link type, IPv6?, wrap(ip bytes, v6) -> link-layer packet)
LINKS = {
    "ethernet": (1, False, lambda ip, v6: b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", 0x86DD if v6 else 0x0800) + ip),
    "ethernet-vlan": (1, False, lambda ip, v6: b"\x02" * 6 + b"\x04" * 6 + struct.pack("!HHH", 0x8100, 7, 0x86DD if v6 else 0x0800) + ip),
    "ethernet-ipv6": (1, True, lambda ip, v6: b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", 0x86DD) + ip),
    "sll": (113, False, lambda ip, v6: struct.pack("!HHH8sH", 0, 772, 6, b"\0" * 8, 0x86DD if v6 else 0x0800) + ip),
    "sll2-ipv6": (276, True, lambda ip, v6: struct.pack("!HHIHBB8s", 0x86DD if v6 else 0x0800, 0, 1, 772, 0, 6, b"\0" * 8) + ip),
    "null": (0, False, lambda ip, v6: struct.pack("<I", 30 if v6 else 2) + ip),
    "raw": (101, False, lambda ip, v6: ip),
    "raw-ipv6": (101, True, lambda ip, v6: ip),
}

# --- files -----------------------------------------------------------------------


def write_pcap(path, link, packets):
    """packets: [(time in seconds, bytes)]."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, link))
        for t, p in packets:
            sec, usec = int(t), int(round((t - int(t)) * 1e6))
            f.write(struct.pack("<IIII", sec, usec, len(p), len(p)) + p)


def _block(kind, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", kind, n) + body + struct.pack("<I", n)


def write_pcapng(path, links, packets):
    """links: one link type per interface; packets: [(time, bytes, interface)]."""
    with open(path, "wb") as f:
        f.write(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        for link in links:
            f.write(_block(1, struct.pack("<HHI", link, 0, 262144)))
        for t, p, iface in packets:
            us = int(round(t * 1e6))
            f.write(_block(6, struct.pack("<IIIII", iface, us >> 32, us & 0xFFFFFFFF, len(p), len(p)) + p))


# --- connections -------------------------------------------------------------------


class Conversation:
    """A TCP connection written as packets from steps like a connection
    vector's: (who, "data"|"fin"|"reset"|"time", bytes or ms). Data is cut
    into `segment` bytes (0: one segment per step); `shuffle` swaps each pair
    of a step's segments and `retransmit` sends every segment twice."""

    def __init__(self, link="ethernet", segment=0, shuffle=False, retransmit=False, handshake=True, t0=1764600000.0):
        self.link, self.v6, self.wrap = LINKS[link]
        self.segment, self.shuffle, self.retransmit = segment, shuffle, retransmit
        self.src, self.dst = V6 if self.v6 else V4
        self.ports = (40001, 8080)
        self.seq = {"client": 0x10000000, "server": 0xFFFFFF00}  # the server's wraps
        self.t = t0
        self.packets = []
        if handshake:
            self.send("client", SYN, b"", advance=False)
            self.seq["client"] += 1
            self.send("server", SYN | ACK, b"", advance=False)
            self.seq["server"] += 1
            self.send("client", ACK, b"", advance=False)

    def packet(self, who, flags, payload, seq):
        sp, dp = self.ports if who == "client" else self.ports[::-1]
        a, b = (self.src, self.dst) if who == "client" else (self.dst, self.src)
        other = self.seq["server" if who == "client" else "client"]
        seg = tcp(sp, dp, seq, other, flags, payload)
        ip = ipv6(a, b, seg) if self.v6 else ipv4(a, b, seg)
        return self.wrap(ip, self.v6)

    def send(self, who, flags, payload, advance=True):
        self.packets.append((self.t, self.packet(who, flags, payload, self.seq[who])))
        if advance:
            self.seq[who] += len(payload)

    def data(self, who, payload):
        if not payload:
            return
        n = self.segment or len(payload)
        segs = [(self.seq[who] + i, payload[i : i + n]) for i in range(0, len(payload), n)]
        if self.shuffle:
            for i in range(0, len(segs) - 1, 2):
                segs[i], segs[i + 1] = segs[i + 1], segs[i]
        for seq, p in segs:
            for _ in range(2 if self.retransmit else 1):
                self.packets.append((self.t, self.packet(who, ACK | PSH, p, seq)))
        self.seq[who] += len(payload)

    def steps(self, steps):
        for who, kind, value in steps:
            if kind == "data":
                self.data(who, value)
            elif kind == "fin":
                self.send(who, FIN | ACK, b"")
                self.seq[who] += 1
            elif kind == "reset":
                self.send(who, RST | ACK, b"")
            elif kind == "time":
                self.t += value / 1000.0
        return self


def run(*args, expect=None):
    r = subprocess.run([str(BINARY), "decode", *map(str, args)], capture_output=True, timeout=120)
    check_exit("wsinspect decode", r.returncode, r.stderr.decode(errors="replace"), False)
    if expect is not None and r.returncode not in expect:
        raise AssertionError(f"decode {args} exited {r.returncode}\n{r.stderr.decode()}\n{r.stdout.decode()[-3000:]}")
    return r


def events(*args):
    r = run("--json", *args, expect=(0, 1))
    return validate_lines(r.stdout.decode(), f"wsinspect decode --json {' '.join(map(str, args))}"), r.returncode


def unlabelled(evs):
    out = []
    for e in evs:
        if e.get("event") in ("capture_summary",):
            continue
        out.append({k: v for k, v in e.items() if k not in LABEL_FIELDS})
    return out


def summary(evs):
    return [e for e in evs if e.get("event") == "capture_summary"][-1]


def vector_text(steps):
    """A connection vector's steps written back as text."""
    lines = []
    for who, kind, value in steps:
        if kind == "data":
            lines.append(f"{who} hex: {value.hex()}")
        elif kind in ("fin", "reset"):
            lines.append(f"{who} {kind}")
        else:
            lines.append(f"time +{value}")
    return "\n".join(lines) + "\n"


def ended(steps):
    """Both streams end (or one is reset), as the connection does in a capture."""
    kinds = {(w, k) for w, k, _ in steps}
    if ("client", "reset") in kinds or ("server", "reset") in kinds:
        return list(steps)
    out = list(steps)
    for who in ("client", "server"):
        if (who, "fin") not in kinds:
            out.append((who, "fin", None))
    return out


class DecodePcap(unittest.TestCase):
    def setUp(self):
        if not BINARY.exists():
            self.skipTest(f"{BINARY} not built")
        self.dir = Path(tempfile.mkdtemp(prefix="wsi-pcap-"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def capture(self, conv, name="c.pcap", pcapng=False):
        path = self.dir / name
        if pcapng:
            write_pcapng(path, [conv.link], [(t, p, 0) for t, p in conv.packets])
        else:
            write_pcap(path, conv.link, conv.packets)
        return path

    def connection_events(self, steps):
        path = self.dir / "v.txt"
        path.write_text(vector_text(steps))
        evs, _ = events("--connection", path)
        return evs

    # --- connection vectors

    def test_connection_vectors_as_captures_give_the_events_of_decode_connection(self):
        files = sorted(CONN_VECTORS.glob("*.txt"))
        self.assertTrue(files)
        for f in files:
            steps, _ = load_conn_vector(f)
            steps = ended(steps)
            want = render(self.connection_events(steps))
            variants = [
                (link, dict()) for link in LINKS
            ] + [
                ("ethernet", dict(segment=7, shuffle=True, retransmit=True)),
                ("raw-ipv6", dict(segment=7, shuffle=True)),
                ("sll", dict(segment=1, retransmit=True)),
            ]
            for link, kw in variants:
                for pcapng in (False, True) if not kw else (False,):
                    with self.subTest(vector=f.stem, link=link, pcapng=pcapng, **kw):
                        conv = Conversation(link, **kw).steps(steps)
                        evs, _ = events(self.capture(conv, pcapng=pcapng))
                        got = render(unlabelled(evs))
                        self.assertEqual(got, want)
                        s = summary(evs)
                        self.assertEqual((s["connections"], s["gaps"], s["conflicts"]), (1, 0, 0))
                        lines = [e for e in evs if e.get("event") != "capture_summary"]
                        for e in lines:
                            self.assertEqual(e["client_addr"].split(":")[-1], "40001")
                            self.assertEqual(e["server_addr"].split(":")[-1], "8080")

    # --- frame vectors

    def test_frame_vectors_after_a_handshake_give_the_events_of_decode_on_the_raw_bytes(self):
        kinds = ("frame", "message", "violation", "close")
        for v in load_vectors():
            args = ["--sender", v.sender]
            if v.deflate:
                args.append("--permessage-deflate")
            if v.max_message_size:
                args += ["--max-message-size", v.max_message_size]
            raw = self.dir / "raw.bin"
            raw.write_bytes(v.data)
            want_evs, want_rc = events(*args, raw)
            want = [e for e in want_evs if e.get("event") in kinds]
            key = make_key()
            ext = "permessage-deflate" if v.deflate else None
            req, _ = upgrade_request("example.com", "/v", key=key, extensions=ext)
            resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + f"Sec-WebSocket-Accept: {accept_for(key)}\r\n".encode()
            if ext:
                resp += f"Sec-WebSocket-Extensions: {ext}\r\n".encode()
            resp += b"\r\n"
            steps = [("client", "data", req), ("server", "data", resp), (v.sender, "data", v.data), (v.sender, "fin", None)]
            extra = ["--max-message-size", v.max_message_size] if v.max_message_size else []
            for kw in (dict(), dict(segment=7, shuffle=True, retransmit=True)):
                with self.subTest(vector=v.name, **kw):
                    conv = Conversation("ethernet", **kw).steps(steps)
                    evs, rc = events(*extra, self.capture(conv))
                    got = [e for e in unlabelled(evs) if e.get("event") in kinds]
                    # The connection's close events add what the raw decode cannot know.
                    strip = ("in_reply", "caused_by", "note", "explanation_link")
                    if kw:
                        # Inflation stops at --max-message-size: how far it got
                        # past the limit depends on how the bytes were cut.
                        strip += ("inflated_size",)
                    norm = lambda es: [{k: x for k, x in e.items() if k not in strip} for e in es]
                    self.assertEqual(norm(got), norm(want))
                    self.assertEqual(rc, want_rc)

    # --- handshake vectors

    def test_handshake_vectors_as_captures_give_the_events_of_decode_connection(self):
        files = sorted(HANDSHAKE_VECTORS.glob("*.txt"))
        self.assertTrue(files)
        for f in files:
            request, response, section, hexbuf = b"", b"", "", ""
            for line in f.read_text().split("\n"):
                line = line.rstrip("\r")
                if line.startswith(">>> "):
                    if section.endswith("hex"):
                        if section.startswith("request"):
                            request += bytes.fromhex("".join(hexbuf.split()))
                        else:
                            response += bytes.fromhex("".join(hexbuf.split()))
                    section, hexbuf = line[4:], ""
                    continue
                if section == "request":
                    request += line.encode() + b"\r\n"
                elif section == "response":
                    response += line.encode() + b"\r\n"
                elif section.endswith("hex"):
                    hexbuf += line.split("#", 1)[0]
            if section.endswith("hex"):
                data = bytes.fromhex("".join(hexbuf.split()))
                if section.startswith("request"):
                    request += data
                else:
                    response += data
            # getline's last line: the file's final newline adds no line.
            steps = [("client", "data", request)]
            if response:
                steps.append(("server", "data", response))
            steps = ended(steps)
            with self.subTest(vector=f.stem):
                want = render(self.connection_events(steps))
                conv = Conversation("sll", segment=7, shuffle=True).steps(steps)
                evs, _ = events(self.capture(conv))
                self.assertEqual(render(unlabelled(evs)), want)

    # --- what a capture does to a connection

    def websocket_steps(self, frames_from_client):
        key = make_key()
        req, _ = upgrade_request("example.com", "/chat", key=key)
        resp = f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept_for(key)}\r\n\r\n".encode()
        return [("client", "data", req), ("server", "data", resp), ("client", "data", frames_from_client)]

    def test_missing_segment_is_a_gap_and_never_a_verdict(self):
        frames = b"".join(build_frame(1, f"message {i}".encode() * 5, mask=True) for i in range(20))
        steps = self.websocket_steps(frames) + [("client", "fin", None), ("server", "fin", None)]
        conv = Conversation("ethernet", segment=50).steps(steps)
        # Drop one client data segment in the middle of the frames.
        data_packets = [i for i, (t, p) in enumerate(conv.packets) if len(p) > 14 + 40 + 50 - 1 and p[14 + 20 + 1] == 0x41]
        del conv.packets[data_packets[len(data_packets) // 2]]
        evs, rc = events(self.capture(conv))
        gaps = [e for e in evs if e.get("event") == "gap"]
        self.assertEqual(len(gaps), 1, evs)
        self.assertEqual(gaps[0]["dir"], "client_to_server")
        self.assertEqual([e for e in evs if e.get("event") == "violation"], [])
        self.assertEqual(rc, 0)
        self.assertEqual(summary(evs)["gaps"], 1)

    def test_conflicting_retransmission_is_reported_and_the_first_copy_wins(self):
        good = build_frame(1, b"hello world", mask=b"\x01\x02\x03\x04")
        steps = self.websocket_steps(good) + [("client", "fin", None), ("server", "fin", None)]
        conv = Conversation("raw").steps(steps)
        # A second copy of the frame with RSV2 set, sent after the first.
        i = max(i for i, (t, p) in enumerate(conv.packets) if p.endswith(good))
        t, p = conv.packets[i]
        bad = bytearray(good)
        bad[0] |= 0x20
        conv.packets.insert(i + 1, (t, p[: -len(good)] + bytes(bad)))
        evs, rc = events(self.capture(conv))
        conflicts = [e for e in evs if e.get("event") == "tcp_conflict"]
        self.assertEqual(len(conflicts), 1, evs)
        self.assertEqual(conflicts[0]["dir"], "client_to_server")
        self.assertEqual([e for e in evs if e.get("event") == "violation"], [])
        self.assertEqual(rc, 0)

    def test_capture_starting_mid_connection_resynchronises_and_says_so(self):
        # Fixed masking keys: the masked payload the capture starts in is the
        # same on every run.
        head = build_frame(2, bytes(range(256)) + b"\xaa" * 44, mask=b"\x9c\x31\x6e\xd4")
        frames = head + b"".join(build_frame(1, f"m{i}".encode(), mask=bytes([i, 7, 9, 11])) for i in range(5))
        bad = build_frame(1, b"after", rsv=2, mask=b"\x01\x02\x03\x04")  # RSV2 with nothing negotiated
        reply = b"".join(build_frame(1, f"r{i}".encode()) for i in range(4))
        conv = Conversation("ethernet", handshake=False)
        conv.steps([("client", "data", frames[17:] + bad), ("server", "data", reply), ("client", "fin", None), ("server", "fin", None)])
        evs, rc = events(self.capture(conv))
        resync = [e for e in evs if e.get("event") == "resync"]
        self.assertEqual(sorted(e["dir"] for e in resync), ["client_to_server", "server_to_client"], evs)
        c2s = [e for e in resync if e["dir"] == "client_to_server"][0]
        # The first message start, or (in a longer chain) the second.
        first = build_frame(1, b"m0", mask=bytes([0, 7, 9, 11]))
        self.assertIn(c2s["skipped"], (len(head) - 17, len(head) - 17 + len(first)), evs)
        violations = [e for e in evs if e.get("event") == "violation"]
        self.assertEqual([v["rule"] for v in violations], ["reserved-bits-set"], evs)
        self.assertTrue(all(e.get("midstream") for e in evs if e.get("event") != "capture_summary"))
        self.assertEqual(summary(evs)["midstream"], 1)
        self.assertEqual(rc, 1)
        text = run(self.capture(conv), expect=(1,)).stdout.decode()
        self.assertIn("(mid-stream)", text)
        self.assertIn("mid-stream: no handshake in the capture", text)

    def test_other_tcp_is_skipped_and_counted(self):
        conv = Conversation("ethernet").steps([("client", "data", b"\x16\x03\x01\x02\x00" + b"\x01" * 40), ("server", "data", b"\x16\x03\x03" + b"\x02" * 50), ("client", "fin", None), ("server", "fin", None)])
        evs, rc = events(self.capture(conv))
        self.assertEqual([e for e in evs if e.get("event") != "capture_summary"], [])
        s = summary(evs)
        self.assertEqual((s["connections"], s["skipped"], s["websocket"]), (1, 1, 0))
        self.assertEqual(rc, 0)

    def test_open_connection_at_the_end_of_the_capture_reports_no_1006(self):
        steps = self.websocket_steps(build_frame(1, b"hi", mask=True))
        evs, _ = events(self.capture(Conversation("ethernet").steps(steps)))
        close = [e for e in evs if e.get("event") == "conn_close"]
        self.assertEqual(close[0]["ended_by"], "capture_ended")
        self.assertEqual([e for e in evs if e.get("event") == "close"], [])
        self.assertEqual(summary(evs)["open_at_end"], 1)

    def test_text_lines_carry_the_addresses(self):
        steps = self.websocket_steps(build_frame(1, b"hi", mask=True)) + [("client", "fin", None), ("server", "fin", None)]
        out = run(self.capture(Conversation("raw-ipv6").steps(steps)), expect=(0,)).stdout.decode()
        lines = [l for l in out.splitlines() if l and not l.startswith(" ")]
        self.assertTrue(all("[2001:db8::1]:40001 > [2001:db8::2]:8080" in l for l in lines[:-1]), out)
        self.assertTrue(lines[-1].startswith("capture: "), out)

    def test_pcapng_with_interfaces_of_different_link_types_is_explained(self):
        conv = Conversation("ethernet").steps(self.websocket_steps(b""))
        raw = Conversation("raw").steps(self.websocket_steps(b""))
        path = self.dir / "mixed.pcapng"
        write_pcapng(path, [1, 101], [(t, p, 0) for t, p in conv.packets] + [(t, p, 1) for t, p in raw.packets])
        r = run("--json", path)
        self.assertEqual(r.returncode, 2)
        err = r.stderr.decode()
        self.assertIn("one link type", err)
        self.assertIn("frame.interface_id", err)
        self.assertIn(b'"capture_summary"', r.stdout)
        # The recipe the message gives works.
        if not (shutil.which("tshark") and shutil.which("editcap")):
            return
        for iface, encap in ((0, "ether"), (1, "rawip")):
            part = self.dir / f"part{iface}"
            subprocess.run(["tshark", "-r", str(path), "-Y", f"frame.interface_id=={iface}", "-w", f"{part}.pcapng"], capture_output=True, timeout=120, check=True)
            subprocess.run(["editcap", "-F", "pcap", "-T", encap, f"{part}.pcapng", f"{part}.pcap"], capture_output=True, timeout=60, check=True)
            evs, _ = events(f"{part}.pcap")
            self.assertEqual([e["event"] for e in evs if e.get("event") == "handshake"], ["handshake"])

    def test_options_of_one_direction_are_refused_for_a_capture(self):
        conv = Conversation("ethernet").steps(self.websocket_steps(b""))
        r = run("--sender", "client", self.capture(conv))
        self.assertEqual(r.returncode, 2)
        self.assertIn("capture file", r.stderr.decode())

    # --- a real capture

    def test_real_loopback_capture_flags_the_corrupted_frame(self):
        tool = shutil.which("dumpcap") or shutil.which("tcpdump")
        if not tool:
            self.skipTest("neither dumpcap nor tcpdump is installed")
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        path = self.dir / "lo.pcapng"
        if tool.endswith("dumpcap"):
            cmd = [tool, "-q", "-i", "lo", "-f", f"tcp port {port}", "-w", str(path)]
        else:
            cmd = [tool, "-q", "-U", "-i", "lo", "-w", str(path), f"tcp port {port}"]
        cap = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and cap.poll() is None and (not path.exists() or path.stat().st_size == 0):
                time.sleep(0.1)
            time.sleep(0.5)
            if cap.poll() is not None or not path.exists():
                self.skipTest(f"{tool} cannot capture on lo: {cap.stderr.read().decode(errors='replace')[-300:]}")

            def server():
                c, _ = srv.accept()
                buf = b""
                while b"\r\n\r\n" not in buf:
                    buf += c.recv(4096)
                key = [l.split(b":", 1)[1].strip() for l in buf.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key")][0]
                c.sendall(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept_for(key.decode())}\r\n\r\n".encode())
                data = b""
                c.settimeout(5)
                try:
                    while True:
                        d = c.recv(4096)
                        if not d:
                            break
                        data += d
                except socket.timeout:
                    pass
                c.sendall(build_frame(8, close_payload(1002, b"rsv")))
                c.close()

            th = threading.Thread(target=server)
            th.start()
            cl = socket.create_connection(("127.0.0.1", port))
            req, _ = upgrade_request(f"127.0.0.1:{port}", "/echo")
            cl.sendall(req)
            resp = b""
            while b"\r\n\r\n" not in resp:
                resp += cl.recv(4096)
            cl.sendall(build_frame(1, b"fine", mask=True))
            time.sleep(0.05)
            cl.sendall(build_frame(1, b"broken", rsv=2, mask=True))
            time.sleep(0.05)
            cl.shutdown(socket.SHUT_WR)
            while cl.recv(4096):
                pass
            cl.close()
            th.join(10)
            time.sleep(1.0)
        finally:
            cap.send_signal(signal.SIGINT)
            try:
                cap.wait(10)
            except subprocess.TimeoutExpired:
                cap.kill()
            srv.close()
            cap.stderr.close()
        evs, rc = events(path)
        violations = [e for e in evs if e.get("event") == "violation"]
        self.assertEqual([v["rule"] for v in violations], ["reserved-bits-set"], evs)
        self.assertEqual(violations[0]["dir"], "client_to_server")
        self.assertEqual(violations[0]["client_addr"].rsplit(":", 1)[0], "127.0.0.1")
        self.assertEqual(violations[0]["server_addr"], f"127.0.0.1:{port}")
        closes = [e for e in evs if e.get("event") == "close" and not e.get("synthesized")]
        self.assertEqual([c["code"] for c in closes], [1002])
        self.assertEqual(closes[0]["caused_by"]["rule"], "reserved-bits-set")
        self.assertEqual(rc, 1)


if __name__ == "__main__":
    unittest.main()
