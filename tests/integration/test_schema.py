"""docs/events.schema.json: the JSON Schema of every event wsinspect writes.

- the schema is a valid JSON Schema, every event definition is strict
  (additionalProperties false), and the events it defines are the ones
  docs/events.md documents, each field of an event named in its section;
- every field name the JSON writers write (`.field("...")` and `.key("...")`
  in the sources) is in the schema, and every field of the schema is
  written somewhere;
- hand-made bad lines are rejected: an unknown field, a wrong type, a
  missing field, an unknown event, a value outside its enum, a level the
  event is never logged at;
- `rules --json` follows $defs/rule_entry, and its rule ids are the
  schema's; `demo --log-format json` writes JSON lines only on stdout.

Every other module checks the lines it sees against the schema as it runs
(harness.JsonLineProcess, validate_lines, validate_events).
"""

import copy
import json
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import (
    BINARY,
    HOST,
    OP_CLOSE,
    OP_TEXT,
    REPO,
    TIMEOUT,
    Proxy,
    RawClient,
    SchemaViolation,
    build_frame,
    check_budget,
    close_payload,
    event_schema,
    require_proxy,
    upgrade_request,
    validate_events,
    validate_lines,
)

DOCS = REPO / "docs" / "events.md"
# The sources that build JSON lines.
WRITERS = [
    "proxy/report/json_sink.cpp",
    "proxy/event_format.cpp",
    "proxy/capture_decode.cpp",
    "proxy/compare_cmd.cpp",
    "proxy/decode_cmd.cpp",
    "proxy/ca_cmd.cpp",
    "proxy/event_log.cpp",
]

FRAME = {
    "ts": "2026-12-01T15:57:16.123456Z",
    "level": "debug",
    "conn": 3,
    "event": "frame",
    "dir": "client_to_server",
    "frame_index": 0,
    "offset": 0,
    "fin": True,
    "rsv": 0,
    "opcode": 1,
    "opcode_name": "text",
    "masked": True,
    "length": 5,
    "header_hex": "81 85 37 fa 21 3d",
}


def schema_or_skip(test):
    schema = event_schema()
    if schema is None:
        test.skipTest("python3-jsonschema is not installed")
    return schema


def property_names(x, out: set) -> set:
    """Every name under a `properties` anywhere in a schema."""
    if isinstance(x, dict):
        if isinstance(x.get("properties"), dict):
            out.update(x["properties"])
        for v in x.values():
            property_names(v, out)
    elif isinstance(x, list):
        for v in x:
            property_names(v, out)
    return out


def documented_sections() -> "dict[str, str]":
    """Event name: the text of its sections in docs/events.md (a `##`
    heading names one or more events in backquotes)."""
    sections: dict = {}
    names: list = []
    for line in DOCS.read_text().splitlines():
        if line.startswith("#"):
            names = re.findall(r"`([a-z_]+)`", line) if line.startswith("## ") else []
            for n in names:
                sections.setdefault(n, "")
        for n in names:
            sections[n] += line + "\n"
    return sections


class SchemaTest(unittest.TestCase):
    def setUp(self):
        check_budget(self)
        self.s = schema_or_skip(self)
        self.schema = self.s.schema
        self.defs = self.schema["$defs"]
        self.events = self.schema["properties"]["event"]["enum"]

    def forms(self, name: str) -> list:
        """The object definitions of an event (close has two)."""
        d = self.defs[name]
        if "properties" in d:
            return [d]
        return [self.defs[d[b]["$ref"].rsplit("/", 1)[1]] for b in ("then", "else")]

    def test_the_schema_is_a_valid_json_schema(self):
        self.s.cls.check_schema(self.schema)
        self.assertEqual(self.schema["$schema"], "https://json-schema.org/draft/2020-12/schema")

    def test_every_event_has_a_strict_definition(self):
        dispatched = {c["if"]["properties"]["event"]["const"]: c["then"]["$ref"] for c in self.schema["allOf"]}
        self.assertEqual(set(dispatched), set(self.events), "each event is dispatched to its definition")
        for name in self.events:
            self.assertEqual(dispatched[name], f"#/$defs/{name}")
            for form in self.forms(name):
                self.assertEqual(form.get("type"), "object", name)
                self.assertIs(form.get("additionalProperties"), False, f"{name}: additionalProperties must be false")
                self.assertEqual(form["properties"]["event"], {"const": name}, name)
                self.assertIn("event", form["required"], name)
                for f in form["required"]:
                    self.assertIn(f, form["properties"], f"{name}: required {f} is not a property")

    def test_docs_and_schema_name_the_same_events(self):
        documented = set(documented_sections())
        self.assertEqual(sorted(documented - set(self.events)), [], "documented in docs/events.md, not in the schema")
        self.assertEqual(sorted(set(self.events) - documented), [], "in the schema, not documented in docs/events.md")

    def test_every_field_of_an_event_is_documented_in_its_section(self):
        sections = documented_sections()
        text = DOCS.read_text()
        # Fields documented once for all events: the common tables.
        common = text[: text.index("## `frame`")]
        common += text[text.index("# Proxy events") : text.index("## `listening`")]
        common += text[text.index("# Capture events") : text.index("## `tcp_conflict`")]
        missing = []
        for name in self.events:
            fields = set()
            for form in self.forms(name):
                fields |= set(form["properties"])
            for f in sorted(fields):
                # `name` or `name: value`
                named = re.compile(f"`{re.escape(f)}[`:]")
                if not named.search(sections.get(name, "")) and not named.search(common):
                    missing.append(f"{name}.{f}")
        self.assertEqual(missing, [], "fields of the schema not named in their event's section of docs/events.md")

    def test_every_field_the_writers_write_is_in_the_schema(self):
        names = property_names(self.schema, set())
        written = set()
        for path in WRITERS:
            src = (REPO / path).read_text()
            found = set(re.findall(r'\.(?:field|key)\("([A-Za-z0-9_]+)"', src))
            self.assertTrue(found or path.endswith("compare_cmd.cpp"), f"no field found in {path}: the pattern is stale")
            written |= found
        self.assertGreater(len(written), 100)
        self.assertEqual(sorted(written - names), [], "written by the JSON writers, unknown to the schema")

    def test_every_field_of_the_schema_is_written_somewhere(self):
        literals = set()
        for d in ("proxy", "parser"):
            for path in (REPO / d).rglob("*.[ch]*"):
                literals |= set(re.findall(r'"([A-Za-z0-9_]+)"', path.read_text(errors="replace")))
        unknown = sorted(n for n in property_names(self.schema, set()) if n not in literals)
        self.assertEqual(unknown, [], "fields of the schema that no source writes")

    def test_enums_are_the_ids_the_sources_write(self):
        def returned(path: str, function: str) -> set:
            src = (REPO / path).read_text()
            body = src[src.index(function) :]
            body = body[: body.index("\n}\n")]
            return set(re.findall(r'return "([a-z_-]+)";', body))

        # The end cause `none` is no cause: a connection always ends by one.
        self.assertEqual(sorted(returned("parser/conn/events.cpp", "std::string_view end_cause_id(") - {"none"}),
                         sorted(self.defs["end_cause"]["enum"]), "conn_close's ended_by")
        self.assertEqual(sorted(returned("parser/compare/hop_compare.cpp", "std::string_view diff_kind_id(") - {"unknown"}),
                         sorted(self.defs["diff_kind"]["enum"]), "hop_diff's kind")
        tls = (REPO / "proxy/net/tls_failure.cpp").read_text()
        ids = set(re.findall(r'"((?:client|upstream|tls|plain|no)-[a-z-]+)"', tls))
        self.assertEqual(sorted(ids), sorted(self.defs["tls_error_id"]["enum"]), "tls_error's error")

    def test_rule_ids_and_rules_json(self):
        r = subprocess.run([str(BINARY), "rules", "--json"], capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        entries = validate_lines(r.stdout, "wsinspect rules --json", "rule_entry")
        self.assertGreater(len(entries), 30)
        self.assertEqual(sorted(e["rule"] for e in entries), sorted(self.defs["rule_id"]["enum"]),
                         "the rule ids of $defs/rule_id in docs/events.schema.json must be those of wsinspect rules")
        with self.assertRaises(SchemaViolation):
            validate_events([{**entries[0], "rule": "no-such-rule"}], "rules", "rule_entry")

    def test_a_good_line_passes(self):
        validate_events([FRAME], "a frame")
        unstamped = {k: v for k, v in FRAME.items() if k not in ("ts", "level", "conn")}
        validate_events([unstamped], "decode --sender")
        labelled = {**FRAME, "client_addr": "10.0.0.1:40001", "server_addr": "[2001:db8::1]:8080", "midstream": True}
        validate_events([labelled], "decode of a capture")

    def rejected(self, ev: dict, because: str):
        with self.assertRaises(SchemaViolation) as ctx:
            validate_events([ev], "a hand-made line")
        self.assertIn(because, str(ctx.exception))

    def test_bad_lines_are_rejected(self):
        self.rejected({**FRAME, "colour": "red"}, "'colour' was unexpected")
        self.rejected({**FRAME, "offset": "0"}, "is not of type 'integer'")
        self.rejected({**FRAME, "fin": 1}, "is not of type 'boolean'")
        self.rejected({k: v for k, v in FRAME.items() if k != "header_hex"}, "'header_hex' is a required property")
        self.rejected({**FRAME, "event": "frames"}, "is not one of")
        self.rejected({k: v for k, v in FRAME.items() if k != "event"}, "'event' is a required property")
        self.rejected({**FRAME, "dir": "c->s"}, "is not one of")
        self.rejected({**FRAME, "level": "info"}, "is not one of ['debug']")
        self.rejected({**FRAME, "level": "fatal"}, "is not one of")
        self.rejected({**FRAME, "offset": -1}, "less than the minimum")
        self.rejected({**FRAME, "header_hex": "81 zz"}, "does not match")
        self.rejected({k: v for k, v in FRAME.items() if k != "ts"}, "'ts' is a dependency of 'level'")
        self.rejected({**FRAME, "ts": "yesterday"}, "does not match")
        self.rejected({**FRAME, "conn": 0}, "less than the minimum")
        stopped = {"ts": FRAME["ts"], "level": "info", "event": "stopped", "connections": 1, "refused": 0,
                   "upstream_errors": 0, "violations": 0, "handshake_findings": 0, "tls_errors": 0, "log_dropped": 0}
        validate_events([stopped], "stopped")
        self.rejected({**stopped, "conn": 1}, "'conn' was unexpected")
        self.rejected({**stopped, "capture_packets": 3}, "'capture_dropped' is a dependency of 'capture_packets'")

    def test_bad_values_of_richer_events_are_rejected(self):
        violation = {"ts": FRAME["ts"], "level": "error", "conn": 1, "event": "violation", "dir": "client_to_server",
                     "rule": "reserved-bits-set", "close_code": 1002, "severity": "error", "rfc": "RFC 6455 §5.2",
                     "offset": 0, "frame_index": 0, "detail": "RSV2", "header_hex": "a1 85", "summary": "s", "fix": "f"}
        validate_events([violation], "violation")
        self.rejected({**violation, "rule": "reserved-bit-set"}, "is not one of")
        self.rejected({**violation, "level": "warn"}, "'error' was expected")
        self.rejected({**violation, "severity": "fatal"}, "is not one of")
        handshake = {"event": "handshake", "path": "/", "host": "h", "subprotocols_offered": [], "extensions_offered": "",
                     "status": 101, "subprotocol": "", "extensions": "", "upgraded": True, "headers": {"Host": "h"},
                     "findings": []}
        validate_events([handshake], "handshake")
        self.rejected({**handshake, "subprotocols_offered": "chat"}, "is not of type 'array'")
        self.rejected({**handshake, "headers": {"Host": 1}}, "is not of type 'string'")
        close = {"event": "close", "dir": "server_to_client", "synthesized": True, "endpoint": "client", "code": 1006,
                 "on_wire": False, "name": "Abnormal Closure", "reason": "", "valid": False, "cause": "server_fin",
                 "cause_detail": "d", "explanation": {"description": "a", "when": "b", "fix": "c"}}
        validate_events([close], "synthesized close")
        self.rejected({**close, "cause": "close_handshake"}, "is not one of")
        self.rejected({**close, "frame_index": 2}, "'frame_index' was unexpected")
        self.rejected({k: v for k, v in close.items() if k != "cause_detail"}, "'cause_detail' is a required property")
        bad = copy.deepcopy(close)
        bad["explanation"]["more"] = "x"
        self.rejected(bad, "'more' was unexpected")
        conn_close = {"event": "conn_close", "duration_ms": 5, "ended_by": "client_fin", "upgraded": False,
                      "client_to_server": {"bytes": 10, "end": "fin", "end_ms": 4}, "server_to_client": {"bytes": 0}}
        validate_events([conn_close], "conn_close")
        self.rejected({**conn_close, "server_to_client": {"bytes": 0, "end": "fin"}}, "'end_ms' is a dependency of 'end'")
        self.rejected({**conn_close, "ended_by": "timeout"}, "is not one of")

    def test_lines_that_are_not_json_objects_are_rejected(self):
        with self.assertRaises(SchemaViolation) as ctx:
            validate_lines(json.dumps(FRAME) + "\nwsinspect demo: a proxy\n[1, 2]\n", "mixed output")
        self.assertIn("2 of 3 lines", str(ctx.exception))


class CompareJsonTest(unittest.TestCase):
    """compare --json of two digest logs that share no connection: the
    events of connections seen at one side only (nothing else in the suite
    writes them)."""

    def test_unmatched_connections(self):
        check_budget(self)
        schema_or_skip(self)
        require_proxy(self)
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        d = Path(tmp.name)
        key = d / "key"
        key.write_bytes(b"a digest key for the schema test")
        for side in ("a", "b"):
            proxy = Proxy("builtin:echo", "--log-digests", "--digest-key-file", str(key), log_level="info")
            self.addCleanup(proxy.stop)
            c = RawClient.connect(HOST, proxy.port)
            self.addCleanup(c.close)
            req, _ = upgrade_request(HOST, f"/{side}")
            c.sock.sendall(req)
            self.assertEqual(c.recv_head().status, 101)
            c.sock.sendall(build_frame(OP_TEXT, b"hello", mask=True) + build_frame(OP_CLOSE, close_payload(1000), mask=True))
            c.shutdown_write()
            proxy.wait_conn_close(proxy.conn_of(c.sock))
            proxy.stop()
            (d / f"{side}.log").write_bytes(proxy.stdout_bytes())
        r = subprocess.run([str(BINARY), "compare", str(d / "a.log"), str(d / "b.log"), "--json"], capture_output=True,
                           text=True, timeout=60)
        ctx = f"\n--- stdout:\n{r.stdout}\n--- stderr:\n{r.stderr}"
        self.assertEqual(r.returncode, 1, ctx)
        events = validate_lines(r.stdout, "wsinspect compare --json")
        self.assertEqual([e["event"] for e in events], ["hop_unmatched", "hop_unmatched", "compare_summary"], ctx)
        self.assertEqual(sorted(e["path"] for e in events[:2]), ["/a", "/b"], ctx)


class DemoJsonTest(unittest.TestCase):
    def test_demo_json_is_json_lines_only(self):
        check_budget(self)
        schema_or_skip(self)
        try:
            r = subprocess.run([str(BINARY), "demo", "--log-format", "json"], capture_output=True, text=True,
                               timeout=15, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail("wsinspect demo did not finish within 15 s")
        ctx = f"\n--- stdout:\n{r.stdout[-4000:]}\n--- stderr:\n{r.stderr[-2000:]}"
        self.assertEqual(r.returncode, 0, ctx)
        events = validate_lines(r.stdout, "wsinspect demo --log-format json")
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds[0], "listening", ctx)
        self.assertEqual(kinds[-1], "stopped", ctx)
        self.assertIn("violation", kinds, ctx)
        self.assertIn("wsinspect demo:", r.stderr, "the introduction goes to stderr" + ctx)


if __name__ == "__main__":
    unittest.main()
