#!/usr/bin/python3
"""Side-by-side benchmark: direct, HAProxy TCP tunnel, wsinspect as a pure
relay (--no-inspect) and wsinspect with full inspection.

Every scenario runs each configuration in turn, round after round
(interleaved), so slow drift of the machine hits all of them alike. The load
generator and the server share core 0, the proxy (when there is one) runs
alone on core 1. Each figure is the median of the rounds, with the spread
(min-max) beside it. The table goes to standard output and to
bench/results/latest.txt.

Both proxies write their per-connection log to /dev/null: wsinspect with
--log-file /dev/null, HAProxy with `option tcplog` to `log stdout`, whose
standard output is /dev/null.

The latency section runs at fixed rates well below what the open-loop load
generator and the server can carry on their shared core (about 20 us of CPU
per message for the generator and 10 us for the server on the development
VM: core 0 is saturated near 30,000 messages per second), and, when it may
(root), runs the load generator, the server and the proxy at real-time
priority (SCHED_FIFO 1, `chrt`), so that other processes of the machine
(builds) cannot hold them off the CPU for a scheduler slice. Added latency is
proxied minus direct of the same round; the figure is the median of the
rounds with their min-max range.

TLS on both legs (section 5): the load generator and its server speak TLS
1.3 with one cipher suite (TLS_AES_128_GCM_SHA256) and one group (X25519),
nothing else offered or accepted, so each proxy negotiates exactly that on
both legs; both proxies are pinned to the same besides (HAProxy's
ssl-default-bind/server-ciphersuites and ssl-min-ver TLSv1.3; for wsinspect,
which has no cipher flag, and for HAProxy too, an OpenSSL configuration file
in OPENSSL_CONF with Ciphersuites, MinProtocol and Groups). One certificate
for both proxies and the server: a P-256 leaf for localhost and 127.0.0.1
signed by a test CA, both made with the openssl CLI in the run's temporary
directory. The client checks the proxy's certificate for "localhost" (SNI
localhost), each proxy checks the server's the same way (HAProxy: `ssl verify
required ca-file CA sni str(localhost) verifyhost localhost`; wsinspect:
`--upstream wss://127.0.0.1:PORT --upstream-sni localhost --upstream-ca CA`).
The server sends no session tickets and HAProxy's server line has
no-ssl-reuse, so every connection through a proxy costs two full handshakes.

Capture overhead (section 6): wsinspect inspecting, without and with
--capture (both legs written as pcap, with rotation at 64 MiB over 2 files),
once to the run's temporary directory on disk and once to /dev/shm (memory:
the proxy's own cost, without the disk's), on large- and small-message
scenarios, interleaved; the rows give the ratios to no capture.
Rows: large and small messages as in sections 1 and 2, the handshake rate of
sections 4's idle connections, the proxy's CPU per connection while they open,
and its memory per idle TLS connection (linear fit over the counts, per round).

Old against new: --baseline PATH (a second wsinspect binary, or a build
directory holding one; also taken from the BASELINE environment variable, so
`BASELINE=/path/to/old/wsinspect make benchmark` works) adds that binary's
inspecting configuration ("old inspecting"), and with --baseline-relay its
pure relay too, to every scenario, interleaved round by round with the others
(same server, same load generator: bench/wsload of --build). Every row then
gets a "new/old" column: the ratio of the medians with the sum of both half
spreads, marked "slower" when every round of the new binary was below every
round of the old one (their ranges do not overlap: slower beyond the run's
spread), "faster" the other way round. With one round there is no spread and
no mark.

Run it with `make benchmark` (which builds the tools and installs HAProxy)
or directly: bench/compare.py --build build-rel [--rounds 3] [--quick]
[--baseline /path/to/old/wsinspect [--baseline-relay]].
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ["direct", "haproxy", "relay", "inspect"]
LABEL = {"direct": "direct", "haproxy": "HAProxy tunnel", "relay": "wsinspect --no-inspect",
         "inspect": "wsinspect inspecting", "capture": "wsinspect --capture",
         "capture-shm": "--capture to /dev/shm", "old-relay": "old --no-inspect", "old-inspect": "old inspecting"}
# The baseline's configuration each new one is compared with (--baseline).
OLD = {"inspect": "old-inspect", "relay": "old-relay"}
LOAD_CORE, PROXY_CORE = "0", "1"
# Section 5: what both ends of every TLS leg speak (bench/wsload_tls.h pins the same).
TLS_SUITE, TLS_GROUP = "TLS_AES_128_GCM_SHA256", "X25519"
TICKS = os.sysconf("SC_CLK_TCK")


def pinned(core, argv, realtime=False):
    return (["chrt", "-f", "1"] if realtime else []) + ["taskset", "-c", core] + argv


def realtime_possible():
    """SCHED_FIFO needs root (or CAP_SYS_NICE)."""
    try:
        return subprocess.run(["chrt", "-f", "1", "true"], stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        return False


def busy_seconds():
    """CPU seconds spent by the whole machine so far (every core, idle and iowait excluded)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICKS


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Process:
    """A child process whose stdout is drained so it can never block on it."""

    def __init__(self, argv, ready=None, timeout=10, env=None):
        # Without a ready line to wait for, the output goes to /dev/null.
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE if ready else subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, text=True, start_new_session=True,
                                     env=env)
        self.first = None
        if ready:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                line = self.proc.stdout.readline()
                if not line:
                    break
                if ready(line):
                    self.first = line
                    break
            if self.first is None:
                self.stop()
                raise RuntimeError(f"{argv[0]} did not start: {' '.join(argv)}")
            threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for _ in self.proc.stdout:
            pass

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


class Bench:
    def __init__(self, build, rounds, duration, quick, baseline=None, baseline_relay=False):
        self.wsload = str(build / "bench" / "wsload")
        self.wsinspect = str(build / "wsinspect")
        self.baseline = baseline  # the old wsinspect binary, or None
        self.configs = CONFIGS + ((["old-inspect"] + (["old-relay"] if baseline_relay else []))
                                  if baseline else [])
        self.rounds = rounds
        self.duration = duration
        self.quick = quick
        self.tmp = Path(tempfile.mkdtemp(prefix="wsbench-"))
        self.realtime = False  # SCHED_FIFO for server, proxy and load generator
        self.tls = None  # section 5: the test PKI (make_pki), TLS on every leg while set
        print(f"compare.py: every run's report goes to {self.tmp / 'runs.jsonl'}", flush=True)

    def make_pki(self):
        """A test CA and a P-256 leaf for localhost and 127.0.0.1, made with the
        openssl CLI; and the OpenSSL configuration that pins both proxies."""
        d = self.tmp / "tls"
        d.mkdir(exist_ok=True)
        f = {k: str(d / n) for k, n in (("ca", "ca.pem"), ("ca_key", "ca.key"), ("cert", "leaf.pem"),
                                         ("key", "leaf.key"), ("csr", "leaf.csr"), ("ext", "leaf.ext"),
                                         ("pem", "leaf+key.pem"), ("conf", "pin.cnf"))}
        p256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        run = lambda argv: subprocess.run(["openssl"] + argv, check=True, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
        run(["req", "-x509"] + p256 + ["-keyout", f["ca_key"], "-out", f["ca"], "-days", "2",
                                       "-subj", "/CN=wsinspect benchmark CA",
                                       "-addext", "basicConstraints=critical,CA:TRUE",
                                       "-addext", "keyUsage=critical,keyCertSign"])
        run(["req"] + p256 + ["-keyout", f["key"], "-out", f["csr"], "-subj", "/CN=localhost"])
        Path(f["ext"]).write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                  "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
        run(["x509", "-req", "-in", f["csr"], "-CA", f["ca"], "-CAkey", f["ca_key"], "-CAcreateserial",
             "-out", f["cert"], "-days", "2", "-extfile", f["ext"]])
        Path(f["pem"]).write_text(Path(f["cert"]).read_text() + Path(f["key"]).read_text())
        Path(f["conf"]).write_text(
            "openssl_conf = default_conf\n[default_conf]\nssl_conf = ssl_sect\n"
            "[ssl_sect]\nsystem_default = system_default_sect\n[system_default_sect]\n"
            f"MinProtocol = TLSv1.3\nCiphersuites = {TLS_SUITE}\nGroups = {TLS_GROUP}\n")
        return f

    def proxy_env(self):
        return dict(os.environ, OPENSSL_CONF=self.tls["conf"]) if self.tls else None

    # --- the pieces of one run -------------------------------------------------------------

    def start_server(self):
        tls = ["--tls", "--tls-cert", self.tls["cert"], "--tls-key", self.tls["key"]] if self.tls else []
        srv = Process(pinned(LOAD_CORE, [self.wsload, "server", "--listen", "127.0.0.1:0"] + tls,
                             self.realtime),
                      ready=lambda l: l.startswith("listening"))
        return srv, srv.first.split()[1]

    def start_proxy(self, config, upstream):
        if config == "direct":
            return None, upstream
        if config == "haproxy":
            port = free_port()
            cfg = self.tmp / f"haproxy-{port}.cfg"
            # A log line per connection (tcplog) to standard output, which is
            # /dev/null: like wsinspect's log below.
            pins, bind_tls, server_tls = "", "", ""
            if self.tls:
                # TLS terminated and originated, pinned like wsinspect (see the docstring).
                pins = (f"  ssl-default-bind-ciphersuites {TLS_SUITE}\n  ssl-default-bind-options ssl-min-ver TLSv1.3\n"
                        f"  ssl-default-bind-curves {TLS_GROUP}\n"
                        f"  ssl-default-server-ciphersuites {TLS_SUITE}\n"
                        "  ssl-default-server-options ssl-min-ver TLSv1.3\n")
                bind_tls = f" ssl crt {self.tls['pem']}"
                server_tls = (f" ssl verify required ca-file {self.tls['ca']} sni str(localhost)"
                              " verifyhost localhost no-ssl-reuse")
            cfg.write_text(
                "global\n  maxconn 9500\n  nbthread 1\n  log stdout format raw local0\n" + pins +
                "defaults\n  mode tcp\n  log global\n  option tcplog\n  timeout connect 5s\n"
                "  timeout client 1h\n  timeout server 1h\n  maxconn 9500\n"
                f"frontend f\n  bind 127.0.0.1:{port}{bind_tls}\n  default_backend b\n"
                f"backend b\n  server s1 {upstream}{server_tls}\n")
            p = Process(pinned(PROXY_CORE, ["haproxy", "-db", "-f", str(cfg)], self.realtime),
                        env=self.proxy_env())
            wait_port(port)
            return p, f"127.0.0.1:{port}"
        port = free_port()
        binary = self.baseline if config.startswith("old-") else self.wsinspect
        argv = [binary, "proxy", "--listen", f"127.0.0.1:{port}", "--upstream", upstream,
                "--log-format", "json", "--log-file", "/dev/null", "--max-connections", "40000"]
        if self.tls:
            # The upstream by address (no resolution per connection), checked as localhost.
            argv[argv.index(upstream)] = f"wss://{upstream}"
            argv += ["--tls-cert", self.tls["cert"], "--tls-key", self.tls["key"],
                     "--upstream-sni", "localhost", "--upstream-ca", self.tls["ca"]]
        if config in ("relay", "old-relay"):
            argv.append("--no-inspect")
        if config in ("capture", "capture-shm"):
            where = Path("/dev/shm") / self.tmp.name if config == "capture-shm" else self.tmp
            where.mkdir(exist_ok=True)
            argv += ["--capture", str(where / "capture.pcap"), "--capture-max-size", "64MiB",
                     "--capture-files", "2"]
        p = Process(pinned(PROXY_CORE, argv, self.realtime), env=self.proxy_env())
        wait_port(port)
        return p, f"127.0.0.1:{port}"

    def run_client(self, target, args, proxy=None, sample_rss=False, server=None):
        tls = ["--tls", "--tls-ca", self.tls["ca"], "--tls-name", "localhost"] if self.tls else []
        argv = pinned(LOAD_CORE, [self.wsload, "client", "--target", target, "--json"] + tls + args,
                      self.realtime)
        cpu0 = cpu_seconds(proxy.pid) if proxy else 0.0
        server0 = cpu_seconds(server.pid) if server else 0.0
        ours0 = own_and_children_seconds()
        busy0 = busy_seconds()
        wall0 = time.monotonic()
        client = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak = 0
        cpu_at = []  # (seconds since the start, the proxy's CPU seconds), with sample_rss
        while client.poll() is None:
            if sample_rss and proxy:
                peak = max(peak, rss_kib(proxy.pid))
                cpu_at.append((time.monotonic() - wall0, cpu_seconds(proxy.pid) - cpu0))
            time.sleep(0.05 if sample_rss else 0.1)
        out, err = client.communicate()
        if client.returncode != 0:
            raise RuntimeError(f"wsload failed ({client.returncode}): {err.strip()}")
        report = json.loads(out)
        report["proxy_cpu_s"] = (cpu_seconds(proxy.pid) - cpu0) if proxy else 0.0
        report["wall_s"] = time.monotonic() - wall0
        # CPU the rest of the machine (others' builds...) took meanwhile.
        ours = own_and_children_seconds() - ours0 + report["proxy_cpu_s"] + \
            ((cpu_seconds(server.pid) - server0) if server else 0.0)
        report["other_cpu_s"] = max(0.0, busy_seconds() - busy0 - ours)
        report["proxy_rss_kib"] = peak
        # The proxy's CPU while the connections opened (up to the end of the
        # connect phase, interpolated between samples).
        report["proxy_connect_cpu_s"] = float("nan") if proxy else 0.0
        end = report.get("connect_phase_s", 0)
        for (t0, c0), (t1, c1) in zip(cpu_at, cpu_at[1:]):
            if t0 <= end <= t1:
                report["proxy_connect_cpu_s"] = c0 + (c1 - c0) * (end - t0) / (t1 - t0 or 1)
                break
        return report

    def measure(self, config, args, sample_rss=False):
        """One run of one configuration: fresh server and proxy each time."""
        server, addr = self.start_server()
        proxy = None
        try:
            proxy, target = self.start_proxy(config, addr)
            return self.run_client(target, args, proxy, sample_rss, server)
        finally:
            if proxy:
                proxy.stop()
            server.stop()

    def interleaved(self, name, args, sample_rss=False, configs=None, rounds=None):
        configs = configs or self.configs
        width = max([8] + [len(c) for c in configs])
        runs = {c: [] for c in configs}
        for r in range(rounds or self.rounds):
            for c in configs:
                rep = self.measure(c, args, sample_rss)
                runs[c].append(rep)
                # Every report as it comes, so a failed run keeps what was measured.
                with open(self.tmp / "runs.jsonl", "a") as f:
                    f.write(json.dumps({"scenario": name, "round": r + 1, "config": c,
                                        "tls": bool(self.tls), "report": rep}) + "\n")
                errors = rep["errors"]["total"]
                print(f"  {name:38s} round {r + 1} {c:{width}s} "
                      f"{rep['messages_per_sec']:>12,.0f} msg/s {rep['mb_per_sec']:>9,.1f} MB/s"
                      f" p50 {rep['latency_us']['p50']:>8,.0f} us  p99 {rep['latency_us']['p99']:>8,.0f} us"
                      f"  proxy cpu {rep['proxy_cpu_s']:.2f} s  others' cpu {rep['other_cpu_s']:.2f} s"
                      f"  errors {errors}", flush=True)
                if errors:
                    raise RuntimeError(f"{name}/{c}: {errors} errors: {rep.get('first_error')}")
        return runs


def own_and_children_seconds():
    """CPU seconds of this script and of its children that have been waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def med(values):
    return statistics.median(values) if values else float("nan")


def half_spread(values):
    """Half the min-max range, as a fraction of the median."""
    m = med(values)
    return (max(values) - min(values)) / 2 / m if values and m else 0.0


def versus(new, old, more="faster", less="slower"):
    """New against old (lists of per-round figures, higher is `more`): ratio of
    the medians, the sum of both half spreads, and a mark when the ranges do not
    overlap (`less`: every new round below every old one). The mark is None
    with fewer than two rounds on either side: no spread to judge by."""
    m_new, m_old = med(new), med(old)
    ratio = m_new / m_old if m_old else float("nan")
    sp = half_spread(new) + half_spread(old)
    mark = None
    if len(new) >= 2 and len(old) >= 2:
        mark = ""
        if max(new) < min(old):
            mark = less
        elif min(new) > max(old):
            mark = more
    return ratio, sp, mark


def versus_text(v):
    ratio, sp, mark = v
    return f"{ratio:.2f}x ±{sp * 100:.0f}%" + (f" {mark}" if mark else "")


def spread(values):
    if not values:
        return ""
    m = med(values)
    if not m:
        return ""
    return f"±{(max(values) - min(values)) / 2 / m * 100:.0f}%"


class Table:
    def __init__(self):
        self.lines = []

    def add(self, line=""):
        print(line, flush=True)
        self.lines.append(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=str(ROOT / "build-rel"), help="build directory with wsinspect and bench/wsload")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3.0, help="seconds measured per run")
    ap.add_argument("--quick", action="store_true", help="one round, shorter runs, fewer cases")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.txt"))
    ap.add_argument("--only", default="1,2,3,4,5,6",
                    help="sections to run, e.g. --only 3 (latency), --only 5 (TLS), --only 6 (capture)")
    ap.add_argument("--latency-rounds", type=int, default=5, help="rounds of the latency section (not with --quick)")
    ap.add_argument("--no-realtime", dest="realtime", action="store_false",
                    help="latency section at normal priority even when SCHED_FIFO is possible")
    ap.add_argument("--baseline", default=os.environ.get("BASELINE") or None, metavar="PATH",
                    help="an older wsinspect binary (or a build directory with one) run as an extra\n"
                         "configuration, interleaved with the others, with a new/old column\n"
                         "(default: $BASELINE)")
    ap.add_argument("--baseline-relay", action="store_true",
                    help="with --baseline, also run the older binary as a pure relay")
    opts = ap.parse_args()
    if opts.quick:
        opts.rounds, opts.duration = 1, 1.5
    only = {int(x) for x in opts.only.split(",")}
    for tool in ("taskset", "haproxy") + (("openssl",) if 5 in only else ()):
        if not shutil.which(tool):
            sys.exit(f"compare.py: {tool} not found (make benchmark installs it)")
    baseline = None
    if opts.baseline:
        baseline = Path(opts.baseline)
        if baseline.is_dir():
            baseline = baseline / "wsinspect"
        if not os.access(baseline, os.X_OK) or baseline.is_dir():
            sys.exit(f"compare.py: --baseline {opts.baseline}: no wsinspect binary there")
        baseline = str(baseline.resolve())
    elif opts.baseline_relay:
        sys.exit("compare.py: --baseline-relay needs --baseline")
    b = Bench(Path(opts.build), opts.rounds, opts.duration, opts.quick, baseline, opts.baseline_relay)
    configs = b.configs
    versions = [(n, o) for n, o in OLD.items() if o in configs]  # new config, its old counterpart
    d = str(opts.duration)
    warm = ["--warmup", "0.5"]
    t = Table()

    small, large, latency, scale = {}, {}, {}, {}
    lat_realtime, lat_rounds = False, 0
    if 1 in only:
        print("== 1. small messages, closed loop (4 in flight per connection)")
        for size in (64, 512):
            for conns in (100, 1000):
                name = f"{size} B text, {conns} conns"
                small[name] = b.interleaved(name, ["--connections", str(conns), "--size", str(size),
                                                   "--kind", "text-ascii", "--closed-loop", "--inflight", "4",
                                                   "--duration", d] + warm)
    if 2 in only:
        print("== 2. large messages")
        sizes = (16384, 1 << 20)
        kinds = ("text-ascii", "text-utf8", "binary")
        for size in sizes:
            for kind in kinds:
                for direction in ("c2s", "s2c"):
                    if opts.quick and kind != "text-utf8":
                        continue
                    name = f"{size // 1024} KiB {kind} {direction}"
                    conns = "4" if size >= 1 << 20 else "8"
                    large[name] = b.interleaved(name, ["--connections", conns, "--size", str(size), "--kind", kind,
                                                       "--direction", direction, "--duration", d] + warm)
    if 3 in only:
        # Fixed rates, not shares of the closed-loop maximum: in open loop every
        # message costs the load generator and the server a wake-up and a write
        # of its own (no batching), and the two share core 0; see the docstring.
        print("== 3. latency at fixed rates (512 B text, open loop)")
        b.realtime = opts.realtime and realtime_possible()
        lat_rounds = opts.rounds if opts.quick else max(opts.rounds, opts.latency_rounds)
        lat_cases = [(1000, 10), (5000, 10), (20000, 10)] + ([] if opts.quick else [(10000, 100)])
        for total, conns in lat_cases:
            name = f"{total:,} msg/s over {conns} connections"
            latency[name] = (total, b.interleaved(
                name, ["--connections", str(conns), "--size", "512", "--kind", "text-ascii",
                       "--rate", f"{total / conns:g}", "--duration", d] + warm, rounds=lat_rounds))
        lat_realtime, b.realtime = b.realtime, False
    if 4 in only:
        print("== 4. connection scale (idle, ping every 1 s)")
        counts = (1000, 3000) if opts.quick else (1000, 3000, 9000)
        for n in counts:
            name = f"{n} idle connections"
            scale[n] = b.interleaved(name, ["--connections", str(n), "--idle", "--ping-interval", "1",
                                            "--duration", "3", "--connect-concurrency", "256"],
                                     sample_rss=True)

    tls_large, tls_small, tls_scale = {}, {}, {}
    tls_wall = 0.0
    tls_configs = configs
    if 5 in only:
        # The baseline's configurations only when it speaks TLS (it may predate it).
        if baseline and "--tls-cert" not in subprocess.run([baseline, "proxy", "--help"], text=True,
                                                           capture_output=True).stdout:
            print("== 5: the baseline has no --tls-cert: section 5 runs without it")
            tls_configs = CONFIGS
        print(f"== 5. TLS on both legs (TLS 1.3, {TLS_SUITE}, {TLS_GROUP})")
        tls_start = time.monotonic()
        b.tls = b.make_pki()
        for size in ((1 << 20,) if opts.quick else (16384, 1 << 20)):
            for direction in ("c2s", "s2c"):
                name = f"{size // 1024} KiB text-ascii {direction}"
                tls_large[name] = b.interleaved(
                    name, ["--connections", "4" if size >= 1 << 20 else "8", "--size", str(size),
                           "--kind", "text-ascii", "--direction", direction, "--duration", d] + warm,
                    configs=tls_configs)
        for size, conns in ([(64, 100), (512, 1000)] if opts.quick else
                            [(64, 100), (64, 1000), (512, 100), (512, 1000)]):
            name = f"{size} B text, {conns} conns"
            tls_small[name] = b.interleaved(
                name, ["--connections", str(conns), "--size", str(size), "--kind", "text-ascii",
                       "--closed-loop", "--inflight", "4", "--duration", d] + warm, configs=tls_configs)
        # Fewer connections than section 4: two TLS handshakes each make them
        # slow to open (hundreds per second on the development VM).
        for n in ((500, 1500) if opts.quick else (1000, 2000, 4000)):
            tls_scale[n] = b.interleaved(
                f"{n} idle TLS connections", ["--connections", str(n), "--idle", "--ping-interval", "1",
                                              "--duration", "3", "--connect-concurrency", "256"],
                sample_rss=True, configs=tls_configs)
        b.tls = None
        tls_wall = time.monotonic() - tls_start
        seen = {r.get("tls", "") for part in (tls_large, tls_small, tls_scale)
                for runs in part.values() for c in tls_configs for r in runs[c]}
        if any(TLS_SUITE not in x or "TLSv1.3" not in x for x in seen):
            raise RuntimeError(f"section 5: negotiated {seen}, not TLS 1.3 with {TLS_SUITE}")

    capture = {}
    if 6 in only:
        print("== 6. capture overhead (wsinspect inspecting, without and with --capture)")
        cap_configs = ["inspect", "capture"] + (["capture-shm"] if Path("/dev/shm").is_dir() else [])
        for size, kind, direction in ((16384, "text-ascii", "c2s"), (16384, "binary", "s2c")):
            name = f"{size // 1024} KiB {kind} {direction}"
            capture[name] = ("MB/s", lambda r: r["mb_per_sec"], b.interleaved(
                name, ["--connections", "8", "--size", str(size), "--kind", kind,
                       "--direction", direction, "--duration", d] + warm, configs=cap_configs))
        name = "64 B text, 100 conns"
        capture[name] = ("msg/s", lambda r: r["messages_per_sec"], b.interleaved(
            name, ["--connections", "100", "--size", "64", "--kind", "text-ascii", "--closed-loop",
                   "--inflight", "4", "--duration", d] + warm, configs=cap_configs))
        shutil.rmtree(Path("/dev/shm") / b.tmp.name, ignore_errors=True)  # the captures in memory

    # --- the table -----------------------------------------------------------------------------
    t.add(f"wsinspect benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{opts.rounds} round(s) of {opts.duration:g} s, median (± half spread)")
    t.add(f"machine: {os.cpu_count()} cores, {cpu_model()}; load generator and server on core 0, proxy on core 1")
    if baseline:
        t.add(f"new: {Path(b.wsinspect).resolve()}; old (baseline): {baseline}")
        t.add("new/old: ratio of the medians ± the sum of both half spreads; 'slower' when every round of the")
        t.add("new binary was below every round of the old one (beyond the run's spread), 'faster' the other way")
        if opts.rounds < 2:
            t.add("(one round: no spread, so no marks and no new-against-old target)")
    t.add()

    def row(name, runs, key, fmt, unit, more="faster", less="slower", cfgs=None):
        # cfgs: the configurations of this row when not every one ran.
        cs = cfgs or configs
        vs = [(n, o) for n, o in versions if o in cs]
        cells = []
        for c in cs:
            vals = [key(r) for r in runs[c]]
            cells.append(f"{fmt(med(vals))}{spread(vals):>5}")
        h, i, rl = (med([key(r) for r in runs[c]]) for c in ("haproxy", "inspect", "relay"))
        dct = med([key(r) for r in runs["direct"]])
        ratio = lambda a, b: a / b if b else float("nan")
        cols = " ".join(f"{ratio(i, x):>7.2f}x" if x else f"{'-':>8s}" for x in (h, dct, rl))
        olds = {n: versus([key(r) for r in runs[n]], [key(r) for r in runs[o]], more, less) for n, o in vs}
        cols += "".join(f"  {versus_text(v):<20s}" for v in olds.values())
        t.add(f"{name:34s} " + " ".join(f"{c:>16s}" for c in cells) + f" {cols}  {unit}")
        return ratio(i, h), ratio(i, rl), olds

    def check_old(name, olds):
        for n, v in olds.items():
            if v[2] is None:  # one round: nothing to judge by
                continue
            checks.append(("new not slower than old beyond the spread", f"{name} ({LABEL[n][10:]})",
                           (v[2] != "slower", versus_text(v)), None))

    header = f"{'':34s} " + " ".join(f"{LABEL[c][:16]:>16s}" for c in configs) + \
        f" {'vs HAP':>8s} {'vs dir':>8s} {'vs rel':>8s}" + \
        "".join(f"  {'new/old ' + {'inspect': 'insp', 'relay': 'relay'}[n]:<20s}" for n, _ in versions)
    checks = []
    if small:
        t.add("1. small messages: messages per second (both directions echoed)")
        t.add(header)
        for name, runs in small.items():
            r_h, r_rel, olds = row(name, runs, lambda r: r["messages_per_sec"], lambda v: f"{v:,.0f}", "msg/s")
            checks.append(("small msg rate >= HAProxy", name, r_h, 1.0))
            checks.append(("inspection cost < 10% (small)", name, r_rel, 0.9))
            check_old(name, olds)
        t.add()
        t.add("   proxy CPU, % of one core over the whole run (connects and warmup included)")
        t.add(header)
        for name, runs in small.items():
            row(name, runs, lambda r: r["proxy_cpu_s"] / r["wall_s"] * 100,
                lambda v: f"{v:.0f}%", "cpu", more="more cpu", less="less cpu")
        t.add()
    if large:
        t.add("2. large messages: MB/s of payload")
        t.add(header)
        for name, runs in large.items():
            r_h, r_rel, olds = row(name, runs, lambda r: r["mb_per_sec"], lambda v: f"{v:,.0f}", "MB/s")
            checks.append(("large msg throughput >= 0.9x HAProxy", name, r_h, 0.9))
            checks.append(("inspection cost < 10% (large)", name, r_rel, 0.9))
            check_old(name, olds)
        t.add()
    if latency:
        t.add("3. latency at fixed rates, 512 B text echoed, open loop: µs, median of the rounds [min-max];")
        t.add("   added = proxied minus direct of the same round")
        others = [r["other_cpu_s"] / r["wall_s"] for _, runs in latency.values() for c in configs for r in runs[c]]
        t.add(f"   {lat_rounds} round(s) of {opts.duration:g} s; load generator, server and proxy "
              f"{'at SCHED_FIFO 1' if lat_realtime else 'at normal priority'}; other processes used "
              f"{med(others) * 100:.0f}% (up to {max(others) * 100:.0f}%) of a core meanwhile")

        def rng(values):
            return f"{med(values):>5,.0f} [{min(values):,.0f}..{max(values):,.0f}]"

        for name, (total, runs) in latency.items():
            # A round whose generator fell behind its schedule measured the
            # generator (core 0), not the proxy: its pairs are left out.
            ok = lambda r: r["messages_per_sec"] >= 0.98 * total and r["send_lag_us"]["p99"] <= 1000
            t.add(f"   {name}")
            t.add(f"     {'':24s} {'p50':>6s} {'p99':>7s} {'p99.9':>7s} {'send lag p99':>12s}"
                  f"   {'added p50':<20s} {'added p99':<20s}")
            for c in configs:
                lat = lambda k: [r["latency_us"][k] for r in runs[c]]
                behind = sum(not ok(r) for r in runs[c])
                line = (f"     {LABEL[c]:24s} {med(lat('p50')):>6,.0f} {med(lat('p99')):>7,.0f} "
                        f"{med(lat('p99_9')):>7,.0f} {med([r['send_lag_us']['p99'] for r in runs[c]]):>12,.0f}")
                if c != "direct":
                    pairs = [(p["latency_us"], q["latency_us"]) for p, q in zip(runs[c], runs["direct"])
                             if ok(p) and ok(q)]
                    add = {k: [p[k] - q[k] for p, q in pairs] for k in ("p50", "p99")}
                    if pairs:
                        line += f"   {rng(add['p50']):<20s} {rng(add['p99']):<20s}"
                    if len(pairs) < len(runs[c]):
                        line += f"  ({len(pairs)} of {len(runs[c])} rounds)"
                if behind:
                    line += f"  generator behind schedule in {behind} round(s)"
                t.add(line)
            # inspecting against HAProxy, round by round (the direct run cancels out)
            good = [k for k in range(len(runs["direct"])) if all(ok(runs[c][k]) for c in configs)]
            at = lambda c, k, q: runs[c][k]["latency_us"][q]
            for n, o in versions:
                # Added latency of the new binary minus the old one's, round by
                # round; 'slower' when every new round added more than every old one.
                parts = []
                for q in ("p50", "p99"):
                    a_new = [at(n, k, q) - at("direct", k, q) for k in good]
                    a_old = [at(o, k, q) - at("direct", k, q) for k in good]
                    diff = [x - y for x, y in zip(a_new, a_old)]
                    mark = None
                    if len(good) >= 2:
                        mark = " slower" if min(a_new) > max(a_old) else " faster" if max(a_new) < min(a_old) else ""
                    if diff:
                        parts.append(f"added {q} new-old {med(diff):+,.0f} [{min(diff):+,.0f}..{max(diff):+,.0f}]"
                                     f"{mark or ''}")
                    if diff and mark is not None:
                        checks.append(("new not slower than old beyond the spread",
                                       f"{name} added {q} ({LABEL[n][10:]})",
                                       (mark != " slower", f"{med(diff):+,.0f} µs"), None))
                if parts:
                    t.add(f"     {'new vs old ' + LABEL[n][10:]:24s} " + "   ".join(parts))
            d50 = [at("inspect", k, "p50") - at("haproxy", k, "p50") for k in good]
            checks.append(("added p50 <= HAProxy's + 10 µs", name, med(d50), None))
            a99 = {c: med([at(c, k, "p99") - at("direct", k, "p99") for k in good])
                   for c in ("haproxy", "inspect")}
            checks.append(("added p99 <= 1.5x HAProxy's", name, a99["inspect"] / max(a99["haproxy"], 1.0), None))
        t.add()
    if scale:
        t.add("4. connection scale: handshakes/s; proxy RSS per connection (linear fit over the counts)")
        counts = list(scale)
        for c in configs:
            hs = " ".join(f"{n}: {med([r['handshakes_per_sec'] for r in scale[n][c]]):>8,.0f}/s" for n in counts)
            line = f"   {LABEL[c]:24s} {hs}"
            if c != "direct":
                xs = list(counts)
                ys = [med([r["proxy_rss_kib"] for r in scale[n][c]]) * 1024 for n in counts]
                slope = linear_slope(xs, ys)
                line += f"   {slope:,.0f} bytes/connection"
                if c == "inspect":
                    checks.append(("< 2 KiB per idle connection", "wsinspect", slope, None))
            t.add(line)
        hs = lambda n, c: [r["handshakes_per_sec"] for r in scale[n][c]]
        for n in counts:
            checks.append(("handshake rate inspecting >= HAProxy", f"{n} connections",
                           med(hs(n, "inspect")) / med(hs(n, "haproxy")), 1.0))
        for n_cfg, o_cfg in versions:
            vs = [(n, versus(hs(n, n_cfg), hs(n, o_cfg))) for n in counts]
            t.add(f"   {'new/old ' + LABEL[n_cfg][10:]:24s} " +
                  "  ".join(f"{n}: {versus_text(v):<18s}" for n, v in vs))
            for n, v in vs:
                check_old(f"handshakes, {n} connections", {n_cfg: v})
        t.add()
    if large:
        t.add("2b. CPU seconds per GB relayed (section 2's large messages, median over scenarios)")
        for c in [c for c in configs if c not in ("direct",)]:
            per_gb = []
            for runs in large.values():
                for r in runs[c]:
                    gb = (r["bytes_sent"] + r["bytes_received"]) / 1e9
                    if gb:
                        per_gb.append(r["proxy_cpu_s"] / gb)
            t.add(f"   {LABEL[c]:24s} {med(per_gb):.3f} CPU s/GB")
        t.add()
    if tls_large or tls_small or tls_scale:
        tc = tls_configs
        every = [r for part in (tls_large, tls_small, tls_scale) for runs in part.values() for c in tc
                 for r in runs[c]]
        others = [r["other_cpu_s"] / r["wall_s"] for r in every]
        t.add(f"5. TLS on both legs: TLS 1.3, {TLS_SUITE}, {TLS_GROUP}, one P-256 certificate (test CA), "
              "both proxies pinned to them")
        t.add(f"   negotiated: {', '.join(sorted({r['tls'] for r in every}))} (the load generator's leg; the "
              "server accepts nothing else); every upstream handshake a full one")
        t.add(f"   {opts.rounds} round(s); other processes used {med(others) * 100:.0f}% (up to "
              f"{max(others) * 100:.0f}%) of a core meanwhile; section wall time {tls_wall / 60:.1f} min")
        head5 = f"{'':34s} " + " ".join(f"{LABEL[c][:16]:>16s}" for c in tc) + \
            f" {'vs HAP':>8s} {'vs dir':>8s} {'vs rel':>8s}" + \
            "".join(f"  {'new/old ' + {'inspect': 'insp', 'relay': 'relay'}[n]:<20s}" for n, o in versions if o in tc)
        mbs, msgs = (lambda r: r["mb_per_sec"]), (lambda r: r["messages_per_sec"])
        cpu_pct = lambda r: r["proxy_cpu_s"] / r["wall_s"] * 100
        if tls_large:
            t.add("   large messages: MB/s of payload")
            t.add(head5)
            for name, runs in tls_large.items():
                r_h, _, olds = row(name, runs, mbs, lambda v: f"{v:,.0f}", "MB/s", cfgs=tc)
                checks.append(("TLS: large msg throughput >= 0.9x HAProxy", name, r_h, 0.9))
                check_old(f"TLS {name}", olds)
        if tls_small:
            t.add("   small messages: messages per second (both directions echoed)")
            t.add(head5)
            for name, runs in tls_small.items():
                r_h, _, olds = row(name, runs, msgs, lambda v: f"{v:,.0f}", "msg/s", cfgs=tc)
                checks.append(("TLS: small msg rate >= HAProxy", name, r_h, 1.0))
                check_old(f"TLS {name}", olds)
        if tls_large or tls_small:
            t.add("   proxy CPU, % of one core over the whole run (connects and warmup included)")
            t.add(head5)
            for name, runs in list(tls_large.items()) + list(tls_small.items()):
                row(name, runs, cpu_pct, lambda v: f"{v:.0f}%", "cpu", "more cpu", "less cpu", cfgs=tc)
        if tls_scale:
            counts = list(tls_scale)
            t.add("   handshakes: new connections per second, two TLS handshakes each through a proxy "
                  "(idle, ping every 1 s)")
            t.add(head5)
            for n in counts:
                olds = row(f"{n} connections", tls_scale[n], lambda r: r["handshakes_per_sec"],
                           lambda v: f"{v:,.0f}", "conn/s", cfgs=tc)[2]
                check_old(f"TLS handshakes, {n} connections", olds)
            t.add("   proxy CPU per new connection while they open (µs; approximate: sampled every 50 ms)")
            t.add(head5)
            for n in counts:
                row(f"{n} connections", tls_scale[n], lambda r: r["proxy_connect_cpu_s"] / r["established"] * 1e6,
                    lambda v: f"{v:,.0f}", "µs", "more cpu", "less cpu", cfgs=tc)
            # One fit per round (each round has every count), so the figure has a spread.
            fits = {c: [{"slope": linear_slope(counts, [tls_scale[n][c][k]["proxy_rss_kib"] * 1024
                                                        for n in counts])}
                        for k in range(len(tls_scale[counts[0]][c]))] for c in tc}
            t.add("   proxy memory per idle TLS connection: bytes (linear fit of peak RSS over "
                  f"{', '.join(f'{n:,}' for n in counts)} connections, per round)")
            t.add(head5)
            row("bytes per idle TLS connection", fits, lambda r: r["slope"], lambda v: f"{v:,.0f}",
                "bytes", "more memory", "less memory", cfgs=tc)
        if tls_large:
            t.add("   proxy CPU seconds per GB relayed (large messages, median over scenarios)")
            for c in tc[1:]:
                per_gb = [r["proxy_cpu_s"] / ((r["bytes_sent"] + r["bytes_received"]) / 1e9)
                          for runs in tls_large.values() for r in runs[c] if r["bytes_sent"] + r["bytes_received"]]
                t.add(f"   {LABEL[c]:24s} {med(per_gb):.3f} CPU s/GB")
        t.add()
    if capture:
        t.add("6. capture overhead: wsinspect inspecting, without and with --capture (both legs as pcap)")
        cols = [c for c in ("inspect", "capture", "capture-shm") if c in next(iter(capture.values()))[2]]
        names = {"inspect": "inspecting", "capture": "capture, disk", "capture-shm": "capture, /dev/shm"}
        t.add(f"{'':34s} " + " ".join(f"{names[c]:>17s}" for c in cols) +
              "".join(f" {'vs none':>8s}" for c in cols[1:]))
        for name, (unit, key, runs) in capture.items():
            vals = {c: [key(r) for r in runs[c]] for c in cols}
            base = med(vals["inspect"])
            cells = " ".join(f"{med(v):>12,.0f}{spread(v):>5}" for v in vals.values())
            ratios = "".join(f" {med(vals[c]) / base if base else float('nan'):>7.2f}x" for c in cols[1:])
            t.add(f"{name:34s} {cells}{ratios}  {unit}")
        t.add()
    t.add("targets")
    summary = {}
    for what, name, value, need in checks:
        if value != value:  # NaN: not measurable in this run
            continue
        if isinstance(value, tuple):  # judged where it was measured: (met, shown)
            ok, shown = value
        elif what == "added p50 <= HAProxy's + 10 µs":
            ok = value <= 10
            shown = f"{value:+.0f} µs"
        elif what == "added p99 <= 1.5x HAProxy's":
            ok = value <= 1.5
            shown = f"{value:.2f}x"
        elif what == "< 2 KiB per idle connection":
            ok = value < 2048
            shown = f"{value:,.0f} B"
        else:
            ok = value >= need
            shown = f"{value:.2f}x"
        summary.setdefault(what, []).append((ok, f"{name}: {shown}"))
    for what, items in summary.items():
        met = sum(ok for ok, _ in items)
        t.add(f"   {'MET ' if met == len(items) else 'MISS'} {what}: {met}/{len(items)}")
        for ok, text in items:
            if not ok:
                t.add(f"        missed: {text}")
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(t.lines) + "\n")
    print(f"\nwritten to {out}")


def linear_slope(xs, ys):
    mx, my = statistics.mean(xs), statistics.mean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    main()
