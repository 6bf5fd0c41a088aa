"""The admission budget on its own: a token bucket on a clock the test moves."""

from __future__ import annotations

import pytest

from tui_scraper.runtime.channel.admission import AdmissionBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_admits_the_burst_then_waits_for_tokens() -> None:
    clock = Clock()
    budget = AdmissionBudget(per_second=10.0, burst=3, clock=clock)
    assert budget.available() == 3
    assert [budget.take() for _ in range(4)] == [True, True, True, False]
    assert budget.available() == 0
    assert budget.wait_s() == pytest.approx(0.1)
    clock.now += 0.05
    assert budget.wait_s() == pytest.approx(0.05)
    assert budget.take() is False
    clock.now += 0.05
    assert budget.take() is True
    assert budget.take() is False


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst() -> None:
    clock = Clock()
    budget = AdmissionBudget(per_second=20.0, burst=4, clock=clock)
    while budget.take():
        pass
    clock.now += 0.125  # 2.5 tokens
    assert budget.available() == 2
    clock.now += 3600
    assert budget.available() == 4
    assert budget.wait_s() == 0.0


def test_over_any_stretch_admissions_stay_within_burst_plus_rate_times_time() -> None:
    clock = Clock()
    budget = AdmissionBudget(per_second=50.0, burst=8, clock=clock)
    admitted = 0
    for _ in range(10_000):  # a client knocking every millisecond for ten seconds
        admitted += budget.take()
        clock.now += 0.001
    assert 8 + 50 * 10 - 1 <= admitted <= 8 + 50 * 10


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 4), (-1.0, 4), (10.0, 0)])
def test_a_budget_that_admits_nothing_is_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        AdmissionBudget(per_second=rate, burst=burst, clock=Clock())
