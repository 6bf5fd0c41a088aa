"""ScraperApp: opens the session service, routes to the first screen, owns crawls and shutdown.

Crawls are owned by the service and watched by the App, never by a screen: a screen's workers
are cancelled when it is popped, and leaving the live progress screen must not stop a crawl.
With `background` (the real app) every crawl runs in a worker process of its own, which
outlives the app: quitting asks whether to keep it crawling, pause it or stop it, and a signal
or a lost terminal ends the app alone.
Screens never import this module: they read through the `ScraperHost` Protocol (ui/host.py)
and ask for every command with a Message (ui/messages.py), handled here in App workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.dom import DOMNode
from textual.notifications import SeverityLevel
from textual.signal import Signal

from tui_scraper.domain import ConfigError, CrawlConfig, ScraperError, Status
from tui_scraper.domain.location import StoreLocation
from tui_scraper.domain.records import SessionRecord
from tui_scraper.paths import resolve_data_dir

from . import messages
from .commands import ScraperCommands
from .screens.confirm import ConfirmScreen
from .screens.detail import SessionDetailScreen
from .screens.export import ExportScreen
from .screens.help import KeyHelpScreen, key_rows
from .screens.new_session import NewSessionScreen
from .screens.progress import ProgressScreen
from .screens.quit import BackgroundSession, QuitChoice, QuitScreen
from .screens.recovery import RecoveryScreen
from .screens.sessions import SessionsScreen
from .settings import Settings, load_settings, save_settings
from .text import display_safe

if TYPE_CHECKING:
    from tui_scraper.exit_guard import ExitGuard
    from tui_scraper.service import SessionService

    from .host import ScraperHost

SIGNAL_EXIT_CODE = 130  # the CLI's exit code for "interrupted by a signal"
# Quit → pause / stop: how long the app waits for its background crawls to leave `running`
# (a final checkpoint takes well under a second; a command by control record up to ~1 s more).
QUIT_WAIT_S = 6.0
QUIT_POLL_S = 0.1
# The reason a quit's stop records, as the in-process quit always has.
QUIT_REASON = "quit while running"


class ScraperApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "tui-scraper"
    COMMANDS = App.COMMANDS | {ScraperCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        # Not in the footer: every main screen shows its own q, and `?` lists this one.
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False, id="app.quit"),
        Binding("ctrl+z", "suspend_process", "Suspend", show=False, id="app.suspend"),
        # Not priority: `?` typed into a text field stays a character there.
        Binding("question_mark,f1", "key_help", "Keys", key_display="?", id="app.help"),
        # Not in the footer (every screen has its own keys there): `?` lists it.
        Binding("w", "schedules", "Schedules", show=False, id="app.schedules"),
    ]

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        service: SessionService | None = None,
        open_service: Callable[[Path], Awaitable[SessionService]] | None = None,
        demo: bool = False,
        sample_hz: float | None = 4.0,
        clock: Callable[[], float] = time.time,
        cursor_blink: bool = True,
        export_dir: Path | None = None,
        new_config: CrawlConfig | None = None,
        resume: str | None = None,
        exit_guard: ExitGuard | None = None,
        new_secrets: dict[str, str] | None = None,
        config_dir: Path | None = None,
        attach: str | None = None,
        background: bool = False,
    ) -> None:
        super().__init__()
        # True: every crawl this app starts runs in a background worker process (run_app);
        # False: in this process, as the Pilot tests drive it.
        self.background = background
        self.new_secrets = new_secrets
        # Settings are read before the first frame so the saved theme is the one first drawn.
        self.config_dir = config_dir
        loaded = load_settings(config_dir)
        self.settings = loaded.settings
        self._settings_problem = loaded.problem
        if self.settings.theme and not os.environ.get("TEXTUAL_THEME"):
            if self.settings.theme in self.available_themes:
                self.theme = self.settings.theme
            else:
                self._settings_problem = f"Saved theme {self.settings.theme!r} is not available"
        self.data_dir = data_dir
        self._service: SessionService | None = service
        # How the service of `data_dir` is opened once the loop runs (the local one unless
        # given: a test's service over the same store, later a remote one).
        self._open_service = open_service or _open_local_service
        self.demo = demo
        self.new_config = new_config
        self.resume = resume
        # A session (full id) running in a background worker: its live screen opens first.
        self.attach = attach
        # None = no timers: tests call `screen.sample()` themselves (deterministic snapshots).
        self.sample_hz = sample_hz
        self.clock = clock
        self.cursor_blink = cursor_blink
        self.export_dir = export_dir or Path.cwd()
        self.sessions_changed: Signal[str] = Signal(self, "sessions-changed")
        self._watched: set[str] = set()
        self._stopping = False
        self._quit_asked = False
        # A quit's pause/stop is waiting for the background crawls to leave `running`.
        self._quitting = False
        self._signals: list[signal.Signals] = []
        # Given by run_app: it owns SIGHUP/SIGTERM and the lost terminal, and bounds the exit
        # even when this loop never runs again. Without one (Pilot tests) the loop's own
        # signal handlers are used.
        self._exit_guard = exit_guard
        self.demo_url: str | None = None
        self.startup_error: str | None = None
        if service is None:
            _prestart_resource_tracker()

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def service(self) -> SessionService:
        if self._service is None:
            raise RuntimeError("the session service is not open yet")
        return self._service

    @property
    def service_ready(self) -> bool:
        return self._service is not None

    def now(self) -> float:
        return self.clock()

    async def on_mount(self) -> None:
        if self._exit_guard is not None:
            self._attach_exit_guard(self._exit_guard)
        else:
            self._install_signal_handlers()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self._settings_problem:
            self.say(self._settings_problem, severity="warning")
        if self._service is None:
            try:
                self._service = await self._open_service(self.data_dir or resolve_data_dir(None))
            except ScraperError as exc:
                self.startup_error = str(exc)
                self.exit(return_code=2, message=Text(display_safe(str(exc))))
                return
        await self.push_screen(SessionsScreen())
        # Interrupted work comes first: shown within a second of start (issue 4).
        if self.demo:
            await self._start_demo()
        elif self.new_config is not None:
            await self._create_from_cli(self.new_config, self.new_secrets)
        elif self.resume is not None:
            await self.resume_and_show(self.resume)
        elif self.attach is not None:
            self.show_progress(self.attach)
        else:
            recoverable = await self.service.recoverable()
            if recoverable:
                await self.push_screen(RecoveryScreen(recoverable))

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        if self._service is not None:
            # close() interrupts what still runs (final checkpoint) and closes the database;
            # an unclosed database thread would keep the process alive.
            await self._service.close()

    def _install_signal_handlers(self) -> None:
        # Textual installs no SIGHUP/SIGTERM handler: without ours a dropped SSH link kills the
        # process with no final checkpoint and the session left `running`.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                continue
            self._signals.append(sig)

    def _attach_exit_guard(self, guard: ExitGuard) -> None:
        loop = asyncio.get_running_loop()

        def request_exit(reason: str) -> None:  # from the guard's thread
            loop.call_soon_threadsafe(self.stop_for_signal, reason)

        def running() -> tuple[StoreLocation | None, list[str]]:  # idem, at a forced exit
            # running_ids() names the crawls of this process only: a forced exit never marks a
            # session a background worker runs (it crawls on without us).
            service = self._service
            if service is None:
                return None, []
            return service.location, service.running_ids()

        guard.attach(request_exit, running)

    def _on_signal(self, sig: signal.Signals) -> None:
        self.stop_for_signal(f"{sig.name} received")

    def stop_for_signal(self, reason: str) -> None:
        """SIGHUP, SIGTERM or a lost terminal: interrupt the crawls of this process (final
        checkpoint), exit 130. Crawls in background workers go on."""
        if self._stopping:
            return
        self._stopping = True
        self.run_worker(
            self._interrupt_and_exit(reason, who="signal", code=SIGNAL_EXIT_CODE),
            group="shutdown",
            exit_on_error=False,
        )

    async def _interrupt_and_exit(self, reason: str, *, who: str, code: int = 0) -> None:
        try:
            if self._service is not None:
                await self._service.interrupt_all(reason, who=who)
        finally:
            if self._exit_guard is not None:
                self._exit_guard.settled()
            self.exit(result=code, return_code=code)

    async def action_quit(self) -> None:
        if self._stopping:
            return
        running = self._service.running_ids() if self._service is not None else []
        if not running and self.background and self._service is not None:
            if self._quit_asked:
                return  # the question is already on screen (or being asked)
            self._quit_asked = True
            workers = await self._sessions_in_workers()
            if workers:
                await self.push_screen(QuitScreen(workers), self._quit_dismissed)
                return
            self._quit_asked = False
        if not running:
            self.exit(result=0, return_code=0)
            return
        if self._quit_asked:
            return  # the question is already on screen
        count = len(running)
        question = Content(
            f"{count} crawl{'s are' if count != 1 else ' is'} running. Quit anyway? "
            "They stop with a final checkpoint as interrupted and can be resumed later."
        )

        def answered(yes: bool | None) -> None:
            self._quit_asked = False
            if yes and not self._stopping:
                self._stopping = True
                self.run_worker(
                    self._interrupt_and_exit("quit while running", who="ui"),
                    group="shutdown",
                    exit_on_error=False,
                )

        self._quit_asked = True
        self.push_screen(ConfirmScreen(question, yes="Quit", no="Stay"), answered)

    async def _sessions_in_workers(self) -> list[BackgroundSession]:
        """The sessions of this data dir that run in a worker process now."""
        try:
            records = await self.service.list_sessions()
        except ScraperError as exc:
            self.say(str(exc), severity="error")
            return []
        running = [r for r in records if r.status is Status.RUNNING]

        def held() -> list[SessionRecord]:  # lease files: read off the loop
            return [r for r in running if self.service.worker_of(r.id) is not None]

        try:
            in_workers = await asyncio.to_thread(held)
        except OSError as exc:  # the locks dir unreadable: quit must still work
            self.say(f"Cannot tell which crawls run in the background: {exc}", severity="error")
            return []
        return [BackgroundSession(r.id, r.target_url) for r in in_workers]

    def _quit_dismissed(self, _result: None) -> None:
        self._quit_asked = False  # escape: stay

    @on(QuitScreen.Chosen)
    def _quit_chosen(self, message: QuitScreen.Chosen) -> None:
        if message.choice == "keep":
            self._exit_keeping(message.screen.sessions)
            return
        self._quitting = True
        self.run_worker(
            self._stop_then_exit(message.screen, message.choice),
            group="shutdown",
            exit_on_error=False,
        )

    def _exit_keeping(self, sessions: list[BackgroundSession]) -> None:
        ids = ", ".join(s.short_id for s in sessions)
        self.exit(
            result=0,
            return_code=0,
            message=Text(f"Crawling on in the background: {ids} (tui-scraper sessions)"),
        )

    async def _stop_then_exit(self, screen: QuitScreen, choice: QuitChoice) -> None:
        """Pause or stop every listed crawl, wait (bounded) until each left `running`, exit."""
        sessions = screen.sessions
        count = len(sessions)
        verb = "Pausing" if choice == "pause" else "Stopping"
        screen.waiting(
            f"{verb} {count} crawl{'s' if count != 1 else ''}: each saves a final checkpoint; "
            f"the app exits once {'they have' if count != 1 else 'it has'} stopped "
            f"(at most {QUIT_WAIT_S:g} s)."
        )
        command = "pause" if choice == "pause" else "interrupt"
        reason = QUIT_REASON if choice == "stop" else None

        async def ask(session_id: str) -> None:
            # ScraperError: it stopped by itself meanwhile, nothing to wait for.
            with contextlib.suppress(ScraperError):
                await self.service.command_worker(session_id, command, reason=reason)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + QUIT_WAIT_S
        pending = [s.session_id for s in sessions]
        try:
            async with asyncio.timeout(QUIT_WAIT_S):
                await asyncio.gather(*(ask(session_id) for session_id in pending))
            while pending and loop.time() < deadline:
                pending = [sid for sid in pending if await self._still_running(sid)]
                if pending:
                    await asyncio.sleep(QUIT_POLL_S)
        except TimeoutError:
            pass
        still = ", ".join(sid[:8] for sid in pending)
        message = (
            Text(f"Still stopping in the background after {QUIT_WAIT_S:g} s: {still}")
            if pending
            else None
        )
        self.exit(result=0, return_code=0, message=message)

    async def _still_running(self, session_id: str) -> bool:
        try:
            record = await self.service.get(session_id)
        except ScraperError:
            return False
        return record.status is Status.RUNNING

    def action_help_quit(self) -> None:
        # Textual binds ctrl+c to a toast saying "press ctrl+q"; here it is the quit key, with
        # the same confirmation while crawls run. (In a text field ctrl+c still copies.)
        self.run_worker(self.action_quit(), group="quit", exit_on_error=False)

    def action_schedules(self) -> None:
        """The schedules and the queue of the background service (ui/screens/schedules.py)."""
        from .screens.schedules import SchedulesScreen

        if not isinstance(self.screen, SchedulesScreen) and self.service_ready:
            self.push_screen(SchedulesScreen())

    def action_key_help(self) -> None:
        screen = self.screen
        if isinstance(screen, KeyHelpScreen):
            return
        rows = key_rows(screen, lambda action: disabled_reason(screen, action))
        self.push_screen(KeyHelpScreen(screen.sub_title or screen.title or self.title, rows))

    async def run_action(
        self,
        action: str | Any,
        default_namespace: DOMNode | None = None,
        namespaces: Any = None,
    ) -> bool:
        """Run an action; a *disabled* one (dimmed in the footer) says why instead of nothing."""
        if await super().run_action(action, default_namespace, namespaces):
            return True
        target, name, params = self._parse_action(action, default_namespace or self, namespaces)
        if target.check_action(name, params) is None:  # None = shown but disabled
            reason = disabled_reason(target, name)
            if reason:
                self.say(reason, severity="warning")
                return True
        return False

    # --- settings -------------------------------------------------------------------------

    def _theme_changed(self, theme: object) -> None:
        name = getattr(theme, "name", None)
        if not isinstance(name, str) or name == self.settings.theme:
            return
        self.settings = Settings(theme=name)
        settings = self.settings
        # A small file, but still disk I/O: off the event loop.
        self.run_worker(
            lambda: self._save_settings(settings),
            thread=True,
            group="settings",
            exclusive=True,
            exit_on_error=False,
        )

    def _save_settings(self, settings: Settings) -> None:
        try:
            save_settings(settings, self.config_dir)
        except OSError as exc:
            self.call_from_thread(self.say, f"Could not save settings: {exc}", severity="warning")

    # --- screenshots ----------------------------------------------------------------------

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """Save an SVG of the screen and say where.

        Textual's default target is ~/Downloads, which most servers do not have (the save then
        fails); here it is the directory given, else the service's data directory (the one
        `resolve_data_dir` chose), else — before the service is open — the current one.
        """
        from textual._files import generate_datetime_filename

        name = filename or generate_datetime_filename(self.title, ".svg", time_format)
        svg = self.export_screenshot()  # rendering needs the loop; choosing and writing do not
        if path:
            folder = Path(path).expanduser()
        else:
            folder = self._service.data_dir if self._service is not None else Path.cwd()

        def write() -> None:
            target = folder / name
            try:
                target.write_text(svg, encoding="utf-8")
            except OSError as exc:
                self.call_from_thread(self.say, f"Screenshot failed: {exc}", severity="error")
                return
            self.call_from_thread(self.say, f"Screenshot saved to {target}")

        self.run_worker(write, thread=True, group="screenshot", exit_on_error=False)
        return name

    def say(self, message: str, *, severity: SeverityLevel = "information") -> None:
        """A toast that may quote a website or a path: sanitised and never parsed as markup."""
        self.notify(display_safe(message), severity=severity, markup=False)

    # --- crawls ---------------------------------------------------------------------------

    async def start_session(self, session_ref: str) -> str | None:
        """Start or resume a session (id or unique prefix); returns its full id, None on error.

        The crawl runs as a task of the service (or, with `background`, in a worker process
        of its own) and is watched by the App, never by a screen.
        """
        if self.background:
            return await self._start_in_worker(session_ref)
        try:
            session_id = await self.service.start(session_ref)
        except ScraperError as exc:
            self.say(str(exc), severity="error")
            return None
        self.watch_crawl(session_id)
        self.sessions_changed.publish(session_id)
        return session_id

    async def _start_in_worker(self, session_ref: str) -> str | None:
        """Start the session in a background worker (setsid, log in the data dir) and follow
        it; a session a worker already runs is only followed."""
        try:
            session_id = (await self.service.get(session_ref)).id
            worker = await asyncio.to_thread(self.service.worker_of, session_id)
            if worker is None:
                await self.service.start_detached(session_id)
        except (ScraperError, OSError) as exc:
            self.say(f"Could not start the crawl: {exc}", severity="error")
            return None
        self.follow_worker(session_id)
        self.sessions_changed.publish(session_id)
        return session_id

    def follow_worker(self, session_id: str) -> None:
        """Follow a session's worker over its channel, for the toast at its end."""
        if session_id in self._watched:
            return
        self._watched.add(session_id)
        self.run_worker(
            self._follow_worker(session_id),
            group=f"watch-{session_id}",
            exit_on_error=False,
            description=f"follow worker {session_id[:8]}",
        )

    async def _follow_worker(self, session_id: str) -> None:
        status: Status | None = None
        try:
            async for _snapshot in self.service.watch_worker(session_id):
                pass  # the live screen draws them; the App only needs the end
            status = (await self.service.get(session_id)).status
        except Exception as exc:  # the channel or the store failed: tell, keep the app
            self.say(f"Lost track of the crawl {session_id[:8]}: {exc}", severity="warning")
        finally:
            self._watched.discard(session_id)
        self.sessions_changed.publish(session_id)
        if status is not None and status is not Status.RUNNING and not self._exiting():
            severity: SeverityLevel = "error" if status == Status.FAILED else "information"
            self.say(f"Session {session_id[:8]} {status.value}", severity=severity)

    def _exiting(self) -> bool:
        return self._stopping or self._quitting

    def watch_crawl(self, session_id: str) -> None:
        if session_id in self._watched:
            return
        self._watched.add(session_id)
        self.run_worker(
            self._watch(session_id),
            group=f"watch-{session_id}",
            exit_on_error=False,
            description=f"watch crawl {session_id[:8]}",
        )

    async def _watch(self, session_id: str) -> None:
        try:
            status = await self.service.wait(session_id)
        except Exception as exc:  # the crawl task itself failed: tell the user, keep the app
            self.say(f"Crawl error: {exc}", severity="error")
            status = None
        finally:
            self._watched.discard(session_id)
        self.sessions_changed.publish(session_id)
        if status is not None and not self._stopping:
            severity: SeverityLevel = "error" if status == Status.FAILED else "information"
            self.say(f"Session {session_id[:8]} {status.value}", severity=severity)

    async def create_and_start(
        self, config: CrawlConfig, secret_headers: dict[str, str] | None = None
    ) -> str:
        """Create a session (raises ConfigError) and start it at once, showing live progress."""
        record = await self.service.create(config, secret_headers=secret_headers or None)
        self.sessions_changed.publish(record.id)
        await self.resume_and_show(record.id)
        return record.id

    # --- navigation -----------------------------------------------------------------------

    def show_progress(self, session_id: str) -> None:
        self.push_screen(ProgressScreen(session_id, sample_hz=self.sample_hz))

    def show_detail(self, session_id: str) -> None:
        self.push_screen(SessionDetailScreen(session_id))

    def show_new_session(self) -> None:
        self.push_screen(NewSessionScreen())

    async def resume_and_show(self, session_ref: str) -> None:
        session_id = await self.start_session(session_ref)
        if session_id is not None:
            self.show_progress(session_id)

    def show_recovery(self) -> None:
        async def load() -> None:
            records = await self.service.recoverable()
            if not records:
                self.say("Nothing to recover")
                return
            await self.push_screen(RecoveryScreen(records))

        self.run_worker(load(), group="recovery", exclusive=True, exit_on_error=False)

    def ask_export(self, session_id: str, target_url: str) -> None:
        def done(result: tuple[str, Path, int] | None) -> None:
            if result is not None:
                _, path, rows = result
                self.say(f"Exported {rows} rows to {path}")

        async def export(
            fmt: str, path: Path, progress: Callable[[int, int], None] | None = None
        ) -> int:
            return await self.service.export(session_id, fmt, path, progress=progress)

        self.push_screen(ExportScreen(session_id, target_url, self.export_dir, export), done)

    async def dismiss_session(self, session_id: str) -> bool:
        try:
            await self.service.dismiss(session_id)
        except ScraperError as exc:
            self.say(str(exc), severity="error")
            return False
        self.sessions_changed.publish(session_id)
        return True

    # --- what screens ask (Messages: screens never call the App) --------------------------

    @on(messages.ShowProgress)
    def _show_progress_asked(self, message: messages.ShowProgress) -> None:
        self.show_progress(message.session_id)

    @on(messages.ShowDetail)
    def _show_detail_asked(self, message: messages.ShowDetail) -> None:
        self.show_detail(message.session_id)

    @on(messages.ShowNewSession)
    def _new_session_asked(self) -> None:
        self.show_new_session()

    @on(messages.ExportSession)
    def _export_asked(self, message: messages.ExportSession) -> None:
        self.ask_export(message.session_id, message.target_url)

    @on(messages.ResumeSession)
    def _resume_asked(self, message: messages.ResumeSession) -> None:
        # An App worker: the asking screen may be popped before the crawl starts.
        self.run_worker(self._resume(message), group="command", exit_on_error=False)

    async def _resume(self, message: messages.ResumeSession) -> None:
        session_id = await self.start_session(message.session_id)
        if session_id is None:
            return
        message.origin.post_message(messages.SessionResumed(session_id))
        if message.replace and self.screen is message.origin:
            await self.pop_screen()
        if message.show:
            self.show_progress(session_id)

    @on(messages.DismissSession)
    def _dismiss_asked(self, message: messages.DismissSession) -> None:
        async def dismiss() -> None:
            if await self.dismiss_session(message.session_id):
                message.origin.post_message(messages.SessionDismissed(message.session_id))

        self.run_worker(dismiss(), group="command", exit_on_error=False)

    @on(messages.NewSessionSubmitted)
    def _new_session_submitted(self, message: messages.NewSessionSubmitted) -> None:
        # An App worker: the form is popped before progress shows, and a screen's own worker
        # would be cancelled by that pop.
        self.run_worker(self._create_from_form(message), group="create", exit_on_error=False)

    async def _create_from_form(self, message: messages.NewSessionSubmitted) -> None:
        form = message.origin
        try:
            record = await self.service.create(
                message.config, secret_headers=message.secret_headers or None
            )
        except ScraperError as exc:
            if not isinstance(exc, ConfigError):
                self.say(str(exc), severity="error")
            form.post_message(messages.NewSessionRefused(exc))
            return
        self.sessions_changed.publish(record.id)
        if self.screen is form:
            await self.pop_screen()
        await self.resume_and_show(record.id)

    # --- demo -----------------------------------------------------------------------------

    async def _start_demo(self) -> None:
        from tui_scraper.demo.session import demo_config, free_port

        # Paced so a person can quit while it runs and resume it; whichever process runs the
        # session (this one, or its background worker) serves the site on the port its
        # config records.
        config = demo_config(free_port(), paced=True)
        self.demo_url = config.target_url
        await self._create_from_cli(config)

    async def _create_from_cli(
        self, config: CrawlConfig, secret_headers: dict[str, str] | None = None
    ) -> None:
        try:
            await self.create_and_start(config, secret_headers)
        except ScraperError as exc:
            self.say(str(exc), severity="error")


async def _open_local_service(where: StoreLocation | Path) -> SessionService:
    from tui_scraper.service.local import LocalSessionService

    return await LocalSessionService.open(where)


def _prestart_resource_tracker() -> None:
    """Start multiprocessing's resource tracker while sys.stderr is still the real one.

    While the app runs, Textual replaces sys.stderr with a capture object whose fileno() is -1;
    the tracker, started lazily with the first worker process, passes stderr's fd to its child
    and fails with "bad value(s) in fds_to_keep" — the engine's fetch workers then never start.
    """
    if sys.platform == "win32":
        return
    from multiprocessing import resource_tracker

    # No usable stderr at all: nothing to do here, the engine reports its own error.
    with contextlib.suppress(OSError, ValueError):
        resource_tracker.ensure_running()


def _terminal_fd() -> int | None:
    """The terminal the app draws on (Textual reads stdin), watched for a hangup."""
    for stream in (sys.__stdin__, sys.__stderr__):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            if stream is not None and stream.isatty():
                return stream.fileno()
    return None


def run_app(
    where: StoreLocation | Path,
    *,
    demo: bool = False,
    new_config: CrawlConfig | None = None,
    resume: str | None = None,
    new_secrets: dict[str, str] | None = None,
    attach: str | None = None,
) -> int:
    """Entry point the CLI calls; returns the process exit code.

    `demo` serves the demo site and crawls it; `new_config` creates and starts that session
    (`tui-scraper crawl URL` without --headless), with `new_secrets` (--header/--cookie) kept
    out of the database as for a headless crawl; `resume` resumes a session by id prefix;
    `attach` opens the live screen of a session running in a background worker (its full
    id), the sessions list beneath.
    """
    from tui_scraper.exit_guard import ExitGuard

    location = where if isinstance(where, StoreLocation) else StoreLocation(Path(where))

    async def open_service(_data_dir: Path) -> SessionService:
        # The location the command line chose, PostgreSQL URL included, not just its data dir.
        return await _open_local_service(location)

    # Before the app exists: a hangup during start-up must end the process too, and within the
    # same bound, whatever the event loop is doing by then.
    guard = ExitGuard(tty_fd=_terminal_fd())
    guard.install()
    app = ScraperApp(
        location.data_dir,
        open_service=open_service,
        demo=demo,
        new_config=new_config,
        resume=resume,
        new_secrets=new_secrets,
        exit_guard=guard,
        attach=attach,
        # Crawls outlive the terminal: each runs in a worker process of its own.
        background=True,
    )
    app.run()
    if app.startup_error:
        return 2
    return int(app.return_code or 0)


def disabled_reason(node: object, action: str) -> str | None:
    """Why `node` disables `action` right now, if it says (screens define `disabled_reason`)."""
    explain = getattr(node, "disabled_reason", None)
    if not callable(explain):
        return None
    reason = explain(action)
    return reason if isinstance(reason, str) and reason else None


def _is_a_host(app: ScraperApp) -> ScraperHost:
    """mypy checks here that the App gives the screens everything ScraperHost promises."""
    return app
