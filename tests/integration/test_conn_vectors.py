"""Every connection vector (tests/vectors/connections/*.txt, format in its
README.md) replayed through the real proxy with a raw client and a raw
upstream, byte-exact, and the proxy's JSON events for that connection
rendered into the README's canonical lines and compared with the vector's
`expect:` lines.

Replay: the client connects to the proxy and the upstream accepts the
proxy's connection at once (the proxy connects when the client does). A
`client:`/`client hex:` step is sent on the client socket and must arrive,
byte for byte, on the server socket; server steps the other way. `client fin`
shuts down the client's writing and waits for EOF on the server socket (no
extra bytes); `client reset` closes the client with SO_LINGER 0 and waits for
the server socket to see a reset or EOF; server ends likewise. `time +N` is
skipped: the proxy's own clock is used, so times are not compared. After the
last step both sockets are closed and the test waits for conn_close.

Comparison: the ms part of `caused_by=RULE/DIR/OFF/FRAME/MS` and the `ms=` of
conn_close are replaced by `*` on both sides. Rule for vectors that do not
end both streams themselves (neither a reset nor a fin of each side): closing
the sockets afterwards adds ends the vector did not list, so conn_close's
`ended_by` and the `cause=` of synth lines are replaced by `*` on both sides
for such vectors; they are compared exactly otherwise.
"""

import re
import unittest
from pathlib import Path

from harness import (
    C2S,
    TIMEOUT,
    Proxy,
    RawClient,
    RawUpstream,
    require_proxy,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "connections"


def unescape(text: str) -> bytes:
    out = bytearray()
    i = 0
    simple = {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\", "s": b" "}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nx = text[i + 1]
            if nx in simple:
                out += simple[nx]
                i += 2
                continue
            if nx == "x":
                out.append(int(text[i + 2 : i + 4], 16))
                i += 4
                continue
            raise ValueError(f"bad escape \\{nx} in {text!r}")
        out += ch.encode("utf-8")
        i += 1
    return bytes(out)


def load(path: Path):
    """(steps, expected lines); a step is (who, kind, data)."""
    steps, expected = [], None
    for raw in path.read_text().split("\n"):
        line = raw.rstrip("\r")
        if expected is not None:
            if line.strip() and not line.startswith("#"):
                expected.append(line.strip())
            continue
        if not line.strip() or line.startswith("#"):
            continue
        if line == "expect:":
            expected = []
            continue
        m = re.match(r"^(client|server)( hex)?: ?(.*)$", line)
        if m:
            data = bytes.fromhex("".join(m.group(3).split())) if m.group(2) else unescape(m.group(3))
            steps.append((m.group(1), "data", data))
            continue
        m = re.match(r"^(client|server) (fin|reset)\s*$", line)
        if m:
            steps.append((m.group(1), m.group(2), None))
            continue
        m = re.match(r"^time \+(\d+)\s*$", line)
        if m:
            steps.append(("time", "time", int(m.group(1))))
            continue
        raise ValueError(f"{path.name}: unknown step {line!r}")
    if expected is None:
        raise ValueError(f"{path.name}: no expect: line")
    return steps, expected


def short(d: str) -> str:
    return "c2s" if d == C2S else "s2c"


def render(events: list) -> list:
    lines = []
    for e in events:
        kind = e.get("event")
        if kind == "http_error":
            lines.append(f"http_error {short(e['dir'])} {e['error']} off={e['offset']}")
        elif kind == "handshake":
            s = f"handshake {e.get('method', 'GET')} {e['path']} status={e['status']} upgraded={int(bool(e['upgraded']))}"
            f = ",".join(f"{x['rule']}@{x['offset']}" for x in e.get("findings", []))
            if f:
                s += " findings=" + f
            lines.append(s)
        elif kind == "http":
            lines.append(f"http {e['method']} {e['path']} status={e['status']}")
        elif kind == "violation":
            lines.append(f"violation {short(e['dir'])} {e['rule']} off={e['offset']} frame={e['frame_index']}")
        elif kind == "close" and e.get("synthesized"):
            lines.append(f"synth {short(e['dir'])} {e['code']} cause={e['cause']}")
        elif kind == "close":
            s = f"close {short(e['dir'])} {e['code']} frame={e['frame_index']}"
            if e.get("in_reply"):
                s += " in_reply"
            k = e.get("caused_by")
            if k:
                s += f" caused_by={k['rule']}/{short(k['dir'])}/{k['offset']}/{k['frame_index']}/{k['ms_before']}"
            if "note" in e:
                s += " unseen"
            lines.append(s)
        elif kind == "gap":
            lines.append(f"gap {short(e['dir'])} {e['from']}-{e['to']}")
        elif kind == "conn_close":
            parts = [f"conn_close ended_by={e['ended_by']} upgraded={int(bool(e['upgraded']))}"]
            for d, name in ((C2S, "c2s"), ("server_to_client", "s2c")):
                dj = e.get(d, {})
                frames = dj["frames"] if "frames" in dj else "-"
                parts.append(f"{name}={dj.get('bytes')}/{frames}")
            parts.append(f"ms={e.get('duration_ms')}")
            lines.append(" ".join(parts))
    return lines


def normalize(lines: list, compare_ends: bool) -> list:
    out = []
    for line in lines:
        line = re.sub(r"(caused_by=[^/\s]+/[^/\s]+/[^/\s]+/[^/\s]+/)\S+", r"\1*", line)
        line = re.sub(r"\bms=\S+", "ms=*", line)
        if not compare_ends:
            line = re.sub(r"\bended_by=\S+", "ended_by=*", line)
            if line.startswith("synth "):
                line = re.sub(r"\bcause=\S+", "cause=*", line)
        out.append(line)
    return out


def ends_both(steps: list) -> bool:
    ends = {(who, kind) for who, kind, _ in steps if kind in ("fin", "reset")}
    if any(kind == "reset" for _, kind in ends):
        return True
    return ("client", "fin") in ends and ("server", "fin") in ends


class ConnVectorTest(unittest.TestCase):
    def setUp(self):
        require_proxy(self)

    def test_vectors_exist(self):
        self.assertTrue(sorted(VECTORS.glob("*.txt")), f"no vectors in {VECTORS}")

    def test_every_vector_through_the_proxy(self):
        for path in sorted(VECTORS.glob("*.txt")):
            with self.subTest(vector=path.name):
                self.replay(path)

    def replay(self, path: Path):
        steps, expected = load(path)
        up = RawUpstream()
        self.addCleanup(up.close)
        proxy = Proxy(up.address, log_level="debug")
        self.addCleanup(proxy.stop)
        c = RawClient.connect(proxy.host, proxy.port)
        self.addCleanup(c.close)
        conn = proxy.conn_of(c.sock)
        s = up.accept()
        self.addCleanup(s.close)
        ends = {"client": c, "server": s}
        for i, (who, kind, data) in enumerate(steps):
            ctx = f"\n{path.name} step {i + 1} ({who} {kind})\n" + proxy.describe()
            if kind == "time":
                continue
            src, dst = ends[who], ends["server" if who == "client" else "client"]
            if kind == "data":
                src.send(data)
                try:
                    got = dst.recv_exact(len(data), TIMEOUT)
                except (EOFError, TimeoutError) as ex:
                    self.fail(f"{ex}; got {bytes(dst.buf)!r}" + ctx)
                self.assertEqual(got, data, "relayed bytes differ" + ctx)
            elif kind in ("fin", "reset"):
                what = "EOF" if kind == "fin" else "reset"
                if kind == "fin":
                    src.shutdown_write()
                else:
                    src.reset()
                try:
                    rest = dst.recv_until_eof(TIMEOUT)
                except TimeoutError:
                    self.fail(("no EOF" if kind == "fin" else "no reset or EOF") + " passed on" + ctx)
                self.assertEqual(rest, b"", f"bytes before the {what}" + ctx)
        c.close()
        s.close()
        proxy.wait_conn_close(conn)
        got = render(proxy.of_conn(conn))
        cmp = ends_both(steps)
        ctx = (
            f"\n{path.name}\nexpected:\n  " + "\n  ".join(expected) + "\ngot:\n  " + "\n  ".join(got) + "\n" + proxy.describe()
        )
        self.assertEqual(normalize(got, cmp), normalize(expected, cmp), ctx)


if __name__ == "__main__":
    unittest.main()
