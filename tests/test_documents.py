"""Loading files into articles: scraped pages, JSON records, HTML, PDF and bad input."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from rag.documents import load_bytes
from rag.errors import UnreadableFile, UnsupportedFile
from tests.conftest import MULTIHOP, SEED


def _ws(text: str) -> str:
    return " ".join(text.split())


def test_seed_page_becomes_one_article_per_story() -> None:
    articles = load_bytes(SEED, SEED.read_bytes())
    main, *teasers = articles
    assert main.title.startswith("China is providing satellite intelligence")
    assert main.source == "Business Insider"
    assert main.published_at == datetime(2024, 4, 9, 13, 15)
    assert main.text.startswith("The US has warned its allies")  # outlet prefix removed
    assert "Starlink" in main.text
    # Page crumbs and the teasers are not part of the China story.
    for crumb in ("In World", "Leave a review", "9 April 2024", "Zelensky", "Moldova", "Paris"):
        assert crumb not in main.text
    assert len(teasers) == 4
    assert any("Moldova" in t.text and "Transdniestria" in t.text for t in teasers)
    assert all("Leave a review" not in t.text for t in teasers)
    # Every story's text appears verbatim in the file (modulo whitespace).
    raw = _ws(SEED.read_text())
    assert all(_ws(a.text) in raw for a in articles)
    assert len({a.id for a in articles}) == 5


def test_ids_are_stable_across_loads() -> None:
    first = load_bytes(SEED, SEED.read_bytes())
    again = load_bytes(SEED, SEED.read_bytes())
    assert [a.id for a in first] == [a.id for a in again]
    assert [a.content_hash for a in first] == [a.content_hash for a in again]


@pytest.mark.skipif(not MULTIHOP.exists(), reason="shared MultiHop-RAG data not present")
def test_multihop_corpus_loads_609_articles_with_metadata() -> None:
    path = MULTIHOP / "corpus.json"
    articles = load_bytes(path, path.read_bytes())
    assert len(articles) == 609
    assert len({a.id for a in articles}) == 609
    first = articles[0]
    record = json.loads(path.read_text())[0]
    assert first.title == record["title"]
    assert first.source == record["source"] == "Mashable"
    assert first.url == record["url"]
    assert first.category == record["category"]
    assert first.published_at == datetime(2023, 11, 27, 8, 45, 59)


def test_jsonl_records_with_text_field(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    rows = [
        {"text": "Alpha beta gamma.", "title": "A", "source": "Wire", "published_at": "2023-10-05"},
        {"body": "Delta epsilon.", "url": "https://example.com/d"},
        {"title": "no body here"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    articles = load_bytes(path, path.read_bytes())
    assert [a.text for a in articles] == ["Alpha beta gamma.", "Delta epsilon."]
    assert articles[0].source == "Wire" and articles[0].published_at == datetime(2023, 10, 5)
    assert articles[1].url == "https://example.com/d"


def test_html_main_text_without_boilerplate(tmp_path: Path) -> None:
    body = " ".join(["The council approved the new bridge over the river on Tuesday."] * 8)
    html = f"""<html><head><title>Bridge approved</title></head><body>
    <nav><a href="/">Home</a> <a href="/news">News</a> Subscribe now</nav>
    <article><h1>Bridge approved</h1><p>{body}</p>
    <p>Construction starts next spring, officials said.</p></article>
    <footer>Copyright 2024 Example News. All rights reserved.</footer></body></html>"""
    path = tmp_path / "bridge.html"
    path.write_text(html)
    (article,) = load_bytes(path, path.read_bytes())
    assert "council approved the new bridge" in article.text
    assert "Construction starts next spring" in article.text
    assert "Subscribe now" not in article.text and "All rights reserved" not in article.text


@pytest.mark.parametrize(
    ("head", "published"),
    [
        ("", None),  # a year in the text or the footer is no publication date
        (
            '<meta property="article:published_time" content="2024-03-06T08:00:00">',
            date(2024, 3, 6),
        ),
    ],
)
def test_an_html_date_comes_from_its_markup(tmp_path: Path, head: str, published: date | None) -> None:
    body = "The county approved a wind farm of twelve turbines. Construction starts in 2025, it said. " * 4
    path = tmp_path / "wind.html"
    path.write_text(
        f"<html><head><title>Wind farm approved</title>{head}</head><body><article><p>{body}</p>"
        "</article><footer>© 2023 Example News</footer></body></html>"
    )
    (article,) = load_bytes(path, path.read_bytes())
    assert (article.published_at and article.published_at.date()) == published


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 72 720 Td (Harbour expansion approved by the port board.) Tj ET")
    page[NameObject("/Contents")] = writer._add_object(stream)
    path = tmp_path / "report.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    (article,) = load_bytes(path, path.read_bytes())
    assert "Harbour expansion approved" in article.text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"  \n", "empty"),
        ("binary.txt", b"\x00\x01\x02abc", "binary"),
        ("latin1.txt", "Caf\u00e9 news".encode("latin-1"), "UTF-8"),
        ("broken.json", b'{"body": "x",', "malformed JSON"),
        ("nobody.json", b'[{"title": "t"}]', "body"),
        ("broken.pdf", b"%PDF-1.4 garbage", "PDF"),
    ],
)
def test_bad_files_are_skipped_with_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableFile, match=reason):
        load_bytes(path, data)


def test_unsupported_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sheet.xlsx"
    with pytest.raises(UnsupportedFile, match="Unsupported file type"):
        load_bytes(path, b"PK..")


def test_a_pdf_with_too_many_pages_is_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PDF bomb (thousands of pages) is refused before it holds an ingest."""
    import io

    from pypdf import PdfWriter

    from rag import documents

    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    monkeypatch.setattr(documents, "MAX_PDF_PAGES", 2)
    with pytest.raises(UnreadableFile, match="3 pages; the limit is 2"):
        load_bytes(Path("big.pdf"), buffer.getvalue())
