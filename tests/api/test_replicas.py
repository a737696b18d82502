"""Two replicas as a deployment runs them: two `rag serve` processes, each with its own data dir,
sharing one Postgres (``RAG_DATABASE_URL``) and one ``chroma run`` server (``RAG_CHROMA_URL``).
A write on one is seen by the other; Slack's retries and conversations cross between them; one
killed mid-upload loses nothing and duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.api.conftest import QUESTION, free_port
from tests.api.slack.test_bot import SECRET, TOKEN, Bot, mention
from tests.conftest import RAG, SEED
from tests.faults.conftest import news_corpus
from tests.servers.chroma import chroma_server
from tests.servers.postgres import PostgresCluster, postgres_cluster  # noqa: F401
from tests.servers.slack_server import BOT_USER_ID, SlackServer, running_slack

pytestmark = pytest.mark.slow
SEEN_WITHIN = 5.0  # seconds from a write on one replica to the other answering from it


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> float:
    """Poll ``condition`` until true; returns the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


@dataclass
class Replica:
    """One `rag serve` process; ``env`` is the environment a deployment gives it."""

    name: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Replica:
        self.process = subprocess.Popen(
            [*RAG, "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: self._up() or self.process.poll() is not None, 300, f"{self.name} to start")  # type: ignore[union-attr]
        assert self.process.poll() is None, self.process.stderr.read()  # type: ignore[union-attr]
        return self

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def add(self, doc: dict[str, str]) -> list[str]:
        """POST one JSON document; returns the ids added."""
        r = httpx.post(f"{self.url}/v1/documents", json=doc, timeout=60)
        assert r.status_code in (200, 201), r.text
        return list(r.json()["added"])

    def slack(self, deployment: Deployment) -> Bot:
        return Bot(self.url, deployment.slack, None, None)  # type: ignore[arg-type]

    def search(self, query: str) -> list[dict[str, object]]:
        r = httpx.get(f"{self.url}/v1/search", params={"q": query, "k": 5}, timeout=30)
        assert r.status_code == 200, r.text
        return list(r.json()["passages"])


@dataclass
class Deployment:
    a: Replica
    b: Replica
    database_url: str
    slack: SlackServer

    def catalog_counts(self) -> tuple[int, int, int]:
        """(articles, distinct article ids, chunks) in the shared catalog."""
        engine = sa.create_engine(self.database_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as c:
                articles = c.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT id) FROM articles")).one()
                chunks = c.execute(sa.text("SELECT COUNT(*) FROM chunks")).scalar_one()
        finally:
            engine.dispose()
        return int(articles[0]), int(articles[1]), int(chunks)


def replica_env(name: str, root: Path, database: str, chroma: str, slack: SlackServer) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_", "SLACK_"))}
    return {
        **keep,
        "RAG_DATA_DIR": str(root / name),  # its own disk: BM25, caches, upload files
        "RAG_DATABASE_URL": database,
        "RAG_CHROMA_URL": chroma,
        "RAG_SLACK_BOT_TOKEN": TOKEN,
        "RAG_SLACK_SIGNING_SECRET": SECRET,
        "RAG_SLACK_API_URL": slack.api_url,
        "RAG_CACHE_DIR": os.environ.get("RAG_CACHE_DIR", str(root / "cache")),
    }


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_cluster: PostgresCluster,  # noqa: F811
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("replicas")
    database_url = postgres_cluster.create_database("replicas")
    with chroma_server(root / "chroma") as chroma, running_slack(TOKEN) as slack:
        env = {n: replica_env(n, root, database_url, chroma.url, slack) for n in ("a", "b")}
        seeded = subprocess.run([*RAG, "ingest", str(SEED)], env=env["a"], capture_output=True, text=True)
        assert seeded.returncode == 0, seeded.stderr
        a, b = Replica("a", env["a"]).start(), Replica("b", env["b"]).start()
        try:
            yield Deployment(a, b, database_url, slack)
        finally:
            a.stop()
            b.stop()


def mentions(replica: Replica, words: str) -> bool:
    """Whether ``replica``'s search for ``words`` finds a passage holding its first word."""
    return any(words.split()[0] in str(p["text"]) for p in replica.search(words))


def test_an_upload_on_one_replica_is_answered_by_the_other(deployment: Deployment) -> None:
    a, b = deployment.a, deployment.b
    body = "The Quillmarsh harbour bridge reopened on Tuesday after eleven months of repairs."
    a.add({"title": "Harbour bridge reopens", "body": body, "source": "Coastal Times"})
    took = wait_for(lambda: mentions(b, "Quillmarsh harbour bridge"), SEEN_WITHIN, "b to find a's upload")
    print(f"upload on a searchable on b after {took:.2f} s")
    question = {"question": "When did the Quillmarsh bridge reopen?"}
    asked = httpx.post(f"{b.url}/v1/ask", json=question, timeout=60)
    assert asked.status_code == 200 and "Tuesday" in asked.json()["answer"]


def test_a_delete_on_one_replica_disappears_from_the_others_search(deployment: Deployment) -> None:
    a, b = deployment.a, deployment.b
    body = "The Brindlewood orchard festival drew nine thousand visitors."
    (article_id,) = a.add({"title": "Orchard festival", "body": body})
    wait_for(lambda: mentions(a, "Brindlewood orchard festival"), SEEN_WITHIN, "a to index it")
    assert httpx.delete(f"{b.url}/v1/documents/{article_id}", timeout=60).status_code in (200, 204)
    wait_for(lambda: not mentions(a, "Brindlewood orchard festival"), SEEN_WITHIN, "it to leave a's search")


def test_a_conversation_started_on_one_replica_continues_on_the_other(deployment: Deployment) -> None:
    a, b = deployment.a, deployment.b
    first = httpx.post(f"{a.url}/v1/chat", json={"message": QUESTION}, timeout=60).json()
    turn = {"message": "And what does it get in return?", "conversation_id": first["conversation_id"]}
    follow = httpx.post(f"{b.url}/v1/chat", json=turn, timeout=60)
    assert follow.status_code == 200, follow.text
    history = httpx.get(f"{b.url}/v1/conversations/{first['conversation_id']}", timeout=30).json()
    assert QUESTION in json.dumps(history) and "in return" in json.dumps(history)


def test_a_slack_retry_to_the_other_replica_is_not_answered_twice(deployment: Deployment) -> None:
    deployment.slack.calls.clear()
    event = mention(f"<@{BOT_USER_ID}> {QUESTION}", "1700000900.000100")
    assert deployment.a.slack(deployment).event(event, "EvReplica1").status_code == 200
    deployment.slack.wait_for("chat.postMessage")
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert deployment.b.slack(deployment).event(event, "EvReplica1", retry).status_code == 200
    time.sleep(1.0)  # time for a wrong second answer to arrive
    assert len(deployment.slack.of("chat.postMessage")) == 1


def test_a_replica_killed_mid_upload_loses_and_duplicates_nothing(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Runs last in the module: it kills replica a, then starts it again on its data dir."""
    a, b = deployment.a, deployment.b
    records = news_corpus(tmp_path / "corpus", 12)
    upload = b"[" + b",".join(p.read_bytes() for p in sorted(records.iterdir())) + b"]"
    before = deployment.catalog_counts()[0]

    def post() -> None:
        with suppress(httpx.TransportError):  # killed under it
            httpx.post(f"{a.url}/v1/documents", files={"files": ("news.json", upload)}, timeout=600)

    threading.Thread(target=post, daemon=True).start()
    saved = Path(a.env["RAG_DATA_DIR"]) / "uploads" / "news.json"
    wait_for(saved.exists, 120, "the upload to be saved")
    time.sleep(0.5)  # inside the ingest that follows the save
    a.kill()
    assert deployment.catalog_counts()[0] < before + 12, "the upload finished before a was killed"
    assert b.search("Starlink satellite intelligence"), "b stopped answering"

    a.start()  # the restarted replica completes what its upload left pending
    articles, distinct, chunks = deployment.catalog_counts()
    assert articles == distinct == before + 12 and chunks > 0
    title = json.loads(upload)[-1]["title"]  # the last article of the upload
    found = lambda: any(p["title"] == title for p in b.search(title))  # noqa: E731
    wait_for(found, SEEN_WITHIN, "b to find the completed upload")
    doctor = subprocess.run([*RAG, "doctor", "--json"], env=a.env, capture_output=True, text=True)
    assert json.loads(doctor.stdout or "[]") == [], doctor.stdout + doctor.stderr
