"""tui-scraper benchmark: one interleaved run against a deterministic local site.

    python benchmarks/run.py [--pages 5000] [--rounds 3] [--concurrency 16]
    python benchmarks/run.py --frontier          # resume latency and RSS vs. queued URLs

What it does (measured like-for-like):
1. generates the static site into benchmarks/out/site (cached between runs; sitegen.py);
2. serves it with nginx (one worker, access log on) when installed, else with the aiohttp
   fallback in its own process (static_server.py), and says which;
3. runs every available crawler once as a warm-up, then `--rounds` rounds with the order
   rotated each round; each crawler is a subprocess: wall time from spawn to exit, peak RSS
   from os.wait4 (the process itself) and from sampling its whole process tree;
4. checks each run against the site manifest through the server's access log: distinct
   pages fetched, pages missing, extra fetches (duplicates after canonicalisation, repeated
   redirect hops, errors); robots.txt requests are not counted;
5. prints medians and ranges, with pages/s as ratios to the raw httpx baseline measured in
   the same round (the machine is noisy: compare ratios, not absolute figures across runs).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import proctree  # noqa: E402  (benchmarks/ is not a package)
from sitegen import SiteInfo, generate  # noqa: E402

OUT = HERE / "out"
PY = sys.executable
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
RUN_TIMEOUT = 600.0  # one crawler run; a hung crawler is killed and reported, not waited on


# ----------------------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("server did not start listening")


def _cpu_seconds(root: int) -> float:
    """user + sys so far of a live process tree (the server's: sampled, not reaped)."""
    return sum(proctree.cpu_seconds(pid) for pid in proctree.tree_pids(root))


@dataclass
class Server:
    kind: str
    url: str
    log: Path
    proc: subprocess.Popen[bytes]

    def log_offset(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def read_log(self, offset: int) -> list[tuple[float, int, str]]:
        """Access-log entries written since `offset`: (epoch seconds, status, request URI)."""
        entries = []
        with open(self.log, "rb") as f:
            f.seek(offset)
            for raw in f.read().decode("utf-8", "replace").splitlines():
                stamp, status, uri = raw.split(" ", 2)
                entries.append((float(stamp), int(status), uri.strip('"')))
        return entries

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.proc.pid)


@contextlib.contextmanager
def serve(site: Path, want: str, out: Path | None = None) -> Iterator[Server]:
    """The site served on 127.0.0.1; its config and access log under `out` (default: OUT)."""
    work = (out or OUT) / "server"
    if work.exists():
        shutil.rmtree(work)
    (work / "tmp").mkdir(parents=True)
    log = work / "access.log"
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if want == "nginx" and nginx is None:
        raise SystemExit("--server nginx: nginx is not installed")
    if nginx and want in ("auto", "nginx"):
        port = _free_port()
        user = "user root;" if os.geteuid() == 0 else ""
        # One worker and an access log; sendfile so nginx stays cheap.
        conf = f"""
{user}
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format bench '$msec $status "$request_uri"';
    access_log {log} bench;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    types {{ text/html html; }}
    default_type application/octet-stream;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {site.resolve()};
        index index.html;
    }}
}}
"""
        (work / "nginx.conf").write_text(conf)
        cmd = [
            nginx,
            "-p",
            str(work),
            "-c",
            str(work / "nginx.conf"),
            "-e",
            str(work / "error.log"),
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
        kind = f"nginx ({version.removeprefix('nginx version: ')}, 1 worker)"
    else:
        proc = subprocess.Popen(
            [PY, str(HERE / "static_server.py"), str(site), str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            raise RuntimeError(
                f"fallback server failed: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        port = int(line.split()[1])
        kind = "python fallback (aiohttp, 1 process; nginx not installed)"
    try:
        _wait_port(port, proc)
        log.touch()
        yield Server(kind, f"http://127.0.0.1:{port}/", log, proc)
    finally:
        proc.send_signal(signal.SIGTERM if "nginx" not in kind else signal.SIGQUIT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------- crawlers


@dataclass
class Crawler:
    name: str
    argv: Callable[[str, Path], list[str]]  # (start URL, scratch dir) -> command
    skip: str | None = None  # why it is not measured
    ok_codes: tuple[int, ...] = (0,)


def _tui_scraper_cmd() -> list[str] | None:
    exe = Path(PY).with_name("tui-scraper")
    return (
        [str(exe)]
        if exe.exists()
        else ([found] if (found := shutil.which("tui-scraper")) else None)
    )


def _tui_scraper_skip() -> str | None:
    cmd = _tui_scraper_cmd()
    if cmd is None:
        return "tui-scraper is not installed in this environment"
    probe = subprocess.run([*cmd, "crawl", "--help"], capture_output=True, text=True)
    if probe.returncode != 0 or "--headless" not in probe.stdout:
        return (
            "the tui-scraper CLI has no `crawl --headless` yet ("
            + (probe.stderr.strip().splitlines() or ["no output"])[-1]
            + ")"
        )
    return None


def _tree_skip(tree: Path) -> str | None:
    if not (tree / "tui_scraper" / "__init__.py").is_file():
        return f"{tree} holds no tui_scraper package"
    return None


def crawlers(concurrency: int, other_trees: Sequence[Path] = ()) -> list[Crawler]:
    c = str(concurrency)
    tui = _tui_scraper_cmd() or ["tui-scraper"]
    out = [
        Crawler(
            "tui-scraper",
            lambda url, tmp: [
                *tui,
                "--data-dir",
                str(tmp),
                "crawl",
                url,
                "--headless",
                "--concurrency",
                c,
                "--per-host",
                c,
                "--ignore-robots",
            ],
            skip=_tui_scraper_skip(),
        ),
        # The same CLI running another checkout's package (e.g. `git archive` of the commit a
        # change started from): a before/after comparison in one interleaved run.
        *(
            Crawler(
                f"tui-scraper @ {tree.name}",
                lambda url, tmp, tree=tree: [
                    *["env", f"PYTHONPATH={tree.resolve()}", *tui, "--data-dir", str(tmp)],
                    *["crawl", url, "--headless", "--concurrency", c, "--per-host", c],
                    "--ignore-robots",
                ],
                skip=_tui_scraper_skip() or _tree_skip(tree),
            )
            for tree in other_trees
        ),
        Crawler(
            "httpx baseline",
            lambda url, tmp: [PY, str(HERE / "baseline_httpx.py"), url, "--concurrency", c],
        ),
        Crawler(
            "httpx+aiohttp transport",
            lambda url, tmp: [
                PY,
                str(HERE / "baseline_httpx.py"),
                url,
                "--concurrency",
                c,
                "--transport",
                "aiohttp",
            ],
        ),
        Crawler(
            "aiohttp baseline",
            lambda url, tmp: [PY, str(HERE / "baseline_aiohttp.py"), url, "--concurrency", c],
        ),
    ]
    if importlib.util.find_spec("uvloop") is not None:
        out.append(
            Crawler(
                "aiohttp baseline (uvloop)",
                lambda url, tmp: [
                    *[PY, str(HERE / "baseline_aiohttp.py"), url],
                    *["--concurrency", c, "--uvloop"],
                ],
            )
        )
    wget = shutil.which("wget")
    out.append(
        Crawler(
            "wget -r",
            lambda url, tmp: [
                wget or "wget",
                "-r",
                "-l",
                "inf",
                "-nd",
                "--delete-after",
                "-q",
                "-P",
                str(tmp),
                url,
            ],
            skip=None if wget else "wget is not installed",
            ok_codes=(0, 8),  # 8: "server issued an error response" (its robots.txt 404)
        )
    )
    scrapy = shutil.which("scrapy") or (
        str(Path(PY).with_name("scrapy")) if Path(PY).with_name("scrapy").exists() else None
    )
    out.append(
        Crawler(
            "scrapy",
            lambda url, tmp: [
                scrapy or "scrapy",
                "runspider",
                str(HERE / "peers" / "scrapy_spider.py"),
                "-a",
                f"start={url}",
                "-s",
                f"CONCURRENT_REQUESTS={c}",
                "-s",
                f"CONCURRENT_REQUESTS_PER_DOMAIN={c}",
                "-s",
                "LOG_LEVEL=WARNING",
            ],
            skip=None if scrapy else "Scrapy is not installed (not installed on purpose)",
        )
    )
    try:
        has_crawlee = importlib.util.find_spec("crawlee") is not None
    except (ImportError, ValueError):
        has_crawlee = False
    out.append(
        Crawler(
            "crawlee (python, in-memory)",
            lambda url, tmp: [PY, str(HERE / "peers" / "crawlee_crawler.py"), url, c],
            skip=None if has_crawlee else "Crawlee is not installed (not installed on purpose)",
        )
    )
    return out


# ------------------------------------------------------------------------- measurement


def canonical_path(uri: str) -> str:
    path, _, query = uri.partition("?")
    path = path.split("#", 1)[0]
    if query:
        query = urlencode(sorted(parse_qsl(query, keep_blank_values=True)))
        return f"{path}?{query}"
    return path


@dataclass
class RunResult:
    crawler: str
    wall: float
    rss_kb: int  # ru_maxrss of the process (and its waited-for children: max, not sum)
    tree_rss_kb: int  # sampled sum over the live process tree
    code: int
    tree_pss_kb: int = 0  # sampled sum of PSS over the live process tree
    cpu_s: float = 0.0  # user + sys of the whole process tree, exact (reaped by a subreaper)
    cpu_ms_per_page: float = 0.0  # cpu_s / the site's pages, in ms
    distinct: int = 0
    missing: int = 0
    extra: int = 0
    requests: int = 0
    server_cpu: float = 0.0
    note: str = ""


def spawn(argv: list[str], stderr_path: Path | None, stdout_fd: int | None = None) -> int:
    """Start argv in its own session; stdout to `stdout_fd` (else /dev/null), stderr to a file.

    posix_spawn (vfork+exec in glibc), not fork: a forked child inherits this process's
    RSS high-water mark, and ru_maxrss would then report the runner's memory, not the
    crawler's (every crawler showed the same 57 MB with subprocess.Popen).
    """
    actions: list[tuple[int, ...] | tuple[int, int, str, int, int]] = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, stdout_fd, 1)
        if stdout_fd is not None
        else (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (
            os.POSIX_SPAWN_OPEN,
            2,
            str(stderr_path) if stderr_path else "/dev/null",
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
            0o600,
        ),
    ]
    return os.posix_spawnp(argv[0], argv, dict(os.environ), file_actions=actions, setsid=True)


def _spawn_measured(argv: list[str], stderr_path: Path) -> tuple[int, proctree.Measured]:
    """argv under a measure child (proctree.py): its pid, and its lines as they come."""
    read_end, write_end = os.pipe()
    try:
        pid = spawn(proctree.measure_argv(argv), stderr_path, write_end)
    finally:
        os.close(write_end)
    measured = proctree.Measured()
    measured.follow(os.fdopen(read_end, encoding="utf-8"))
    return pid, measured


def run_one(crawler: Crawler, server: Server, expected: set[str]) -> RunResult:
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=OUT))
    offset = server.log_offset()
    cpu_before = server.cpu_seconds()
    argv = crawler.argv(server.url, scratch)
    stderr_path = scratch / "stderr.txt"
    rss_path = scratch / "maxrss.txt"
    if GNU_TIME:
        # GNU time forks the crawler from its own tiny process and reports the crawler's
        # ru_maxrss: a child of *this* process would inherit the runner's RSS high-water
        # mark through fork/exec (Linux keeps the maximum in the signal struct).
        argv = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *argv]
    # The measure child reaps the crawler's whole tree and reports its CPU (proctree.py).
    pid, measured = _spawn_measured(argv, stderr_path)
    peaks = proctree.Peaks()
    done = threading.Event()

    def sample() -> None:
        # ru_maxrss misses a worker process's memory when the crawler has several: sample
        # the whole tree's RSS and PSS as well (GNU time's own process left out).
        with contextlib.suppress(RuntimeError):
            child = int(measured.take("PID", timeout=RUN_TIMEOUT))
            while True:  # a first sample at once: wget may be done within 0.2 s
                peaks.sample(child, skip_root=GNU_TIME is not None)
                if done.wait(0.2):
                    break

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timer = threading.Timer(RUN_TIMEOUT, lambda: os.killpg(pid, signal.SIGKILL))
    timer.start()
    _, status, usage = os.wait4(pid, 0)
    timer.cancel()
    done.set()
    sampler.join()
    code = os.waitstatus_to_exitcode(status)
    try:
        # From the crawler's start to its exit, as the measure child saw it (not its own
        # interpreter's start-up).
        wall, code, _ = measured.returned
        cpu = measured.cpu_s
        note = measured.failure or ""
    except RuntimeError:  # killed by the timeout: no figures
        wall, cpu = RUN_TIMEOUT, 0.0
        tail = stderr_path.read_text("utf-8", "replace").strip().splitlines()[-1:]
        note = f"killed after {RUN_TIMEOUT:.0f} s" + (f": {tail[0][:120]}" if tail else "")
    rss = usage.ru_maxrss
    if GNU_TIME:
        with contextlib.suppress(OSError, ValueError, IndexError):
            rss = int(rss_path.read_text().split()[-1])
    shutil.rmtree(scratch, ignore_errors=True)
    result = RunResult(crawler.name, wall, rss, max(peaks.rss, rss), code)
    result.tree_pss_kb = peaks.pss
    result.cpu_s = cpu
    result.cpu_ms_per_page = cpu / len(expected) * 1000
    result.server_cpu = server.cpu_seconds() - cpu_before
    entries = server.read_log(offset)
    ok: Counter[str] = Counter()
    hops: Counter[str] = Counter()
    other = 0
    for _, http_status, uri in entries:
        if uri.split("?", 1)[0] == "/robots.txt":
            continue
        if http_status == 200:
            ok[canonical_path(uri)] += 1
        elif 300 <= http_status < 400:
            hops[uri] += 1
        else:
            other += 1
    fetched = set(ok)
    result.requests = sum(ok.values()) + sum(hops.values()) + other
    result.distinct = len(fetched & expected)
    result.missing = len(expected - fetched)
    result.extra = sum(ok.values()) - result.distinct + sum(n - 1 for n in hops.values()) + other
    if code not in crawler.ok_codes:
        result.note = note[:140] if note else f"exit {code}"
    return result


def _fmt_range(values: list[float], fmt: str) -> str:
    if not values:
        return "n/a"  # e.g. --only without the baseline: no ratio to show
    med = statistics.median(values)
    if len(values) == 1:
        return format(med, fmt)
    return f"{format(med, fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def report(results: list[list[RunResult]], names: list[str], pages: int, server: Server) -> str:
    by_name: dict[str, list[RunResult]] = {n: [] for n in names}
    ratios: dict[str, list[float]] = {n: [] for n in names}
    to_aiohttp: dict[str, list[float]] = {n: [] for n in names}
    for round_results in results:
        base = next((r for r in round_results if r.crawler == "httpx baseline"), None)
        aim = next((r for r in round_results if r.crawler == "aiohttp baseline"), None)
        for r in round_results:
            by_name[r.crawler].append(r)
            if base is not None:
                ratios[r.crawler].append(base.wall / r.wall)
            if aim is not None:
                to_aiohttp[r.crawler].append(aim.wall / r.wall)
    header = (
        f"{'crawler':<28} {'pages/s':>22} {'ratio to httpx':>20} {'to aiohttp':>20} "
        f"{'CPU ms/page':>20} "
        f"{'RSS MB':>7} {'tree MB':>8} {'PSS MB':>7} {'srv CPU':>7}  exact page set?"
    )
    lines = [header, "-" * len(header)]
    for name in names:
        runs = by_name[name]
        if not runs:
            continue
        rates = [pages / r.wall for r in runs]
        rss = statistics.median(r.rss_kb for r in runs) / 1024
        tree = statistics.median(r.tree_rss_kb for r in runs) / 1024
        pss = statistics.median(r.tree_pss_kb for r in runs) / 1024
        pss_text = f"{pss:.0f}" if pss else "n/a"  # no sample: gone within the first one
        cpu = [r.cpu_ms_per_page for r in runs if r.cpu_s]
        srv = statistics.median(r.server_cpu / r.wall for r in runs) * 100
        worst = max(runs, key=lambda r: (r.missing + r.extra, r.extra))
        if all(r.missing == 0 and r.extra == 0 for r in runs):
            exact = f"yes ({worst.distinct} pages)"
        else:
            exact = f"NO: {worst.distinct} fetched, {worst.missing} missing, {worst.extra} extra"
        notes = sorted({r.note for r in runs if r.note})
        if notes:
            exact += "; " + "; ".join(notes)
        lines.append(
            f"{name:<28} {_fmt_range(rates, '.0f'):>22} {_fmt_range(ratios[name], '.2f'):>20} "
            f"{_fmt_range(to_aiohttp[name], '.2f'):>20} {_fmt_range(cpu, '.2f'):>20} "
            f"{rss:>7.0f} {tree:>8.0f} {pss_text:>7} {srv:>6.0f}%  {exact}"
        )
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def benchmark(args: argparse.Namespace) -> None:
    t0 = time.monotonic()
    load_before = _load()
    print(f"generating/reusing the site ({args.pages} pages) ...", flush=True)
    info: SiteInfo = generate(OUT / "site", args.pages, args.seed)
    expected = set(info.pages)
    print(
        f"site: {len(expected)} pages, {info.total_bytes / 1e6:.0f} MB, sha256 {info.digest[:12]}, "
        f"{len(info.redirect_sources)} /d -> /d/ redirects ({time.monotonic() - t0:.1f} s)"
    )
    all_crawlers = crawlers(args.concurrency, args.tree)
    if args.only:
        wanted = {n.strip() for n in args.only.split(",")}
        all_crawlers = [c for c in all_crawlers if any(w in c.name for w in wanted)]
    for c in all_crawlers:
        if c.skip:
            print(f"skipped: {c.name}: {c.skip}")
    active = [c for c in all_crawlers if not c.skip]
    names = [c.name for c in active]
    with serve(info.root, args.server) as server:
        print(f"server: {server.kind} at {server.url}")
        print(f"concurrency {args.concurrency}; warm-up, then {args.rounds} rounds, order rotated")
        for c in active:
            r = run_one(c, server, expected)
            print(f"  warm-up  {c.name:<28} {r.wall:6.1f} s  {r.note}", flush=True)
        results: list[list[RunResult]] = []
        for k in range(args.rounds):
            order = active[k % len(active) :] + active[: k % len(active)]
            round_results = []
            for c in order:
                r = run_one(c, server, expected)
                round_results.append(r)
                print(
                    f"  round {k + 1}  {c.name:<28} {r.wall:6.1f} s  {args.pages / r.wall:6.0f} p/s"
                    f"  cpu {r.cpu_ms_per_page:5.2f} ms/p  rss {r.rss_kb / 1024:4.0f} MB"
                    f"  pss {r.tree_pss_kb / 1024:4.0f} MB  missing {r.missing} extra {r.extra}"
                    f"  {r.note}",
                    flush=True,
                )
            results.append(round_results)
        print()
        print(
            f"{args.pages} pages, C={args.concurrency}, {args.rounds} rounds, server: {server.kind}"
        )
        print(f"load average before: {load_before}, after: {_load()} (1, 5, 15 min)")
        print(
            "pages/s = expected pages / wall time (process start to exit); ratio = baseline wall / "
            "crawler wall in the same round;\nCPU ms/page = user + sys of the whole process tree "
            "(exact, reaped by a subreaper) / expected pages;\nRSS = the crawler process's "
            "ru_maxrss (GNU time); tree = sampled RSS sum of its process tree; PSS = sampled PSS "
            "sum of the tree (shared pages split);\nsrv CPU = server CPU time / crawler wall"
        )
        print(report(results, names, args.pages, server))
        if args.json:
            # A list of rounds, each a list of runs (every RunResult field, cpu_ms_per_page and
            # tree_pss_kb included).
            Path(args.json).write_text(
                json.dumps([[r.__dict__ for r in rr] for rr in results], indent=1)
            )
    print(f"\ntotal benchmark time {time.monotonic() - t0:.0f} s")


# ------------------------------------------------------------------------------ frontier


def _run_until(
    argv: list[str],
    server: Server,
    seconds: float,
    scratch: Path,
    peaks: proctree.Peaks | None = None,
) -> tuple[float | None, int, int, str]:
    """Run argv until `seconds` after its first request (at most 60 s for that), then SIGINT.

    Returns (seconds from spawn to its first request, peak RSS KB, exit code, stderr tail);
    `peaks`, when given, gets the process tree sampled about every 0.2 s.
    """
    rss_path = scratch / "maxrss.txt"
    stderr_path = scratch / "stderr.txt"
    if GNU_TIME:  # see run_one: the crawler's own ru_maxrss, not the runner's
        argv = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *argv]
    offset = server.log_offset()
    wall_start = time.time()
    pid = spawn(argv, stderr_path)
    first: float | None = None
    deadline = time.monotonic() + 60.0
    finished: tuple[int, int, Any] | None = None
    next_sample = 0.0
    while time.monotonic() < deadline:
        polled = os.wait4(pid, os.WNOHANG)
        if polled[0] != 0:
            finished = polled
            break
        if peaks is not None and time.monotonic() >= next_sample:
            peaks.sample(pid, skip_root=GNU_TIME is not None)
            next_sample = time.monotonic() + 0.2
        if first is None:
            entries = server.read_log(offset)
            if entries:
                first = entries[0][0] - wall_start
                deadline = time.monotonic() + seconds  # then let it run a while for the RSS
        time.sleep(0.02)
    if finished is None:
        # The whole process group: GNU time ignores SIGINT and leaves it to the crawler,
        # which must checkpoint and exit 130 (interrupted).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGINT)
        finished = os.wait4(pid, 0)
    _, status, usage = finished
    if first is None:
        entries = server.read_log(offset)
        first = entries[0][0] - wall_start if entries else None
    rss = usage.ru_maxrss
    if GNU_TIME:
        with contextlib.suppress(OSError, ValueError, IndexError):
            rss = int(rss_path.read_text().split()[-1])
    tail = stderr_path.read_text("utf-8", "replace").strip().splitlines()[-1:]
    return first, rss, os.waitstatus_to_exitcode(status), (tail[0] if tail else "")


def frontier(args: argparse.Namespace) -> None:
    skip = _tui_scraper_skip()
    cmd = _tui_scraper_cmd()
    if skip or cmd is None:
        print(f"--frontier skipped: {skip}")
        return
    info = generate(OUT / "site", args.pages, args.seed)
    sizes = [int(s) for s in args.queued.split(",")]
    with serve(info.root, args.server) as server:
        print(f"server: {server.kind} at {server.url}")
        print(
            f"{'queued URLs':>12} {'insert s':>9} {'resume → 1st request':>21} {'peak RSS MB':>12}"
            f" {'tree PSS MB':>12}  per process at the tree's peak (PSS MB)"
        )
        for n in sizes:
            data = Path(tempfile.mkdtemp(prefix="frontier-", dir=OUT))
            try:
                # A session created and interrupted by the CLI itself (SIGINT right after its
                # first request), so every row but the queued ones is the real thing.
                c = str(args.concurrency)
                crawl = [*cmd, "--data-dir", str(data), "crawl", server.url, "--headless"]
                crawl += ["--ignore-robots", "--concurrency", c, "--per-host", c]
                _run_until(crawl, server, 0.0, data)
                db = sqlite3.connect(data / "scraper.db")
                (session_id,) = db.execute("SELECT id FROM sessions").fetchone()
                t = time.perf_counter()
                with db:
                    # URLs on the benchmark server (the query makes each one distinct; the
                    # server ignores it). Depth 1, like the links the first run discovered.
                    db.executemany(
                        "INSERT OR IGNORE INTO pages(session_id, url, depth, status) "
                        "VALUES (?, ?, 1, 'queued')",
                        ((session_id, f"{server.url}s00/p00000.html?q={i:07d}") for i in range(n)),
                    )
                    db.execute(
                        "UPDATE sessions SET pages_total = "
                        "(SELECT count(*) FROM pages WHERE session_id = ?) WHERE id = ?",
                        (session_id, session_id),
                    )
                insert_s = time.perf_counter() - t
                status = db.execute("SELECT status FROM sessions").fetchone()[0]
                db.close()
                if status not in ("interrupted", "paused"):
                    print(f"{n:>12} session is {status!r}, not resumable: skipped")
                    continue
                resume = [*cmd, "--data-dir", str(data), "resume", session_id, "--headless"]
                peaks = proctree.Peaks()
                first, rss, code, tail = _run_until(
                    resume, server, args.frontier_seconds, data, peaks
                )
                shown = f"{first:.2f} s" if first is not None else f"none (exit {code}: {tail})"
                each = ", ".join(f"{role} {kb / 1024:.1f}" for role, kb in peaks.per_process())
                print(
                    f"{n:>12} {insert_s:>9.1f} {shown:>21} {rss / 1024:>12.0f}"
                    f" {peaks.pss / 1024:>12.1f}  {each}",
                    flush=True,
                )
            finally:
                shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    parser.add_argument("--only", help="comma-separated substrings of crawler names to run")
    parser.add_argument("--json", help="also write every run's figures to this file")
    parser.add_argument(
        "--tree",
        type=Path,
        action="append",
        default=[],
        help="also run tui-scraper from the tui_scraper package in this directory (repeatable)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=OUT,
        help="where the site, the server's files and scratch dirs go (default: benchmarks/out)",
    )
    parser.add_argument(
        "--frontier",
        action="store_true",
        help="measure resume latency and peak RSS against queued-URL counts",
    )
    parser.add_argument(
        "--queued",
        default="10000,100000,1000000",
        help="queued-URL counts for --frontier (comma-separated)",
    )
    parser.add_argument(
        "--frontier-seconds",
        type=float,
        default=5.0,
        help="how long each resumed crawl runs after its first request",
    )
    args = parser.parse_args()
    OUT = args.out.resolve()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.frontier:
        frontier(args)
    else:
        benchmark(args)


if __name__ == "__main__":
    main()
