"""One page, from the claim to its result: fetch, classify, parse or download, redirect hops.

`PageProcessor.process` turns a claimed row into the `PageResult` the crawl commits; it never
raises for the page's own faults (they are results), and reports the host events it meets
(outages, recoveries, trap guards) through `note_host`. It holds no batching, dispatch or stop
logic: those are the `Crawler`'s.
"""

from __future__ import annotations

import errno
import random
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from ..domain.config import CrawlConfig
from ..domain.records import ClaimedPage, DiscoveredLink, DownloadRecord, PageResult
from ..domain.status import PageStatus
from ..ports import EngineStore
from .classify import (
    error_info,
    permanent,
    requeue_untouched,
    retry_or_fail,
)
from .crashpoints import crash_point
from .faults import is_resource_exhaustion
from .fetch_pool import WorkerLost
from .fetch_types import FetchError, is_transient_status, parse_retry_after
from .known_links import CommittedLinks
from .page_fetch import BodyRules, FetchedPage, PageFetcher, PageRequest
from .page_types import ParseAbandoned, ParseTimeout, mark_truncated
from .politeness import HostGate, HostHealth
from .recrawl import PreviousContents
from .redirects import RedirectTargets
from .robots import RobotsCache
from .traps import TrapGuard
from .urls import Scope, canonicalize

__all__ = ["PageProcessor"]

NoteHost = Callable[[str, str, str], Awaitable[None]]
OurFault = Callable[[ClaimedPage, BaseException], PageResult]


class PageProcessor:
    def __init__(
        self,
        *,
        store: EngineStore,
        session_id: str,
        config: CrawlConfig,
        page_fetcher: PageFetcher,
        robots: RobotsCache,
        gate: HostGate,
        health: HostHealth,
        hops: RedirectTargets,
        scope: Scope,
        traps: TrapGuard,
        resources: set[int],
        committed_links: CommittedLinks,
        note_host: NoteHost,
        our_fault: OurFault,
        clock: Callable[[], float],
        rng: random.Random,
        previous: PreviousContents | None = None,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.config = config
        self.clock = clock
        self.rng = rng
        self._page_fetcher = page_fetcher
        self._robots = robots
        self._gate = gate
        self._health = health
        self._hops = hops
        self._scope = scope
        self._traps = traps
        self._note_host = note_host
        self._our_fault = our_fault
        # Resources (<img src>, …) are downloads, never pages: hashes of their URLs found this
        # crawl (shared with the Crawler, which keeps it across runs). (A resumed run has
        # forgotten them; such a row is then fetched like any page, and an image is still stored
        # as a download.)
        self._resources = resources
        self._committed_links = committed_links
        self._delays_set: set[str] = set()
        self._previous = previous  # a recrawl's earlier pages, looked up per claimed batch

    def retune(self, config: CrawlConfig, scope: Scope) -> None:
        """The crawl's config and scope changed while it runs (live tuning): pages claimed from
        now on, and the links found on them, follow the new ones."""
        self.config = config
        self._scope = scope
        self._page_fetcher.retune(BodyRules.from_config(config, scope))

    async def process(self, page: ClaimedPage) -> PageResult:
        cfg = self.config
        host = urlsplit(page.url).netloc
        now = self.clock()
        # Taken first, whatever happens to the page: one that goes back to the queue is looked
        # up again when it is claimed again.
        previous = None if self._previous is None else self._previous.take(page.url)
        if self._excluded(page):
            return self._skip_excluded(page)
        adopted = await self._hops.adopt(page)
        if adopted is not None:
            return adopted  # a redirect fetched this URL meanwhile: its result is this row's
        if self._health.is_down(host, now):
            return self._wait_for_host(page, host, now)
        if cfg.respect_robots:
            try:
                verdict = await self._robots.verdict(page.url)
            except WorkerLost:
                # The fetch worker fetching robots.txt was lost (the pool closed, or it was
                # killed for another page's sake): nothing was learnt, the page goes back.
                return requeue_untouched(page, at=self.clock())
            if not verdict.allowed and verdict.temporary:
                # robots.txt could not be read (5xx, unreachable): RFC 9309 says crawl nothing
                # there for now, so the page waits and is retried like a transient failure.
                # A host that cannot be reached at all is that (a refused connection is a
                # connect error), not a robots.txt problem.
                kind, message = _robots_failure(verdict.reason)
                return retry_or_fail(
                    page,
                    kind=kind,
                    message=message,
                    now=now,
                    max_retries=cfg.retries,
                    rng=self.rng,
                )
            if not verdict.allowed:
                return permanent(
                    page,
                    PageStatus.SKIPPED,
                    kind="robots",
                    message="disallowed by robots.txt",
                    now=now,
                )
            if host not in self._delays_set:
                self._delays_set.add(host)
                delay = self._robots.crawl_delay(page.url)
                if delay:
                    self._gate.set_delay(host, delay)
        if not self._health.may_dispatch(host, self.clock()):
            return self._wait_for_host(page, host, self.clock())
        target: PageResult | None = None
        resource = bool(self._resources) and hash(page.url) in self._resources
        try:
            try:
                async with self._gate.slot(host):
                    if self._excluded(page):  # the patterns changed while it waited for a slot
                        return self._skip_excluded(page)
                    fetched = await self._page_fetcher.fetch(
                        PageRequest(page.url, page.depth, resource, previous),
                        lambda url: self._check_hop(page.id, url),
                    )
            except FetchError as exc:
                return await self._fetch_failed(page, host, exc)
            except WorkerLost:
                # Its fetch worker was lost for another page's sake: this one did nothing wrong.
                return requeue_untouched(page, at=self.clock())
            except ParseAbandoned as exc:  # its fetch worker was killed over this very page
                return self._abandoned(page, exc, None, None)
            if self._health.record_success(host):
                await self._note_host(host, "recovery", f"{host} answers again; crawling resumes")
            # Timed where it was fetched, from the request to the last byte: the server's
            # latency, not the queue's or the parse's.
            result = await self._handle_response(page, fetched, fetched.response.elapsed_ms)
            target = result.redirect_result
            _keep_heads(result, fetched)
            return result
        finally:
            self._hops.finish(page.id, target)

    def _excluded(self, page: ClaimedPage) -> bool:
        """Queued before an exclude pattern that matches it was added (live tuning), or claimed
        by a resume of a tuned session. The seed is the crawl itself: never skipped."""
        scope = self._scope
        return page.parent_id is not None and bool(scope.exclude) and scope.excluded(page.url)

    def _skip_excluded(self, page: ClaimedPage) -> PageResult:
        """Skipped as any excluded URL is, never fetched."""
        return permanent(
            page,
            PageStatus.SKIPPED,
            kind="excluded",
            message="excluded by pattern",
            now=self.clock(),
        )

    def _wait_for_host(self, page: ClaimedPage, host: str, now: float) -> PageResult:
        """The outage is the host's, not the page's: back to the queue, no attempt charged."""
        due = self._health.next_probe_at(host)
        return requeue_untouched(page, at=max(due or 0.0, now + 0.5))

    async def _check_hop(self, page_id: int, url: str) -> str | None:
        """Every redirect hop obeys the robots.txt of its own origin, like a link would.

        A hop to a page the frontier already holds, in any state, is not followed: a done or
        fetching row would be fetched a second time under another name (wget's /d → /d/
        refetch), and a queued one too, once the dispatcher claims it. A target no row holds
        yet is reserved until its result commits, so a link or a second redirect to it waits.
        """
        if self.config.respect_robots:
            verdict = await self._robots.verdict(url)
            if not verdict.allowed:
                if verdict.temporary:
                    reason = f"redirect target's {verdict.reason or 'robots.txt unavailable'}"
                    raise FetchError("robots_unavailable", reason, transient=True)
                raise FetchError(
                    "robots", f"redirect to {url}: disallowed by robots.txt", transient=False
                )
        target = canonicalize(url)
        if target is None:
            return None
        # Reserved before the store is asked: a row inserted and claimed during that read
        # then waits for this fetch instead of making a second one (`finish` releases it).
        if not self._hops.reserve(target, page_id):
            return f"redirected to {target}, already being fetched"
        status = await self.store.page_status(self.session_id, target)
        if status is not None:
            return f"redirected to {target}, already {status.value}"
        return None

    async def _admit_links(
        self,
        page: ClaimedPage,
        links: list[tuple[str, int]],
        resources: list[tuple[str, int]],
    ) -> list[DiscoveredLink]:
        """The page's links and resources that pass the trap guard; a guard that trips says so
        once. Resources are remembered as such: their rows are fetched as downloads only."""
        guard = self._traps
        known = self._resources
        if known:
            for url, _depth in links:
                known.discard(hash(url))  # an <a> link to it elsewhere makes it a page
        if resources:
            known.update(hash(url) for url, _depth in resources)
            links = links + resources
        # The frontier holds the links this run committed already (see known_links); the trap
        # guard admitted each of them then, and would again without counting it.
        links = self._committed_links.unknown(links)
        if not guard.enabled:
            return [DiscoveredLink(url, depth, page.id) for url, depth in links]
        kept = [DiscoveredLink(url, depth, page.id) for url, depth in links if guard.admit(url)]
        for text in guard.new_saturations():
            host = urlsplit(page.url).netloc
            await self._note_host(host, "trap", f"trap guard: {text}; such links are not followed")
        return kept

    async def _fetch_failed(self, page: ClaimedPage, host: str, exc: FetchError) -> PageResult:
        now = self.clock()
        if is_resource_exhaustion(exc):
            # EMFILE/ENOMEM while connecting: our limit, not the host's outage nor the page's.
            return self._our_fault(page, OSError(errno.EMFILE, str(exc)))
        if exc.kind in ("connect", "timeout"):
            if self._health.record_failure(host, now):
                await self._note_host(
                    host, "outage", f"{host}: {self._health.describe(host, now)} ({exc})"
                )
            if self._health.is_down(host, now):
                return self._wait_for_host(page, host, now)
        elif self._health.record_success(host):
            # Any answer but silence means the host is up again (it may still be a bad answer).
            await self._note_host(host, "recovery", f"{host} answers again; crawling resumes")
        if exc.transient:
            return retry_or_fail(
                page,
                kind=exc.kind,
                message=str(exc),
                now=now,
                max_retries=self.config.retries,
                retry_after=exc.retry_after,
                rng=self.rng,
            )
        status = (
            PageStatus.SKIPPED
            if exc.kind
            in ("redirect", "redirect_refused", "scheme_refused", "address_refused", "robots")
            else PageStatus.FAILED
        )
        return permanent(page, status, kind=exc.kind, message=str(exc), now=now)

    async def _handle_response(
        self,
        page: ClaimedPage,
        fetched: FetchedPage,
        elapsed_ms: float,
        final: str | None = None,
    ) -> PageResult:
        now = self.clock()
        response = fetched.response
        code = response.status_code
        ctype = response.content_type
        if final is None and response.redirects:
            return await self._store_redirected(page, fetched, elapsed_ms)
        if is_transient_status(code):
            retry_after = parse_retry_after(response.headers.get("retry-after"), now)
            return retry_or_fail(
                page,
                kind="http",
                message=f"HTTP {code}",
                now=now,
                max_retries=self.config.retries,
                retry_after=retry_after,
                http_status=code,
                rng=self.rng,
            )
        if code >= 400:
            return permanent(
                page,
                PageStatus.FAILED,
                kind="http",
                message=f"HTTP {code}",
                now=now,
                http_status=code,
                content_type=ctype,
            )
        base = PageResult(
            page_id=page.id,
            url=page.url,
            status=PageStatus.DONE,
            attempts=page.attempts + 1,
            http_status=code,
            content_type=ctype,
            fetched_at=now,
            elapsed_ms=elapsed_ms,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
        if not fetched.has_body:
            base.status = PageStatus.SKIPPED
            base.error = error_info("content_type", f"not stored: {ctype or 'unknown type'}")
            return base
        base.size = fetched.size
        if fetched.abandoned is not None:
            return self._abandoned(page, fetched.abandoned, code, ctype)
        processed = fetched.processed
        if processed is not None:
            crash_point("after_blob_write")
            base.encoding = processed.encoding
            base.title = processed.title
            base.extracted = mark_truncated(processed, fetched.parsed_bytes)
            base.content_hash = processed.content_hash
            base.storage_path = processed.storage_path
            base.links = await self._admit_links(page, processed.links, processed.resources)
            return base
        stored = fetched.download
        assert stored is not None
        base.download = DownloadRecord(
            url=page.url,
            storage_path=stored.storage_path,
            mime_type=ctype or "application/octet-stream",
            size=fetched.size,
            sha256=stored.sha256,
            referer_page_id=page.parent_id,
        )
        base.content_hash = stored.sha256
        base.storage_path = stored.storage_path
        return base

    def _abandoned(
        self, page: ClaimedPage, exc: ParseAbandoned, code: int | None, ctype: str | None
    ) -> PageResult:
        """A page whose parse timed out or crashed its worker: failed for good."""
        timeout = isinstance(exc, ParseTimeout)
        return permanent(
            page,
            PageStatus.FAILED,
            kind="parse_timeout" if timeout else "parse_crashed",
            message=str(exc) or ("parse took too long" if timeout else "parse crashed"),
            now=self.clock(),
            http_status=code,
            content_type=ctype,
        )

    async def _store_redirected(
        self, page: ClaimedPage, fetched: FetchedPage, elapsed_ms: float
    ) -> PageResult:
        now = self.clock()
        response = fetched.response
        final = canonicalize(response.final_url) or page.url
        if final != page.url:
            # Stored under its own name, and the name that redirected to it is recorded as a
            # redirect: a link to either spelling elsewhere is then never fetched again.
            source = permanent(
                page,
                PageStatus.SKIPPED,
                kind="redirect",
                message=f"redirected to {final}",
                now=now,
            )
            source.final_url = final
            target_page = ClaimedPage(
                id=page.id, url=final, depth=page.depth, attempts=0, parent_id=page.id
            )
            target = await self._handle_response(target_page, fetched, elapsed_ms, final)
            target.page_id = None
            target.depth = page.depth
            target.parent_id = page.id
            source.redirect_result = target
            return source
        return await self._handle_response(page, fetched, elapsed_ms, page.url)


def _keep_heads(result: PageResult, fetched: FetchedPage) -> None:
    """The exchange's heads go with the row they describe (a WARC export writes them): a
    redirected page's row keeps the first redirect's, its target's row the final answer's."""
    response = fetched.response
    final = (response.request_head, response.response_head)
    if result.redirect_result is not None:
        result.request_head, result.response_head = response.first_hop or (None, None)
        result.redirect_result.request_head, result.redirect_result.response_head = final
    else:
        result.request_head, result.response_head = final


_ROBOTS_UNREACHABLE = re.compile(r"^robots\.txt unreachable \((connect|timeout)\): (.+)$", re.S)


def _robots_failure(reason: str | None) -> tuple[str, str]:
    """(error kind, message) for a page held back because robots.txt could not be read."""
    match = _ROBOTS_UNREACHABLE.match(reason or "")
    if match is not None:
        return match.group(1), match.group(2)
    return "robots_unavailable", reason or "robots.txt"
