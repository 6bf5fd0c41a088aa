"""The Analytics tab's drawing: a session's report as sparklines, bars and a host table.

Plain text cells (block characters, no colour needed to read them) styled with theme variables,
so it reads at 80×24, in 16 colours and with NO_COLOR. Hosts and error reasons come from
websites: they are shown through safe_content / safe_text, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui_scraper.domain.analytics import INTERVAL_S, AnalyticsReport

from ..text import human_bytes, human_duration, safe_content, safe_text

if TYPE_CHECKING:
    from ..host import ScraperHost

# While the session runs, the figures are read again this often (each read is one small query
# of the rows the checkpoints keep; a checkpoint lands every ~0.5 s).
LIVE_REFRESH_S = 2.0

__all__ = ["AnalyticsView", "SparkRow", "bar", "spark"]

_SPARK = "▁▂▃▄▅▆▇█"
_LABEL = 10  # the label column of every row


def spark(values: Sequence[float | None], width: int) -> str:
    """`values` across `width` cells, scaled to the largest: with more values than cells, each
    cell is the mean of the values it covers; with fewer, each value spans several cells (a
    short crawl fills the line too). `None`, an interval without any, is a gap."""
    n = len(values)
    if width <= 0 or not n:
        return ""
    cells: list[float | None] = []
    if n <= width:
        cells = [values[j * n // width] for j in range(width)]
    else:
        for j in range(width):
            lo = j * n // width
            hi = max(lo + 1, (j + 1) * n // width)
            chunk = [v for v in values[lo:hi] if v is not None]
            cells.append(sum(chunk) / len(chunk) if chunk else None)
    top = max((c for c in cells if c is not None), default=0.0)
    if top <= 0:
        return "".join(" " if c is None else _SPARK[0] for c in cells)
    return "".join(" " if c is None else _SPARK[min(7, int(c / top * 7.999))] for c in cells)


def bar(n: int, top: int, width: int) -> str:
    """A horizontal bar of `n` out of `top` in `width` cells (at least one cell for n > 0)."""
    if top <= 0 or n <= 0 or width <= 0:
        return ""
    return "█" * max(1, round(n / top * width))


def _rate(value: float, unit: str) -> str:
    if unit == "B":
        return f"{human_bytes(value)}/s"
    return f"{value:.1f}/s"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:g} ms"


class SparkRow(Widget):
    """One line: a label, a sparkline as wide as the line allows, a figure at the end."""

    DEFAULT_CSS = """
    SparkRow { height: 1; width: 1fr; }
    """

    def __init__(self, label: str, *, style: str = "$accent", id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.style = style
        self.values: list[float | None] = []
        self.figure = ""

    def set_values(self, values: Sequence[float | None], figure: str) -> None:
        self.values = list(values)
        self.figure = figure
        self.refresh()

    def render(self) -> Content:
        width = self.size.width - _LABEL - len(self.figure) - 2
        line = spark(self.values, max(0, width))
        return Content.assemble(
            (f"{self.label:<{_LABEL}}", "bold"),
            (line, self.style),
            " " * max(1, width - len(line) + 1),
            self.figure,
        )


class AnalyticsView(VerticalScroll):
    """Everything of one session's report; `reload` reads it from the service off the event
    loop's critical path (a worker), `show` redraws it (a few lines and a small table). While
    the session runs it reloads itself every LIVE_REFRESH_S when shown."""

    DEFAULT_CSS = """
    AnalyticsView { height: 1fr; padding: 0 1; }
    AnalyticsView > .analytics-text { height: auto; width: 1fr; }
    AnalyticsView > #analytics-hosts { height: auto; max-height: 12; margin-top: 1; }
    """

    def __init__(self, session_id: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session_id = session_id
        self.report: AnalyticsReport | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content("Loading…"), id="analytics-head", classes="analytics-text")
        yield SparkRow("Pages/s", style="$success", id="spark-pages")
        yield SparkRow("Bytes/s", style="$accent", id="spark-bytes")
        yield SparkRow("p50", style="$primary", id="spark-p50")
        yield SparkRow("p95", style="$warning", id="spark-p95")
        yield SparkRow("p99", style="$error", id="spark-p99")
        yield Static(Content(""), id="analytics-status", classes="analytics-text")
        yield Static(Content(""), id="analytics-spread", classes="analytics-text")
        yield Static(Content(""), id="analytics-errors", classes="analytics-text")
        yield DataTable(id="analytics-hosts", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        hosts = self.query_one("#analytics-hosts", DataTable)
        # Six columns in 80 cells: the host and its state give up a little for the queue.
        hosts.add_column(Text("Host"), key="host", width=24)
        hosts.add_column(Text("Pages", justify="right"), key="pages", width=7)
        hosts.add_column(Text("Errors", justify="right"), key="errors", width=6)
        hosts.add_column(Text("Bytes", justify="right"), key="bytes", width=9)
        hosts.add_column(Text("Queue", justify="right"), key="queued", width=6)
        hosts.add_column(Text("State"), key="state", width=14)
        # No timer where the app samples by hand (tests, snapshots): nothing moves on its own.
        if cast("ScraperHost", self.app).sample_hz is not None:
            self.set_interval(LIVE_REFRESH_S, self._tick)

    def _tick(self) -> None:
        if self.report is not None and self.report.running and self.is_on_screen:
            self.reload()

    @property
    def is_on_screen(self) -> bool:
        return self.display and self.region.area > 0

    def reload(self) -> None:
        self.run_worker(self._load, group="analytics", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

    async def _load(self) -> None:
        report = await cast("ScraperHost", self.app).service.analytics(self.session_id)
        self.show(report)

    def show(self, report: AnalyticsReport) -> None:
        self.report = report
        with self.app.batch_update():
            self._show(report)

    def _show(self, r: AnalyticsReport) -> None:
        o = r.outcomes
        head: list[Content | tuple[str, str] | str] = [
            (f"{'Pages':<{_LABEL}}", "bold"),
            f"{r.pages:,}  ",
            (f"done {o.get('done', 0):,}", "$success"),
            "  ",
            (f"failed {o.get('failed', 0):,}", "$error"),
            f"  skipped {o.get('skipped', 0):,}\n",
            (f"{'Overall':<{_LABEL}}", "bold"),
            f"{r.pages_per_s:.1f} pages/s over {human_duration(r.duration_s)}  "
            f"{human_bytes(r.bytes)}  retries {r.retries:,}",
        ]
        if r.running:
            eta = "–" if r.eta_s is None else human_duration(r.eta_s)
            head += ["\n", (f"{'Queue':<{_LABEL}}", "bold"), f"{r.queued:,} waiting  ETA {eta}"]
        if r.timeline:
            head += ["\n", ("Over time", "bold"), (f" per {INTERVAL_S} s, oldest to newest", "dim")]
        else:
            head += ["\n", ("No figures yet: none of this session's pages was counted.", "dim")]
        self.query_one("#analytics-head", Static).update(Content.assemble(*head))
        points = r.timeline
        last = points[-1] if points else None
        peak = max((p.pages_per_s for p in points), default=0.0)
        self.query_one("#spark-pages", SparkRow).set_values(
            [p.pages_per_s for p in points],
            f"last {_rate(last.pages_per_s if last else 0, '')}  peak {peak:.1f}/s",
        )
        self.query_one("#spark-bytes", SparkRow).set_values(
            [p.bytes_per_s for p in points], f"last {_rate(last.bytes_per_s if last else 0, 'B')}"
        )
        for name in ("p50", "p95", "p99"):
            series = [getattr(p, f"{name}_ms") for p in points]
            self.query_one(f"#spark-{name}", SparkRow).set_values(
                series, f"overall {_ms(r.latency_ms.get(name))}"
            )
        self.query_one("#analytics-status", Static).update(self._status(r))
        self.query_one("#analytics-spread", Static).update(self._spread(r))
        self.query_one("#analytics-errors", Static).update(self._errors(r))
        hosts = self.query_one("#analytics-hosts", DataTable)
        hosts.clear()
        for h in r.hosts[:50]:
            hosts.add_row(
                safe_text(h.host),
                Text(f"{h.pages:,}", justify="right"),
                Text(f"{h.errors:,}", justify="right", style="bold" if h.errors else ""),
                Text(human_bytes(h.bytes), justify="right"),
                Text(f"{h.queued:,}", justify="right"),
                safe_text(h.state),
            )

    @staticmethod
    def _status(r: AnalyticsReport) -> Content:
        classes = r.status_classes
        top = max(classes.values(), default=0)
        styles = {"2xx": "$success", "3xx": "$primary", "4xx": "$warning", "5xx": "$error"}
        parts: list[Content | tuple[str, str] | str] = [("\nResponses by class\n", "bold")]
        names = {"errors": "no resp."}
        for name, n in classes.items():
            parts += [
                f"  {names.get(name, name):<8}",
                f"{n:>8,} ",
                (bar(n, top, 40), styles.get(name, "$error")),
                "\n",
            ]
        codes = "  ".join(f"{code}: {n:,}" for code, n in r.status_codes.items()) or "–"
        parts += [("Codes     ", "bold"), codes]
        return Content.assemble(*parts)

    @staticmethod
    def _spread(r: AnalyticsReport) -> Content:
        def row(
            label: str, counts: dict[str, int], suffix: str
        ) -> list[Content | str | tuple[str, str]]:
            shown = list(counts.items())[:12]
            text = "  ".join(f"{k}{suffix}: {n:,}" for k, n in shown) or "–"
            if len(counts) > len(shown):
                text += f"  (+{len(counts) - len(shown)})"
            return [(f"{label:<{_LABEL}}", "bold"), text, "\n"]

        parts: list[Content | tuple[str, str] | str] = ["\n"]
        parts += row("Depth", r.depth, "")
        parts += row("Retries", r.retry_histogram, "×")
        parts.pop()  # no newline after the last line
        return Content.assemble(*parts)

    @staticmethod
    def _errors(r: AnalyticsReport) -> Content:
        if not r.top_errors:
            return Content.assemble("\n", ("Top errors", "bold"), "  none")
        parts: list[Content | tuple[str, str] | str] = ["\n", ("Top errors\n", "bold")]
        for reason, n in r.top_errors[:5]:
            parts += [f"  {n:>8,}  ", safe_content(reason, limit=200), "\n"]
        parts.pop()
        return Content.assemble(*parts)
