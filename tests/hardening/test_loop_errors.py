"""T48: asyncio's own error reports under resource exhaustion are single lines, never tracebacks
(the end-to-end case is `test_our_faults.py::test_out_of_memory_is_never_final`)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tui_scraper.run_async import run_async


def test_loop_errors_are_one_line_each_and_repeats_are_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        for _ in range(50):
            loop.call_exception_handler(
                {"message": "Fatal read error on socket transport", "exception": MemoryError()}
            )
        loop.call_exception_handler({"message": "evil \x1b]52;c;AAAA\x07 title"})
        return 7

    assert run_async(main()) == 7
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0] == "tui-scraper: Fatal read error on socket transport (MemoryError)"
    assert len(lines) == 2 and "\x1b" not in lines[1] and "\x07" not in lines[1], lines


def test_a_shutdown_thread_that_cannot_start_keeps_the_result(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def main() -> int:
        # The executor has a thread, so closing the loop must start one to shut it down.
        await asyncio.get_running_loop().run_in_executor(None, lambda: None)

        def no_thread(self: threading.Thread) -> None:
            raise RuntimeError("can't start new thread")

        monkeypatch.setattr(threading.Thread, "start", no_thread)
        return 3

    assert run_async(main()) == 3
    assert "Traceback" not in capsys.readouterr().err
