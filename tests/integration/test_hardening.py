"""The proxy as an operator runs it, on real sockets and real files.

SIGHUP after a log rotation reopens the log and the TLS key log (and keeps
the old file when the path cannot be opened again); a proxy started with
standard input, output or error closed still serves and exits cleanly; a
file that cannot be opened at start is an error with exit status 1 and no
directory is created, and no file at all when the listen address is taken;
a config file over 1 MiB is refused before it is read.
"""

import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from harness import (
    BINARY,
    HOST,
    PYTHON,
    OP_TEXT,
    TIMEOUT,
    JsonLineProcess,
    RawConn,
    accept_for,
    binary_is_sanitized,
    build_frame,
    check_exit,
    require_proxy,
    upgrade_request,
    validate_events,
)


def read_events(path: Path) -> list:
    if not path.exists():
        return []
    out = []
    data = path.read_bytes()
    for line in data.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"event": "_unparsed", "line": line.decode("utf-8", "replace")})
    validate_events(out if data.endswith(b"\n") else out[:-1], str(path))  # a last line may be being written
    return out


def wait_event(path: Path, pred, what: str, timeout: float = TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in read_events(path):
            if pred(e):
                return e
        time.sleep(0.02)
    raise AssertionError(f"no {what} in {path}: {read_events(path)[-10:]}")


def websocket(port: int, tls: bool = False) -> RawConn:
    """A connection past a verified 101 (over TLS without verification)."""
    s = socket.create_connection((HOST, port), timeout=TIMEOUT)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname="localhost")
    c = RawConn(s)
    req, key = upgrade_request(f"{HOST}:{port}")
    s.sendall(req)
    head = c.recv_head()
    if head.status != 101 or head.get("sec-websocket-accept") != accept_for(key):
        raise AssertionError(f"no 101: {head.raw!r}")
    return c


def echo_round(c: RawConn, text: bytes) -> None:
    c.sock.sendall(build_frame(OP_TEXT, text, mask=True))
    f = c.recv_frame()
    if f.opcode != OP_TEXT or f.payload != text:
        raise AssertionError(f"echo got opcode {f.opcode} {f.payload!r}")


def free_port() -> int:
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_connectable(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the proxy exited with {proc.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


class ProxyFile:
    """The proxy with its JSON log in a file (stdout and stderr captured)."""

    def __init__(self, log: Path, *args, preexec=None, stdout=subprocess.PIPE):
        self.log = log
        argv = [str(BINARY), "proxy", "--listen", f"{HOST}:0", "--upstream", "builtin:echo"]
        argv += ["--log-format", "json", "--log-file", str(log), *map(str, args)]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, preexec_fn=preexec, start_new_session=True
        )
        try:
            ev = wait_event(log, lambda e: e.get("event") == "listening", "listening")
        except BaseException:
            self.kill()
            raise
        self.port = int(ev["address"].rpartition(":")[2])

    def terminate(self) -> "tuple[int, str]":
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("the proxy did not stop at SIGTERM")
        text = (err or b"").decode("utf-8", "replace")
        check_exit("proxy", self.proc.returncode, text, True)
        return self.proc.returncode, text

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=TIMEOUT)


class SighupTest(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.path = Path(self.dir.name)

    def test_sighup_after_rotation_reopens_the_log_and_the_key_log(self):
        log, keys = self.path / "proxy.log", self.path / "keys.log"
        p = ProxyFile(log, "--tls-self-signed", "--tls-keylog", keys)
        self.addCleanup(p.kill)
        before = websocket(p.port, tls=True)
        self.addCleanup(before.close)
        echo_round(before, b"before")
        wait_event(log, lambda e: e.get("event") == "handshake", "handshake")
        os.rename(log, self.path / "proxy.log.1")
        os.rename(keys, self.path / "keys.log.1")
        p.proc.send_signal(signal.SIGHUP)
        ev = wait_event(log, lambda e: e.get("event") == "reopened", "reopened")
        self.assertEqual(ev["level"], "info")
        self.assertEqual(ev["files"], [str(log), str(keys)])
        self.assertEqual(ev["failed"], [])
        self.assertIsNone(p.proc.poll(), "the proxy died at SIGHUP")
        # The connection open across the rotation still works; a new one is
        # logged in the new file and its TLS secrets go to the new key log.
        echo_round(before, b"after")
        after = websocket(p.port, tls=True)
        self.addCleanup(after.close)
        echo_round(after, b"new")
        wait_event(log, lambda e: e.get("event") == "handshake", "handshake in the new log")
        self.assertIn(b"CLIENT_", keys.read_bytes() if keys.exists() else b"")
        before.close()
        after.close()
        rc, err = p.terminate()
        self.assertEqual(rc, 0, err)
        self.assertTrue(any(e.get("event") == "stopped" for e in read_events(log)), read_events(log)[-5:])
        old = read_events(self.path / "proxy.log.1")
        self.assertTrue(any(e.get("event") == "listening" for e in old))
        self.assertFalse(any(e.get("event") in ("stopped", "reopened") for e in old))

    def test_a_path_that_cannot_be_reopened_keeps_the_old_file(self):
        log = self.path / "proxy.log"
        p = ProxyFile(log)
        self.addCleanup(p.kill)
        os.rename(log, self.path / "proxy.log.1")
        log.mkdir()  # a directory where the file was: the open fails
        p.proc.send_signal(signal.SIGHUP)
        old = self.path / "proxy.log.1"
        ev = wait_event(old, lambda e: e.get("event") == "reopened", "reopened in the old file")
        self.assertEqual(ev["level"], "warn")
        self.assertEqual(ev["files"], [])
        self.assertEqual(ev["failed"][0]["file"], str(log))
        self.assertIn("Is a directory", ev["failed"][0]["error"])
        c = websocket(p.port)
        echo_round(c, b"still serving")
        c.close()
        rc, err = p.terminate()
        self.assertEqual(rc, 0, err)
        self.assertTrue(any(e.get("event") == "stopped" for e in read_events(old)))

    def test_sighup_with_the_log_on_stdout_is_reported_in_text(self):
        port = free_port()
        proc = subprocess.Popen(
            [str(BINARY), "proxy", "--listen", f"{HOST}:{port}", "--upstream", "builtin:echo", "--log-format", "text"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        wait_connectable(port, proc)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        self.assertIsNone(proc.poll(), "the proxy died at SIGHUP")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn(b"SIGHUP: no file to reopen", out)


class ClosedStandardFdsTest(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def test_stdout_closed_with_a_log_file(self):
        log = Path(self.dir.name) / "proxy.log"
        p = ProxyFile(log, preexec=lambda: os.close(1), stdout=None)
        self.addCleanup(p.kill)
        c = websocket(p.port)
        echo_round(c, b"hello")
        c.close()
        rc, err = p.terminate()
        self.assertEqual(rc, 0, err)
        self.assertNotIn("Assertion", err)
        self.assertTrue(any(e.get("event") == "stopped" for e in read_events(log)))

    def test_stdin_stdout_and_stderr_closed(self):
        port = free_port()

        def close_all():
            for fd in (0, 1, 2):
                os.close(fd)

        proc = subprocess.Popen(
            [str(BINARY), "proxy", "--listen", f"{HOST}:{port}", "--upstream", "builtin:echo", "--log-format", "json"],
            preexec_fn=close_all,
            start_new_session=True,
        )
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        wait_connectable(port, proc)
        c = websocket(port)
        echo_round(c, b"hello")
        c.close()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=TIMEOUT), 0)


class StartFailureTest(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.path = Path(self.dir.name)

    def run_proxy(self, *args, listen=f"{HOST}:0"):
        argv = [str(BINARY), "proxy", "--listen", listen, "--upstream", "builtin:echo", "--log-format", "json", *map(str, args)]
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)

    def test_a_log_in_a_missing_directory_is_an_error(self):
        log = self.path / "missing" / "dir" / "x.log"
        r = self.run_proxy("--log-file", log)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"cannot open the log {log}: No such file or directory".encode(), r.stderr)
        self.assertFalse((self.path / "missing").exists(), "the directory was created")

    def test_a_key_log_in_a_missing_directory_is_an_error(self):
        keys = self.path / "missing" / "keys.log"
        log = self.path / "proxy.log"
        r = self.run_proxy("--tls-keylog", keys, "--log-file", log)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"cannot open the key log {keys}: No such file or directory".encode(), r.stderr)
        self.assertFalse((self.path / "missing").exists())
        self.assertFalse(log.exists(), "the log was created by a proxy that did not start")

    def test_a_missing_certificate_is_an_error(self):
        cert = self.path / "missing" / "cert.pem"
        log = self.path / "proxy.log"
        r = self.run_proxy("--tls-cert", cert, "--tls-key", self.path / "missing" / "key.pem", "--log-file", log)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(str(cert).encode(), r.stderr)
        self.assertFalse((self.path / "missing").exists())
        self.assertFalse(log.exists())

    def test_no_file_is_created_when_the_port_is_taken(self):
        taken = socket.socket()
        taken.bind((HOST, 0))
        taken.listen(1)
        self.addCleanup(taken.close)
        log, keys = self.path / "proxy.log", self.path / "keys.log"
        r = self.run_proxy("--log-file", log, "--tls-keylog", keys, listen=f"{HOST}:{taken.getsockname()[1]}")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertFalse(log.exists(), "the log was created though the proxy could not bind")
        self.assertFalse(keys.exists(), "the key log was created though the proxy could not bind")


class ConfigSizeTest(unittest.TestCase):
    def setUp(self):
        require_proxy(self)
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.path = Path(self.dir.name)

    # Linux keeps a process's peak RSS across exec, and a child forked (or
    # vforked) from this test process starts with this process's: the proxy
    # is started by a small Python of its own, whose peak is a few MB.
    MEASURE = (
        "import resource, subprocess, sys\n"
        "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )

    def run_measured(self, argv, stdin=subprocess.DEVNULL) -> "tuple[int, bytes, float, int]":
        """Exit status, stderr, seconds and peak RSS (KiB) of one run."""
        started = time.monotonic()
        proc = subprocess.run(["/usr/bin/python3", "-c", self.MEASURE, *argv], stdin=stdin, capture_output=True)
        rc, rss = proc.stdout.split()
        return int(rc), proc.stderr, time.monotonic() - started, int(rss)

    def test_a_300_mb_config_is_refused_before_it_is_read(self):
        big = self.path / "big.toml"
        with open(big, "wb") as f:
            f.truncate(300 * 1024 * 1024)  # sparse: no disk, no time to write
        rc, err, secs, rss_kib = self.run_measured([str(BINARY), "proxy", "--config", str(big), "--listen", f"{HOST}:0"])
        self.assertEqual(rc, 2, err)
        self.assertIn(f"{big}: config file is {300 * 1024 * 1024} bytes; the limit is 1 MiB".encode(), err)
        self.assertLess(rss_kib, 64 * 1024, "the file was read")
        self.assertLess(secs, 5)

    def test_a_config_from_a_pipe_is_bounded_by_the_read(self):
        rc, err, _, rss_kib = self.pipe_config(2 * 1024 * 1024)
        self.assertEqual(rc, 2, err)
        self.assertIn(b"config file is more than 1048576 bytes; the limit is 1 MiB", err)

    def test_a_config_under_the_limit_is_read(self):
        ok = self.path / "ok.toml"
        ok.write_bytes(b"# " + b"x" * 1000 + b"\nbad_key = 1\n")
        r = subprocess.run([str(BINARY), "proxy", "--config", str(ok)], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"bad_key", r.stderr)

    def pipe_config(self, size: int):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: comment lines until the reader stops
            os.close(r)
            line = b"#" + b"x" * 1022 + b"\n"
            try:
                for _ in range(size // len(line)):
                    os.write(w, line)
            finally:
                os._exit(0)
        os.close(w)
        try:
            return self.run_measured([str(BINARY), "proxy", "--config", "/dev/stdin", "--listen", f"{HOST}:0"], stdin=r)
        finally:
            os.close(r)
            os.waitpid(pid, 0)


class HarnessExitCheckTest(unittest.TestCase):
    """The harness fails a test whose wsinspect process wrote a sanitizer
    report or, in a sanitized build, exited non-zero after SIGTERM (here a
    stand-in process is checked as the binary would be)."""

    def stand_in(self, script: str) -> JsonLineProcess:
        p = JsonLineProcess([PYTHON, "-c", script], "stand-in")
        p.checks_exit = True
        self.addCleanup(lambda: p.proc.poll() is None and p.proc.kill())
        return p

    def test_a_sanitizer_report_fails_stop(self):
        for report in ("==1==ERROR: LeakSanitizer: detected memory leaks", "x.cpp:3:5: runtime error: signed integer overflow"):
            p = self.stand_in(f"import sys, time; print({report!r}, file=sys.stderr, flush=True); time.sleep(30)")
            time.sleep(0.3)
            with self.assertRaises(AssertionError) as ctx:
                p.stop()
            self.assertIn("wrote a sanitizer report: " + report, str(ctx.exception))

    def test_a_non_zero_exit_after_sigterm_fails_stop_in_a_sanitized_build(self):
        script = "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(23)); time.sleep(30)"
        p = self.stand_in(script)
        time.sleep(0.3)
        if binary_is_sanitized():
            with self.assertRaises(AssertionError):
                p.stop()
        else:
            p.stop()  # a Release build is checked for reports only
            self.assertEqual(p.proc.returncode, 23)

    def test_a_clean_exit_passes(self):
        p = self.stand_in("import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); time.sleep(30)")
        time.sleep(0.3)
        p.stop()


if __name__ == "__main__":
    unittest.main()
