"""Uploads are checked before they are written: a file the ingest could not read is refused
whole, and one an older version let through is cleared at the next start."""

from __future__ import annotations

import pytest

from rag.engine import Engine
from rag.errors import UnreadableFile
from rag.uploads import _unique, check_upload, sanitize_filename

BAD = {
    "cut.json": b'{"title": "cut short", "body": ',
    "empty.json": b"[]",
    "untitled.json": b'[{"title": "no body here"}]',
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_file_without_articles_is_refused_by_name(name: str) -> None:
    with pytest.raises(UnreadableFile, match=f"'{name}'"):
        check_upload(name, BAD[name], 10_000)


def test_a_readable_file_passes_under_its_safe_name() -> None:
    assert check_upload("../a_b.json", b'{"title": "T", "body": "Some text."}', 10_000) == "a_b.json"


def test_an_unreadable_pending_upload_is_cleared_at_start(seeded: Engine) -> None:
    """A server killed after saving such a file, or an index written before uploads were
    checked: the file would otherwise be retried, and reported by `rag doctor`, forever."""
    seeded.uploads.mkdir(parents=True, exist_ok=True)
    left = seeded.uploads / "cut.json"
    left.write_bytes(BAD["cut.json"])
    seeded._pending(left)
    report = seeded.recover()
    assert report is not None and [s.path for s in report.skipped] == [str(left)]
    assert not left.exists() and seeded.store.file_hash(str(left)) is None
    assert seeded.recover() is None  # nothing left to do
    assert not [f for f in seeded.doctor() if "upload" in f.problem]


def test_different_names_never_share_a_file() -> None:
    names = ["中国新闻.txt", "俄罗斯.txt", "a b.txt", "a_b.txt", "a?b.txt"]
    safe = [sanitize_filename(n) for n in names]
    assert len(set(safe)) == len(names)
    assert all(n.isascii() and "/" not in n for n in safe)
    assert sanitize_filename("../x/a b.txt") == sanitize_filename("a b.txt")  # the same name: one file
    assert sanitize_filename("Report.PDF") == "Report.pdf"
    assert _unique(["a.txt", "a.txt", "a-2.txt"]) == ["a.txt", "a-2.txt", "a-2-2.txt"]
