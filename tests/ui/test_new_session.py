"""The new-session form: validation beside each field, submit, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, Checkbox, Input, Label, TextArea

from tui_scraper.domain import ConfigError, CrawlConfig, DatabaseError, SessionRecord, Status
from tui_scraper.ui.screens.confirm import ConfirmScreen
from tui_scraper.ui.screens.new_session import (
    NewSessionScreen,
    build_config,
    check_field,
    normalize_url,
)
from tui_scraper.ui.screens.progress import ProgressScreen
from tui_scraper.ui.screens.sessions import SessionsScreen

from .conftest import make_app
from .helpers import screen_text, toasts, until
from .scripted import ScriptedService
from .seed import FixedClock, Seeder


async def _form(pilot, app) -> NewSessionScreen:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()
    assert isinstance(app.screen, NewSessionScreen)
    return app.screen


def _set(screen: NewSessionScreen, field: str, value: str) -> None:
    widget = screen.query_one(f"#f-{field}")
    if isinstance(widget, TextArea):
        widget.text = value
    else:
        assert isinstance(widget, Input)
        widget.value = value


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("url", "ftp://x", "only http and https"),
        ("url", "http://", "has no host"),
        ("max_pages", "0", "at least 1"),
        ("concurrency", "9999", "at most 512"),
        ("rate", "fast", "number of requests per second"),
        ("rate", "-1", "positive number"),
        ("include", "([", "bad regular expression"),
        ("extract", "no equals sign", "NAME=CSS"),
        ("download", "pdf", "is not a type like"),
    ],
)
def test_check_field_uses_the_config_rules(field: str, value: str, message: str) -> None:
    assert message in (check_field(field, value) or "")


def test_check_field_accepts_good_values_and_blank_optionals() -> None:
    for field, value in [
        ("url", "https://example.org/"),
        ("url", ""),  # required is checked on submit, not while typing
        ("max_pages", ""),
        ("max_depth", "0"),
        ("rate", "2.5"),
        ("include", "^/docs/\n/blog/"),
        ("extract", "heading=h1\nlinks=a@href"),
        ("download", "application/pdf, image/*"),
    ]:
        assert check_field(field, value) is None, (field, value)


def test_build_config_from_every_field() -> None:
    config = build_config(
        {
            "url": " https://example.org/ ",
            "max_pages": "50",
            "max_depth": "3",
            "concurrency": "8",
            "per_host": "2",
            "rate": "1.5",
            "scope": "domain",
            "include": "^https://example.org/docs",
            "exclude": "\\.zip$\n/tmp/",
            "robots": False,
            "extract": "heading=h1",
            "download": "application/pdf",
        }
    )
    assert config.target_url == "https://example.org/"
    assert (config.max_pages, config.max_depth, config.concurrency) == (50, 3, 8)
    assert config.per_host_concurrency == 2
    assert config.rate_per_host == 1.5
    assert config.scope == "domain"
    assert config.exclude == ("\\.zip$", "/tmp/")
    assert config.respect_robots is False
    assert config.extract[0].name == "heading"
    assert config.download == ("application/pdf",)
    with pytest.raises(ConfigError):
        build_config({"url": ""})


async def test_empty_submit_shows_the_message_and_creates_nothing(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _form(pilot, app)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen.errors() == {"url": "a start URL is required"}
        assert app.focused is screen.query_one("#f-url")
        assert not [c for c in service.calls if c[0] == "create"]


async def test_messages_appear_as_you_type_and_clear(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _form(pilot, app)
        await pilot.press(*"ftp://x")
        await pilot.pause()
        assert "only http and https" in screen.errors()["url"]
        assert screen.query_one("#row-url").has_class("-invalid")
        _set(screen, "url", "http://ok.test/")
        await pilot.pause()
        assert "url" not in screen.errors()
        _set(screen, "include", "([")
        await pilot.pause()
        assert "bad regular expression" in screen.errors()["include"]


async def test_invalid_fields_block_submit(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _form(pilot, app)
        _set(screen, "url", "http://ok.test/")
        _set(screen, "max_depth", "-2")
        _set(screen, "download", "nonsense")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert set(screen.errors()) == {"max_depth", "download"}
        assert not [c for c in service.calls if c[0] == "create"]
        assert isinstance(app.screen, NewSessionScreen)


async def test_manager_config_error_lands_at_its_field(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _form(pilot, app)
        _set(screen, "url", "http://ok.test/")
        _set(screen, "extract", "heading=!!bad")  # the engine refuses this selector
        await pilot.pause()
        screen.query_one("#start", Button).focus()  # the Start button, by keyboard
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert "invalid CSS selector" in screen.errors()["extract"]
        assert isinstance(app.screen, NewSessionScreen)
        assert await service.list_sessions() == []


async def test_valid_form_creates_starts_and_shows_progress(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _form(pilot, app)
        await pilot.press(*"http://ok.test/")
        await pilot.press("tab")
        await pilot.press(*"25")
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ProgressScreen)
        created = [c[1] for c in service.calls if c[0] == "create"]
        assert len(created) == 1
        assert created[0].target_url == "http://ok.test/"  # type: ignore[attr-defined]
        assert created[0].max_pages == 25  # type: ignore[attr-defined]
        (record,) = await service.list_sessions()
        assert record.status is Status.RUNNING
        # escape from live progress goes home, not back to the form
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        assert screen not in app.screen_stack


async def test_enter_moves_to_the_next_field_and_escape_cancels(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _form(pilot, app)
        await pilot.press("enter")
        assert app.focused is screen.query_one("#f-max_pages")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        assert not service.calls


async def test_a_decimal_in_an_integer_field_is_an_error_not_15(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _form(pilot, app)
        await pilot.press(*"http://ok.test/", "tab", *"1.5")
        await pilot.pause()
        assert screen.query_one("#f-max_pages", Input).value == "1.5"
        assert "whole number" in screen.errors()["max_pages"]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not [c for c in service.calls if c[0] == "create"]


def test_a_bare_host_becomes_an_https_url() -> None:
    assert normalize_url("example.org") == "https://example.org/"
    assert normalize_url(" example.org/docs ") == "https://example.org/docs"
    assert normalize_url("http://example.org") == "http://example.org/"
    assert normalize_url("localhost:8080?q=1") == "https://localhost:8080?q=1"
    assert normalize_url("ftp://example.org") == "ftp://example.org"  # left to be refused
    assert check_field("url", "ftp://example.org/") is not None


async def test_example_org_is_crawled_as_https_example_org(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        await _form(pilot, app)
        await pilot.press(*"example.org", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen))
        (config,) = [c[1] for c in service.calls if c[0] == "create"]
        assert config.target_url == "https://example.org/"  # type: ignore[attr-defined]


async def test_every_cli_option_and_masked_secrets_reach_create(
    service: ScriptedService, seeder: Seeder
) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _form(pilot, app)
        _set(screen, "url", "http://ok.test/")
        _set(screen, "retries", "5")
        _set(screen, "timeout", "2.5")
        _set(screen, "max_body", "4096")
        _set(screen, "user_agent", "probe/1.0")
        screen.query_one("#f-private", Checkbox).value = True
        _set(screen, "headers", "Authorization: Bearer T0PSECRET | X-Api-Key: k3y")
        _set(screen, "cookies", "sid=C00KIE; theme=dark")
        headers = screen.query_one("#f-headers", Input)
        assert headers.password and screen.query_one("#f-cookies", Input).password
        headers.focus()
        await pilot.pause()
        assert "T0PSECRET" not in screen_text(app) and "C00KIE" not in screen_text(app)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen))
    (config,) = [c[1] for c in service.calls if c[0] == "create"]
    assert config.retries == 5  # type: ignore[attr-defined]
    assert config.request_timeout == 2.5  # type: ignore[attr-defined]
    assert config.max_body_bytes == 4096  # type: ignore[attr-defined]
    assert config.user_agent == "probe/1.0"  # type: ignore[attr-defined]
    assert config.allow_private is True  # type: ignore[attr-defined]
    assert "T0PSECRET" not in config.to_json()  # type: ignore[attr-defined]
    (secrets,) = [c[1] for c in service.calls if c[0] == "secrets"]
    assert secrets == {
        "Authorization": "Bearer T0PSECRET",
        "X-Api-Key": "k3y",
        "Cookie": "sid=C00KIE; theme=dark",
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("retries", "1.5", "whole number"),
        ("timeout", "0", "from 0.1 to 3600"),
        ("timeout", "soon", "number of seconds"),
        ("max_body", "0", "at least 1"),
        ("user_agent", "a\x07b", "one line"),
        ("headers", "no colon here", "NAME: VALUE"),
        ("cookies", "novalue", "NAME=VALUE"),
    ],
)
def test_the_new_fields_are_checked(field: str, value: str, message: str) -> None:
    assert message in (check_field(field, value) or "")


async def test_escape_on_a_filled_form_asks_first(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test() as pilot:
        screen = await _form(pilot, app)
        await pilot.press(*"http://typed.test/")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # keep editing: nothing lost
        await until(pilot, lambda: app.screen is screen)
        assert screen.query_one("#f-url", Input).value == "http://typed.test/"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))


async def test_a_long_message_wraps_at_80_columns(service: ScriptedService, seeder: Seeder) -> None:
    app = make_app(service)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _form(pilot, app)
        _set(screen, "include", "(" + "x" * 70 + "END")
        await pilot.pause()
        label = screen.query_one("#err-include", Label)
        assert "missing ), unterminated subpattern" in screen.errors()["include"]
        assert label.size.height >= 2
        assert label.region.right <= 80
        assert "subpattern" in screen_text(app)  # the end of the message is on screen


class _FullDisk(ScriptedService):
    """The real service, except that storing a new session fails as on a full disk."""

    async def create(
        self, config: CrawlConfig, *, secret_headers: dict[str, str] | None = None
    ) -> SessionRecord:
        self.calls.append(("create", config))
        raise DatabaseError("database or disk is full")


async def test_a_refused_create_is_said_and_the_form_can_be_sent_again(tmp_path: Path) -> None:
    full = await _FullDisk.open_at(tmp_path / "full", FixedClock())
    app = make_app(full)
    async with app.run_test(notifications=True) as pilot:
        screen = await _form(pilot, app)
        _set(screen, "url", "http://ok.test/")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "disk is full" in toasts(app))
        await until(pilot, lambda: not screen.submitting)  # the answer reached the form
        assert app.screen is screen and await full.list_sessions() == []
        await pilot.press("ctrl+s")  # not stuck in "submitting": a second try is sent
        await until(pilot, lambda: len([c for c in full.calls if c[0] == "create"]) == 2)
