"""Blob-write benchmark: what storing one page costs a parse worker.

    python benchmarks/bench_blobs.py [--pages 2000] [--rounds 5] [--compare]

Writes the HTML pages of the benchmark site (`sitegen.py`, 10–60 KB each) into a fresh data dir
with `sync=False`, as the crawl does, and prints µs per write (best and median round), the share
of it spent hashing and compressing, and the compression ratio (page bytes / stored bytes). A
second pass stores the same pages again: the path of content that is already there (read, check,
leave it). `--compare` runs the previous implementation (zlib level 1, a `Path.resolve()` and a
random tmp name per write), kept below for this purpose only, in the same rounds, interleaved.
Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sitegen

from tui_scraper.backends.sqlite import blobs
from tui_scraper.paths import FILE_MODE, mkdir_private

Writer = Callable[[Path, bytes], tuple[str, str]]


def current_write(data_dir: Path, data: bytes) -> tuple[str, str]:
    return blobs.write_blob(data_dir, data, sync=False)


_LEGACY_KNOWN: set[Path] = set()


@functools.lru_cache(maxsize=16)
def _legacy_resolved(data_dir: Path) -> Path:
    return data_dir.resolve()


def legacy_write(data_dir: Path, data: bytes) -> tuple[str, str]:
    """The write path as it was before zstd (sync=False, compress=True): for --compare only."""
    data_dir = Path(data_dir)
    sha = hashlib.sha256(data).hexdigest()
    relative = f"blobs/{sha[:2]}/{sha}"
    base = _legacy_resolved(data_dir)  # it was cached per data dir, the target was not
    target = (base / relative).resolve()
    if not target.is_relative_to(base / "blobs"):
        raise blobs.BlobError(relative)
    if _legacy_holds(target, sha):
        return sha, relative
    shard = target.parent
    if shard not in _LEGACY_KNOWN:
        mkdir_private(data_dir / "blobs")
        mkdir_private(shard)
        _LEGACY_KNOWN.add(shard)
    packed = zlib.compress(data, 1)
    payload = packed if len(packed) < len(data) else data
    tmp = shard / f".tmp-{sha[:16]}-{os.getpid()}-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, target)
    return sha, relative


def _legacy_holds(path: Path, sha: str) -> bool:
    try:
        if path.stat().st_size == 0:
            return False
        raw = path.read_bytes()
    except OSError:
        return False
    if hashlib.sha256(raw).hexdigest() == sha:
        return True
    try:
        return hashlib.sha256(zlib.decompress(raw)).hexdigest() == sha
    except zlib.error:
        return False


def load_pages(pages: int, seed: int) -> list[bytes]:
    files, _, _ = sitegen.build(pages, seed)
    return [body for path, body in sorted(files.items()) if path.endswith(".html")]


_FLOOR_SERIAL = iter(range(1 << 62))
_SPREAD = blobs.spread_subdirectories  # as imported: --no-spread turns off the store's only


def floor_writer(spread: bool) -> Writer:
    """The file system's part alone: tmp (O_EXCL) + write + rename of a page-sized payload into
    its shard, with no hashing, compressing or checking (each call makes a new file). `spread`:
    blobs/ carries the hint the store sets on it (`blobs.spread_subdirectories`)."""

    def write(data_dir: Path, data: bytes) -> tuple[str, str]:
        number = next(_FLOOR_SERIAL)
        blobs_dir = f"{data_dir}/blobs"
        shard = f"{blobs_dir}/{number % 256:02x}"
        if not os.path.isdir(shard):
            if not os.path.isdir(blobs_dir):
                os.mkdir(blobs_dir, 0o700)
                if spread:
                    _SPREAD(blobs_dir)
            os.mkdir(shard, 0o700)
        tmp = f"{shard}/.tmp-{number}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        try:
            os.write(fd, data[: len(data) // 5])  # about what a compressed page weighs
        finally:
            os.close(fd)
        os.replace(tmp, f"{shard}/{number:064x}")
        return "", ""

    return write


@dataclass
class Round:
    wall_us: float  # per new write
    cpu_us: float  # user+sys of this process per new write
    again_us: float  # per write of content already stored (wall)
    ratio: float  # stored bytes / page bytes


def one_round(write: Writer, bodies: list[bytes], parent: Path) -> Round:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-blobs-", dir=parent))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        for body in bodies:
            write(data_dir, body)
        fresh, cpu = time.perf_counter() - started, time.process_time() - cpu
        started = time.perf_counter()
        for body in bodies:
            write(data_dir, body)
        again = time.perf_counter() - started
        stored = sum(entry.stat().st_size for entry in (data_dir / "blobs").glob("*/*"))
    finally:
        shutil.rmtree(data_dir)
    per = 1e6 / len(bodies)
    return Round(fresh * per, cpu * per, again * per, stored / sum(map(len, bodies)))


def phase_us(bodies: list[bytes], work: Callable[[bytes], object], passes: int = 3) -> float:
    """CPU µs per page of `work`, best of `passes`."""
    best = float("inf")
    for _ in range(passes):
        started = time.process_time()
        for body in bodies:
            work(body)
        best = min(best, time.process_time() - started)
    return best * 1e6 / len(bodies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare", action="store_true", help="also run the previous writer")
    parser.add_argument("--tmp", type=Path, default=None, help="where the data dirs go")
    parser.add_argument(
        "--no-spread", action="store_true", help="current writer without the shard-placement hint"
    )
    args = parser.parse_args()
    bodies = load_pages(args.pages, args.seed)
    if args.no_spread:
        blobs.spread_subdirectories = lambda directory: False
    parent = args.tmp or Path(tempfile.gettempdir())
    total = sum(map(len, bodies))
    print(f"{len(bodies)} pages, {total / len(bodies) / 1024:.1f} KB average, sync=False")
    writers: dict[str, Writer] = {"current": current_write}
    if args.compare:
        writers["previous"] = legacy_write
        writers["fs floor"] = floor_writer(spread=False)
        writers["floor +T"] = floor_writer(spread=True)
    results: dict[str, list[Round]] = {name: [] for name in writers}
    for _ in range(args.rounds):
        for name, write in writers.items():
            results[name].append(one_round(write, bodies, parent))
    print(
        f"{'writer':10} {'cpu µs':>8} {'best':>7} {'wall µs':>8} {'best':>7} "
        f"{'again µs':>9} {'stored/orig':>12}"
    )
    for name, rows in results.items():
        cpu = [row.cpu_us for row in rows]
        wall = [row.wall_us for row in rows]
        again = statistics.median(row.again_us for row in rows)
        floor = name.startswith(("fs floor", "floor"))
        again_text = f"{'':9}" if floor else f"{again:9.1f}"
        ratio = "" if floor else f"{rows[0].ratio:12.3f}"
        print(
            f"{name:10} {statistics.median(cpu):8.1f} {min(cpu):7.1f} "
            f"{statistics.median(wall):8.1f} {min(wall):7.1f} {again_text} {ratio}"
        )
    print(
        "(cpu, wall: median and best of the rounds; again: median; floor: making the file only,"
        " +T: in shards spread apart as the store makes them)"
    )
    compressor = blobs.zstd_compressor() if hasattr(blobs, "zstd_compressor") else None
    print("phases (cpu µs per page, best of 3 passes):")
    print(f"  sha256        {phase_us(bodies, lambda b: hashlib.sha256(b).hexdigest()):8.1f}")
    print(f"  zlib level 1  {phase_us(bodies, lambda b: zlib.compress(b, 1)):8.1f}")
    if compressor is not None:
        print(f"  zstd (ours)   {phase_us(bodies, compressor.compress):8.1f}")


if __name__ == "__main__":
    main()
