"""Helpers for test_which_hop.py: wsinspect around a suspected hop.

    start_bracket(hop_factory, server_addr)  one wsinspect on both sides of a
                                             hop (--bracket-listen)
    Instances(hop_factory, server_address, tmpdir)
                                             one wsinspect in front of the hop
                                             and one behind it, each with
                                             --capture and --log-digests
    Dumpcap(port, path)                      dumpcap on loopback, one port
                                             (no wsinspect in the path)
    run_compare(a, b, "--json")              `wsinspect compare A B`
    DelayRelay(upstream, 0.3), Chain(...)    a slow link, hops in a row

hop_factory(upstream_address) returns a started hop (Haproxy, Nginx,
CorruptingRelay): anything with .address and .stop().
"""

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from harness import BINARY, HOST, TIMEOUT, JsonLineProcess, Proxy, is_event, validate_events
from intermediaries import free_port

DIGEST_KEY = "which-hop-test-secret"
DUMPCAP = os.environ.get("WSI_DUMPCAP", shutil.which("dumpcap") or "/usr/bin/dumpcap")


def digest_env() -> dict:
    env = dict(os.environ)
    env["WSINSPECT_DIGEST_KEY"] = DIGEST_KEY
    return env


_features: Optional[bool] = None


def which_hop_built() -> bool:
    """True when the binary has bracket mode and `compare` (a stale build
    from before them has neither)."""
    global _features
    if _features is None:
        try:
            p = subprocess.run([str(BINARY), "proxy", "--help"], capture_output=True, timeout=20)
            c = subprocess.run([str(BINARY), "compare", "--help"], capture_output=True, timeout=20)
            _features = b"--bracket-listen" in p.stdout and c.returncode == 0 and b"--log-digests" in c.stdout
        except (OSError, subprocess.TimeoutExpired):
            _features = False
    return _features


def hop_events(events: list) -> list:
    return [e for e in events if str(e.get("event", "")).startswith("hop_")]


def describe_events(events: list) -> str:
    return "\n".join(json.dumps(e, ensure_ascii=False)[:800] for e in events)


# --- bracket mode -------------------------------------------------------------------


def start_bracket(hop_factory: Callable[[str], object], server_address: str, *args, tries: int = 3):
    """(proxy, hop): wsinspect listening on 127.0.0.1:0, --upstream the hop,
    --bracket-listen a port picked here that the hop forwards to,
    --bracket-upstream the server. The picked port may be lost to a race:
    then everything is started again (up to `tries` times)."""
    last = None
    for _ in range(tries):
        bp = free_port()
        hop = hop_factory(f"{HOST}:{bp}")
        proxy = None
        try:
            proxy = Proxy(hop.address, "--bracket-listen", f"{HOST}:{bp}", "--bracket-upstream", server_address, *args)
            proxy.wait_for(is_event("listening", role="bracket"), what="the bracket listener")
            return proxy, hop
        except AssertionError as e:  # a listener missing: it could not bind
            last = e
            if proxy is not None:
                proxy.stop()
            hop.stop()
        except BaseException:
            if proxy is not None:
                proxy.stop()
            hop.stop()
            raise
    raise AssertionError(f"bracket mode did not start in {tries} tries: {last}")


# --- two instances --------------------------------------------------------------------


def _proxy_with_env(upstream: str, *args) -> Proxy:
    # harness.Proxy hands no env to the child; it inherits ours, so the key is
    # put into os.environ for the moment of the start.
    old = os.environ.get("WSINSPECT_DIGEST_KEY")
    os.environ["WSINSPECT_DIGEST_KEY"] = DIGEST_KEY
    try:
        return Proxy(upstream, *args)
    finally:
        if old is None:
            os.environ.pop("WSINSPECT_DIGEST_KEY", None)
        else:
            os.environ["WSINSPECT_DIGEST_KEY"] = old


class Instances:
    """client -> front wsinspect -> hop -> back wsinspect -> server, each
    wsinspect with --capture DIR/{front,back}.pcap and --log-digests; stop()
    ends them (front first) and writes their stdout to DIR/{front,back}.log,
    then stops the hop."""

    def __init__(self, hop_factory: Callable[[str], object], server_address: str, tmpdir: Path, *args):
        self.dir = Path(tmpdir)
        self.front_pcap, self.back_pcap = self.dir / "front.pcap", self.dir / "back.pcap"
        self.front_log, self.back_log = self.dir / "front.log", self.dir / "back.log"
        self.front = self.back = self.hop = None
        self._stopped = False
        try:
            self.back = _proxy_with_env(server_address, "--capture", self.back_pcap, "--log-digests", *args)
            self.hop = hop_factory(self.back.address)
            self.front = _proxy_with_env(self.hop.address, "--capture", self.front_pcap, "--log-digests", *args)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return self.front.url

    def wait_closed(self, count: int = 1, timeout: float = TIMEOUT) -> None:
        """Until each wsinspect has logged `count` conn_close events."""
        for p in (self.front, self.back):
            p.wait_count(is_event("conn_close"), count, timeout, "conn_close")

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        errors = []
        for name, p in (("front", self.front), ("back", self.back)):
            if p is None:
                continue
            try:
                p.stop()
            except AssertionError as e:
                errors.append(e)
            (self.dir / f"{name}.log").write_bytes(p.stdout_bytes())
        if self.hop is not None:
            self.hop.stop()
        if errors:
            raise errors[0]

    def describe(self) -> str:
        return "\n".join(p.describe() for p in (self.front, self.back) if p is not None)


# --- dumpcap --------------------------------------------------------------------------


def dumpcap_available() -> bool:
    return os.access(DUMPCAP, os.X_OK)


class Dumpcap(JsonLineProcess):
    """`dumpcap -i lo -f "tcp port PORT" -w PATH` (a harness child: killed
    with the test runner). wait_ready() returns None once it is capturing, or
    why it cannot (no permission, no loopback device); stop() ends it with
    SIGTERM, on which dumpcap writes what it holds and exits: call
    Dumpcap.settle() first, or the last packets are lost."""

    def __init__(self, port: int, path: Path):
        self.path = Path(path)
        super().__init__([DUMPCAP, "-i", "lo", "-f", f"tcp port {port}", "-w", self.path], "dumpcap")

    def stderr_text(self) -> str:
        with self._cond:
            return "\n".join(self.stderr_lines)

    def wait_ready(self, timeout: float = TIMEOUT) -> Optional[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Capturing on" in self.stderr_text():
                # Printed as the capture starts; a moment for the filter.
                time.sleep(0.2)
                return None
            if self.proc.poll() is not None:
                time.sleep(0.1)  # the reader thread's last lines
                return f"dumpcap exited with {self.proc.returncode}: {self.stderr_text()[-500:]}"
            time.sleep(0.02)
        return f"dumpcap did not start capturing within {timeout} s: {self.stderr_text()[-500:]}"

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    @staticmethod
    def settle(caps: list, quiet: float = 0.8, timeout: float = 5.0) -> None:
        """Waits until no file of `caps` has grown for `quiet` seconds. dumpcap
        hands packets on in blocks (about every 0.5 s on Linux); a SIGTERM
        before the last block is written loses it (measured: a capture
        stopped right after the traffic holds no packet)."""
        deadline = time.monotonic() + timeout
        sizes = [d.size() for d in caps]
        since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = [d.size() for d in caps]
            if now != sizes:
                sizes, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return

    def packets(self) -> Optional[int]:
        """The count dumpcap printed when it stopped ("Packets captured: N")."""
        m = re.search(r"Packets captured: (\d+)", self.stderr_text())
        return int(m.group(1)) if m else None


# --- compare --------------------------------------------------------------------------


@dataclass
class CompareResult:
    argv: list
    rc: int
    stdout: str
    stderr: str
    events: list = field(default_factory=list)

    def of(self, kind: str) -> list:
        return [e for e in self.events if e.get("event") == kind]

    def describe(self) -> str:
        return f"$ {' '.join(map(str, self.argv))}\nrc {self.rc}\n--- stdout:\n{self.stdout[-8000:]}\n--- stderr:\n{self.stderr[-3000:]}"


def run_compare(a, b, *args, key: bool = True, timeout: float = 60.0) -> CompareResult:
    """`wsinspect compare A B ARGS`; with --json the lines are parsed into
    events. key: WSINSPECT_DIGEST_KEY set to the key the logs were made with."""
    argv = [str(BINARY), "compare", str(a), str(b), *map(str, args)]
    env = digest_env() if key else {k: v for k, v in os.environ.items() if k != "WSINSPECT_DIGEST_KEY"}
    for attempt in range(3):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
            break
        except OSError:  # ETXTBSY: the binary is being relinked
            if attempt == 2:
                raise
            time.sleep(3)
    events = []
    if "--json" in args:
        for line in p.stdout.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "_unparsed", "line": line}
            events.append(ev if isinstance(ev, dict) else {"event": "_unparsed", "line": line})
        validate_events(events, " ".join(argv))
    return CompareResult(argv, p.returncode, p.stdout, p.stderr, events)


IDLE_RE = re.compile(r"after (\d+(?:\.\d+)?) s of silence")


def idle_seconds(text: str) -> Optional[float]:
    m = IDLE_RE.search(text or "")
    return float(m.group(1)) if m else None


# --- a slow hop ------------------------------------------------------------------------


class DelayRelay:
    """A TCP relay on 127.0.0.1:0 in front of `upstream` that passes every
    byte on unchanged, the server's `delay` seconds late (each read is sent
    `delay` after it arrived, in order): a slow link, so that back has a
    burst of messages well before front has the first. The client's bytes
    go through at once."""

    def __init__(self, upstream: str, delay: float = 0.3):
        import socket
        import threading

        self._socket, self._threading = socket, threading
        self.upstream, self.delay = upstream, delay
        self._lock = threading.Lock()
        self._socks: list = []
        self._threads: list = []
        self._stopped = False
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((HOST, 0))
        self.listener.listen(16)
        self.host, self.port = HOST, self.listener.getsockname()[1]
        self._spawn(self._accept_loop)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _spawn(self, fn, *args) -> None:
        t = self._threading.Thread(target=fn, args=args, daemon=True)
        with self._lock:
            self._threads.append(t)
        t.start()

    def _accept_loop(self) -> None:
        socket = self._socket
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            host, _, port = self.upstream.rpartition(":")
            try:
                s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
            except OSError:
                c.close()
                continue
            for x in (c, s):
                x.settimeout(None)
                x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._stopped:
                    c.close()
                    s.close()
                    return
                self._socks += [c, s]
            self._spawn(self._pump, c, s, 0.0)
            self._spawn(self._pump, s, c, self.delay)

    def _pump(self, src, dst, delay: float) -> None:
        import collections

        q: collections.deque = collections.deque()
        cond = self._threading.Condition()
        state = {"eof": False}

        def writer():
            while True:
                with cond:
                    while not q and not state["eof"]:
                        cond.wait()
                    if not q:
                        break
                    due, data = q.popleft()
                left = due - time.monotonic()
                if left > 0:
                    time.sleep(left)
                try:
                    dst.sendall(data)
                except OSError:
                    return
            try:
                dst.shutdown(self._socket.SHUT_WR)
            except OSError:
                pass

        w = self._threading.Thread(target=writer, daemon=True)
        w.start()
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with cond:
                    q.append((time.monotonic() + delay, data))
                    cond.notify()
        except OSError:
            pass
        with cond:
            q.append((time.monotonic() + delay, b""))  # the FIN, as late as the data
            state["eof"] = True
            cond.notify()
        w.join(TIMEOUT + delay)

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            socks, threads = list(self._socks), list(self._threads)
        try:
            self.listener.shutdown(self._socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for s in socks:
            try:
                s.shutdown(self._socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(5)
        for s in socks:
            s.close()


class Chain:
    """Hops in a row, as one hop: the first is where the client side
    connects; attributes (actions, wait_finished...) are the first's."""

    def __init__(self, *hops):
        self.hops = hops

    @property
    def address(self) -> str:
        return self.hops[0].address

    def __getattr__(self, name):
        return getattr(self.hops[0], name)

    def stop(self) -> None:
        for h in self.hops:
            h.stop()
