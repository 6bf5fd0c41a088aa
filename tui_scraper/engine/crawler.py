"""The crawl loop: claim from the frontier, fetch, process off the loop, checkpoint in batches.

The invariants that make resume exact, and where they hold here:
1. a page's result and its links commit together: one `PageResult` carries both into one
   batch commit (the store's `checkpoint`, one transaction);
2. results are committed in batches by count and time (`batching.Batcher`);
3. blobs are written (tmp, rename) by the page processor before the result exists, and the
   batch commit makes them durable before its COMMIT;
4. a stop puts claimed-but-unfinished rows back with `requeue_fetching`;
5. counters start from `page_counts`, so limits and figures stay exact across stops.

The refetch bound (a kill refetches at most concurrency + 2 × BATCH_SIZE pages) is kept by
`batching.Batcher`. The engine is typed against `ports.EngineStore`, not a concrete store.

The crawler is the orchestration only: dispatch (`dispatch.py`), host gating (`politeness.py`;
`shared_gate.py` for a session several workers share), one page's judgement and classification
(`pages.py`, `classify.py`), the fetch workers that fetch, parse and store it (`fetch_pool.py`,
`fetch_worker.py`, `page_fetch.py`; `parse_pool.py` is the in-thread parse of
`parse_workers=0`), redirect bookkeeping (`redirects.py`), batching, links already committed
(`known_links.py`), the live figures (`live.py`) and how a run ended (`outcome.py`) are their
own modules. What runs a session around it (the lease, requeueing a dead run's claims, the final
summary and transition, secrets) is `runtime/worker.py`.

Our own faults (disk, descriptors, memory, a locked database, a missing or broken data dir) stop
the crawl resumably: `interrupted`, with the reason; the page that met one goes back to the queue
untouched. `failed` is kept for what is final (the start URL failed, nothing could be fetched).
See `engine/faults.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..domain.config import BOUNDS, CrawlConfig
from ..domain.progress import Progress
from ..domain.records import ClaimedPage, PageResult
from ..domain.status import PageStatus, Status
from ..ports import EngineStore, HostPacing
from .addresses import seed_allows_private
from .analytics import analytics_enabled, tally
from .batching import BATCH_SECONDS, BATCH_SIZE, Batcher
from .classify import (
    permanent,
    requeue_untouched,
)
from .crashpoints import crash_point
from .dispatch import Dispatcher
from .faults import describe_fault, is_our_fault
from .fetch_pool import FetchPool
from .known_links import CommittedLinks
from .limits import capped_concurrency
from .live import LiveFigures
from .outcome import (
    CrawlOutcome,
    StopKind,
    describe_error,
    error_outcome,
    judge_completion,
    outcome_for_stop,
)
from .page_fetch import BodyRules, FetchSettings, LocalPageFetcher, PageFetcher
from .pages import PageProcessor
from .parse_pool import ParsePool
from .politeness import HostGate, HostHealth
from .recrawl import PreviousContents
from .redirects import RedirectTargets
from .robots import RobotsCache, RobotsSource
from .shared_gate import SharedHostGate
from .stats import CrawlStats
from .traps import TrapGuard
from .urls import Scope

if TYPE_CHECKING:
    from .fetch import Fetcher

__all__ = ["BATCH_SIZE", "CrawlOutcome", "Crawler", "StopKind"]

PAUSE_GRACE_S = 5.0
INTERRUPT_GRACE_S = 1.0


@dataclass
class Crawler:
    store: EngineStore
    session_id: str
    config: CrawlConfig
    stats: CrawlStats
    previous_elapsed_s: float = 0.0
    parse_workers: int = 1
    secret_headers: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    # Told each batch once it has committed (`crawl --warc` writes its records then).
    on_commit: Callable[[list[PageResult]], None] | None = None

    def __post_init__(self) -> None:
        self._stop_kind: StopKind | None = None
        self._stop_reason = ""
        self._stop_who: str | None = None
        self._storage_error: BaseException | None = None  # our fault that stopped the crawl
        self._fatal: BaseException | None = None  # a bug in a background task
        self._stop_event = asyncio.Event()
        self._changed = asyncio.Event()
        self._batch = Batcher(self._commit)
        self._inflight = 0
        self._concurrency = self.config.concurrency
        self._workers = 0  # worker tasks alive; above `_concurrency` (tuned down) they leave
        self._worker_tasks: list[asyncio.Task[None]] = []
        self._dispatch: Dispatcher | None = None  # while a run's parts exist (see tune)
        self._fetcher: Fetcher | None = None  # only with parse_workers=0: see _make_page_fetcher
        self._live = LiveFigures(
            self.stats, previous_elapsed_s=self.previous_elapsed_s, clock=self.clock
        )
        self._scope = Scope.from_config(self.config)
        # Here, not in run(): run() starts again for retries that came due, the counts go on.
        self._traps = TrapGuard(self.config.trap_max_per_pattern, self.config.trap_max_param_values)
        # Hashes of resource URLs (<img src>, …) found this crawl: see PageProcessor.
        self._resources: set[int] = set()
        self._committed_links = CommittedLinks()
        # The store counts each batch's results into the session's analytics as it commits them.
        self._tally = tally if analytics_enabled() else None
        self._allow_private = self.config.allow_private or seed_allows_private(
            self.config.target_url
        )

    # control ------------------------------------------------------------------------------
    def request_stop(self, kind: StopKind, reason: str, *, who: str | None = None) -> None:
        if self._stop_kind is None:
            self._stop_kind = kind
            self._stop_reason = reason
            self._stop_who = who
            self._stop_event.set()

    def tune(self, config: CrawlConfig) -> str:
        """Apply a changed rate, concurrency or exclude list (live tuning) at once, to every host
        and to what is claimed from now on; the caller has validated and stored `config`. Returns
        a note when the concurrency asked is more than the descriptor limit serves, else ""."""
        self.config = config
        self._scope = Scope.from_config(config)
        capped, limit = capped_concurrency(config.concurrency, self.parse_workers)
        self._concurrency = capped
        dispatch = self._dispatch
        if dispatch is not None:  # a run is going: its parts change in place
            self._gate.set_rate(config.rate_per_host)
            self._pages.retune(config, self._scope)
            dispatch.concurrency = capped
            # More workers when raised; when lowered, the surplus leave after their page.
            for _ in range(capped - self._workers):
                self._spawn_worker()
            self._changed.set()
        if capped < config.concurrency:
            return f"concurrency {capped} for now: the open-files limit is {limit}"
        return ""

    # main ---------------------------------------------------------------------------------
    async def run(self) -> CrawlOutcome:
        """Crawl until the frontier is empty or a stop is asked; the caller does the transition."""
        self.store.add_wait_listener(self._on_db_wait)
        try:
            return await self._run()
        finally:
            self.store.remove_wait_listener(self._on_db_wait)

    def _on_db_wait(self, text: str) -> None:
        """Another process holds the database's lock: say so where the progress is shown."""
        self.stats.progress.waiting = text
        self._publish_progress()

    async def _run(self) -> CrawlOutcome:
        # No row is `fetching` here: the runtime requeued a dead run's claims before the first
        # run, and the final flush of a run requeues its own before the next.
        await self._load_counts()
        self.stats.start_run()
        await self._cap_concurrency()
        cfg = self.config
        settings = FetchSettings(
            # Room for the most live tuning may ask: connections open only as requests need
            # them, and the workers bound those.
            concurrency=capped_concurrency(int(BOUNDS["concurrency"][1]), self.parse_workers)[0],
            user_agent=cfg.user_agent,
            request_timeout=cfg.request_timeout,
            max_body_bytes=cfg.max_body_bytes,
            allow_private=self._allow_private,
            secret_headers=self.secret_headers or None,
            secret_origin=cfg.target_url if self.secret_headers else None,
            ca_bundle=cfg.ca_bundle,
            insecure=cfg.insecure,
        )
        # The fetch workers fetch robots.txt too: this process builds no Fetcher (nor loads an
        # HTTP client or the parser) unless it fetches everything itself (parse_workers=0).
        self._page_fetcher, robots_source = self._make_page_fetcher(settings)
        self._robots = RobotsCache(robots_source, cfg.user_agent)
        self._gate = self._make_gate(cfg)
        self._health = HostHealth()
        self._hops = RedirectTargets()
        previous = None if cfg.recrawl_of is None else PreviousContents(self.store, cfg.recrawl_of)
        self._pages = PageProcessor(
            store=self.store,
            session_id=self.session_id,
            config=cfg,
            page_fetcher=self._page_fetcher,
            robots=self._robots,
            gate=self._gate,
            health=self._health,
            hops=self._hops,
            scope=self._scope,
            traps=self._traps,
            resources=self._resources,
            committed_links=self._committed_links,
            note_host=self._note_host,
            our_fault=self._our_fault,
            clock=self.clock,
            rng=self.rng,
            previous=previous,
        )
        self._queue: asyncio.Queue[ClaimedPage] = asyncio.Queue()
        self._workers = 0
        self._worker_tasks = []
        for _ in range(self._concurrency):
            self._spawn_worker()
        committer = asyncio.create_task(self._committer())
        dispatch = Dispatcher(
            store=self.store,
            session_id=self.session_id,
            clock=self.clock,
            queue=self._queue,
            batch=self._batch,
            changed=self._changed,
            concurrency=self._concurrency,
            counts=lambda: self._live.counts,
            in_flight=lambda: self._inflight,
            on_claimed=None if previous is None else previous.load,
        )
        self._dispatch = dispatch
        dispatcher = asyncio.create_task(dispatch.run())
        stop_wait = asyncio.create_task(self._stop_event.wait())
        outcome: CrawlOutcome
        try:
            await asyncio.wait({dispatcher, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if dispatcher.done() and not stop_wait.done():
                exc = dispatcher.exception()
                if exc is not None:
                    outcome = error_outcome(exc)
                else:
                    outcome = CrawlOutcome(Status.COMPLETED, "frontier exhausted")
            else:
                dispatcher.cancel()
                outcome = outcome_for_stop(self._stop_kind, self._stop_reason, self._stop_who)
                await self._drain_in_flight(
                    PAUSE_GRACE_S if self._stop_kind == "pause" else INTERRUPT_GRACE_S
                )
        except BaseException:
            dispatcher.cancel()
            raise
        finally:
            self._dispatch = None
            stop_wait.cancel()
            workers = self._worker_tasks
            for task in workers:
                task.cancel()
            committer.cancel()
            await asyncio.gather(*workers, committer, dispatcher, return_exceptions=True)
            with contextlib.suppress(Exception):  # the store drops what is left when we leave
                await self._gate.aclose()
            if self._fetcher is not None:
                await self._fetcher.aclose()
                self._fetcher = None
            await self._page_fetcher.aclose()
            await self._parse_pool.aclose()
            self.stats.end_run()
        try:
            await self._batch.flush(force=True)
            await self.store.requeue_fetching(self.session_id)
            # The live counters are estimates between batch commits (a redirect target may not
            # fit under max-pages); the figures a session keeps are counted from the store.
            await self._load_counts()
            await self._batch.flush(force=True)
        except Exception as exc:  # disk full, I/O error: the reason goes into the session
            return error_outcome(exc)
        if self._storage_error is not None:
            return error_outcome(self._storage_error)
        if self._fatal is not None:
            return error_outcome(self._fatal)
        if outcome.status is Status.COMPLETED:
            # Retries that came due during the final flush keep the crawl alive, not "done".
            pending = await self.store.page_counts(self.session_id)
            if pending.get(PageStatus.QUEUED, 0):
                return await self._run()
            return await self._judge_completion(pending)
        return outcome

    def _make_page_fetcher(self, settings: FetchSettings) -> tuple[PageFetcher, RobotsSource]:
        """Fetch worker processes (the default), or everything in this process with the parse in
        a thread (`parse_workers=0`: tests and debugging). Never the thread for a real crawl,
        not even for its first pages: a thread cannot be stopped, and lexbor's parse of a
        crafted page can take minutes. Returns it with what fetches robots.txt."""
        rules = BodyRules.from_config(self.config, self._scope)
        self._parse_pool = ParsePool(workers=0, blobs=self.store.blobs)
        if self.parse_workers < 1:
            fetcher = self._fetcher = settings.build()
            local = LocalPageFetcher(fetcher, rules, self.store.blobs, self._parse_pool.process)
            return local, fetcher
        pool = FetchPool(
            workers=self.parse_workers, settings=settings, rules=rules, blobs=self.store.blobs
        )
        pool.start()
        return pool, pool

    def _make_gate(self, cfg: CrawlConfig) -> HostGate:
        """Politeness for the whole crawl: in the store when it serves every worker of the
        session (HostPacing: several workers may crawl it), else in this process (one worker
        per session: the gate in memory costs nothing per request)."""
        if isinstance(self.store, HostPacing):
            return SharedHostGate(
                self.store, self.session_id, cfg.per_host_concurrency, cfg.rate_per_host
            )
        return HostGate(cfg.per_host_concurrency, cfg.rate_per_host)

    async def _judge_completion(self, counts: dict[PageStatus, int]) -> CrawlOutcome:
        try:
            seed = await self.store.seed_page(self.session_id)
        except Exception as exc:
            return error_outcome(exc)
        return judge_completion(seed, counts)

    async def _cap_concurrency(self) -> None:
        """Fewer workers than asked when the descriptor limit could not serve them all: running
        out of descriptors mid-crawl would stop it; lowering the pressure up front does not."""
        capped, limit = capped_concurrency(self.config.concurrency, self.parse_workers)
        noted = self._concurrency < self.config.concurrency  # by an earlier _run of this crawl
        self._concurrency = capped
        if capped < self.config.concurrency and not noted:
            await self._note_host(
                "",
                "limit",
                f"concurrency {self.config.concurrency} lowered to {capped}: the open-files "
                f"limit is {limit} (raise it with `ulimit -n`)",
            )

    async def _load_counts(self) -> None:
        self._live.reload(await self.store.page_counts(self.session_id))
        self._publish_progress()

    async def _drain_in_flight(self, grace: float) -> None:
        """Stop dispatching; let running requests finish for a bounded time; the rest go back."""
        while not self._queue.empty():
            self._queue.get_nowait()  # claimed rows stay `fetching`; requeue_fetching resets them
        deadline = time.monotonic() + grace
        while self._inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    # workers ------------------------------------------------------------------------------
    def _spawn_worker(self) -> None:
        # Counted here, not when the task first runs: a tune right after must see it.
        self._workers += 1
        self._worker_tasks.append(asyncio.create_task(self._worker()))

    async def _worker(self) -> None:
        try:
            await self._work()
        finally:
            self._workers -= 1

    def _surplus(self) -> bool:
        """More workers than the (tuned) concurrency: this one leaves. Checked with no await
        between the test and the leaving, so exactly the surplus leave."""
        return self._workers > self._concurrency

    async def _work(self) -> None:
        while not self._surplus():
            page = await self._queue.get()
            if self._surplus():
                self._queue.put_nowait(page)  # claimed: another worker fetches it
                return
            self._inflight += 1
            try:
                result = await self._pages.process(page)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must fail one page loudly, not stall the crawl
                if is_our_fault(exc):
                    # Our disk, descriptors, memory or data dir: not the page's fault, and every
                    # page after it would fail the same way. Stop resumably (see the module doc).
                    result = self._our_fault(page, exc)
                else:
                    result = permanent(
                        page,
                        PageStatus.FAILED,
                        kind="internal",
                        message=describe_error(exc),
                        now=self.clock(),
                    )
            finally:
                self._inflight -= 1
            result.depth = page.depth  # for the analytics' depth counts (the row keeps its own)
            # A full pending batch (a slow commit) holds the worker: the refetch bound.
            await self._batch.wait_for_room(1 if result.redirect_result is None else 2)
            self._record(result)
            if result.redirect_result is not None:
                self._record(result.redirect_result, claimed=False)

    def _our_fault(self, page: ClaimedPage, exc: BaseException) -> PageResult:
        self._storage_error = self._storage_error or exc
        self.request_stop("interrupt", describe_fault(exc))
        return requeue_untouched(page, at=self.clock())

    async def _note_host(self, host: str, kind: str, text: str) -> None:
        self.stats.record_error(text)
        self._publish_progress()
        try:
            await self.store.add_event(self.session_id, kind, text, who="crawler")
        except Exception as exc:  # the timeline is best effort; the crawl's data is not
            self.stats.record_error(f"could not record {kind}: {describe_error(exc)}")

    async def _is_claimed(self, url: str) -> bool:
        return await self.store.page_status(self.session_id, url) is PageStatus.FETCHING

    # results and batch commits ---------------------------------------------------------------
    def _record(self, result: PageResult, *, claimed: bool = True) -> None:
        self._live.record(result, claimed=claimed)
        self._batch.add(result)
        self._changed.set()

    async def _committer(self) -> None:
        while True:
            await self._batch.wait_due(BATCH_SECONDS)
            try:
                await self._batch.flush()
            except Exception as exc:
                # A batch that cannot commit stops the crawl; its rows stay pending (see
                # Batcher) and get one more try in the final flush.
                if is_our_fault(exc):
                    self._storage_error = self._storage_error or exc
                    self.request_stop("interrupt", describe_fault(exc))
                else:
                    self._fatal = self._fatal or exc
                    self.request_stop("interrupt", describe_error(exc))
                return

    async def _commit(self, batch: list[PageResult]) -> None:
        """One batch commit: results, links and progress in one store transaction."""
        crash_point("before_checkpoint")
        progress = self._publish_progress()
        new = await self.store.checkpoint(
            self.session_id,
            batch,
            progress,
            heartbeat=self.clock(),
            max_pages=self.config.max_pages,
            tally=self._tally,
        )
        crash_point("after_checkpoint")
        if self.on_commit is not None:
            self.on_commit(batch)
        if self.config.max_pages is None:
            self._committed_links.remember(batch)
        await self._hops.committed(batch, self._is_claimed)
        self._live.counts.queued += new
        self._publish_progress()

    def _publish_progress(self) -> Progress:
        return self._live.publish(self._inflight, getattr(self, "_health", None))
