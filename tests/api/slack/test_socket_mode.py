"""``rag slack`` as a user runs it: the bot over Socket Mode, Slack played by the local
stand-in (tests/servers/slack_server.py), the real engine over the seed article."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.engine import Engine
from tests.api.slack.helpers import NUMBER, QUESTION, TOKEN, mention, texts
from tests.conftest import SEED
from tests.servers.slack_server import BOT_USER_ID, TEAM_ID, running_slack


def test_rag_slack_needs_its_tokens() -> None:
    result = CliRunner().invoke(cli, ["slack"], env={"RAG_SLACK_BOT_TOKEN": TOKEN})
    assert result.exit_code == 2
    assert "RAG_SLACK_APP_TOKEN" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_rag_slack_answers_over_socket_mode(tmp_path: Path, embed: OnnxEmbedding, settings: Settings) -> None:
    engine = Engine(settings, embed=embed)
    engine.ingest([SEED])
    engine.close()
    with running_slack(TOKEN) as slack:
        env = {
            **os.environ,
            "RAG_SLACK_BOT_TOKEN": TOKEN,
            "RAG_SLACK_APP_TOKEN": slack.app_token,
            "RAG_SLACK_API_URL": slack.api_url,
        }
        rag = Path(sys.executable).with_name("rag")
        proc = subprocess.Popen(
            [str(rag), "--data-dir", str(settings.data_dir), "slack"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not slack.sockets:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout and proc.stdout.read()
                time.sleep(0.1)
            event = mention(f"<@{BOT_USER_ID}> {QUESTION}", "1700000900.000100")
            envelope = slack.send_envelope(
                "events_api",
                {"type": "event_callback", "team_id": TEAM_ID, "event_id": "Ev900", "event": event},
            )
            (post,) = slack.wait_for("chat.postMessage")
            assert post.args["thread_ts"] == "1700000900.000100"
            assert NUMBER.search(texts(post.args["blocks"], "section"))
            assert any(c.args.get("envelope_id") == envelope for c in slack.of("socket_ack"))

            command = {
                "command": "/ask",
                "text": QUESTION,
                "user_id": "U1",
                "channel_id": "C1",
                "team_id": TEAM_ID,
                "response_url": slack.response_url("sm1"),
                "trigger_id": "1",
            }
            envelope = slack.send_envelope("slash_commands", command)
            (delivered,) = slack.wait_for("response_url")
            assert NUMBER.search(texts(delivered.args["blocks"], "section"))
            (ack,) = [c for c in slack.of("socket_ack") if c.args["envelope_id"] == envelope]
            assert "Searching" in ack.args["payload"]["text"]
        finally:
            # SIGTERM, as `docker stop` sends (and SIGINT is ignored when the suite itself was
            # started in the background).
            proc.send_signal(signal.SIGTERM)
            output = proc.communicate(timeout=60)[0]  # generous: CI machines are shared
    assert proc.returncode == 0 and "Traceback" not in output, output
