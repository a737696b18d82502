"""What the Slack bot must remember across requests, restarts, worker processes and replicas, in
the shared database, so that several servers behind a load balancer behave like one:

- event ids already taken: Slack re-delivers an event (``X-Slack-Retry-Num``) when our
  acknowledgement was slow or lost, up to three times within minutes, possibly to another
  replica, and a re-delivery must not be answered twice (an hour of ids is kept);
- which conversation a top-level DM answer belongs to: a user who replies in the thread of
  that answer continues the conversation its question started.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from rag.store.database import Database
from rag.store.schema import slack_events, slack_threads


class Ledger:
    def __init__(self, database: Database, ttl_s: float = 3600.0) -> None:
        self.db = database
        self.ttl_s = ttl_s

    def first_time(self, event_id: str) -> bool:
        """True for the first delivery of ``event_id`` (the primary key decides, atomically)."""
        now = time.time()
        with self.db.write() as c:
            c.execute(slack_events.delete().where(slack_events.c.seen_at < now - self.ttl_s))
        try:
            with self.db.write() as c:
                c.execute(slack_events.insert().values(id=event_id, seen_at=now))
        except sa.exc.IntegrityError:
            return False
        return True

    def link(self, channel: str, ts: str, conversation_id: str) -> None:
        where = (slack_threads.c.channel == channel) & (slack_threads.c.ts == ts)
        with self.db.write() as c:
            c.execute(slack_threads.delete().where(where))
            c.execute(slack_threads.insert().values(channel=channel, ts=ts, conversation_id=conversation_id))

    def conversation(self, channel: str, thread_ts: str) -> str:
        """The conversation of a thread: its root's own, or the one its root answer was in."""
        where = (slack_threads.c.channel == channel) & (slack_threads.c.ts == thread_ts)
        with self.db.read() as c:
            found = c.execute(sa.select(slack_threads.c.conversation_id).where(where)).scalar()
        return found or f"slack:{channel}:{thread_ts}"
