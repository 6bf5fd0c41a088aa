"""The tune dialog of the live screen: `t` only while a background worker's crawl is live, the
form prefilled from the session's config, validated by building a Tuning (its ConfigError shown
at its field), only what changed sent with `service.tune`, escape cancels; the outcome a toast,
a refusal a warning."""

from __future__ import annotations

import pytest
from textual.widgets import Input, TextArea

from tests.engine.site import SiteServer
from tui_scraper.domain import ConfigError, CrawlConfig, Status
from tui_scraper.service import CommandDelivery, Tuning
from tui_scraper.service.local import LocalSessionService, NotRunnable
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.tune import TuneScreen, tuning_from_form

from . import background
from .background import start_in_worker, worker_app
from .conftest import make_app
from .helpers import screen_text, toasts, until
from .scripted import ScriptedService
from .seed import Seeder

data_dir = background.data_dir
site = background.site
local = background.local

LIVE_S = 30.0
CONFIG = CrawlConfig(target_url="http://x/", rate_per_host=2.0, concurrency=8, exclude=("a",))


# --- the form's rules (units) ------------------------------------------------------------------


def test_only_what_changed_is_sent() -> None:
    assert tuning_from_form("5", "8", "a", CONFIG) == Tuning(rate=5.0)
    assert tuning_from_form("2", "4", "a", CONFIG) == Tuning(concurrency=4)
    assert tuning_from_form("2", "8", " a \n\nb/.*\n", CONFIG) == Tuning(exclude=("a", "b/.*"))
    assert tuning_from_form("2", "8", "", CONFIG) == Tuning(exclude=())


@pytest.mark.parametrize(
    ("rate", "concurrency", "exclude", "field"),
    [
        ("fast", "8", "a", "rate"),
        ("0", "8", "a", "rate"),  # below the crawl options' bound
        ("", "8", "a", "rate"),  # a limit can be changed, not removed
        ("2", "1.5", "a", "concurrency"),
        ("2", "0", "a", "concurrency"),
        ("2", "8", "a\n(unclosed", "exclude"),
        ("2", "8", "a", "set"),  # nothing changed
    ],
)
def test_a_bad_field_is_named(rate: str, concurrency: str, exclude: str, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        tuning_from_form(rate, concurrency, exclude, CONFIG)
    assert caught.value.field == field


def test_no_rate_stays_no_rate() -> None:
    unlimited = CrawlConfig(target_url="http://x/", concurrency=8)
    assert tuning_from_form("", "3", "", unlimited) == Tuning(concurrency=3)


# --- on a real worker ------------------------------------------------------------------------


class AnsweringService(LocalSessionService):
    """The real service; `tune` answers as the test says (a unit of the dialog's handling of
    an outcome and of a refusal) and records what it was sent."""

    refuse: bool = False
    sent: list[Tuning]

    async def tune(self, session_ref: str, tuning: Tuning) -> CommandDelivery:
        self.sent.append(tuning)
        if self.refuse:
            raise NotRunnable(f"the worker of {session_ref[:8]} refused: [i]no[/i]")
        return CommandDelivery("channel", "applied: " + tuning.describe())


async def _live_screen(pilot, app, session_id: str) -> ProgressScreen:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: isinstance(app.screen, ProgressScreen), LIVE_S)
    screen = app.screen
    assert isinstance(screen, ProgressScreen)
    await until(pilot, lambda: screen.background is not None and screen._live, LIVE_S)
    return screen


async def _open_dialog(pilot, app) -> TuneScreen:  # type: ignore[no-untyped-def]
    await pilot.press("t")
    await until(pilot, lambda: isinstance(app.screen, TuneScreen))
    dialog = app.screen
    assert isinstance(dialog, TuneScreen)
    await until(pilot, lambda: dialog.config is not None)
    await pilot.pause()
    return dialog


async def test_t_opens_the_form_prefilled_and_sends_what_changed(
    data_dir, site: SiteServer
) -> None:  # type: ignore[no-untyped-def]
    service = await AnsweringService.open(data_dir, who="ui")
    service.sent = []
    session_id, _ = await start_in_worker(
        service, site, rate_per_host=4, concurrency=2, exclude=("/nope/",)
    )
    app = worker_app(service, attach=session_id)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await _live_screen(pilot, app, session_id)
        assert screen.check_action("tune", ()) is True
        dialog = await _open_dialog(pilot, app)
        assert dialog.values() == {"rate": "4", "concurrency": "2", "exclude": "/nope/"}
        # a bad value is shown at its field and nothing is sent
        dialog.query_one("#t-concurrency", Input).value = "0"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert set(dialog.errors()) == {"concurrency"}
        assert "from 1 to 512" in dialog.errors()["concurrency"]
        assert service.sent == [] and app.screen is dialog
        dialog.query_one("#t-concurrency", Input).value = "3"
        dialog.query_one("#t-exclude", TextArea).text = "/nope/\n/private/"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is screen)
        assert service.sent == [Tuning(concurrency=3, exclude=("/nope/", "/private/"))]
        await until(pilot, lambda: f"Tuned {session_id[:8]}" in toasts(app))
        assert "concurrency 3, exclude 2 patterns" in toasts(app)
        assert "applied: concurrency 3" in toasts(app)
        # escape cancels: nothing more is sent
        await _open_dialog(pilot, app)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        assert len(service.sent) == 1


async def test_a_refused_tuning_is_a_warning_and_the_form_stays(data_dir, site: SiteServer) -> None:  # type: ignore[no-untyped-def]
    service = await AnsweringService.open(data_dir, who="ui")
    service.sent = []
    service.refuse = True
    session_id, _ = await start_in_worker(service, site, rate_per_host=4, concurrency=2)
    app = worker_app(service, attach=session_id)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _live_screen(pilot, app, session_id)
        dialog = await _open_dialog(pilot, app)
        dialog.query_one("#t-rate", Input).value = "1.5"
        await pilot.press("enter")  # enter in a field sends too
        await until(pilot, lambda: "refused" in toasts(app))
        assert service.sent == [Tuning(rate=1.5)]
        warnings = [n for n in app._notifications if "refused" in n.message]
        assert len(warnings) == 1 and warnings[0].severity == "warning"
        assert app.screen is dialog and "[i]no[/i]" in screen_text(app)


async def test_the_real_worker_answers_a_tuning(
    local: LocalSessionService, site: SiteServer
) -> None:
    """End to end over the real channel: the worker applies it, and its outcome is the toast."""
    session_id, _ = await start_in_worker(local, site, rate_per_host=4, concurrency=2)
    app = worker_app(local, attach=session_id)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await _live_screen(pilot, app, session_id)
        dialog = await _open_dialog(pilot, app)
        dialog.query_one("#t-rate", Input).value = "8"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: f"Tuned {session_id[:8]}" in toasts(app))
        assert app.screen is screen and "rate 8/s per host" in toasts(app)
        stored = await local.get(session_id)
        assert stored.config.rate_per_host == 8


async def test_t_is_hidden_for_a_crawl_in_this_process(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        record = await seeder.add("http://demo.test/", Status.PENDING)
        await app.resume_and_show(record.id)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        assert screen.check_action("tune", ()) is False  # not in the footer
        await pilot.press("t")
        await pilot.pause()
        assert app.screen is screen
