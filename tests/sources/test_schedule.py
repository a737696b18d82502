"""Polling schedules: intervals as people write them, and which sources are due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rag.errors import BadInput
from rag.sources import Source, due, format_every, next_due, parse_every

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def feed(host: str, every_m: int = 30, polled_m_ago: int | None = None) -> Source:
    """A source polled every ``every_m`` minutes, last ``polled_m_ago`` minutes ago (None: never)."""
    last = None if polled_m_ago is None else NOW - timedelta(minutes=polled_m_ago)
    return Source(f"https://{host}/feed", every=timedelta(minutes=every_m), last_polled=last)


@pytest.mark.parametrize(
    ("text", "every"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        (" 1h30m ", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("2H", timedelta(hours=2)),
    ],
)
def test_parse_every(text: str, every: timedelta) -> None:
    assert parse_every(text) == every
    assert parse_every(format_every(every)) == every


@pytest.mark.parametrize("junk", ["", "30", "m", "half an hour", "30 minutes", "-5m", "1w", "5m and 3s"])
def test_unreadable_intervals_say_how_to_write_one(junk: str) -> None:
    with pytest.raises(BadInput, match=r"write a number and a unit, s, m, h or d \(for example 90s"):
        parse_every(junk)


@pytest.mark.parametrize("short", ["0m", "10s", "59s"])
def test_intervals_under_a_minute_are_refused(short: str) -> None:
    with pytest.raises(BadInput, match=r"too short: poll at most every 1m"):
        parse_every(short)


def test_format_every() -> None:
    spelled = [format_every(timedelta(seconds=s)) for s in (90, 1800, 5400, 86400)]
    assert spelled == ["1m30s", "30m", "1h30m", "1d"]


def test_due_sources_never_polled_first_then_the_longest_overdue() -> None:
    fresh = feed("a.example", every_m=60, polled_m_ago=10)
    overdue = feed("b.example", polled_m_ago=120)
    just_due = feed("c.example", polled_m_ago=30)
    new = feed("d.example")

    assert [s.url for s in due([fresh, overdue, just_due, new], NOW)] == [new.url, overdue.url, just_due.url]
    assert due([fresh], NOW) == []


def test_next_due_tells_a_loop_how_long_to_sleep() -> None:
    fresh = feed("a.example", every_m=60, polled_m_ago=10)

    assert next_due([fresh], NOW) == NOW + timedelta(minutes=50)
    assert next_due([fresh, feed("d.example")], NOW) == NOW
    assert next_due([], NOW) is None


def test_a_poll_records_its_time_and_validators() -> None:
    source = Source("https://a.example/feed", name="A", every=timedelta(minutes=30))
    polled = source.polled(NOW, etag='"v2"', last_modified="Tue, 05 Mar 2024 11:59:00 GMT")

    assert (polled.last_polled, polled.etag, polled.name) == (NOW, '"v2"', "A")
    assert due([polled], NOW + timedelta(minutes=29)) == []
    assert due([polled], NOW + timedelta(minutes=30)) == [polled]
