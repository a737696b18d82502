"""Topic subscriptions (Slack's ``/ask subscribe TOPIC``) and the digests a poll owes them.

A subscription covers the stories first fetched after its ``covered_until``: when a poll brings
new stories, each subscription that may send (at most one digest per ``digest_every``) gets a
digest of those matching its topic, each item citing the article (its link and a quoted
sentence at exact offsets). A subscription that must wait keeps its stories for the next one.
An article matches when it names most of the topic's words (stemmed), like a summary's evidence.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from pydantic import BaseModel, Field

from rag.errors import BadInput, NotFound
from rag.feeds.records import Records
from rag.models import Article
from rag.store import Store
from rag.store.database import Database
from rag.store.schema import subscriptions
from rag.text import sentence_spans, terms

MAX_ITEMS = 5  # articles a digest lists; it says how many more matched


class Subscription(BaseModel):
    channel: str
    topic: str
    created_at: datetime
    last_sent: datetime | None = None


class DigestItem(BaseModel):
    document_id: str
    title: str
    url: str | None = None
    outlet: str | None = None
    published_at: datetime | None = None
    quote: str = Field(description="Exactly the article's text [start:end]: its sentence on the topic.")
    start: int
    end: int


class Digest(BaseModel):
    """New articles on a subscribed topic, for one channel."""

    channel: str
    topic: str
    items: list[DigestItem]
    more: int = Field(0, description="Further matching articles not listed.")
    until: datetime = Field(description="Stories first fetched up to this time are covered.")


def clean_topic(topic: str | None) -> str:
    text = " ".join((topic or "").split())
    if not text or not terms(text):
        raise BadInput("Name a topic to follow, e.g. `/ask subscribe the storm in Kessling`.")
    if len(text) > 200:
        raise BadInput("The topic is longer than 200 characters; name it in a few words.")
    return text


def _iso(value: datetime) -> str:
    return value.isoformat()


class Subscriptions:
    """The subscriptions in one database, and the digests new stories make for them."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def subscribe(self, channel: str, topic: str, now: datetime) -> Subscription:
        """Follow ``topic`` in ``channel`` from now on (again: no change)."""
        topic = clean_topic(topic)
        key = (subscriptions.c.channel == channel) & (subscriptions.c.topic == topic)
        with self.db.write() as c:
            if c.execute(sa.select(subscriptions.c.topic).where(key)).first() is None:
                row = {
                    "channel": channel,
                    "topic": topic,
                    "created_at": _iso(now),
                    "covered_until": _iso(now),
                }
                c.execute(subscriptions.insert().values(**row))
        return next(s for s in self.of(channel) if s.topic == topic)

    def unsubscribe(self, channel: str, topic: str) -> Subscription:
        topic = " ".join(topic.split())
        found = [s for s in self.of(channel) if s.topic.lower() == topic.lower()]
        if not found:
            raise NotFound(
                f"This channel does not follow “{topic}”; `/ask subscriptions` lists what it does."
            )
        key = (subscriptions.c.channel == channel) & (subscriptions.c.topic == found[0].topic)
        with self.db.write() as c:
            c.execute(subscriptions.delete().where(key))
        return found[0]

    def of(self, channel: str | None = None) -> list[Subscription]:
        """A channel's subscriptions (every channel's when None), oldest first."""
        query = sa.select(subscriptions).order_by(subscriptions.c.created_at)
        if channel is not None:
            query = query.where(subscriptions.c.channel == channel)
        with self.db.read() as c:
            rows = c.execute(query).fetchall()
        return [
            Subscription(
                channel=r.channel,
                topic=r.topic,
                created_at=datetime.fromisoformat(r.created_at),
                last_sent=datetime.fromisoformat(r.last_sent) if r.last_sent else None,
            )
            for r in rows
        ]

    def due(self, store: Store, records: Records, now: datetime, every: timedelta) -> list[Digest]:
        """The digests owed at ``now``: one per subscription allowed to send, for the stories
        first fetched since it was last covered that match its topic. A subscription with none
        is marked covered up to now."""
        with self.db.read() as c:
            rows = c.execute(sa.select(subscriptions)).fetchall()
        digests = []
        for row in rows:
            if row.last_sent and datetime.fromisoformat(row.last_sent) + every > now:
                continue  # sent one lately: these stories wait for the next
            stories = records.stories_since(datetime.fromisoformat(row.covered_until), now)
            items = _matching(store, stories, row.topic)
            if items:
                more = max(0, len(items) - MAX_ITEMS)
                digests.append(
                    Digest(
                        channel=row.channel, topic=row.topic, items=items[:MAX_ITEMS], more=more, until=now
                    )
                )
            else:
                self._covered(row.channel, row.topic, now, sent=False)
        return digests

    def sent(self, digest: Digest) -> None:
        self._covered(digest.channel, digest.topic, digest.until, sent=True)

    def _covered(self, channel: str, topic: str, until: datetime, sent: bool) -> None:
        key = (subscriptions.c.channel == channel) & (subscriptions.c.topic == topic)
        values = {"covered_until": _iso(until)} | ({"last_sent": _iso(until)} if sent else {})
        with self.db.write() as c:
            c.execute(subscriptions.update().where(key).values(**values))


def _matching(store: Store, story_ids: list[str], topic: str) -> list[DigestItem]:
    """The stories that name most of the topic's words, best match first."""
    wanted = terms(topic)
    enough = min(len(wanted), len(wanted) // 2 + 1)
    scored: list[tuple[int, DigestItem]] = []
    for story in story_ids:
        try:
            article = store.get_article(story)
        except NotFound:  # deleted since
            continue
        named = wanted & terms(f"{article.title} {article.text}")
        if len(named) >= enough:
            scored.append((len(named), _item(article, wanted)))
    scored.sort(key=lambda pair: -pair[0])
    return [item for _, item in scored]


def _item(article: Article, wanted: set[str]) -> DigestItem:
    """The article with its sentence naming most of the topic's words (the first on a tie)."""
    spans = sentence_spans(article.text) or [(0, len(article.text))]
    start, end = max(spans, key=lambda span: len(wanted & terms(article.text[span[0] : span[1]])))
    return DigestItem(
        document_id=article.id,
        title=article.title,
        url=article.url,
        outlet=article.source,
        published_at=article.published_at,
        quote=article.text[start:end],
        start=start,
        end=end,
    )
