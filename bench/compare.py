#!/usr/bin/python3
"""Side-by-side benchmark: direct, HAProxy TCP tunnel, wsinspect as a pure
relay (--no-inspect) and wsinspect with full inspection.

Every scenario runs each configuration in turn, round after round
(interleaved), so slow drift of the machine hits all of them alike. The load
generator and the server share core 0, the proxy (when there is one) runs
alone on core 1. Each figure is the median of the rounds, with the spread
(min-max) beside it. The table goes to standard output and to
bench/results/latest.txt.

Run it with `make benchmark` (which builds the tools and installs HAProxy)
or directly: bench/compare.py --build build-rel [--rounds 3] [--quick].
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
         "inspect": "wsinspect inspecting"}
LOAD_CORE, PROXY_CORE = "0", "1"
TICKS = os.sysconf("SC_CLK_TCK")


def pinned(core, argv):
    return ["taskset", "-c", core] + argv


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

    def __init__(self, argv, ready=None, timeout=10):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, start_new_session=True)
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
    def __init__(self, build, rounds, duration, quick):
        self.wsload = str(build / "bench" / "wsload")
        self.wsinspect = str(build / "wsinspect")
        self.rounds = rounds
        self.duration = duration
        self.quick = quick
        self.tmp = Path(tempfile.mkdtemp(prefix="wsbench-"))

    # --- the pieces of one run -------------------------------------------------------------

    def start_server(self):
        srv = Process(pinned(LOAD_CORE, [self.wsload, "server", "--listen", "127.0.0.1:0"]),
                      ready=lambda l: l.startswith("listening"))
        return srv, srv.first.split()[1]

    def start_proxy(self, config, upstream):
        if config == "direct":
            return None, upstream
        if config == "haproxy":
            port = free_port()
            cfg = self.tmp / f"haproxy-{port}.cfg"
            cfg.write_text(
                "global\n  maxconn 9500\n  nbthread 1\n"
                "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 1h\n"
                "  timeout server 1h\n  maxconn 9500\n"
                f"frontend f\n  bind 127.0.0.1:{port}\n  default_backend b\n"
                f"backend b\n  server s1 {upstream}\n")
            p = Process(pinned(PROXY_CORE, ["haproxy", "-db", "-f", str(cfg)]))
            wait_port(port)
            return p, f"127.0.0.1:{port}"
        argv = [self.wsinspect, "proxy", "--listen", "127.0.0.1:0", "--upstream", upstream,
                "--log-format", "json", "--max-connections", "40000"]
        if config == "relay":
            argv.append("--no-inspect")
        p = Process(pinned(PROXY_CORE, argv), ready=lambda l: '"listening"' in l)
        return p, json.loads(p.first)["address"]

    def run_client(self, target, args, proxy=None, sample_rss=False):
        argv = pinned(LOAD_CORE, [self.wsload, "client", "--target", target, "--json"] + args)
        cpu0 = cpu_seconds(proxy.pid) if proxy else 0.0
        wall0 = time.monotonic()
        client = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak = 0
        while client.poll() is None:
            if sample_rss and proxy:
                peak = max(peak, rss_kib(proxy.pid))
            time.sleep(0.1)
        out, err = client.communicate()
        if client.returncode != 0:
            raise RuntimeError(f"wsload failed ({client.returncode}): {err.strip()}")
        report = json.loads(out)
        report["proxy_cpu_s"] = (cpu_seconds(proxy.pid) - cpu0) if proxy else 0.0
        report["wall_s"] = time.monotonic() - wall0
        report["proxy_rss_kib"] = peak
        return report

    def measure(self, config, args, sample_rss=False):
        """One run of one configuration: fresh server and proxy each time."""
        server, addr = self.start_server()
        proxy = None
        try:
            proxy, target = self.start_proxy(config, addr)
            return self.run_client(target, args, proxy, sample_rss)
        finally:
            if proxy:
                proxy.stop()
            server.stop()

    def interleaved(self, name, args, sample_rss=False, configs=CONFIGS):
        runs = {c: [] for c in configs}
        for r in range(self.rounds):
            for c in configs:
                rep = self.measure(c, args, sample_rss)
                runs[c].append(rep)
                errors = rep["errors"]["total"]
                print(f"  {name:38s} round {r + 1} {c:8s} "
                      f"{rep['messages_per_sec']:>12,.0f} msg/s {rep['mb_per_sec']:>9,.1f} MB/s"
                      f" p50 {rep['latency_us']['p50']:>8,.0f} us  proxy cpu "
                      f"{rep['proxy_cpu_s']:.2f} s  errors {errors}", flush=True)
                if errors:
                    raise RuntimeError(f"{name}/{c}: {errors} errors: {rep.get('first_error')}")
        return runs


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
    opts = ap.parse_args()
    if opts.quick:
        opts.rounds, opts.duration = 1, 1.5
    for tool in ("taskset", "haproxy"):
        if not shutil.which(tool):
            sys.exit(f"compare.py: {tool} not found (make benchmark installs it)")
    b = Bench(Path(opts.build), opts.rounds, opts.duration, opts.quick)
    d = str(opts.duration)
    warm = ["--warmup", "0.5"]
    t = Table()
    results = {}

    print("== 1. small messages, closed loop (4 in flight per connection)")
    small = {}
    for size in (64, 512):
        for conns in (100, 1000):
            name = f"{size} B text, {conns} conns"
            small[name] = b.interleaved(name, ["--connections", str(conns), "--size", str(size),
                                               "--kind", "text-ascii", "--closed-loop", "--inflight", "4",
                                               "--duration", d] + warm)
    print("== 2. large messages")
    large = {}
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
    print("== 3. latency at a fixed rate (512 B text, 100 connections)")
    direct_max = med([r["messages_per_sec"] for r in small["512 B text, 100 conns"]["direct"]])
    latency = {}
    for pct in (10, 50, 80):
        rate = direct_max * pct / 100 / 100  # per connection
        name = f"{pct}% of direct max ({rate * 100:,.0f} msg/s)"
        latency[name] = b.interleaved(name, ["--connections", "100", "--size", "512", "--kind", "text-ascii",
                                             "--rate", f"{rate:.3f}", "--duration", d] + warm)
    print("== 4. connection scale (idle, ping every 1 s)")
    scale = {}
    counts = (1000, 3000) if opts.quick else (1000, 3000, 9000)
    for n in counts:
        name = f"{n} idle connections"
        scale[n] = b.interleaved(name, ["--connections", str(n), "--idle", "--ping-interval", "1",
                                        "--duration", "3", "--connect-concurrency", "256"],
                                 sample_rss=True)

    # --- the table -----------------------------------------------------------------------------
    t.add(f"wsinspect benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{opts.rounds} round(s) of {opts.duration:g} s, median (± half spread)")
    t.add(f"machine: {os.cpu_count()} cores, {cpu_model()}; load generator and server on core 0, proxy on core 1")
    t.add()

    def row(name, runs, key, fmt, unit):
        cells = []
        for c in CONFIGS:
            vals = [key(r) for r in runs[c]]
            cells.append(f"{fmt(med(vals))}{spread(vals):>5}")
        h, i, rl = (med([key(r) for r in runs[c]]) for c in ("haproxy", "inspect", "relay"))
        dct = med([key(r) for r in runs["direct"]])
        ratio = lambda a, b: a / b if b else float("nan")
        cols = " ".join(f"{ratio(i, x):>7.2f}x" if x else f"{'-':>8s}" for x in (h, dct, rl))
        t.add(f"{name:34s} " + " ".join(f"{c:>16s}" for c in cells) + f" {cols}  {unit}")
        return ratio(i, h), ratio(i, rl)

    header = f"{'':34s} " + " ".join(f"{LABEL[c][:16]:>16s}" for c in CONFIGS) + \
        f" {'vs HAP':>8s} {'vs dir':>8s} {'vs rel':>8s}"
    t.add("1. small messages: messages per second (both directions echoed)")
    t.add(header)
    checks = []
    for name, runs in small.items():
        r_h, r_rel = row(name, runs, lambda r: r["messages_per_sec"], lambda v: f"{v:,.0f}", "msg/s")
        checks.append(("small msg rate >= HAProxy", name, r_h, 1.0))
        checks.append(("inspection cost < 10% (small)", name, r_rel, 0.9))
    t.add()
    t.add("   proxy CPU, % of one core over the whole run (connects and warmup included)")
    t.add(header)
    for name, runs in small.items():
        row(name, runs, lambda r: r["proxy_cpu_s"] / r["wall_s"] * 100,
            lambda v: f"{v:.0f}%", "cpu")
    t.add()
    t.add("2. large messages: MB/s of payload")
    t.add(header)
    for name, runs in large.items():
        r_h, r_rel = row(name, runs, lambda r: r["mb_per_sec"], lambda v: f"{v:,.0f}", "MB/s")
        checks.append(("large msg throughput >= 0.9x HAProxy", name, r_h, 0.9))
        checks.append(("inspection cost < 10% (large)", name, r_rel, 0.9))
    t.add()
    t.add("3. latency at a fixed rate: p50 / p99 / p99.9 / max in µs; added = over direct")
    for name, runs in latency.items():
        t.add(f"   {name}")
        base = {k: med([r["latency_us"][k] for r in runs["direct"]]) for k in ("p50", "p99", "p99_9", "max")}
        added = {}
        for c in CONFIGS:
            v = {k: med([r["latency_us"][k] for r in runs[c]]) for k in ("p50", "p99", "p99_9", "max")}
            added[c] = {k: v[k] - base[k] for k in v}
            t.add(f"     {LABEL[c]:24s} {v['p50']:>8,.0f} {v['p99']:>8,.0f} {v['p99_9']:>8,.0f} {v['max']:>9,.0f}"
                  f"   added p50 {added[c]['p50']:>6,.0f}  p99 {added[c]['p99']:>7,.0f}")
        checks.append(("added p50 <= HAProxy's + 10 µs", name,
                       added["inspect"]["p50"] - added["haproxy"]["p50"], None))
        hp99 = max(added["haproxy"]["p99"], 1.0)
        checks.append(("added p99 <= 1.5x HAProxy's", name, added["inspect"]["p99"] / hp99, None))
    t.add()
    t.add("4. connection scale: handshakes/s; proxy RSS per connection (linear fit over the counts)")
    for c in CONFIGS:
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
    t.add()
    t.add("5. CPU seconds per GB relayed (large messages, median over scenarios)")
    for c in ("haproxy", "relay", "inspect"):
        per_gb = []
        for runs in large.values():
            for r in runs[c]:
                gb = (r["bytes_sent"] + r["bytes_received"]) / 1e9
                if gb:
                    per_gb.append(r["proxy_cpu_s"] / gb)
        t.add(f"   {LABEL[c]:24s} {med(per_gb):.3f} CPU s/GB")
    t.add()
    t.add("targets")
    summary = {}
    for what, name, value, need in checks:
        if value != value:  # NaN: not measurable in this run
            continue
        if what == "added p50 <= HAProxy's + 10 µs":
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
