"""The Slack transport: the bot (``bot``: events, mentions, DMs, ``/ask``, feedback buttons), how
answers look in Slack (``render``), what it remembers (``ledger``), and the app manifest
(``manifest.yml``) to paste at api.slack.com."""

from __future__ import annotations

from api.slack.bot import SlackBot, build_app, check_settings, mount_slack, plain_text, run_socket_mode

__all__ = ["SlackBot", "build_app", "check_settings", "mount_slack", "plain_text", "run_socket_mode"]
