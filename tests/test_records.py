"""Structured exports of news datasets (JSON, JSON Lines, CSV, TSV) load with their outlets and dates."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest

from rag.documents import load_bytes
from rag.errors import UnreadableFile


def _load(tmp_path: Path, name: str, data: str):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(data, encoding="utf-8")
    return load_bytes(path, path.read_bytes())


def test_a_newsapi_export_keeps_outlet_author_and_date(tmp_path: Path) -> None:
    export = {
        "status": "ok",
        "articles": [
            {
                "source": {"id": "bbc-news", "name": "BBC News"},
                "author": "Jane Roe",
                "title": "Flood barrier opens",
                "url": "https://example.org/flood",
                "publishedAt": "2020-03-04T09:30:00Z",
                "content": "The flood barrier opened on Tuesday after two years of work.",
            }
        ],
    }
    [article] = _load(tmp_path, "newsapi.json", json.dumps(export))
    assert article.source == "BBC News"
    assert article.author == "Jane Roe"
    assert article.published_at == datetime(2020, 3, 4, 9, 30)
    assert article.text.startswith("The flood barrier opened")
    assert article.url == "https://example.org/flood"


def test_a_csv_with_its_own_column_names(tmp_path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Headline", "Publication", "Date", "Authors", "Article"])
    long_body = "The council voted, 7 to 2, to close the harbour road. " * 3000  # past csv's default limit
    writer.writerow(["Road closed", "Harbor News", "2020-05-01", "A. Smith", long_body])
    writer.writerow(["Second, with a comma", "Harbor News", "1 June 2020", "", 'He said "no".\nThen left.'])
    articles = _load(tmp_path, "export.csv", buffer.getvalue())
    assert [a.title for a in articles] == ["Road closed", "Second, with a comma"]
    assert articles[0].source == "Harbor News" and articles[0].author == "A. Smith"
    assert articles[0].published_at == datetime(2020, 5, 1)
    assert len(articles[0].text) > 131072
    assert articles[1].text == 'He said "no".\nThen left.'
    assert articles[1].published_at == datetime(2020, 6, 1)


def test_a_tsv_and_epoch_timestamps(tmp_path: Path) -> None:
    rows = "title\ttext\ttimestamp\nA\tFirst story text.\t1583312400\nB\tSecond story text.\t1583312400000\n"
    first, second = _load(tmp_path, "stories.tsv", rows)
    assert first.published_at == second.published_at == datetime(2020, 3, 4, 9, 0)


def test_jsonl_with_lists_of_authors_and_tags(tmp_path: Path) -> None:
    row = {"headline": "Vote", "body": "The vote passed.", "authors": ["A", "B"], "tags": ["politics"]}
    [article] = _load(tmp_path, "rows.jsonl", json.dumps(row))
    assert (article.title, article.author, article.category) == ("Vote", "A, B", "politics")


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("one-column.csv", "just text\nhello there\n", "header row"),
        ("no-text.csv", "title,date\nA,2020-01-01\n", "non-empty text field"),
        ("broken.csv", 'title,body\n"unclosed,quote\n', "text field|malformed"),
    ],
)
def test_a_table_that_cannot_be_read_is_skipped_with_the_reason(
    tmp_path: Path, name: str, data: str, reason: str
) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        _load(tmp_path, name, data)


def test_a_field_that_cannot_be_a_date_gives_way_to_the_next(tmp_path: Path) -> None:
    [article] = _load(tmp_path, "cms.json", '[{"text": "Body.", "published": true, "date": "2020-03-15"}]')
    assert article.published_at == datetime(2020, 3, 15)
    [old] = _load(tmp_path, "ms.json", '[{"text": "Body.", "timestamp": 946684800000}]')  # 12 digits
    assert old.published_at == datetime(2000, 1, 1)


def test_a_tsv_keeps_quotes_as_text(tmp_path: Path) -> None:
    rows = 'title\tbody\nT1\t"Odd quote start. More.\nT2\t"We will win," he said.\n'
    first, second = _load(tmp_path, "quotes.tsv", rows)
    assert (first.text, second.text) == ('"Odd quote start. More.', '"We will win," he said.')


def test_paragraph_lists_one_column_tables_and_the_usual_container(tmp_path: Path) -> None:
    [paragraphs] = _load(tmp_path, "p.json", '{"content": ["Para one.", "Para two."]}')
    assert paragraphs.text == "Para one.\n\nPara two."
    [column] = _load(tmp_path, "one.csv", 'text\n"Only a body column here."\n')
    assert column.text == "Only a body column here."
    [wrapped] = _load(
        tmp_path, "w.json", '{"data": [{"text": "meta"}], "articles": [{"text": "The story."}]}'
    )
    assert wrapped.text == "The story."
