"""Background worker benchmark: a detached crawl, with and without churning channel clients,
against the same crawl in-process.

    python benchmarks/bench_worker.py [--pages 2000] [--concurrency 16] [--repeat 3] [--clients 50]
                                      [--client-pause 0]

Generates the benchmark site (sitegen.py), serves it with the fallback static server on
127.0.0.1 (static_server.py, its own process), then crawls it in fresh data dirs, `--repeat`
rounds of three modes, alternated (the order rotates from round to round) so that a warm-up
or a busy moment hits each mode alike:

1. in-process: `crawl URL --headless` (the crawl runs in the CLI process);
2. detached: `crawl URL --detach` (the CLI starts a worker and returns; the crawl runs there);
3. detached + clients: the same, while `--clients` clients in a process of their own (not the
   worker's tree: their CPU is not counted) connect to the worker's channel, read hello +
   snapshot, disconnect and connect again (at once, or after `--client-pause` seconds), from
   before the worker serves until it exits. `--clients 0` leaves this mode out.

Prints, per mode, the median of the rounds (and each round):
- pages/s over the session's own time from `running` to its final state (`show --json`), and
  for mode 3 its ratio to mode 2 in the same round (the issue's bar: within 10 %);
- CPU per page: user + sys of the crawling process tree / pages. Exact, from the kernel's
  resource usage of reaped children, not sampled: each crawl is started by a small "measure"
  child (proctree.py, shared with run.py) that makes itself a child subreaper
  (prctl PR_SET_CHILD_SUBREAPER), so
  the detached worker, once its CLI has exited, and anything orphaned below it (the parse
  pool's forkserver and workers) are reparented to it; it reaps every descendant and reports
  getrusage(RUSAGE_CHILDREN), which holds every process of the tree, each counted once (a
  process's reaped children are in its own figure). For the detached modes the CLI that
  started the worker (its own wait4 figure) is taken out: what is left is the worker's tree;
- peak RSS and peak PSS of the crawling process tree (the CLI in mode 1, the worker in modes
  2 and 3, with every descendant), summed per sample of /proc/<pid>/status VmRSS and
  /proc/<pid>/smaps_rollup Pss every 0.2 s; RSS counts pages shared between the worker and its
  forked parse processes once per process, PSS splits them, so PSS is the tree's real cost;
  and the peak RSS of the main process alone (the CLI or the worker).

Then how long `--detach` took to return, the time from connecting to the worker's channel to
its first snapshot (median of several connects, mode 2), and the connections the churning
clients made (per second of crawl, any that did not get hello + snapshot, and the share of a
core their own process used: on a small machine they compete with the worker). The load average
before and after is printed too: the figures of a shared machine move with it. Figures only:
nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import proctree  # noqa: E402
from sitegen import generate  # noqa: E402

from tui_scraper.backends.sqlite.lease import read_owner  # noqa: E402
from tui_scraper.runtime.channel.paths import RUN_DIR, SOCKET_SUFFIX, socket_path  # noqa: E402
from tui_scraper.runtime.channel.protocol import MAX_SERVER_LINE  # noqa: E402
from tui_scraper.service.channel_client import ChannelClient  # noqa: E402

PY = sys.executable
CLI = [PY, "-m", "tui_scraper"]
SAMPLE_S = 0.2
MODES = ("in-process", "detached", "detached + clients")


# -- the churn child: clients that connect, read hello + snapshot, disconnect, again --------


def _socket_in(run_dir: Path) -> Path | None:
    with contextlib.suppress(OSError):
        for path in run_dir.glob(f"*{SOCKET_SUFFIX}"):
            return path
    return None


async def _churner(run_dir: Path, pause: float, tally: dict[str, int]) -> None:
    path = None
    while True:
        path = path or _socket_in(run_dir)
        if path is None:
            await asyncio.sleep(0.005)  # before the worker serves
            continue
        try:
            reader, writer = await asyncio.open_unix_connection(
                os.fspath(path), limit=MAX_SERVER_LINE
            )
        except OSError:  # the worker stopped (or is re-creating its socket): look again
            path = None
            await asyncio.sleep(0.005)
            continue
        try:
            hello = await reader.readline()
            snapshot = await reader.readline()
        except OSError:
            hello = snapshot = b""
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        greeted = hello.startswith(b'{"type":"hello"') and snapshot.startswith(
            b'{"type":"snapshot"'
        )
        tally["greeted" if greeted else "cut"] += 1
        if pause:
            await asyncio.sleep(pause)


async def churn_until_terminated(data_dir: Path, clients: int, pause: float) -> None:
    """Churn on the data dir's channel until SIGTERM; then print `CHURN greeted cut cpu`."""
    tally = {"greeted": 0, "cut": 0}
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    run_dir = data_dir / RUN_DIR
    tasks = [asyncio.create_task(_churner(run_dir, pause, tally)) for _ in range(clients)]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu = own.ru_utime + own.ru_stime
    print(f"CHURN {tally['greeted']} {tally['cut']} {cpu:.6f}", flush=True)


# -- the parent: run the modes, sample the trees, print the figures --------------------------


def _serve(site: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [PY, str(HERE / "static_server.py"), str(site), str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit("the static server did not start")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}/"


def _crawl_args(url: str, concurrency: int) -> list[str]:
    c = str(concurrency)
    return ["crawl", url, "--ignore-robots", "--concurrency", c, "--per-host", c]


def _show(data: Path, session_id: str) -> dict[str, object]:
    out = subprocess.run(
        [*CLI, "--data-dir", str(data), "show", session_id, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    record = json.loads(out.stdout)
    assert isinstance(record, dict)
    return record


async def _first_snapshot_s(path: Path, tries: int = 5) -> float:
    times = []
    for _ in range(tries):
        started = time.perf_counter()
        client = await ChannelClient.connect(path)
        times.append(time.perf_counter() - started)
        await client.close()
    return statistics.median(times)


@dataclass
class Run:
    rate: float = 0.0  # pages/s
    cpu_ms_per_page: float = 0.0
    rss_mib: float = 0.0
    pss_mib: float = 0.0
    root_rss_mib: float = 0.0  # the CLI's or the worker's own process
    returned_s: float = 0.0
    snapshot_s: float | None = None
    churn: tuple[int, int] | None = None  # greeted, cut
    churn_cpu_s: float = 0.0  # the clients' own process, user + sys
    elapsed_s: float = 0.0


def run_mode(
    data: Path, url: str, concurrency: int, mode: str, clients: int, pause: float = 0.0
) -> Run:
    detached = mode != "in-process"
    argv = [*CLI, "--data-dir", str(data), *_crawl_args(url, concurrency)]
    argv.append("--detach" if detached else "--headless")
    churn = None
    if mode == "detached + clients":
        churn_argv = ["--churn", str(data), "--clients", str(clients), "--client-pause", str(pause)]
        churn = subprocess.Popen(
            [PY, __file__, *churn_argv],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    # A session of its own, as the detached worker has: with autogroup scheduling each session
    # is one group, and the crawl of every mode must not share one with this script and the
    # site's server (nor the clients with the worker: they stand for other terminals).
    child = subprocess.Popen(
        proctree.measure_argv(argv), stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    measured = proctree.Measured()
    assert child.stdout is not None
    measured.follow(child.stdout)
    run = Run()
    root = int(measured.take("PID"))
    peaks = proctree.Peaks()
    deadline = time.monotonic() + 600.0
    while "RETURNED" not in measured.seen and time.monotonic() < deadline:
        if not detached:
            peaks.sample(root)
        measured.poll(SAMPLE_S)
    returned, code, starter_cpu = measured.returned
    if code != 0:
        measured.take("FAILED")
        child.kill()
        raise SystemExit(f"the crawl failed: {measured.failure}")
    run.returned_s = returned
    # --headless prints the id first, --detach last; both print nothing else on stdout here.
    printed = measured.stdout.strip().splitlines()
    session_id = printed[-1] if detached else printed[0]
    if detached:
        root = int(read_owner(data, session_id)["pid"])
        if churn is None:
            run.snapshot_s = asyncio.run(_first_snapshot_s(socket_path(data, session_id)))
        while "CPU" not in measured.seen and time.monotonic() < deadline:
            peaks.sample(root)
            measured.poll(SAMPLE_S)
    # The CLI that only started the worker is taken out: what is left is the worker's tree.
    cpu = measured.cpu_s - (starter_cpu if detached else 0.0)
    child.wait()
    if churn is not None:
        churn.terminate()
        out, _ = churn.communicate(timeout=60)
        greeted, cut, churn_cpu = out.split()[1:4]
        run.churn = (int(greeted), int(cut))
        run.churn_cpu_s = float(churn_cpu)
    record = _show(data, session_id)
    progress = record["progress"]
    assert isinstance(progress, dict)
    done = int(progress["done"])
    # From `running` to the final state: the stored elapsed_s is rounded to 0.1 s.
    run.elapsed_s = float(str(record["end_time"])) - float(str(record["start_time"]))
    run.rate = done / run.elapsed_s
    run.cpu_ms_per_page = cpu / done * 1000
    run.rss_mib, run.pss_mib, run.root_rss_mib = (
        peaks.rss / 1024,
        peaks.pss / 1024,
        peaks.root_rss / 1024,
    )
    return run


def _each(values: list[float], digits: int = 0) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")"


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def report(args: argparse.Namespace, runs: dict[str, list[Run]], load_before: str) -> None:
    median = statistics.median
    print(f"{args.pages} pages, concurrency {args.concurrency}, {args.repeat} rounds")
    print(f"load average before: {load_before}, after: {_load()} (1, 5, 15 min)")
    for mode, done in runs.items():
        label = f"detached + {args.clients} clients" if mode == "detached + clients" else mode
        rates = [r.rate for r in done]
        cpu = [r.cpu_ms_per_page for r in done]
        print(
            f"{label:>22}: {median(rates):5.0f} pages/s {_each(rates)}, "
            f"CPU {median(cpu):.2f} ms/page {_each(cpu, 2)}, "
            f"tree peak RSS {max(r.rss_mib for r in done):.0f} MiB, "
            f"PSS {max(r.pss_mib for r in done):.0f} MiB, "
            f"main process RSS {max(r.root_rss_mib for r in done):.0f} MiB"
        )
    detached = runs["detached"]
    if "detached + clients" in runs:
        churned = runs["detached + clients"]
        ratios = [c.rate / d.rate for c, d in zip(churned, detached, strict=True)]
        print(
            f"detached + {args.clients} clients / detached, same round: "
            f"median {median(ratios):.3f} {_each(ratios, 3)}"
        )
        per_s = [r.churn[0] / r.elapsed_s for r in churned if r.churn]
        cut = sum(r.churn[1] for r in churned if r.churn)
        cores = [r.churn_cpu_s / r.elapsed_s for r in churned]
        pause = f", {args.client_pause:g} s pause each" if args.client_pause else ", no pause"
        print(
            f"churning clients{pause}: median {median(per_s):.0f} connections/s with "
            f"hello + snapshot {_each(per_s)}, {cut} cut short by the worker's stop; "
            f"their own process used {median(cores):.2f} of a core {_each(cores, 2)}"
        )
    ratios = [d.rate / h.rate for d, h in zip(detached, runs["in-process"], strict=True)]
    print(f"detached / in-process, same round: median {median(ratios):.3f} {_each(ratios, 3)}")
    returned = [r.returned_s for r in detached]
    print(f"--detach returned after: median {median(returned):.2f} s {_each(returned, 2)}")
    snapshot_ms = median([r.snapshot_s for r in detached if r.snapshot_s is not None]) * 1000
    print(f"connect to first snapshot: {snapshot_ms:.1f} ms (median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--client-pause",
        type=float,
        default=0.0,
        help="seconds each client waits between connections (default: none, a tight loop)",
    )
    parser.add_argument("--churn", metavar="DATA_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.churn:
        asyncio.run(churn_until_terminated(Path(args.churn), args.clients, args.client_pause))
        return
    load_before = _load()
    work = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    server = None
    modes = MODES if args.clients > 0 else MODES[:2]
    try:
        generate(work / "site", args.pages)
        server, url = _serve(work / "site", work / "access.log")
        runs: dict[str, list[Run]] = {mode: [] for mode in modes}
        for n in range(args.repeat):
            # Rotated: each mode takes each place in a round (after a given mode, first, last).
            for mode in modes[n % len(modes) :] + modes[: n % len(modes)]:
                data = work / f"r{n}m{modes.index(mode)}"
                run = run_mode(data, url, args.concurrency, mode, args.clients, args.client_pause)
                runs[mode].append(run)
        report(args, runs, load_before)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
