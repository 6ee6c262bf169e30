"""Soak: thousands of WebSocket connections through the proxy, opened and
closed for a bounded time, with random valid and corrupt frame streams both
ways at once (some compressed with permessage-deflate, with and without
context takeover), written in random TCP segments, ended by half-closes each
way, close handshakes, or a reset from either side at a random byte.

The upstream is a raw asyncio server in this module that records every byte
it gets (corrupt frames must reach it as they were sent); the clients run in
the same event loop. At the end:

- zero byte differences on every connection that ended cleanly (both ways,
  the request and the 101 included); on a connection one side reset, what
  the other side got is a prefix of what was sent to it;
- the proxy's conn_close agrees: byte counts, and on a connection whose
  streams were valid, every frame counted and no error;
- the proxy's resident memory at the end is within RSS_BOUND_KIB of its
  value after the warm-up (not checked under AddressSanitizer, whose shadow
  memory and quarantine make it meaningless);
- the proxy holds exactly the descriptors it held before the first client.

Duration: SOAK_SECONDS below (about 2 minutes with the checks in a Release
build, 25 s in a sanitized one); WSI_SOAK_SECONDS=N runs the load for N
seconds instead. Run a long one by hand, outside ctest (whose timeout is
300 s per module), e.g.

    cd tests/integration
    WSI_BINARY=../../build/wsinspect WSI_SOAK_SECONDS=3600 /usr/bin/python3 -m unittest -v test_soak

The figures are printed at the end (and on failure).
"""

import asyncio
import collections
import json
import os
import random
import socket
import struct
import sys
import time
import unittest
import zlib

from harness import (
    HOST,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    Proxy,
    accept_for,
    binary_is_sanitized,
    build_frame,
    close_payload,
    make_key,
    require_proxy,
)

SANITIZED = binary_is_sanitized() or os.environ.get("WSI_BUILD_TYPE", "").lower() in ("asan", "debug-asan", "tsan", "ubsan")
SOAK_SECONDS = float(os.environ.get("WSI_SOAK_SECONDS", "25" if SANITIZED else "95"))
# RSS is compared from this point on; the first connections grow the heap
# and the allocator's arenas to their working size.
WARMUP_SECONDS = min(30.0, SOAK_SECONDS / 3)
CONCURRENCY = 8 if SANITIZED else 16
# Allowed growth of the proxy's RSS from the warm-up to the end: what the
# queues can hold at one moment (2 x --high-watermark per connection,
# 16 x 2 x 256 KiB = 8 MiB). Measured growth is a few hundred KiB; a leak of
# a few KiB per connection, thousands of connections, would exceed it.
RSS_BOUND_KIB = 8 * 1024
CONN_TIMEOUT = 90.0  # one connection, on a loaded machine; only a bound

# Mixed ASCII and multi-byte text, sliced on character boundaries.
TEXT = "".join(random.Random(1).choice("abcdefXYZ 0123456789.,é€😀ω日本") for _ in range(70_000))

# How a connection ends: who closes first and how.
ENDINGS = ["fin_client", "fin_server", "fin_both", "close_handshake", "reset_client", "reset_server", "abort_early"]
ENDING_WEIGHTS = [20, 20, 10, 15, 14, 14, 7]
CLEAN = {"fin_client", "fin_server", "fin_both", "close_handshake"}


# --- frame streams -----------------------------------------------------------------


class StreamGen:
    """One direction's frames: valid messages (text split anywhere, binary of
    every length form, pings and pongs between fragments, compressed ones
    when deflate is on), and when `corrupt`, broken frames among them."""

    # Kinds the proxy must flag when its decoder is in step with the stream;
    # "garbage" (random bytes) may happen to parse.
    CORRUPT_KINDS = [
        "reserved_opcode",
        "rsv23",
        "rsv1",
        "wrong_mask",
        "bad_utf8",
        "long_control",
        "fragmented_control",
        "stray_continuation",
        "bad_close_code",
        "non_minimal",
        "garbage",
    ]

    def __init__(self, rng: random.Random, client: bool, deflate: bool, takeover: bool, corrupt: bool):
        self.rng, self.client, self.deflate, self.takeover, self.corrupt = rng, client, deflate, takeover, corrupt
        self.out = bytearray()
        self.frames = 0
        self.messages = 0
        self.first_corruption = None
        self.comp = zlib.compressobj(wbits=-15) if deflate else None

    def mask(self):
        return self.rng.randbytes(4) if self.client else None

    def frame(self, op, payload, fin=True, rsv=0, **kw):
        self.out += build_frame(op, payload, fin=fin, rsv=rsv, mask=self.mask(), **kw)
        self.frames += 1

    def payload_size(self) -> int:
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice([0, 1, 125, 126, 127, 65535, 65536])
        if r < 0.95:
            return self.rng.randint(0, 3000)
        return self.rng.randint(3000, 300_000)

    def text(self, n: int) -> bytes:
        a = self.rng.randrange(len(TEXT))
        s = (TEXT[a:] + TEXT)[: max(0, n // 2)]
        return s.encode()

    def compress(self, payload: bytes) -> bytes:
        comp = self.comp if self.takeover else zlib.compressobj(wbits=-15)
        data = comp.compress(payload) + comp.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        return data[:-4]

    def message(self) -> None:
        rng = self.rng
        if rng.random() < 0.1:
            self.frame(rng.choice([OP_PING, OP_PONG]), rng.randbytes(rng.randint(0, 125)))
            return
        n = self.payload_size()
        op = OP_TEXT if rng.random() < 0.4 else OP_BINARY
        payload = self.text(n) if op == OP_TEXT else rng.randbytes(n)
        rsv = 0
        if self.deflate and rng.random() < 0.7:
            payload, rsv = self.compress(payload), RSV1
        parts = 1 if rng.random() < 0.6 else rng.randint(2, 5)
        cuts = sorted(rng.randint(0, len(payload)) for _ in range(parts - 1))
        bounds = [0] + cuts + [len(payload)]
        for i in range(parts):
            self.frame(op if i == 0 else OP_CONT, payload[bounds[i] : bounds[i + 1]], fin=i == parts - 1, rsv=rsv if i == 0 else 0)
            if i < parts - 1 and rng.random() < 0.2:
                self.frame(OP_PING, b"between fragments")
        self.messages += 1

    def corruption(self) -> None:
        rng = self.rng
        kind = rng.choice(self.CORRUPT_KINDS)
        if kind == "rsv1" and self.deflate:
            kind = "bad_deflate"
        if self.first_corruption is None:
            self.first_corruption = kind
        p = rng.randbytes(rng.randint(0, 200))
        if kind == "reserved_opcode":
            self.frame(rng.choice([3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]), p)
        elif kind == "rsv23":
            self.frame(OP_BINARY, p, rsv=rng.choice([2, 1, 3]))
        elif kind == "rsv1":
            self.frame(OP_BINARY, p, rsv=RSV1)
        elif kind == "bad_deflate":
            self.frame(OP_BINARY, b"\xff\xff\xff\xff" + p, rsv=RSV1)
        elif kind == "wrong_mask":
            self.out += build_frame(OP_BINARY, p, mask=None if self.client else rng.randbytes(4))
            self.frames += 1
        elif kind == "bad_utf8":
            self.frame(OP_TEXT, b"ok \xc3\x28 \xff\xfe" + self.text(rng.randint(0, 100)))
        elif kind == "long_control":
            self.frame(OP_PING, rng.randbytes(rng.randint(126, 300)))
        elif kind == "fragmented_control":
            self.frame(OP_PONG, p[:100], fin=False)
        elif kind == "stray_continuation":
            self.frame(OP_CONT, p)
        elif kind == "bad_close_code":
            self.frame(OP_CLOSE, close_payload(rng.choice([999, 1004, 1005, 1006, 2000, 5000]), "bad"))
        elif kind == "non_minimal":
            self.frame(OP_BINARY, p[:125], length_form=rng.choice([16, 64]))
        else:  # garbage: the decoder may lose step with the stream from here
            self.out += rng.randbytes(rng.randint(1, 64))

    def generate(self, target: int, closing: bool) -> bytes:
        while len(self.out) < target:
            if self.corrupt and self.rng.random() < 0.08:
                self.corruption()
            else:
                self.message()
        if closing:
            self.frame(OP_CLOSE, close_payload(1000, "soak done"))
        return bytes(self.out)


def stream_target(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.70:
        return rng.randint(0, 20_000)
    if r < 0.96:
        return rng.randint(20_000, 200_000)
    return rng.randint(200_000, 1_500_000)


# --- one connection's plan and record -------------------------------------------------


class Plan:
    """What each side of one connection sends and how it ends; filled in with
    what each side received."""

    def __init__(self, n: int, rng: random.Random, proxy_addr: str):
        self.n = n
        self.rng = rng
        self.ending = rng.choices(ENDINGS, ENDING_WEIGHTS)[0]
        self.deflate = rng.random() < 0.3
        self.takeover = rng.random() < 0.7
        self.corrupt = rng.random() < 0.3
        self.wait_101 = rng.random() < 0.7  # else frames follow the request at once
        key = make_key()
        ext_offer = "permessage-deflate; client_max_window_bits" if self.deflate else None
        lines = [f"GET /soak/{n} HTTP/1.1", f"Host: {proxy_addr}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if ext_offer:
            lines.append(f"Sec-WebSocket-Extensions: {ext_offer}")
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        resp = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {accept_for(key)}"]
        if self.deflate:
            resp.append("Sec-WebSocket-Extensions: permessage-deflate"
                        + ("" if self.takeover else "; server_no_context_takeover; client_no_context_takeover"))
        self.response = ("\r\n".join(resp) + "\r\n\r\n").encode()
        closing = self.ending == "close_handshake"
        self.cgen = StreamGen(random.Random(rng.random()), True, self.deflate, self.takeover, self.corrupt)
        self.sgen = StreamGen(random.Random(rng.random()), False, self.deflate, self.takeover, self.corrupt)
        c_frames = self.cgen.generate(stream_target(rng), closing)
        s_frames = self.sgen.generate(stream_target(rng), closing)
        if self.ending == "reset_client":
            c_frames = c_frames[: rng.randint(0, len(c_frames))]
        if self.ending == "reset_server":
            s_frames = s_frames[: rng.randint(0, len(s_frames))]
        self.c_frames, self.s_frames = c_frames, s_frames
        self.c2s = self.request + c_frames  # what the client sends
        self.s2c = self.response + s_frames  # what the server sends
        self.client_got = bytearray()
        self.server_got = bytearray()
        self.server_seen = asyncio.Event()
        self.server_done = asyncio.Event()
        self.client_addr = ""
        self.error = ""


def pieces(rng: random.Random, data: bytes):
    """`data` in random TCP segments: a few bytes, about a packet, or large."""
    view, i = memoryview(data), 0
    while i < len(data):
        r = rng.random()
        n = rng.randint(1, 16) if r < 0.15 else rng.randint(17, 3000) if r < 0.5 else rng.randint(3001, 65536)
        yield view[i : i + n]
        i += n


async def send_stream(loop, sock, rng: random.Random, data: bytes) -> bool:
    """Sends `data` in pieces; False when the peer is gone."""
    try:
        for p in pieces(rng, data):
            await loop.sock_sendall(sock, p)
            if rng.random() < 0.08:
                await asyncio.sleep(rng.uniform(0, 0.003))
        return True
    except (ConnectionResetError, BrokenPipeError, OSError):
        return False


async def recv_all(loop, sock, into: bytearray, eof: asyncio.Event) -> None:
    """Reads until EOF or a reset."""
    try:
        while True:
            chunk = await loop.sock_recv(sock, 262144)
            if not chunk:
                break
            into += chunk
    except (ConnectionResetError, OSError):
        pass
    finally:
        eof.set()


def reset(sock) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def run_side(loop, sock, rng, data: bytes, got: bytearray, role: str, already: bytes = b"", whole: int = 0) -> None:
    """One end of a connection after its head: `role` says how it ends.

    first: send everything, shut down writing, read to the end.
    after_eof: send part (at least the first `whole` bytes: the 101, which
      the client may be waiting for), wait for the peer's FIN, send the
      rest, shut down.
    reset: send `data` (already cut), then reset the connection.
    until_end: send everything, read until the peer's end (EOF or reset).
    """
    got += already
    eof = asyncio.Event()
    reader = asyncio.ensure_future(recv_all(loop, sock, got, eof))
    try:
        if role == "after_eof":
            cut = rng.randint(min(whole, len(data)), len(data))
            await send_stream(loop, sock, rng, data[:cut])
            await eof.wait()
            await send_stream(loop, sock, rng, data[cut:])
            sock.shutdown(socket.SHUT_WR)
        elif role == "reset":
            await send_stream(loop, sock, rng, data)
            await asyncio.sleep(rng.uniform(0, 0.02))
            reader.cancel()
            try:
                await reader
            except asyncio.CancelledError:
                pass
            reset(sock)
            return
        else:
            if await send_stream(loop, sock, rng, data) and role == "first":
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        await reader
    finally:
        if not reader.done():
            reader.cancel()
        if sock.fileno() != -1:
            sock.close()


ROLES = {  # ending: (client role, server role)
    "fin_client": ("first", "after_eof"),
    "fin_server": ("after_eof", "first"),
    "fin_both": ("first", "first"),
    "close_handshake": ("first", "first"),
    "reset_client": ("reset", "until_end"),
    "reset_server": ("until_end", "reset"),
}


# --- the upstream and the clients ---------------------------------------------------------


class Soak:
    def __init__(self, proxy: Proxy, listener: socket.socket, seconds: float, seed: int):
        self.proxy = proxy
        self.listener = listener
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.plans: dict = {}
        self.done: list = []
        self.rss = []  # (seconds since start, KiB)
        self.stats = collections.Counter()
        self.failures: list = []
        self.server_tasks: set = set()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            s, _ = await loop.sock_accept(self.listener)
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = asyncio.ensure_future(self.serve_one(s))
            self.server_tasks.add(t)
            t.add_done_callback(self.server_tasks.discard)

    async def serve_one(self, s) -> None:
        loop = asyncio.get_running_loop()
        buf = bytearray()
        plan = None
        try:
            while b"\r\n\r\n" not in buf:
                try:
                    chunk = await loop.sock_recv(s, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    self.stats["upstream_no_head"] += 1
                    s.close()
                    return
                buf += chunk
            first = bytes(buf[: buf.index(b"\r\n")]).split()
            n = int(first[1].rsplit(b"/", 1)[1]) if len(first) > 1 and first[1].startswith(b"/soak/") else -1
            plan = self.plans.get(n)
            if plan is None:
                self.stats["upstream_unknown"] += 1
                s.close()
                return
            plan.server_seen.set()
            role = ROLES[plan.ending][1]
            s_rng = random.Random(plan.n * 7919 + 1)
            await run_side(loop, s, s_rng, plan.s2c, plan.server_got, role, already=bytes(buf), whole=len(plan.response))
        except Exception as e:  # recorded, failing the test at the end
            if plan:
                plan.error = f"server: {type(e).__name__}: {e}"
            if s.fileno() != -1:
                s.close()
        finally:
            if plan:
                plan.server_done.set()

    async def client(self, plan: Plan) -> None:
        loop = asyncio.get_running_loop()
        rng = random.Random(plan.n * 7919 + 2)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await loop.sock_connect(s, (self.proxy.host, self.proxy.port))
        except OSError as e:
            plan.error = f"connect: {e}"
            s.close()
            return
        h, p = s.getsockname()[:2]
        plan.client_addr = f"{h}:{p}"
        if plan.ending == "abort_early":
            # A head cut anywhere, then a FIN or a reset; nothing to compare.
            await send_stream(loop, s, rng, plan.request[: rng.randint(0, len(plan.request) - 1)])
            await asyncio.sleep(rng.uniform(0, 0.05))
            if rng.random() < 0.5:
                reset(s)
            else:
                s.close()
            return
        role = ROLES[plan.ending][0]
        if not await send_stream(loop, s, rng, plan.request):
            plan.error = "the proxy closed while the request was sent"
            s.close()
            return
        head = bytearray()
        if plan.wait_101:
            try:
                while b"\r\n\r\n" not in head:
                    chunk = await loop.sock_recv(s, 65536)
                    if not chunk:
                        break
                    head += chunk
            except OSError:
                pass
            if b"\r\n\r\n" not in head:
                plan.client_got += head
                plan.error = "no 101 response"
                s.close()
                return
        await run_side(loop, s, rng, plan.c_frames, plan.client_got, role, already=bytes(head))

    async def connection(self, n: int) -> None:
        plan = Plan(n, random.Random(self.rng.random()), self.proxy.address)
        self.plans[n] = plan
        try:
            await asyncio.wait_for(self.client(plan), CONN_TIMEOUT)
            if plan.ending == "abort_early":
                # The upstream may or may not have been reached; wait a
                # little for its side so its socket is closed.
                try:
                    await asyncio.wait_for(plan.server_done.wait(), 0.5)
                except asyncio.TimeoutError:
                    pass
            else:
                if plan.ending == "reset_client" and not plan.server_seen.is_set():
                    # Reset before the upstream had the whole request: it
                    # may never see this connection.
                    try:
                        await asyncio.wait_for(plan.server_seen.wait(), 3.0)
                    except asyncio.TimeoutError:
                        pass
                if plan.server_seen.is_set() or plan.ending != "reset_client":
                    await asyncio.wait_for(plan.server_done.wait(), CONN_TIMEOUT)
        except asyncio.TimeoutError:
            plan.error = plan.error or f"not finished within {CONN_TIMEOUT:.0f} s"
        self.check(plan)
        del self.plans[n]

    def check(self, plan: Plan) -> None:
        """Compares what each side got with what the other sent, and keeps
        only the figures."""
        st = self.stats
        st["connections"] += 1
        st["ending_" + plan.ending] += 1
        st["bytes_c2s"] += len(plan.server_got)
        st["bytes_s2c"] += len(plan.client_got)
        if plan.deflate:
            st["deflate"] += 1
        if plan.corrupt:
            st["corrupt"] += 1
        if plan.ending == "abort_early":
            diff = prefix_diff(plan.c2s, plan.server_got)
            st["byte_differences"] += diff
            if diff:
                self.failures.append(f"#{plan.n} abort_early: the upstream got {diff} bytes that the client did not send")
            return
        if plan.ending in CLEAN:
            diff = exact_diff(plan.c2s, plan.server_got) + exact_diff(plan.s2c, plan.client_got)
            st["clean"] += 1
        else:
            diff = prefix_diff(plan.c2s, plan.server_got) + prefix_diff(plan.s2c, plan.client_got)
            st["reset"] += 1
        st["byte_differences"] += diff
        if diff or plan.error:
            self.failures.append(
                f"#{plan.n} {plan.ending} deflate={plan.deflate} corrupt={plan.corrupt} wait_101={plan.wait_101}: "
                f"{diff} bytes differ; c2s sent {len(plan.c2s)} got {len(plan.server_got)}, "
                f"s2c sent {len(plan.s2c)} got {len(plan.client_got)} {plan.error}"
            )
        self.done.append(
            {
                "n": plan.n,
                "ending": plan.ending,
                "clean": plan.ending in CLEAN,
                "corrupt": plan.corrupt,
                "c2s_len": len(plan.c2s),
                "s2c_len": len(plan.s2c),
                "c_frames": plan.cgen.frames,
                "s_frames": plan.sgen.frames,
                "c_first_corruption": plan.cgen.first_corruption,
                "s_first_corruption": plan.sgen.first_corruption,
            }
        )

    async def sample_rss(self, t0: float) -> None:
        while True:
            self.rss.append((time.monotonic() - t0, self.proxy.rss_kib()))
            await asyncio.sleep(1.0)

    async def run(self) -> None:
        t0 = time.monotonic()
        server = asyncio.ensure_future(self.serve())
        sampler = asyncio.ensure_future(self.sample_rss(t0))
        running: set = set()
        n = 0
        self.rss_warm = None
        while time.monotonic() - t0 < self.seconds:
            while len(running) < CONCURRENCY:
                t = asyncio.ensure_future(self.connection(n))
                n += 1
                running.add(t)
            finished, running = await asyncio.wait(running, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            for t in finished:
                t.result()
            if self.rss_warm is None and time.monotonic() - t0 >= WARMUP_SECONDS:
                self.rss_warm = self.proxy.rss_kib()
        self.rss_end = self.proxy.rss_kib()  # still under load, as at the warm-up
        if running:
            finished, running = await asyncio.wait(running, timeout=CONN_TIMEOUT + 10)
            for t in finished:
                t.result()
        self.unfinished = len(running)
        self.load_seconds = time.monotonic() - t0
        for t in (server, sampler, *running, *self.server_tasks):
            t.cancel()
        await asyncio.gather(server, sampler, *running, *self.server_tasks, return_exceptions=True)


def exact_diff(sent: bytes, got: bytes) -> int:
    """Bytes that differ, a missing or extra byte counting as one."""
    if sent == got:
        return 0
    return sum(1 for a, b in zip(sent, got) if a != b) + abs(len(sent) - len(got))


def prefix_diff(sent: bytes, got: bytes) -> int:
    """Bytes of `got` that are not the prefix of `sent` they should be."""
    if sent[: len(got)] == got:
        return 0
    return exact_diff(sent[: len(got)], got) + max(0, len(got) - len(sent))


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class SoakTest(unittest.TestCase):
    def setUp(self):
        require_proxy(self)

    def test_soak(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, 0))
        listener.listen(512)
        listener.setblocking(False)
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]
        # info: no per-frame events; violations, closes and summaries stay.
        # Every event is checked against what was sent, so the log budget
        # (1,000 lines a second by default) is off: a quiet machine runs
        # more connections a second than it allows.
        proxy = Proxy(f"{HOST}:{port}", "--high-watermark", "256KiB", "--low-watermark", "64KiB",
                      "--log-rate", "0", log_level="info")
        self.addCleanup(proxy.stop)
        fds_start = fd_count(proxy.pid)
        rss_start = proxy.rss_kib()

        soak = Soak(proxy, listener, SOAK_SECONDS, seed=int(os.environ.get("WSI_SOAK_SEED", "20261201")))
        asyncio.run(soak.run())
        st = soak.stats

        # Every connection the proxy opened has closed; then its descriptors.
        opened = len(proxy.find(lambda e: e.get("event") == "conn_open"))
        closes = proxy.wait_count(lambda e: e.get("event") == "conn_close", opened, timeout=30, what="conn_close for every conn_open")
        deadline = time.monotonic() + 15
        fds_end = fd_count(proxy.pid)
        while fds_end != fds_start and time.monotonic() < deadline:
            time.sleep(0.2)
            fds_end = fd_count(proxy.pid)
        rss_idle = proxy.rss_kib()

        events = proxy.snapshot()
        path_of = {}
        for e in events:
            if e.get("event") == "handshake" and str(e.get("path", "")).startswith("/soak/"):
                path_of[e["conn"]] = int(e["path"].rsplit("/", 1)[1])
        close_of = {path_of[e["conn"]]: e for e in closes if e.get("conn") in path_of}
        unparsed = [e for e in events if e.get("event") == "_unparsed"]
        violations = sum(1 for e in events if e.get("event") == "violation")

        # What the proxy said about each connection.
        log_problems = []
        checked_counts = 0
        for d in soak.done:
            c = close_of.get(d["n"])
            if c is None:
                log_problems.append(f"#{d['n']} {d['ending']}: no conn_close with its path")
                continue
            # A corrupt stream may carry close frames of its own (bad codes),
            # so both directions may have had one before the end; random
            # bytes may put the decoder out of step, so a close frame may go
            # unseen and the end is the first FIN.
            also = {"close_handshake", "client_fin", "server_fin"} if d["corrupt"] else set()
            what = f"#{d['n']} {d['ending']} corrupt={d['corrupt']} ({d['c_first_corruption']}, {d['s_first_corruption']})"
            if not d["clean"]:
                if c.get("ended_by") not in {"client_reset", "server_reset"} | (also & {"close_handshake"}):
                    log_problems.append(f"{what}: ended_by {c.get('ended_by')}")
                continue
            want_end = {"fin_client": {"client_fin"}, "fin_server": {"server_fin"}, "fin_both": {"client_fin", "server_fin"},
                        "close_handshake": {"close_handshake"}}[d["ending"]]
            c2s, s2c = c.get("client_to_server", {}), c.get("server_to_client", {})
            if c.get("ended_by") not in want_end | also:
                log_problems.append(f"{what}: ended_by {c.get('ended_by')}")
            if (c2s.get("bytes"), s2c.get("bytes")) != (d["c2s_len"], d["s2c_len"]):
                log_problems.append(f"#{d['n']}: conn_close bytes {c2s.get('bytes')}/{s2c.get('bytes')}, sent {d['c2s_len']}/{d['s2c_len']}")
            if not d["corrupt"]:
                checked_counts += 1
                if (c2s.get("frames"), s2c.get("frames"), c2s.get("errors"), s2c.get("errors")) != (d["c_frames"], d["s_frames"], 0, 0):
                    log_problems.append(f"#{d['n']}: valid streams logged as {c2s} / {s2c}, sent {d['c_frames']}/{d['s_frames']} frames")
            else:
                for side, first, dirstats in (("c", d["c_first_corruption"], c2s), ("s", d["s_first_corruption"], s2c)):
                    if first not in (None, "garbage") and not dirstats.get("errors"):
                        log_problems.append(f"#{d['n']}: {side} stream corrupt ({first}) but no error counted: {dirstats}")

        rss_warm = soak.rss_warm or rss_start
        figures = (
            f"\nsoak figures ({'sanitized' if SANITIZED else 'release'} build, {soak.load_seconds:.0f} s of load, "
            f"{CONCURRENCY} at a time):\n"
            f"  connections {st['connections']} (proxy conn_open {opened}): clean {st['clean']}, reset {st['reset']}, "
            f"aborted before the upgrade {st['ending_abort_early']}; with permessage-deflate {st['deflate']}, "
            f"with corrupt frames {st['corrupt']}\n"
            f"  endings: " + ", ".join(f"{k[7:]} {v}" for k, v in sorted(st.items()) if k.startswith("ending_")) + "\n"
            f"  bytes client->server {st['bytes_c2s']:,}, server->client {st['bytes_s2c']:,}; byte differences {st['byte_differences']}\n"
            f"  violations logged {violations}; valid connections with every frame counted {checked_counts}\n"
            f"  RSS KiB: start {rss_start}, after the {WARMUP_SECONDS:.0f} s warm-up {rss_warm}, end of load {soak.rss_end} "
            f"(max {max(r for _, r in soak.rss)}), idle {rss_idle}; bound +{RSS_BOUND_KIB}\n"
            f"  descriptors: start {fds_start}, end {fds_end}\n"
        )
        print(figures, file=sys.stderr, flush=True)

        self.assertEqual(unparsed, [], "log lines that are not JSON")
        self.assertEqual(soak.unfinished, 0, figures)
        conn_of_n = {n: conn for conn, n in path_of.items()}
        detail = []
        for f in soak.failures[:5]:
            conn = conn_of_n.get(int(f.split()[0][1:]))
            detail += [f] + [json.dumps(e)[:400] for e in (proxy.of_conn(conn) if conn is not None else [])][:30]
        self.assertEqual(soak.failures, [], figures + "\n".join(detail + soak.failures[5:20]))
        self.assertEqual(st["byte_differences"], 0, figures)
        self.assertEqual(log_problems, [], figures + "\n".join(log_problems[:20]))
        # Thousands in the default Release run on an idle machine (about 25 a
        # second with 16 at a time); this floor only catches a stalled run.
        self.assertGreaterEqual(st["connections"], (2 if SANITIZED else 5) * SOAK_SECONDS, figures)
        self.assertEqual(fds_end, fds_start, figures)
        if not SANITIZED:
            self.assertLessEqual(soak.rss_end - rss_warm, RSS_BOUND_KIB, figures)
            self.assertLessEqual(rss_idle - rss_warm, RSS_BOUND_KIB, figures)


if __name__ == "__main__":
    unittest.main()
