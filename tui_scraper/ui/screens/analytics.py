"""Compare two sessions: their figures side by side, the differences marked.

Opened from the sessions list: `c` marks the highlighted session, `c` on another opens this
screen with the marked one as A. Each difference is marked with a `*` in its own column (so it
reads without colour) and B − A is styled better/worse by the figure's sense (fewer failures
and a lower latency are better).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui_scraper.domain.analytics import AnalyticsReport
from tui_scraper.service.analytics import CompareRow, Comparison, compare

from ..text import human_bytes, safe_content
from ..widgets.analytics import SparkRow

if TYPE_CHECKING:
    from ..host import ScraperHost

__all__ = ["CompareScreen", "difference_text", "mark_for_compare"]


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "B":
        return human_bytes(value)
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return f"{text} {unit}" if unit in ("s", "ms") else text


def difference_text(row: CompareRow) -> Text:
    """B − A with its change in per cent, styled by whether B is better."""
    if not row.differs:
        return Text("=", style="dim")
    delta = row.delta
    if delta is None:
        return Text("≠")
    magnitude = human_bytes(abs(delta)) if row.unit == "B" else _figure(abs(delta), "")
    ratio = row.ratio
    pct = "" if ratio is None else f" ({ratio * 100:+.0f}%)"
    word = {True: "  better", False: "  worse", None: ""}[row.better]
    style = {True: "bold $success", False: "bold $error", None: ""}[row.better]
    return Text(f"{'+' if delta > 0 else '-'}{magnitude}{pct}{word}", style=_rich(style))


def _rich(style: str) -> str:
    # Rich Text takes no theme variables: map ours to the 16-colour names they stand for.
    return style.replace("$success", "green").replace("$error", "red")


def mark_for_compare(screen: Screen[None], session_id: str | None) -> None:
    """The sessions list's `c`: the first press marks, the second (another session) compares."""
    host = cast("ScraperHost", screen.app)
    if session_id is None:
        host.say("No session selected", severity="warning")
        return
    marked = getattr(screen, "_compare_mark", None)
    if marked is None or marked == session_id:
        screen._compare_mark = session_id  # type: ignore[attr-defined]
        host.say(f"Session {session_id[:8]} marked: press c on another session to compare")
        return
    screen._compare_mark = None  # type: ignore[attr-defined]
    screen.app.push_screen(CompareScreen(marked, session_id))


class CompareScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "swap", "Swap A/B", id="compare.swap"),
        Binding("escape", "back", "Back", id="compare.back"),
    ]

    DEFAULT_CSS = """
    CompareScreen #compare-head { height: auto; padding: 0 1; }
    CompareScreen #compare-sparks { height: auto; padding: 0 1; }
    CompareScreen #compare-table { height: 1fr; }
    """

    def __init__(self, a: str, b: str) -> None:
        super().__init__()
        self.a, self.b = a, b
        self.comparison: Comparison | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Content("Loading…"), id="compare-head")
        with Vertical(id="compare-sparks"):
            yield SparkRow("A pages/s", style="$primary", id="compare-spark-a")
            yield SparkRow("B pages/s", style="$accent", id="compare-spark-b")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Compare {self.a[:8]} with {self.b[:8]}"
        table = self.query_one(DataTable)
        table.add_column(Text(""), key="mark", width=1)
        table.add_column(Text("Figure"), key="label", width=12)
        table.add_column(Text("A", justify="right"), key="a", width=11)
        table.add_column(Text("B", justify="right"), key="b", width=11)
        table.add_column(Text("B − A"), key="delta", width=26)
        self._reload()

    def _reload(self) -> None:
        self.run_worker(self._load, group="compare", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]  # WorkType: Coroutine[None, None, T]

    async def _load(self) -> None:
        service = cast("ScraperHost", self.app).service
        a = await service.analytics(self.a)
        b = await service.analytics(self.b)
        self.show(compare(a, b))

    def show(self, comparison: Comparison) -> None:
        self.comparison = comparison
        a, b = comparison.a, comparison.b
        self.query_one("#compare-head", Static).update(
            Content.assemble(
                *_line("A", a),
                "\n",
                *_line("B", b),
                "\n",
                (f"{sum(r.differs for r in comparison.rows)} of {len(comparison.rows)} ", "bold"),
                "figures differ (marked *)",
            )
        )
        self.query_one("#compare-spark-a", SparkRow).set_values(
            [p.pages_per_s for p in a.timeline], f"{a.pages_per_s:.1f}/s"
        )
        self.query_one("#compare-spark-b", SparkRow).set_values(
            [p.pages_per_s for p in b.timeline], f"{b.pages_per_s:.1f}/s"
        )
        table = self.query_one(DataTable)
        table.clear()
        for row in comparison.rows:
            table.add_row(
                Text("*" if row.differs else " ", style="bold"),
                Text(row.label),
                Text(_figure(row.a, row.unit), justify="right"),
                Text(_figure(row.b, row.unit), justify="right"),
                difference_text(row),
            )

    def action_swap(self) -> None:
        self.a, self.b = self.b, self.a
        self.sub_title = f"Compare {self.a[:8]} with {self.b[:8]}"
        if self.comparison is not None:
            self.show(compare(self.comparison.b, self.comparison.a))

    def action_back(self) -> None:
        self.dismiss(None)


def _line(name: str, r: AnalyticsReport) -> list[Content | tuple[str, str] | str]:
    return [
        (f"{name}  {r.session_id[:8]}  ", "bold"),
        (r.status, "bold"),
        "  ",
        safe_content(r.target_url, limit=200),
    ]
