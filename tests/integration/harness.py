"""Shared pieces of the wsinspect integration tests.

Everything here talks to real processes over real sockets on 127.0.0.1 with
ephemeral ports: the proxy binary (WSI_BINARY, default build/wsinspect), raw
TCP peers that write crafted bytes, and the real WebSocket peers in
tests/peers/. Every process a test starts is killed when the test ends, and
every wait has a timeout, so no test outlives its own deadline.
"""

import atexit
import base64
import hashlib
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("WSI_BINARY", str(REPO / "build" / "wsinspect")))
VECTOR_DIR = REPO / "tests" / "vectors" / "frames"
PEERS_DIR = REPO / "tests" / "peers"
PYTHON = "/usr/bin/python3"
NODE = "node"
HOST = "127.0.0.1"

# Generous: a loaded CI machine may be slow, but nothing here waits on the
# clock for correctness, only as a bound.
TIMEOUT = 10.0

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 4, 2, 1  # as the log's `rsv` field: RSV1..RSV3 as bits 2..0

C2S, S2C = "client_to_server", "server_to_client"


# --- processes ---------------------------------------------------------------

_live: "set[subprocess.Popen]" = set()
_live_lock = threading.Lock()


def _kill_all() -> None:
    with _live_lock:
        procs = list(_live)
    for p in procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_kill_all)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test runner dies (a ctest
    timeout kills the runner, not its children)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# Every module must end well inside CTest's 300 s: once this much time has
# gone (a proxy that hangs makes each wait run to its timeout), the remaining
# tests fail at once instead of waiting.
MODULE_BUDGET = float(os.environ.get("WSI_TEST_BUDGET", "240"))
_started = time.monotonic()


def check_budget(test) -> None:
    spent = time.monotonic() - _started
    if spent > MODULE_BUDGET:
        test.fail(f"not run: the module's {MODULE_BUDGET:.0f} s budget is spent ({spent:.0f} s); earlier tests timed out")


# What a sanitizer writes to stderr when it finds something: AddressSanitizer
# and LeakSanitizer reports, and UndefinedBehaviorSanitizer's diagnostics.
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def sanitizer_report(stderr_text: str) -> Optional[str]:
    """The first line of a sanitizer report in `stderr_text`, or None."""
    for line in stderr_text.splitlines():
        if any(marker in line for marker in SANITIZER_REPORTS):
            return line
    return None


def check_exit(name: str, rc: Optional[int], stderr_text: str, clean_sigterm: bool) -> None:
    """Raises AssertionError when the wsinspect binary wrote a sanitizer
    report, or (in a sanitized build) exited non-zero after a clean SIGTERM:
    LeakSanitizer reports leaks at exit and then exits with status 23. Status
    3 is allowed: the test may have sent the first signal itself."""
    report = sanitizer_report(stderr_text)
    if report is not None:
        raise AssertionError(f"{name} wrote a sanitizer report: {report}\n{stderr_text[-6000:]}")
    if clean_sigterm and rc not in (0, 3, None) and binary_is_sanitized():
        raise AssertionError(f"{name} exited with {rc} after SIGTERM\n{stderr_text[-6000:]}")


# --- the event schema (docs/events.schema.json) ----------------------------------

SCHEMA_PATH = REPO / "docs" / "events.schema.json"


class SchemaViolation(Exception):
    """Lines of wsinspect that do not follow docs/events.schema.json. Not an
    AssertionError, so that an assertRaises(AssertionError) around a wait
    that is meant to time out cannot swallow it."""


class EventSchema:
    """docs/events.schema.json, loaded once, checking one object at a time
    against the definition its `event` names (or another of its $defs, such
    as rule_entry for `rules --json`).

    A debug log has a line per frame, and jsonschema takes most of a
    millisecond a line, so lines are validated once per shape: the values of
    the fields a definition checks one by one (a count, free text, a
    pattern, and that no condition of the definition looks at) are checked
    here and replaced by the first such value seen before the object is
    looked up in a cache of results. The result is the one jsonschema gives
    for the line itself; the messages of a failure are jsonschema's on the
    line as written."""

    _SIMPLE_KEYS = {"type", "minimum", "maximum", "pattern", "description", "title"}

    def __init__(self, path: Path = SCHEMA_PATH):
        import jsonschema  # python3-jsonschema

        self.jsonschema = jsonschema
        self.schema = json.loads(path.read_text())
        cls = jsonschema.validators.validator_for(self.schema)
        cls.check_schema(self.schema)
        self.cls = cls
        self.root = cls(self.schema)
        self.defs = self.schema.get("$defs", {})
        self._plans: dict = {}
        self._cache: dict = {}
        self._lock = threading.Lock()
        self.lines = 0
        self.failures = 0
        self.seen: dict = {}  # event name: lines validated

    def _inline(self, x):
        if isinstance(x, dict):
            if set(x) == {"$ref"} and x["$ref"].startswith("#/$defs/"):
                return self._inline(self.defs[x["$ref"][len("#/$defs/"):]])
            return {k: self._inline(v) for k, v in x.items()}
        if isinstance(x, list):
            return [self._inline(v) for v in x]
        return x

    @staticmethod
    def _value_conditions(x, out: set) -> None:
        """The property names whose values a (sub)schema looks at."""
        if isinstance(x, dict):
            props = x.get("properties")
            if isinstance(props, dict):
                out.update(props)
            for v in x.values():
                EventSchema._value_conditions(v, out)
        elif isinstance(x, list):
            for v in x:
                EventSchema._value_conditions(v, out)

    def _simple_check(self, sub) -> Optional[Callable]:
        if not isinstance(sub, dict) or not sub or not set(sub) <= self._SIMPLE_KEYS:
            return None
        kind = sub.get("type")
        if kind not in ("integer", "string"):
            return None
        if kind == "string" and ("minimum" in sub or "maximum" in sub):
            return None
        lo, hi, pattern = sub.get("minimum"), sub.get("maximum"), sub.get("pattern")
        rx = re.compile(pattern) if pattern else None

        def check(v) -> bool:
            if kind == "integer":
                return isinstance(v, int) and not isinstance(v, bool) and (lo is None or v >= lo) and (hi is None or v <= hi)
            return isinstance(v, str) and (rx is None or rx.search(v) is not None)

        return check

    def _plan(self, name: str):
        """(validator, {field: check}, {field: exemplar}) for a definition."""
        plan = self._plans.get(name)
        if plan is None:
            sub = self._inline(self.defs[name])
            conditioned: set = set()
            self._value_conditions({k: v for k, v in sub.items() if k != "properties"}, conditioned)
            checks = {}
            for field_name, fs in (sub.get("properties") or {}).items():
                check = self._simple_check(fs)
                if check and field_name not in conditioned:
                    checks[field_name] = check
            plan = self._plans[name] = (self.cls(sub), checks, {})
        return plan

    def _definition(self, obj: dict, definition: str) -> Optional[str]:
        """The $defs entry `obj` is checked against; None: not a known event."""
        if definition != "event":
            return definition
        name = obj.get("event")
        if not isinstance(name, str) or name not in self.defs or name not in self.schema["properties"]["event"]["enum"]:
            return None
        d = self.defs[name]
        # An event of several forms (close): `if` picks the definition.
        while "properties" not in d and "if" in d and "then" in d and "else" in d:
            pick = self._plans.get(("if", name))
            if pick is None:
                pick = self._plans[("if", name)] = self.cls(self._inline(d["if"]))
            branch = d["then"] if pick.is_valid(obj) else d["else"]
            name = branch["$ref"][len("#/$defs/"):]
            d = self.defs[name]
        return name

    def problems(self, obj, definition: str = "event") -> list:
        """jsonschema's messages for `obj` (empty: valid)."""
        with self._lock:
            self.lines += 1
            name = obj.get("event") if isinstance(obj, dict) and definition == "event" else definition
            self.seen[str(name)] = self.seen.get(str(name), 0) + 1
            found = self._problems(obj, definition)
            self.failures += bool(found)
            return found

    def _problems(self, obj, definition: str) -> list:
        name = self._definition(obj, definition) if isinstance(obj, dict) else None
        if name is None:
            return self._messages(obj, definition)
        validator, checks, exemplars = self._plan(name)
        shape = dict(obj)
        for k, check in checks.items():
            if k in shape and check(shape[k]):
                shape[k] = exemplars.setdefault(k, shape[k])
        key = (name, json.dumps(shape, sort_keys=True))
        valid = self._cache.get(key)
        if valid is None:
            valid = validator.is_valid(shape)
            if len(self._cache) > 100000:
                self._cache.clear()
            self._cache[key] = valid
        return [] if valid else self._messages(obj, definition)

    def _messages(self, obj, definition: str) -> list:
        schema = self.schema if definition == "event" else {**self.schema, "$ref": f"#/$defs/{definition}"}
        validator = self.root if definition == "event" else self.cls(schema)
        out = []
        for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            where = "/".join(map(str, e.absolute_path)) or "the object"
            out.append(f"{e.message} (at {where}; schema {'/'.join(map(str, e.absolute_schema_path))})")
        return out or ["does not follow the schema"]


_schema: "Optional[EventSchema] | bool" = None
_schema_lock = threading.Lock()


def event_schema() -> Optional[EventSchema]:
    """The schema, or None (once noted on stderr) without python3-jsonschema."""
    global _schema
    with _schema_lock:
        if _schema is None:
            try:
                _schema = EventSchema()
            except ImportError:
                import sys

                print("harness: python3-jsonschema is not installed: event lines are not checked against "
                      "docs/events.schema.json (scripts/setup-deps installs it)", file=sys.stderr)
                _schema = False
        return _schema or None


def schema_problem(obj, definition: str = "event") -> Optional[str]:
    """Why `obj` does not follow docs/events.schema.json, or None."""
    schema = event_schema()
    if schema is None:
        return None
    found = schema.problems(obj, definition)
    return "; ".join(found) if found else None


def validate_events(events: list, source: str, definition: str = "event") -> list:
    """Raises SchemaViolation when an object of `events` (parsed lines of
    `source`) does not follow the schema; returns `events`. An object
    {"event": "_unparsed", "line": ...} stands for a line that was not JSON."""
    bad = []
    for i, ev in enumerate(events):
        if isinstance(ev, dict) and ev.get("event") == "_unparsed" and set(ev) == {"event", "line"}:
            bad.append(f"line {i + 1}: {str(ev['line'])[:1500]}\n    not a JSON object")
            continue
        problem = schema_problem(ev, definition)
        if problem:
            bad.append(f"line {i + 1}: {json.dumps(ev, ensure_ascii=False)[:1500]}\n    {problem}")
    if bad:
        raise SchemaViolation(f"{source}: {len(bad)} of {len(events)} lines do not follow docs/events.schema.json:\n" + "\n".join(bad[:10]))
    return events


def validate_lines(text: str, source: str, definition: str = "event") -> list:
    """The JSON objects of `text`, one a line (empty lines skipped), each
    checked against the schema (SchemaViolation when one is not)."""
    events = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            ev = None
        events.append(ev if isinstance(ev, dict) else {"event": "_unparsed", "line": line})
    return validate_events(events, source, definition)


def _schema_stats() -> None:
    """With WSI_SCHEMA_STATS=FILE, how many lines this run validated."""
    path = os.environ.get("WSI_SCHEMA_STATS")
    schema = _schema if isinstance(_schema, EventSchema) else None
    if path and schema is not None:
        import sys

        with open(path, "a") as f:
            f.write(f"{' '.join(sys.argv[1:]) or sys.argv[0]}\t{schema.lines} lines\t{schema.failures} failed\t{json.dumps(schema.seen, sort_keys=True)}\n")


atexit.register(_schema_stats)


class JsonLineProcess:
    """A child process whose stdout is one JSON object per line.

    A background thread parses each line into `events` (a line that is not
    JSON is kept as {"event": "_unparsed", "line": ...}) and keeps the bytes
    exactly as written in `raw_stdout`; stderr is kept as text for failure
    messages.
    """

    def __init__(self, argv: list, name: str, env: Optional[dict] = None, cwd=None):
        self.argv = [str(a) for a in argv]
        self.name = name
        self.events: list = []
        self.raw_stdout = bytearray()
        self.stderr_lines: list = []
        self._cond = threading.Condition()
        self._eof = False
        # The wsinspect binary itself (not a peer): stop() checks how it ended.
        self.checks_exit = Path(self.argv[0]) == BINARY
        self._exit_checked = False
        # wsinspect's lines (also run through a shell) are checked against
        # docs/events.schema.json as they come; with a JSON log, a line that
        # is not JSON is one of them. The first wait, find or snapshot after
        # one fails (and stop(), if none came).
        self.validates = str(BINARY) in self.argv
        self.json_log = "--json" in self.argv or "--log-format=json" in self.argv or any(
            a == "--log-format" and b == "json" for a, b in zip(self.argv, self.argv[1:])
        )
        self.schema_errors: list = []
        self._schema_reported = False
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,  # a ^C to the test runner does not hit it twice
            preexec_fn=_die_with_parent,
        )
        with _live_lock:
            _live.add(self.proc)
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._threads:
            t.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read_stdout(self) -> None:
        for raw in self.proc.stdout:
            with self._cond:
                self.raw_stdout += raw
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                continue
            try:
                ev = json.loads(line)
                parsed = isinstance(ev, dict)
                if not parsed:
                    ev = {"event": "_unparsed", "line": line}
            except ValueError:
                ev = {"event": "_unparsed", "line": line}
                parsed = False
            problem = None
            if self.validates and parsed:
                problem = schema_problem(ev)
            elif self.validates and self.json_log and raw.endswith(b"\n"):  # not one cut by a kill
                problem = "not a JSON object, in a JSON log"
            with self._cond:
                if problem:
                    self.schema_errors.append(f"line {len(self.events) + 1}: {line[:1500]}\n    {problem}")
                self.events.append(ev)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            with self._cond:
                self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))

    def check_schema(self) -> None:
        """Raises SchemaViolation (once) when a line seen so far does not
        follow docs/events.schema.json."""
        with self._cond:
            if self._schema_reported or not self.schema_errors:
                return
            self._schema_reported = True
            errors = list(self.schema_errors)
        raise SchemaViolation(
            f"{self.name} (pid {self.pid}): {len(errors)} line(s) do not follow docs/events.schema.json:\n" + "\n".join(errors[:10])
        )

    def snapshot(self) -> list:
        self.check_schema()
        with self._cond:
            return list(self.events)

    def stdout_bytes(self) -> bytes:
        """Everything the process wrote to stdout so far, byte for byte."""
        with self._cond:
            return bytes(self.raw_stdout)

    def describe(self, last: int = 60) -> str:
        with self._cond:
            evs = self.events[-last:]
            err = self.stderr_lines[-20:]
        lines = [f"--- {self.name} (pid {self.pid}, rc {self.proc.poll()}) last {len(evs)} events:"]
        lines += [json.dumps(e, ensure_ascii=False)[:600] for e in evs]
        if err:
            lines.append("--- stderr:")
            lines += err
        return "\n".join(lines)

    def wait_for(self, pred: Callable[[dict], bool], timeout: float = TIMEOUT, what: str = "") -> dict:
        """The first event (from the start of the log) matching `pred`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            i = 0
            found = None
            while found is None:
                while i < len(self.events):
                    if pred(self.events[i]):
                        found = self.events[i]
                        break
                    i += 1
                left = deadline - time.monotonic()
                if found is not None or left <= 0 or (self._eof and i >= len(self.events)):
                    break
                self._cond.wait(min(left, 0.5))
        self.check_schema()
        if found is not None:
            return found
        raise AssertionError(f"{self.name}: no event {what or 'matching'} within {timeout}s\n" + self.describe())

    def wait_count(self, pred: Callable[[dict], bool], count: int, timeout: float = TIMEOUT, what: str = "") -> list:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.events if pred(e)]
                if len(found) >= count:
                    break
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    break
                self._cond.wait(min(left, 0.5))
        self.check_schema()
        if len(found) >= count:
            return found
        raise AssertionError(
            f"{self.name}: wanted {count} events {what}, saw {len(found)} within {timeout}s\n" + self.describe()
        )

    def find(self, pred: Callable[[dict], bool]) -> list:
        self.check_schema()
        return self._find(pred)

    def _find(self, pred: Callable[[dict], bool]) -> list:
        with self._cond:
            return [e for e in self.events if pred(e)]

    def wait_exit(self, timeout: float = TIMEOUT) -> int:
        rc = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=5)
        return rc

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; always reaps the process.

        For the wsinspect binary, fails (AssertionError, once) when it wrote a
        sanitizer report, or when a sanitized build exited non-zero after the
        SIGTERM sent here (a leak found at exit)."""
        clean_sigterm = False
        if self.proc.poll() is None and self.checks_exit and self._find(lambda e: e.get("event") == "stopped"):
            # Already stopping (the test signalled it): a signal now would
            # find the default action again and kill it; let it exit.
            try:
                self.proc.wait(timeout=10)
                clean_sigterm = True
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                # Longer than the default drain (5 s), so a draining proxy
                # ends by itself and LeakSanitizer gets to run.
                self.proc.wait(timeout=10)
                clean_sigterm = True
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for t in self._threads:
            t.join(timeout=5)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        with _live_lock:
            _live.discard(self.proc)
        if self.checks_exit and not self._exit_checked:
            self._exit_checked = True
            with self._cond:
                err = "\n".join(self.stderr_lines)
            check_exit(self.name, self.proc.returncode, err, clean_sigterm)
        self.check_schema()


# --- the proxy ---------------------------------------------------------------

_proxy_ok: Optional[bool] = None


def proxy_available() -> bool:
    """True when the binary exists and has a `proxy` subcommand."""
    global _proxy_ok
    if _proxy_ok is None:
        try:
            r = subprocess.run([str(BINARY), "proxy", "--help"], capture_output=True, timeout=20)
            # CLI11 prints the top-level help for an unknown word before
            # --help, so look for a proxy option, not just the exit status.
            _proxy_ok = r.returncode == 0 and b"--upstream" in r.stdout
        except (OSError, subprocess.TimeoutExpired):
            _proxy_ok = False
    return _proxy_ok


_sanitized: Optional[bool] = None


def binary_is_sanitized() -> bool:
    """True for an AddressSanitizer build, whose shadow memory and quarantine
    make resident-memory limits meaningless."""
    global _sanitized
    if _sanitized is None:
        try:
            import mmap

            with open(BINARY, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                _sanitized = m.find(b"__asan_init") != -1
        except (OSError, ValueError):
            _sanitized = False
    return _sanitized


def require_proxy(test) -> None:
    check_budget(test)
    if not proxy_available():
        test.skipTest(f"{BINARY} has no `proxy` subcommand yet")


def is_event(kind: str, **fields) -> Callable[[dict], bool]:
    """A predicate: event == kind and every given field equal."""

    def pred(e: dict) -> bool:
        return e.get("event") == kind and all(e.get(k) == v for k, v in fields.items())

    return pred


class Proxy(JsonLineProcess):
    """`wsinspect proxy --listen 127.0.0.1:0` with a JSON log on stdout.

    `upstream`, `listen`, `log_format` or `log_level` set to None leave that
    flag out (for settings that come from a --config file)."""

    def __init__(self, upstream: Optional[str], *args, log_level: Optional[str] = "debug", listen: Optional[str] = f"{HOST}:0", log_format: Optional[str] = "json"):
        argv = [BINARY, "proxy"]
        if listen:
            argv += ["--listen", listen]
        if upstream:
            argv += ["--upstream", upstream]
        if log_format:
            argv += ["--log-format", log_format]
        if log_level:
            argv += ["--log-level", log_level]
        argv += list(args)
        super().__init__(argv, "proxy")
        try:
            ev = self.wait_for(is_event("listening"), what="listening")
            self.address = ev["address"]
            host, _, port = self.address.rpartition(":")
            self.host, self.port = host.strip("[]"), int(port)
            if self.port == 0:
                raise AssertionError("listening event shows port 0: " + json.dumps(ev))
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    def conn_of(self, sock_or_addr, timeout: float = TIMEOUT) -> int:
        """The conn id of the client connection from this local address."""
        if isinstance(sock_or_addr, socket.socket):
            h, p = sock_or_addr.getsockname()[:2]
            addr = f"[{h}]:{p}" if ":" in h else f"{h}:{p}"  # the proxy brackets IPv6
        else:
            addr = sock_or_addr
        ev = self.wait_for(lambda e: e.get("event") == "conn_open" and e.get("client") == addr, timeout, f"conn_open from {addr}")
        return ev["conn"]

    def of_conn(self, conn: int, kind: Optional[str] = None) -> list:
        return self.find(lambda e: e.get("conn") == conn and (kind is None or e.get("event") == kind))

    def wait_conn_close(self, conn: int, timeout: float = TIMEOUT) -> dict:
        return self.wait_for(is_event("conn_close", conn=conn), timeout, f"conn_close for conn {conn}")

    def violations(self, conn: int, direction: Optional[str] = None) -> list:
        """(rule, offset, frame_index, dir) of each violation, in log order."""
        return [
            (e.get("rule"), e.get("offset"), e.get("frame_index"), e.get("dir"))
            for e in self.of_conn(conn, "violation")
            if direction is None or e.get("dir") == direction
        ]

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


# --- frames ------------------------------------------------------------------


def apply_mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return b""
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def build_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask=None,
    length_form: Optional[int] = None,
    length: Optional[int] = None,
) -> bytes:
    """One frame, any header bits.

    rsv: RSV1..RSV3 as bits 2..0 (RSV1 = 4). mask: None (MASK=0), a 4-byte
    key, or True for a random key. length_form: 7, 16 or 64 to force the
    length encoding (a longer form than needed gives a non-minimal length).
    length: the length to declare, if not len(payload) (for truncated or
    corrupt frames); any 64-bit value, MSB included.
    """
    if isinstance(payload, str):
        payload = payload.encode()
    if mask is True:
        mask = os.urandom(4)
    n = len(payload) if length is None else length
    if length_form is None:
        length_form = 7 if n < 126 else 16 if n < 65536 else 64
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mbit = 0x80 if mask is not None else 0
    if length_form == 7:
        if n > 125:
            raise ValueError("length does not fit the 7-bit form")
        head = bytes([b0, mbit | n])
    elif length_form == 16:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    elif length_form == 64:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    else:
        raise ValueError(f"length_form {length_form}")
    if mask is not None:
        return head + bytes(mask) + apply_mask(payload, bytes(mask))
    return head + payload


def close_payload(code: Optional[int] = None, reason: bytes = b"") -> bytes:
    if isinstance(reason, str):
        reason = reason.encode()
    return b"" if code is None else struct.pack("!H", code) + reason


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    length: int
    payload: bytes  # unmasked
    size: int  # bytes on the wire, header included
    mask_key: Optional[bytes] = None
    length_form: int = 7  # 7, 16 or 64: how the length was encoded

    @property
    def close_code(self) -> Optional[int]:
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> bytes:
        return self.payload[2:]


def parse_frame(buf: bytes) -> Optional[Frame]:
    """The frame at the start of `buf`, or None when it is incomplete."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n, pos = b1 & 0x7F, 2
    form = 7 if n < 126 else 16 if n == 126 else 64
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = struct.unpack("!Q", buf[2:10])[0], 10
    masked = bool(b1 & 0x80)
    key = b""
    if masked:
        if len(buf) < pos + 4:
            return None
        key, pos = buf[pos : pos + 4], pos + 4
    if len(buf) < pos + n:
        return None
    payload = buf[pos : pos + n]
    if masked:
        payload = apply_mask(payload, key)
    return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, masked, n, payload, pos + n, key if masked else None, form)


def parse_frames(buf: bytes) -> "tuple[list, bytes]":
    """All complete frames in `buf`, and the bytes left over."""
    out = []
    while True:
        f = parse_frame(buf)
        if f is None:
            return out, buf
        out.append(f)
        buf = buf[f.size :]


# --- frame vectors -------------------------------------------------------------


@dataclass
class Expect:
    rule: str
    offset: int
    frame_index: int


@dataclass
class FrameVector:
    """tests/vectors/frames/*.txt: hex bytes of one direction, '#' comments,
    metadata lines as tests/inspect_util.h describes them."""

    name: str
    path: Path
    sender: str = "client"
    deflate: bool = False
    max_message_size: int = 0
    expect: list = field(default_factory=list)  # [Expect]
    closes: list = field(default_factory=list)  # [(code, valid)]
    data: bytes = b""

    @property
    def direction(self) -> str:
        return C2S if self.sender == "client" else S2C

    @property
    def ends_mid_frame(self) -> bool:
        return any(e.rule == "stream-ended-mid-frame" for e in self.expect)


_EXPECT_RE = re.compile(r"^(\S+) @(\d+) #(\d+)$")


def load_vector(path: Path) -> FrameVector:
    text = Path(path).read_text()
    v = FrameVector(name=Path(path).stem, path=Path(path))
    hex_chars = []
    for line in text.splitlines():
        if line.startswith("# "):
            key, sep, value = line[2:].partition(": ")
            if sep:
                if key == "sender":
                    v.sender = "server" if value == "server" else "client"
                elif key == "deflate":
                    v.deflate = value == "yes"
                elif key == "max-message-size":
                    v.max_message_size = int(value)
                elif key == "expect":
                    m = _EXPECT_RE.match(value.strip())
                    if not m:
                        raise ValueError(f"{path}: bad expect line {line!r}")
                    v.expect.append(Expect(m.group(1), int(m.group(2)), int(m.group(3))))
                elif key == "close":
                    code, state = value.split()
                    v.closes.append((int(code), state == "valid"))
        hex_chars.append(line.split("#", 1)[0])
    digits = "".join("".join(hex_chars).split())
    if len(digits) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", digits):
        raise ValueError(f"{path}: bad hex")
    v.data = bytes.fromhex(digits)
    return v


def load_vectors() -> list:
    return [load_vector(p) for p in sorted(VECTOR_DIR.glob("*.txt"))]


# --- write patterns ------------------------------------------------------------

BYTEWISE_LIMIT = 512  # byte-at-a-time only for short vectors


def pieces(data: bytes, pattern: str, rng: Optional[random.Random] = None) -> list:
    """`data` cut as one TCP write pattern: whole, bytewise or random."""
    if pattern == "whole" or not data:
        return [data]
    if pattern == "bytewise":
        return [data[i : i + 1] for i in range(len(data))]
    if pattern == "random":
        rng = rng or random.Random(0)
        out, i = [], 0
        while i < len(data):
            n = rng.randint(1, max(1, min(len(data) - i, max(2, len(data) // 3))))
            out.append(data[i : i + n])
            i += n
        return out
    raise ValueError(pattern)


# --- HTTP and the WebSocket handshake --------------------------------------------


def make_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def upgrade_request(host: str, path: str = "/", key: Optional[str] = None, extensions: Optional[str] = None, extra: str = "") -> "tuple[bytes, str]":
    key = key or make_key()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    head = "\r\n".join(lines) + "\r\n" + extra + "\r\n"
    return head.encode(), key


def response_101(key: str, extensions: Optional[str] = None) -> bytes:
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_for(key)}",
    ]
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class HttpHead:
    start: str
    headers: list  # [(lowercase name, value)]
    raw: bytes

    def get(self, name: str, default=None):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return default

    @property
    def status(self) -> int:
        parts = self.start.split(" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def parse_head(raw: bytes) -> HttpHead:
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    headers = []
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers.append((k.strip().lower(), v.strip()))
    return HttpHead(lines[0], headers, raw)


# --- raw TCP peers -------------------------------------------------------------


class RawConn:
    """One TCP connection with a receive buffer, for crafted bytes."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self.reset_seen = False  # the peer reset the connection
        self.sent = bytearray()  # everything written, for byte-exact checks

    # writing

    def send(self, data: bytes, pattern: str = "whole", rng: Optional[random.Random] = None, gap: float = 0.0) -> None:
        """Writes `data` in the pieces of `pattern`, pausing between them so
        that the pieces reach the other side as separate reads."""
        parts = pieces(data, pattern, rng)
        if gap == 0.0 and pattern != "whole":
            gap = 0.001
        for i, p in enumerate(parts):
            self.sock.sendall(p)
            self.sent += p
            if gap and i + 1 < len(parts):
                time.sleep(gap if rng is None else rng.uniform(0, 2 * gap))

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def reset(self) -> None:
        """Close with SO_LINGER 0: the peer sees a TCP RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    # reading

    def _fill(self, deadline: float, size: int = 65536) -> bool:
        """Reads once; False on EOF or reset (sets eof)."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("read timed out")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(size)
        except socket.timeout:
            raise TimeoutError("read timed out")
        except ConnectionResetError:
            chunk = b""
            self.reset_seen = True
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def recv_exact(self, n: int, timeout: float = TIMEOUT) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if self.eof or not self._fill(deadline):
                raise EOFError(f"EOF after {len(self.buf)} of {n} bytes")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def recv_until_eof(self, timeout: float = TIMEOUT, limit: int = 1 << 26) -> bytes:
        deadline = time.monotonic() + timeout
        while not self.eof and len(self.buf) < limit:
            self._fill(deadline)
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def wait_eof(self, timeout: float = TIMEOUT) -> bytes:
        """Discards nothing: returns what arrived until the peer closed."""
        return self.recv_until_eof(timeout)

    def recv_head(self, timeout: float = TIMEOUT) -> HttpHead:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if self.eof or not self._fill(deadline):
                raise EOFError(f"EOF inside an HTTP head: {bytes(self.buf)[:200]!r}")
        i = self.buf.index(b"\r\n\r\n") + 4
        raw = bytes(self.buf[:i])
        del self.buf[:i]
        return parse_head(raw)

    def recv_frame(self, timeout: float = TIMEOUT) -> Frame:
        deadline = time.monotonic() + timeout
        while True:
            f = parse_frame(bytes(self.buf))
            if f is not None:
                del self.buf[: f.size]
                return f
            if self.eof or not self._fill(deadline):
                raise EOFError(f"EOF inside a frame: {bytes(self.buf)[:40].hex()}")

    def recv_close_frame(self, timeout: float = TIMEOUT) -> Frame:
        """Skips frames until a close frame arrives."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if f.opcode == OP_CLOSE:
                return f

    def recv_http_response(self, timeout: float = TIMEOUT) -> bytes:
        """One complete HTTP/1.1 response (Content-Length or chunked), raw."""
        deadline = time.monotonic() + timeout
        head = self.recv_head(timeout)
        out = bytearray(head.raw)
        if head.get("transfer-encoding", "").lower() == "chunked":
            while True:
                while b"\r\n" not in self.buf:
                    if not self._fill(deadline):
                        raise EOFError("EOF in chunk size")
                line_end = self.buf.index(b"\r\n") + 2
                size = int(bytes(self.buf[: line_end - 2]).split(b";")[0], 16)
                chunk = self.recv_exact(line_end + size + 2, max(0.01, deadline - time.monotonic()))
                out += chunk
                if size == 0:
                    return bytes(out)
        n = int(head.get("content-length", "0"))
        out += self.recv_exact(n, max(0.01, deadline - time.monotonic()))
        return bytes(out)


class RawClient:
    """Connects and, for a WebSocket, sends a valid upgrade request."""

    @staticmethod
    def connect(host: str, port: int, timeout: float = TIMEOUT) -> RawConn:
        s = socket.create_connection((host, port), timeout=timeout)
        return RawConn(s)

    @staticmethod
    def websocket(host: str, port: int, path: str = "/", deflate: bool = False, timeout: float = TIMEOUT) -> "tuple[RawConn, HttpHead]":
        """A connection past a verified 101; returns it and the response head."""
        c = RawClient.connect(host, port, timeout)
        req, key = upgrade_request(f"{host}:{port}", path, extensions="permessage-deflate" if deflate else None)
        c.sock.sendall(req)
        head = c.recv_head(timeout)
        if head.status != 101:
            c.close()
            raise AssertionError(f"expected 101, got {head.start!r}")
        if head.get("sec-websocket-accept") != accept_for(key):
            c.close()
            raise AssertionError(f"bad Sec-WebSocket-Accept in {head.raw!r}")
        if deflate and "permessage-deflate" not in (head.get("sec-websocket-extensions") or ""):
            c.close()
            raise AssertionError(f"permessage-deflate not accepted: {head.raw!r}")
        return c, head


class RawUpstream:
    """A listening socket on 127.0.0.1:0 (or `host`, such as "::1") standing
    in for a WebSocket server; `address` is HOST:PORT, [IPv6]:PORT for IPv6."""

    def __init__(self, host: str = HOST):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.bind((host, 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.address = f"[{host}]:{self.port}" if family == socket.AF_INET6 else f"{host}:{self.port}"
        self.accepted: list = []

    def accept(self, timeout: float = TIMEOUT) -> RawConn:
        self.listener.settimeout(timeout)
        try:
            s, _ = self.listener.accept()
        except socket.timeout:
            raise TimeoutError("no connection reached the upstream")
        s.settimeout(None)
        c = RawConn(s)
        self.accepted.append(c)
        return c

    def accept_websocket(self, deflate: bool = False, timeout: float = TIMEOUT) -> "tuple[RawConn, HttpHead]":
        """Accepts, reads the upgrade request and answers a valid 101 (with
        permessage-deflate when `deflate` and the client offered it)."""
        c = self.accept(timeout)
        req = c.recv_head(timeout)
        key = req.get("sec-websocket-key")
        if not key:
            raise AssertionError(f"no Sec-WebSocket-Key in {req.raw!r}")
        ext = None
        if deflate and "permessage-deflate" in (req.get("sec-websocket-extensions") or ""):
            ext = "permessage-deflate"
        c.sock.sendall(response_101(key, ext))
        return c, req

    def close(self) -> None:
        for c in self.accepted:
            c.close()
        self.listener.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RawSession:
    """A raw client and a raw server with a WebSocket between them: the client
    connects to `proxy` when given (whose --upstream is `upstream`), else
    straight to `upstream`. close() closes the two connections only."""

    def __init__(self, upstream: RawUpstream, proxy: Optional[Proxy] = None, deflate: bool = False, path: str = "/"):
        self.upstream, self.proxy = upstream, proxy
        self.client: Optional[RawConn] = None
        self.server: Optional[RawConn] = None
        self.conn: Optional[int] = None
        host, port = (proxy.host, proxy.port) if proxy else (HOST, upstream.port)
        try:
            # The request waits in the socket buffers until the upstream
            # accepts, so one thread drives both ends.
            self.client = RawClient.connect(host, port)
            req, key = upgrade_request(f"{host}:{port}", path, extensions="permessage-deflate" if deflate else None)
            self.client.sock.sendall(req)
            self.server, self.request = upstream.accept_websocket(deflate=deflate)
            self.response = self.client.recv_head()
            if self.response.status != 101 or self.response.get("sec-websocket-accept") != accept_for(key):
                raise AssertionError(f"bad handshake response {self.response.raw!r}")
            if proxy:
                self.conn = proxy.conn_of(self.client.sock)
        except BaseException:
            self.close()
            raise

    def ends(self, sender: str) -> "tuple[RawConn, RawConn]":
        """(sending end, receiving end) for sender 'client' or 'server'."""
        return (self.client, self.server) if sender == "client" else (self.server, self.client)

    def close(self) -> None:
        for c in (self.client, self.server):
            if c:
                c.close()


# --- real peers (tests/peers) ----------------------------------------------------


def peers_available() -> bool:
    return (PEERS_DIR / "node_modules" / "ws").is_dir()


class PeerServer(JsonLineProcess):
    """tests/peers/ws_server.js or py_peer.py server; first line `listening`."""

    def __init__(self, kind: str, *args):
        if kind == "node":
            argv = [NODE, PEERS_DIR / "ws_server.js", *args]
        else:
            argv = [PYTHON, PEERS_DIR / "py_peer.py", "server", *args]
        super().__init__(argv, f"{kind}-server", cwd=PEERS_DIR)
        self.kind = kind
        try:
            ev = self.wait_for(is_event("listening"), what="listening")
            self.port = int(ev["port"])
            self.address = f"{HOST}:{self.port}"
        except BaseException:
            self.stop()
            raise

    def observations(self) -> list:
        return [e for e in self.snapshot() if e.get("event") != "listening"]


def start_peer_client(kind: str, url: str, *args) -> JsonLineProcess:
    """Starts tests/peers/ws_client.js or py_peer.py client in the background."""
    if kind == "node":
        argv = [NODE, PEERS_DIR / "ws_client.js", "--url", url, *args]
    else:
        argv = [PYTHON, PEERS_DIR / "py_peer.py", "client", "--url", url, *args]
    return JsonLineProcess(argv, f"{kind}-client", cwd=PEERS_DIR)


def finish_peer(p: JsonLineProcess, timeout: float = 30.0) -> int:
    """Waits for a peer process to exit by itself; kills it on timeout."""
    try:
        rc = p.wait_exit(timeout)
    except subprocess.TimeoutExpired:
        p.stop()
        raise AssertionError(f"{p.name} did not finish in {timeout}s\n" + p.describe())
    p.stop()
    return rc


def run_peer_client(kind: str, url: str, *args, timeout: float = 30.0) -> "tuple[int, list]":
    """Runs a peer client to completion: (exit code, observations)."""
    p = start_peer_client(kind, url, *args)
    rc = finish_peer(p, timeout)
    return rc, p.snapshot()


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def run_threads(*fns, timeout: float = 60.0) -> list:
    """Runs each function in its own thread; returns their results, re-raises
    the first exception, fails if any is still running after `timeout`."""
    results = [None] * len(fns)
    errors: list = []

    def wrap(i, fn):
        try:
            results[i] = fn()
        except BaseException as e:  # handed to the test thread
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i, fn), daemon=True) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    if any(t.is_alive() for t in threads):
        raise AssertionError(f"threads still running after {timeout}s")
    return results
