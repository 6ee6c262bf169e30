"""--capture FILE: both legs of every connection as pcap.

The capture is read back twice: by a pcap reader written here (addresses,
ports, TCP flags, sequence numbers, the bytes of each direction compared
with what the peers sent), and by tshark, whose WebSocket frame list must
be wsinspect's own. Also: the file's mode, SIGHUP, rotation, the path and
client filters, resets, TLS legs (the plaintext is captured), and the start
errors.
"""

import os
import shutil
import signal
import socket
import ssl
import stat
import struct
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from harness import (
    BINARY,
    C2S,
    HOST,
    OP_BINARY,
    OP_CLOSE,
    OP_TEXT,
    S2C,
    TIMEOUT,
    Proxy,
    RawSession,
    RawUpstream,
    build_frame,
    close_payload,
    is_event,
    require_proxy,
    upgrade_request,
)

KEY = b"\x11\x22\x33\x44"
LINKTYPE_RAW = 101
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def read_pcap(path: Path) -> "tuple[int, list]":
    """(link type, [(ts, src, sport, dst, dport, seq, ack, flags, payload)])
    of a classic pcap file with raw IPv4/IPv6 packets."""
    data = path.read_bytes()
    magic, _major, _minor, _tz, _sig, _snap, linktype = struct.unpack("<IHHiIII", data[:24])
    assert magic == 0xA1B2C3D4, f"{path}: not a little-endian microsecond pcap ({magic:#x})"
    out, i = [], 24
    while i < len(data):
        sec, usec, caplen, length = struct.unpack("<IIII", data[i : i + 16])
        pkt = data[i + 16 : i + 16 + caplen]
        i += 16 + caplen
        assert caplen == length, "a packet was cut"
        if pkt[0] >> 4 == 4:
            ihl = (pkt[0] & 15) * 4
            total = struct.unpack("!H", pkt[2:4])[0]
            src, dst = socket.inet_ntop(socket.AF_INET, pkt[12:16]), socket.inet_ntop(socket.AF_INET, pkt[16:20])
            tcp = pkt[ihl:total]
        else:
            plen = struct.unpack("!H", pkt[4:6])[0]
            src, dst = socket.inet_ntop(socket.AF_INET6, pkt[8:24]), socket.inet_ntop(socket.AF_INET6, pkt[24:40])
            tcp = pkt[40 : 40 + plen]
        sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", tcp[:14])
        out.append((sec + usec / 1e6, src, sport, dst, dport, seq, ack, flags, tcp[(off >> 4) * 4 :]))
    return linktype, out


class Flow:
    """One TCP connection of a capture: the bytes each side sent, in
    sequence order, checked to be contiguous from the SYN."""

    def __init__(self, packets: list, client: "tuple[str, int]"):
        self.client = client
        self.flags = {"client": [], "server": []}
        self.data = {"client": bytearray(), "server": bytearray()}
        next_seq = {}
        for _ts, src, sport, _dst, _dport, seq, _ack, flags, payload in packets:
            side = "client" if (src, sport) == client else "server"
            self.flags[side].append(flags)
            if flags & SYN:
                next_seq[side] = seq + 1
                continue
            if flags & RST:
                continue
            assert seq == next_seq[side], f"{side}: sequence {seq}, expected {next_seq[side]}"
            self.data[side] += payload
            next_seq[side] = seq + len(payload) + (1 if flags & FIN else 0)

    def ended_with(self, side: str, flag: int) -> bool:
        return any(f & flag for f in self.flags[side])


def flows(path: Path) -> dict:
    """{(client address, client port, server address, server port): Flow},
    the client being the sender of the SYN."""
    linktype, packets = read_pcap(path)
    assert linktype == LINKTYPE_RAW, linktype
    by_pair, clients = {}, {}
    for p in packets:
        pair = frozenset([(p[1], p[2]), (p[3], p[4])])
        by_pair.setdefault(pair, []).append(p)
        if p[7] & SYN and not p[7] & ACK:
            clients[pair] = (p[1], p[2])
    out = {}
    for pair, pkts in by_pair.items():
        client = clients.get(pair)
        assert client, f"a flow without its SYN: {sorted(pair)}"
        (server,) = pair - {client}
        out[client + server] = Flow(pkts, client)
    return out


def tshark_frames(path: Path, ports: list) -> list:
    """tshark's WebSocket frames: (src port, dst port, fin, opcode, masked, length)."""
    argv = [shutil.which("tshark"), "-r", str(path), "-Y", "websocket", "-T", "fields"]
    for port in ports:
        argv += ["-d", f"tcp.port=={port},http"]
    fields = ("tcp.srcport", "tcp.dstport", "websocket.fin", "websocket.opcode", "websocket.mask", "websocket.payload_length",
              "websocket.payload_length_ext_16", "websocket.payload_length_ext_64")
    for f in fields:
        argv += ["-e", f]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"tshark failed: {r.stderr}")
    out = []
    for line in r.stdout.splitlines():
        sport, dport, fins, ops, masks, lens, ext16, ext64 = line.split("\t")
        # One TCP segment may carry several frames: fields are comma-separated;
        # the extended lengths are listed for the frames that have one.
        ext = {126: [int(x) for x in ext16.split(",") if x], 127: [int(x) for x in ext64.split(",") if x]}
        for fin, op, mask, n in zip(fins.split(","), ops.split(","), masks.split(","), lens.split(",")):
            n = int(n)
            if n in ext:
                n = ext[n].pop(0)
            out.append((int(sport), int(dport), fin in ("1", "True"), int(op), mask in ("1", "True"), n))
    return out


class CaptureTestCase(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        self.pcap = self.dir / "legs.pcap"

    def proxy(self, upstream: str, *args) -> Proxy:
        p = Proxy(upstream, "--capture", str(self.pcap), *args)
        self.addCleanup(p.stop)
        return p

    def upstream(self) -> RawUpstream:
        up = RawUpstream()
        self.addCleanup(up.close)
        return up

    def exchange(self, proxy: Proxy, up: RawUpstream, path: str = "/chat") -> RawSession:
        """A WebSocket with frames both ways and a close handshake."""
        s = RawSession(up, proxy, path=path)
        self.addCleanup(s.close)
        s.client_port = s.client.sock.getsockname()[1]
        s.upstream_local = s.server.sock.getpeername()[1]  # the proxy's end of the upstream leg
        s.client.send(build_frame(OP_TEXT, b"hello", mask=KEY))
        s.client.send(build_frame(OP_TEXT, b"part one ", fin=False, mask=KEY) + build_frame(0, b"and two", mask=KEY))
        s.client.send(build_frame(OP_BINARY, bytes(range(256)) * 600, mask=KEY))  # 153,600 bytes
        s.server.send(build_frame(OP_TEXT, b"welcome"))
        s.server.send(build_frame(OP_BINARY, b"\x00" * 70000))
        s.client.send(build_frame(OP_CLOSE, close_payload(1000), mask=KEY))
        s.server.send(build_frame(OP_CLOSE, close_payload(1000)))
        for _ in range(4):
            s.server.recv_frame()
        for _ in range(3):
            s.client.recv_frame()
        s.server.shutdown_write()
        s.client.shutdown_write()
        s.client.recv_until_eof()
        s.server.recv_until_eof()
        proxy.wait_conn_close(s.conn)
        return s


class BothLegsTest(CaptureTestCase):
    def test_both_legs_carry_exactly_what_was_relayed(self):
        up = self.upstream()
        proxy = self.proxy(up.address)
        s = self.exchange(proxy, up)
        client_port, upstream_local = s.client_port, s.upstream_local
        proxy.stop()
        self.assertEqual(stat.S_IMODE(os.stat(self.pcap).st_mode), 0o600)
        legs = flows(self.pcap)
        # stopped counts the packets written (all of them: none dropped).
        stopped = proxy.wait_for(is_event("stopped"))
        self.assertEqual(stopped.get("capture_dropped"), 0, stopped)
        self.assertEqual(stopped.get("capture_packets"), len(read_pcap(self.pcap)[1]), stopped)
        client_leg = legs[(HOST, client_port, HOST, proxy.port)]
        upstream_leg = legs[(HOST, upstream_local, HOST, up.port)]
        self.assertEqual(len(legs), 2, sorted(legs))
        # The heads went out with sendall, the frames with send (recorded).
        sent = {"client": s.request.raw + bytes(s.client.sent), "server": s.response.raw + bytes(s.server.sent)}
        for leg in (client_leg, upstream_leg):
            for side in ("client", "server"):
                self.assertEqual(bytes(leg.data[side]), sent[side], side)
            self.assertTrue(leg.ended_with("client", FIN) and leg.ended_with("server", FIN))
            self.assertFalse(leg.ended_with("client", RST) or leg.ended_with("server", RST))

    def test_tshark_sees_the_frames_wsinspect_saw(self):
        if not shutil.which("tshark"):
            self.skipTest("no tshark (scripts/setup-deps.sh installs it)")
        up = self.upstream()
        proxy = self.proxy(up.address)
        s = self.exchange(proxy, up)
        client_port, upstream_local = s.client_port, s.upstream_local
        proxy.stop()
        ours = {C2S: [], S2C: []}
        for e in proxy.of_conn(s.conn, "frame"):
            ours[e["dir"]].append((e["fin"], e["opcode"], e["masked"], e["length"]))
        self.assertEqual(len(ours[C2S]), 5, proxy.describe())
        frames = tshark_frames(self.pcap, [proxy.port, up.port])
        for (src, dst), direction in (
            ((client_port, proxy.port), C2S),
            ((upstream_local, up.port), C2S),
            ((up.port, upstream_local), S2C),
            ((proxy.port, client_port), S2C),
        ):
            seen = [f[2:] for f in frames if (f[0], f[1]) == (src, dst)]
            self.assertEqual(seen, ours[direction], f"{src} -> {dst}")
        # Every checksum is right when tshark checks them (1: good).
        r = subprocess.run([shutil.which("tshark"), "-r", str(self.pcap), "-o", "tcp.check_checksum:TRUE",
                            "-o", "ip.check_checksum:TRUE", "-T", "fields", "-e", "ip.checksum.status",
                            "-e", "tcp.checksum.status"], capture_output=True, text=True, timeout=60)
        statuses = {tuple(line.split("\t")) for line in r.stdout.splitlines()}
        self.assertEqual(statuses, {("1", "1")}, r.stderr)

    def test_a_reset_is_captured_on_both_legs(self):
        up = self.upstream()
        proxy = self.proxy(up.address)
        s = RawSession(up, proxy)
        self.addCleanup(s.close)
        client_port = s.client.sock.getsockname()[1]
        upstream_local = s.server.sock.getpeername()[1]
        s.client.send(build_frame(OP_TEXT, b"x" * 10, mask=KEY)[:8])  # mid-frame
        s.server.recv_exact(8)
        s.client.reset()
        proxy.wait_conn_close(s.conn)
        proxy.stop()
        legs = flows(self.pcap)
        self.assertTrue(legs[(HOST, client_port, HOST, proxy.port)].ended_with("client", RST))
        # The reset is passed on: the proxy resets its upstream connection.
        self.assertTrue(legs[(HOST, upstream_local, HOST, up.port)].ended_with("client", RST))

    def test_tls_legs_are_captured_as_plaintext(self):
        up = self.upstream()
        proxy = self.proxy(up.address, "--tls-self-signed")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection((HOST, proxy.port), timeout=TIMEOUT)
        c = ctx.wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(c.close)
        req, _ = upgrade_request(f"{HOST}:{proxy.port}", "/secure")
        c.sendall(req)
        server, head = up.accept_websocket()
        self.assertTrue(head.raw.startswith(b"GET /secure "))
        c.recv(4096)
        c.close()
        server.recv_until_eof()
        server.close()
        proxy.wait_for(is_event("conn_close"))
        proxy.stop()
        legs = flows(self.pcap)
        (client_leg,) = [f for k, f in legs.items() if k[3] == proxy.port]
        self.assertTrue(bytes(client_leg.data["client"]).startswith(b"GET /secure HTTP/1.1\r\n"))
        self.assertTrue(bytes(client_leg.data["server"]).startswith(b"HTTP/1.1 101 "))


class FileTest(CaptureTestCase):
    def test_sighup_starts_a_new_file(self):
        up = self.upstream()
        proxy = self.proxy(up.address)
        first = self.exchange(proxy, up)
        moved = self.dir / "legs.pcap.old"
        os.rename(self.pcap, moved)
        os.kill(proxy.pid, signal.SIGHUP)
        proxy.wait_for(is_event("reopened"))
        self.assertTrue(self.pcap.exists())
        second = self.exchange(proxy, up)
        proxy.stop()
        old_ports = {k[1] for k in flows(moved)}
        new_ports = {k[1] for k in flows(self.pcap)}
        self.assertIn(first.client_port, old_ports)
        self.assertIn(second.client_port, new_ports)
        self.assertNotIn(second.client_port, old_ports)
        self.assertEqual(stat.S_IMODE(os.stat(self.pcap).st_mode), 0o600)

    def test_rotation_keeps_the_newest_files_within_the_size(self):
        up = self.upstream()
        proxy = self.proxy(up.address, "--capture-max-size", "64KiB", "--capture-files", "3")
        for _ in range(3):
            self.exchange(proxy, up)  # about 450 KB each, both legs
        proxy.stop()
        names = sorted(p.name for p in self.dir.iterdir())
        self.assertEqual(names, ["legs.pcap", "legs.pcap.1", "legs.pcap.2"])
        for name in names:
            path = self.dir / name
            self.assertLessEqual(path.stat().st_size, 64 * 1024, name)
            self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600, name)
            self.assertEqual(read_pcap(path)[0], LINKTYPE_RAW)
            if shutil.which("tshark"):
                r = subprocess.run([shutil.which("tshark"), "-r", str(path)], capture_output=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)


class FilterTest(CaptureTestCase):
    def test_only_the_path_asked_for(self):
        up = self.upstream()
        proxy = self.proxy(up.address, "--capture-path", "/keep")
        kept = self.exchange(proxy, up, "/keep/this?token=1")
        skipped = self.exchange(proxy, up, "/other")
        proxy.stop()
        ports = {k[1] for k in flows(self.pcap)}
        self.assertIn(kept.client_port, ports)
        self.assertNotIn(skipped.client_port, ports)
        self.assertEqual(len(ports), 2)  # the kept connection's two legs

    def test_only_the_clients_asked_for(self):
        up = self.upstream()
        proxy = self.proxy(up.address, "--capture-client", "10.0.0.0/8")
        self.exchange(proxy, up)
        proxy.stop()
        self.assertEqual(read_pcap(self.pcap)[1], [])
        proxy = self.proxy(up.address, "--capture-client", "127.0.0.1")
        s = self.exchange(proxy, up)
        proxy.stop()
        self.assertIn(s.client_port, {k[1] for k in flows(self.pcap)})


class StartTest(CaptureTestCase):
    def run_proxy(self, *args) -> subprocess.CompletedProcess:
        argv = [str(BINARY), "proxy", "--listen", f"{HOST}:0", "--upstream", "builtin:echo", *map(str, args)]
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)

    def test_a_capture_in_a_missing_directory_is_an_error(self):
        path = self.dir / "missing" / "x.pcap"
        r = self.run_proxy("--capture", path)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"cannot open the capture {path}: No such file or directory".encode(), r.stderr)
        self.assertFalse((self.dir / "missing").exists())

    def test_no_capture_is_created_when_the_port_is_taken(self):
        taken = socket.socket()
        taken.bind((HOST, 0))
        taken.listen(1)
        self.addCleanup(taken.close)
        argv = [str(BINARY), "proxy", "--listen", f"{HOST}:{taken.getsockname()[1]}", "--upstream", "builtin:echo"]
        r = subprocess.run(argv + ["--capture", str(self.pcap)], capture_output=True, timeout=TIMEOUT)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(self.pcap.exists())

    def test_settings_that_need_each_other(self):
        for args, words in (
            (["--capture-path", "/x"], b"--capture-path needs --capture FILE"),
            (["--capture-client", "10.0.0.0/8"], b"--capture-client needs --capture FILE"),
            (["--capture", self.pcap, "--capture-client", "10.0.0.0/33"], b"prefix length"),
            (["--capture", self.pcap, "--capture-client", "nowhere"], b"an IPv4 or IPv6 address"),
            (["--capture", self.pcap, "--capture-files", "0"], b"at least 1"),
        ):
            with self.subTest(args=args):
                r = self.run_proxy(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(words, r.stderr)
                self.assertFalse(self.pcap.exists())


if __name__ == "__main__":
    unittest.main()
