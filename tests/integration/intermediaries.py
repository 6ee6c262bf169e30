"""Real intermediaries on loopback, for "which hop broke my WebSocket?".

Three kinds of hop that can stand between a client and a server in a test:

    Haproxy(0, "127.0.0.1:PORT", extra_backend=[...], timeouts={...})
    Nginx(0, "127.0.0.1:PORT", extra=[...])
    CorruptingRelay("127.0.0.1:PORT", "rsv", direction=S2C, n=0)

and the peers that show what a hop did at the endpoints:

    SenderServer("--send", "3")        tests/peers/py_sender.py: Python
                                       `websockets`, permessage-deflate on,
                                       talks first, echoes
    run_probe(url, "--idle", "5")      tests/peers/ws_probe.js: Node `ws`,
                                       permessage-deflate offered, prints one
                                       JSON result line

Every hop and peer is a child process (or, for the relay, threads of the test
process) on 127.0.0.1; each is a context manager whose stop() ends it and
everything it started. The processes are harness.JsonLineProcess children:
killed by SIGKILL when the test runner dies (PR_SET_PDEATHSIG) and by the
harness's atexit hook otherwise. nginx therefore runs with `master_process
off`: one process, no worker that a killed master would leave behind (an
orphaned worker keeps listening; seen with nginx 1.22).

The require_* helpers skip a test (naming scripts/setup-deps.sh) when a tool
is missing.
"""

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

from harness import (
    C2S,
    HOST,
    NODE,
    PEERS_DIR,
    PYTHON,
    S2C,
    TIMEOUT,
    JsonLineProcess,
    apply_mask,
    check_budget,
    is_event,
)

HAPROXY = os.environ.get("WSI_HAPROXY", "/usr/sbin/haproxy")
NGINX = os.environ.get("WSI_NGINX", shutil.which("nginx") or "/usr/sbin/nginx")
SETUP_HINT = "run scripts/setup-deps.sh"


# --- what is installed -----------------------------------------------------------


def haproxy_available() -> bool:
    return os.access(HAPROXY, os.X_OK)


def nginx_available() -> bool:
    return os.access(NGINX, os.X_OK)


def node_ws_available() -> bool:
    return shutil.which(NODE) is not None and (PEERS_DIR / "node_modules" / "ws").is_dir()


_websockets_ok: Optional[bool] = None


def websockets_available() -> bool:
    """True when /usr/bin/python3 imports `websockets` (python3-websockets)."""
    global _websockets_ok
    if _websockets_ok is None:
        try:
            r = subprocess.run([PYTHON, "-c", "import websockets.server"], capture_output=True, timeout=30)
            _websockets_ok = r.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _websockets_ok = False
    return _websockets_ok


def require_haproxy(test) -> None:
    check_budget(test)
    if not haproxy_available():
        test.skipTest(f"no haproxy at {HAPROXY}: {SETUP_HINT}")


def require_nginx(test) -> None:
    check_budget(test)
    if not nginx_available():
        test.skipTest(f"no nginx at {NGINX}: {SETUP_HINT}")


def require_peers(test) -> None:
    """The Python `websockets` server and the Node `ws` client."""
    check_budget(test)
    if not node_ws_available():
        test.skipTest(f"no node or tests/peers/node_modules/ws: {SETUP_HINT}")
    if not websockets_available():
        test.skipTest(f"{PYTHON} has no websockets module (python3-websockets): {SETUP_HINT}")


# --- processes that listen ---------------------------------------------------------


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (bound, then released);
    a process given it may lose a race for it, see _ListeningProcess."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class _ListeningProcess:
    """A server process configured by a file in its own tempdir, listening on
    HOST:port. Subclasses write the config (_config) and give the argv
    (_argv); a port of 0 is picked here, and picked again (three tries in
    all) when the process exits before its port accepts, which is what losing
    the race for a freed port looks like."""

    name = "server"

    def __init__(self, port: int, startup_timeout: float = TIMEOUT):
        self.host = HOST
        self.proc: Optional[JsonLineProcess] = None
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"wsi-{self.name}-"))
        self.config = ""
        try:
            tries = 3 if port == 0 else 1
            for attempt in range(tries):
                self.port = port or free_port()
                self.config = self._config()
                self.config_path = self.tmpdir / f"{self.name}.conf"
                self.config_path.write_text(self.config)
                self.proc = JsonLineProcess(self._argv(), self.name, cwd=self.tmpdir)
                if self._wait_port(startup_timeout):
                    return
                rc = self.proc.proc.poll()
                why = self.describe()
                self.proc.stop()
                self.proc = None
                if rc is None or attempt + 1 == tries:
                    raise AssertionError(f"{self.name} did not listen on {self.host}:{self.port}\n{why}")
        except BaseException:
            self.stop()
            raise

    def _config(self) -> str:
        raise NotImplementedError

    def _argv(self) -> list:
        raise NotImplementedError

    def _wait_port(self, timeout: float) -> bool:
        """True once HOST:port accepts a connection; False if the process
        exits first or the time runs out. Nothing tells when a listener is
        ready, so this tries to connect every 20 ms."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def log_lines(self) -> list:
        """What the process wrote to stderr (haproxy's log; nginx's start-up
        complaints, its error_log is error_log_lines())."""
        if not self.proc:
            return []
        with self.proc._cond:
            return list(self.proc.stderr_lines)

    def describe(self) -> str:
        out = [f"--- {self.name} config {self.config_path if self.config else ''}:", self.config]
        if self.proc:
            out.append(self.proc.describe())
        return "\n".join(out)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; reaps the process, removes the tempdir."""
        if self.proc:
            self.proc.stop()
        if self.tmpdir and self.tmpdir.exists():
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _haproxy_time(v) -> str:
    """A haproxy time: a string as given ("1s", "500ms"), a number in seconds."""
    if isinstance(v, str):
        return v
    return f"{int(round(float(v) * 1000))}ms"


class Haproxy(_ListeningProcess):
    """`haproxy -db -f CFG`: one frontend on HOST:port (`mode http`, no
    `option http-server-close`, so a WebSocket upgrade becomes a tunnel), one
    backend with one server. Its log (option httplog: one line per request
    when it ends, with the termination flags, e.g. `sD--` for a server-side
    timeout) goes to stderr: log_lines().

    timeouts: overrides of connect 5s, client 30s, server 30s, tunnel 30s, in
    haproxy's units ("1s") or seconds; None removes one (without `timeout
    tunnel` an upgraded connection is ruled by client/server, haproxy#2280).
    extra_*: directive lines added to that section."""

    name = "haproxy"
    DEFAULT_TIMEOUTS = {"connect": "5s", "client": "30s", "server": "30s", "tunnel": "30s"}

    def __init__(
        self,
        frontend_port: int = 0,
        backend: str = "",
        extra_frontend=(),
        extra_backend=(),
        timeouts: Optional[dict] = None,
        extra_global=(),
        extra_defaults=(),
    ):
        if not backend:
            raise ValueError("backend host:port")
        self.backend = backend
        self.extra_frontend, self.extra_backend = list(extra_frontend), list(extra_backend)
        self.extra_global, self.extra_defaults = list(extra_global), list(extra_defaults)
        self.timeouts = dict(self.DEFAULT_TIMEOUTS)
        for k, v in (timeouts or {}).items():
            if v is None:
                self.timeouts.pop(k, None)
            else:
                self.timeouts[k] = v
        super().__init__(frontend_port)

    def _config(self) -> str:
        ind = lambda lines: "".join(f"    {l}\n" for l in lines)  # noqa: E731
        return (
            "global\n"
            + ind(["nbthread 1", "maxconn 200", "log stderr format raw local0 info", *self.extra_global])
            + "defaults\n"
            + ind(
                [
                    "mode http",
                    "log global",
                    "option httplog",
                    *[f"timeout {k} {_haproxy_time(v)}" for k, v in self.timeouts.items()],
                    *self.extra_defaults,
                ]
            )
            + "frontend fe\n"
            + ind([f"bind {self.host}:{self.port}", "default_backend be", *self.extra_frontend])
            + "backend be\n"
            + ind([f"server s1 {self.backend}", *self.extra_backend])
        )

    def _argv(self) -> list:
        return [HAPROXY, "-db", "-f", self.config_path]


class Nginx(_ListeningProcess):
    """`nginx -p TMPDIR -c CFG -g 'daemon off;'` proxying HOST:port to
    `upstream` the way the nginx WebSocket guide says (proxy_http_version
    1.1, Upgrade and Connection "upgrade" set), with every path it writes
    (pid, error_log at info, access_log, the *_temp_path directories) inside
    its tempdir.

    `master_process off`: one process and no worker. With a master, a
    SIGKILLed master (the test runner dying) leaves its worker behind,
    still listening. It also settles running as root: there is no worker
    to switch to `user nobody`, which could not enter the 0700 tempdir, so
    no `user` line is needed (and a non-root user gets no warning about one).

    extra: directive lines for `location /` (e.g. "proxy_hide_header
    Sec-WebSocket-Extensions;", "proxy_read_timeout 1s;"), a trailing ';'
    added when missing; extra_server, extra_http likewise."""

    name = "nginx"

    def __init__(self, listen_port: int = 0, upstream: str = "", extra=(), extra_server=(), extra_http=()):
        if not upstream:
            raise ValueError("upstream host:port")
        self.upstream = upstream
        self.extra, self.extra_server, self.extra_http = list(extra), list(extra_server), list(extra_http)
        super().__init__(listen_port)

    @staticmethod
    def _lines(lines, indent: str) -> str:
        out = ""
        for l in lines:
            l = l.strip()
            out += f"{indent}{l}{'' if l.endswith((';', '}')) else ';'}\n"
        return out

    def _config(self) -> str:
        t = self.tmpdir
        return (
            "worker_processes 1;\n"
            "master_process off;\n"
            f"pid {t}/nginx.pid;\n"
            f"error_log {t}/error.log info;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"    access_log {t}/access.log;\n"
            f"    client_body_temp_path {t}/client_body;\n"
            f"    proxy_temp_path {t}/proxy;\n"
            f"    fastcgi_temp_path {t}/fastcgi;\n"
            f"    uwsgi_temp_path {t}/uwsgi;\n"
            f"    scgi_temp_path {t}/scgi;\n"
            + self._lines(self.extra_http, "    ")
            + "    server {\n"
            f"        listen {self.host}:{self.port};\n"
            + self._lines(self.extra_server, "        ")
            + "        location / {\n"
            f"            proxy_pass http://{self.upstream};\n"
            "            proxy_http_version 1.1;\n"
            "            proxy_set_header Upgrade $http_upgrade;\n"
            '            proxy_set_header Connection "upgrade";\n'
            "            proxy_set_header Host $host;\n"
            + self._lines(self.extra, "            ")
            + "        }\n"
            "    }\n"
            "}\n"
        )

    def _argv(self) -> list:
        return [NGINX, "-p", f"{self.tmpdir}/", "-c", self.config_path, "-g", "daemon off;"]

    def error_log_lines(self) -> list:
        try:
            return (self.tmpdir / "error.log").read_text(errors="replace").splitlines()
        except OSError:
            return []

    def describe(self) -> str:
        return super().describe() + "\n--- error.log:\n" + "\n".join(self.error_log_lines()[-30:])


# --- the corrupting relay ------------------------------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE = 0x0, 0x1, 0x2, 0x8
DATA_OPCODES = (OP_CONT, OP_TEXT, OP_BINARY)
HEAD_LIMIT = 65536  # an HTTP head longer than this: the connection is relayed raw


def _frame_header(buf) -> Optional[tuple]:
    """(header length, payload length, mask key or None) of the frame at the
    start of `buf`, or None while the header is incomplete."""
    if len(buf) < 2:
        return None
    n, pos = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = struct.unpack("!H", bytes(buf[2:4]))[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = struct.unpack("!Q", bytes(buf[2:10]))[0], 10
    key = None
    if buf[1] & 0x80:
        if len(buf) < pos + 4:
            return None
        key, pos = bytes(buf[pos : pos + 4]), pos + 4
    return pos, n, key


def _build(b0: int, payload: bytes, key: Optional[bytes]) -> bytes:
    """A frame with first byte b0, the minimal length form, masked with
    `key` when given (payload unmasked)."""
    n = len(payload)
    m = 0x80 if key is not None else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", n)
    return head + (key + apply_mask(payload, key) if key is not None else payload)


class _FrameStream:
    """One direction's WebSocket bytes through the relay: parses frames
    across reads and applies the relay's one corruption.

    Counts kept: in_index/in_offset over the stream as the sender wrote it,
    out_index/out_offset over the stream as forwarded; data_index counts
    data frames (text, binary, continuation) as written."""

    def __init__(self, relay: "CorruptingRelay", conn: "_RelayConn", direction: str):
        self.relay, self.conn, self.direction = relay, conn, direction
        self.buf = bytearray()
        self.in_index = self.in_offset = self.out_index = self.out_offset = 0
        self.data_index = 0
        self.done = False  # the one-shot corruption happened

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = bytearray()
        while True:
            h = _frame_header(self.buf)
            if h is None:
                break
            hlen, plen, key = h
            if len(self.buf) < hlen + plen:
                break
            raw = bytes(self.buf[: hlen + plen])
            del self.buf[: hlen + plen]
            fwd = self._frame(raw, hlen, plen, key)
            out += fwd
            self.in_index += 1
            self.in_offset += len(raw)
        return bytes(out)

    def leftover(self) -> bytes:
        """The bytes of an incomplete frame at the end of the stream: relayed
        as they are."""
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def _emit(self, *frames: bytes) -> bytes:
        self.out_index += len(frames)
        self.out_offset += sum(len(f) for f in frames)
        return b"".join(frames)

    def _record(self, raw: bytes, plen: int, **extra) -> None:
        a = {
            "kind": self.relay.kind,
            "direction": self.direction,
            "conn": self.conn.index,
            "frame_index": self.in_index,
            "offset": self.in_offset,
            "out_frame_index": self.out_index,
            "out_offset": self.out_offset,
            "opcode": raw[0] & 0x0F,
            "fin": bool(raw[0] & 0x80),
            "length": plen,
            "data_index": self.data_index,
        }
        a.update(extra)
        self.relay._add_action(a)

    def _frame(self, raw: bytes, hlen: int, plen: int, key: Optional[bytes]) -> bytes:
        r = self.relay
        b0 = raw[0]
        opcode = b0 & 0x0F
        is_data = opcode in DATA_OPCODES
        try:
            if r.kind == "rsv" and is_data and self.data_index == r.n:
                self._record(raw, plen, rsv_before=(b0 >> 4) & 7, rsv_after=((b0 | 0x30) >> 4) & 7)
                return self._emit(bytes([b0 | 0x30]) + raw[1:])
            if r.kind == "flip" and is_data and not self.done and self.data_index >= r.n and plen > 0:
                self.done = True
                payload = bytearray(apply_mask(raw[hlen:], key) if key else raw[hlen:])
                pos = r.byte if r.byte is not None and r.byte < plen else plen // 2
                before = payload[pos]
                payload[pos] ^= r.xor
                body = apply_mask(bytes(payload), key) if key else bytes(payload)
                self._record(
                    raw, plen, payload_offset=pos, byte_offset=self.in_offset + hlen + pos,
                    before=before, after=payload[pos], masked=key is not None,
                )
                return self._emit(raw[:hlen] + body)
            if r.kind == "split" and is_data and not self.done and self.data_index >= r.n and plen >= 2:
                self.done = True
                payload = apply_mask(raw[hlen:], key) if key else raw[hlen:]
                cut = plen // 2
                # The first keeps the opcode and RSV bits (RSV1 marks a
                # compressed message's first frame), FIN cleared; the second
                # is a continuation (RSV clear) with the original FIN.
                first = _build(b0 & 0x7F, payload[:cut], key)
                second = _build((b0 & 0x80) | OP_CONT, payload[cut:], key)
                self._record(raw, plen, split_at=cut, lengths=[cut, plen - cut])
                return self._emit(first, second)
            if r.kind == "drop" and is_data and self.data_index == r.n:
                self._record(raw, plen)
                return b""
            if r.kind == "cut_above" and plen > r.size:
                self._record(raw, plen, size=r.size)
                return b""
            if r.kind == "swallow_close" and opcode == OP_CLOSE and not self.done:
                self.done = True
                payload = apply_mask(raw[hlen:], key) if key else raw[hlen:]
                code = struct.unpack("!H", payload[:2])[0] if plen >= 2 else None
                self._record(raw, plen, close_code=code, hold=r.hold)
                self.conn._start_hold(self.direction)
                return b""
            return self._emit(raw)
        finally:
            if is_data:
                self.data_index += 1


class _RelayConn:
    """One client connection and its connection to the upstream."""

    def __init__(self, relay: "CorruptingRelay", index: int, client: socket.socket):
        self.relay, self.index = relay, index
        self.client = client
        self.server: Optional[socket.socket] = None
        self.lock = threading.Lock()
        self.upgraded = threading.Event()  # the response head has been read
        self.is_websocket = False
        self.pumps_left = 2
        self.holding: Optional[str] = None  # the direction whose close was swallowed
        self.hold_timer: Optional[threading.Timer] = None
        self.held_eof = False  # the holding direction's sender closed; not passed on yet
        self.closed = False
        self.threads: list = []

    def start(self) -> None:
        host, _, port = self.relay.upstream.rpartition(":")
        try:
            self.server = socket.create_connection((host.strip("[]"), int(port)), timeout=TIMEOUT)
        except OSError:
            self.client.close()  # the client sees the upstream refuse as an EOF
            self.relay._conn_done(self)
            return
        for s in (self.client, self.server):
            s.settimeout(None)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.threads = [
            threading.Thread(target=self._pump, args=(self.client, self.server, C2S), daemon=True),
            threading.Thread(target=self._pump, args=(self.server, self.client, S2C), daemon=True),
        ]
        for t in self.threads:
            t.start()

    # --- the end of a connection

    def _start_hold(self, direction: str) -> None:
        with self.lock:
            self.holding = direction
            self.hold_started = time.monotonic()
            self.hold_timer = threading.Timer(self.relay.hold, self._end_hold, args=("timer",))
            self.hold_timer.daemon = True
            self.hold_timer.start()

    def _end_hold(self, why: str) -> None:
        with self.lock:
            if self.holding is None or self.closed:
                return
            self.relay._annotate(self.index, "swallow_close", hold_ended=why, held_s=round(time.monotonic() - self.hold_started, 3))
        self.abort()

    def abort(self, reset: bool = False) -> None:
        """Ends both connections now (FIN, or RST with `reset`); the pumps
        wake up and the last one closes the sockets."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            if self.hold_timer:
                self.hold_timer.cancel()
        for s in (self.client, self.server):
            if s is None:
                continue
            try:
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _pump_done(self) -> None:
        with self.lock:
            self.pumps_left -= 1
            last = self.pumps_left == 0
            if last and self.hold_timer:
                self.hold_timer.cancel()
        if last:
            for s in (self.client, self.server):
                try:
                    s.close()
                except OSError:
                    pass
            self.relay._conn_done(self)

    # --- one direction

    @staticmethod
    def _read_head(src: socket.socket, dst: socket.socket) -> "tuple[bytes, Optional[bytes]]":
        """Relays an HTTP head unchanged: (the head, the bytes after it), the
        latter None at EOF or when the head is too long (what came is
        relayed)."""
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            chunk = src.recv(65536)
            if not chunk:
                dst.sendall(bytes(buf))
                return bytes(buf), None
            buf += chunk
            if len(buf) > HEAD_LIMIT:
                dst.sendall(bytes(buf))
                return bytes(buf), None
        end = buf.index(b"\r\n\r\n") + 4
        head, rest = bytes(buf[:end]), bytes(buf[end:])
        dst.sendall(head)
        return head, rest

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        relay = self.relay
        stream = None
        eof = False
        try:
            pending = b""
            if direction == S2C:
                head, rest = self._read_head(src, dst)
                if rest is not None:
                    status = head.split(b"\r\n", 1)[0].split(b" ")
                    self.is_websocket = len(status) > 1 and status[1] == b"101"
                self.upgraded.set()
                if rest is None:
                    eof = True
                pending = rest or b""
            elif direction == relay.direction:
                _, rest = self._read_head(src, dst)
                if rest is None:
                    eof = True
                else:
                    # Frames only after a 101 (a client does not send any
                    # before); no response head within TIMEOUT: relayed raw.
                    self.upgraded.wait(TIMEOUT)
                pending = rest or b""
            if direction == relay.direction and self.is_websocket:
                stream = _FrameStream(relay, self, direction)
            while True:
                if pending:
                    out = stream.feed(pending) if stream else pending
                    if out:
                        dst.sendall(out)
                if eof:
                    break
                pending = src.recv(65536)
                if not pending:
                    eof = True
            if stream:
                rest = stream.leftover()
                if rest:
                    dst.sendall(rest)
            # Half-close: the sender is done writing, so is the relay, unless
            # this direction's close frame was swallowed, whose FIN waits for
            # the hold to end.
            with self.lock:
                hold = self.holding == direction and not self.closed
                if hold:
                    self.held_eof = True
            if not hold:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                if self.holding is not None and self.holding != direction:
                    # The side that never got the close frame closed.
                    self._end_hold("other_side_closed")
        except ConnectionResetError:
            with relay._lock:
                relay.resets += 1
            self.abort(reset=True)
        except OSError:
            self.abort()
        finally:
            self._pump_done()


class CorruptingRelay:
    """A TCP relay on 127.0.0.1:0 in front of `upstream` that passes the HTTP
    upgrade through unchanged, then reads the WebSocket frames of one
    `direction` (S2C or C2S) and corrupts exactly one thing; the other
    direction, and everything in this one but the corrupted frame, is relayed
    byte for byte (in the parsed direction a frame is passed on once it is
    complete, so the relay re-segments, like any proxy). A response other
    than 101 leaves the connection relayed raw.

    kind:
      rsv            set RSV2|RSV3 on data frame n
      flip           XOR one payload byte of data frame n (the first non-empty
                     one from n) with `xor` (0x80: ASCII text becomes invalid
                     UTF-8), at payload offset `byte` (default: the middle);
                     a masked frame is unmasked, changed and masked again with
                     its own key
      split          split data frame n (the first of 2+ payload bytes from n)
                     into two valid frames at the middle of its payload: the
                     first keeps the opcode and RSV bits with FIN=0, the
                     second is a continuation with the original FIN (masked
                     frames: both with the original key)
      drop           drop data frame n
      swallow_close  drop the first close frame, relay everything else, and
                     hold both connections open (the sender's FIN is not
                     passed on) until the other side closes or `hold` seconds
                     end both (FIN each way)
      cut_above      drop every frame whose payload exceeds `size` bytes
      none           corrupt nothing (a plain relay)
    n counts data frames (text, binary, continuation) from 0.

    .actions: one dict per corruption: kind, direction, conn (the relay's
    connection number from 0), frame_index/offset (the frame and its first
    byte in that direction's stream as the sender wrote it, counted like
    wsinspect: from 0, from the first byte after the handshake),
    out_frame_index/out_offset (the same in the stream as relayed: where the
    changed frame, or for a dropped one the next frame, lands), opcode, fin,
    length (payload bytes), data_index; and per kind: rsv_before/rsv_after,
    payload_offset/byte_offset/before/after/masked (flip), split_at/lengths
    (split), close_code/hold/hold_ended/held_s (swallow_close), size
    (cut_above). One-shot kinds act once per connection.
    """

    KINDS = ("rsv", "flip", "split", "drop", "swallow_close", "cut_above", "none")

    def __init__(
        self,
        upstream: str,
        kind: str,
        direction: str = S2C,
        n: int = 0,
        size: Optional[int] = None,
        xor: int = 0x80,
        byte: Optional[int] = None,
        hold: float = 1.0,
    ):
        if kind not in self.KINDS:
            raise ValueError(f"kind {kind!r}: one of {self.KINDS}")
        if direction not in (C2S, S2C):
            raise ValueError(f"direction {direction!r}")
        if kind == "cut_above" and size is None:
            raise ValueError("cut_above needs size")
        if not 0 < xor < 256:
            raise ValueError("xor: 1..255")
        self.upstream, self.kind, self.direction = upstream, kind, direction
        self.n, self.size, self.xor, self.byte, self.hold = n, size, xor, byte, hold
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._actions: list = []
        self.conns: list = []
        self.finished = 0  # connections whose both directions have ended
        self.resets = 0  # connections ended by a reset from either side
        self._stopped = False
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen(64)
        self.host, self.port = HOST, self.listener.getsockname()[1]
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepter.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    @property
    def actions(self) -> list:
        with self._lock:
            return [dict(a) for a in self._actions]

    def _add_action(self, a: dict) -> None:
        with self._cond:
            self._actions.append(a)
            self._cond.notify_all()

    def _annotate(self, conn: int, kind: str, **fields) -> None:
        """Adds fields (where not set yet) to connection `conn`'s actions of `kind`."""
        with self._lock:
            for a in self._actions:
                if a["conn"] == conn and a["kind"] == kind:
                    for k, v in fields.items():
                        a.setdefault(k, v)

    def _conn_done(self, conn: _RelayConn) -> None:
        with self._cond:
            self.finished += 1
            self._cond.notify_all()

    def wait_actions(self, count: int, timeout: float = TIMEOUT) -> list:
        """Waits until `count` actions are recorded; returns them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._actions) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"relay: {len(self._actions)} of {count} actions within {timeout}s: {self._actions}")
                self._cond.wait(left)
            return [dict(a) for a in self._actions]

    def wait_finished(self, count: int = 1, timeout: float = TIMEOUT) -> None:
        """Waits until `count` connections have ended in both directions."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.finished < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"relay: {self.finished} of {count} connections ended within {timeout}s")
                self._cond.wait(left)

    def _accept_loop(self) -> None:
        while True:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                if self._stopped:
                    s.close()
                    return
                c = _RelayConn(self, len(self.conns), s)
                self.conns.append(c)
            c.start()

    def stop(self) -> None:
        """Stops accepting, ends every connection, joins the threads."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            conns = list(self.conns)
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self.listener.close()
        self._accepter.join(5)
        for c in conns:
            c.abort()
        for c in conns:
            for t in c.threads:
                t.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --- peers ---------------------------------------------------------------------------


class SenderServer(JsonLineProcess):
    """tests/peers/py_sender.py: a Python `websockets` server,
    permessage-deflate on unless "--deflate", "off", that sends --send text
    messages (default 3, --size 1000 bytes, very compressible) right after the
    handshake and then echoes (or, with --close CODE, closes). The first line
    is `listening`; then open/sent/message/error/close, see the script."""

    def __init__(self, *args):
        super().__init__([PYTHON, PEERS_DIR / "py_sender.py", *args], "py-sender", cwd=PEERS_DIR)
        try:
            ev = self.wait_for(is_event("listening"), what="listening")
            self.port = int(ev["port"])
            self.address = f"{HOST}:{self.port}"
            self.url = f"ws://{self.address}/"
        except BaseException:
            self.stop()
            raise

    def closes(self) -> list:
        return self.find(is_event("close"))

    def wait_close(self, timeout: float = TIMEOUT) -> dict:
        return self.wait_for(is_event("close"), timeout, "close")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_probe(url: str, *args) -> JsonLineProcess:
    """tests/peers/ws_probe.js in the background (see the script for args)."""
    return JsonLineProcess([NODE, PEERS_DIR / "ws_probe.js", "--url", url, *args], "ws-probe", cwd=PEERS_DIR)


def probe_result(p: JsonLineProcess, timeout: float = 30.0) -> dict:
    """Waits for a probe to end; its one result line (AssertionError if it
    printed none or did not end in time; it is killed then)."""
    try:
        p.wait_exit(timeout)
    except subprocess.TimeoutExpired:
        p.stop()
        raise AssertionError(f"ws_probe did not finish in {timeout}s\n" + p.describe())
    p.stop()
    results = p.find(is_event("result"))
    if len(results) != 1:
        raise AssertionError("ws_probe printed no result\n" + p.describe())
    return results[0]


def run_probe(url: str, *args, timeout: float = 30.0) -> dict:
    """Runs tests/peers/ws_probe.js to its end: the result dict, with
    `open`, `extensions`, `messages`, `errors`, `close` {code, reason},
    `closed_by`, `t_open`, `t_close`, `idle_s`, `timeout`."""
    return probe_result(start_probe(url, *args), timeout)
