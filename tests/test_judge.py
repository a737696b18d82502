"""The LLM judge beside the local claim checker (RAG_VERIFIER), against a local server speaking
OpenAI's wire format."""

from __future__ import annotations

import json

from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.judge import Verifier
from rag.llm import LLMClient
from rag.verification import ClaimChecker, Evidence, Verdict
from tests.servers.openai_server import OpenAIServer, Reply, openai_server_fixture, prompt_of  # noqa: F401

EVIDENCE = [Evidence("The council approved the budget on Tuesday. Five sources said the vote was unanimous.")]
CLAIMS = ["The council approved the budget on Tuesday.", "The mayor resigned."]


def verifier(embed: OnnxEmbedding, server: OpenAIServer, mode: str = "llm") -> Verifier:
    settings = Settings(llm_base_url=server.url, llm_timeout=2.0, verifier=mode)  # type: ignore[arg-type]
    return Verifier(ClaimChecker(embed), LLMClient(settings), settings.verifier)


def test_the_llm_judges_every_claim_of_a_text_in_one_call(
    embed: OnnxEmbedding, openai_server: OpenAIServer
) -> None:
    openai_server.reply = Reply(
        json.dumps([{"claim": 1, "verdict": "supported"}, {"claim": 2, "verdict": "contradicted"}])
    )
    checked = verifier(embed, openai_server).check(CLAIMS, [EVIDENCE, EVIDENCE])
    assert [j.verdict for j in checked.judgements] == [Verdict.SUPPORTED, Verdict.CONTRADICTED]
    assert checked.degraded_reason is None
    (request,) = openai_server.requests
    prompt = prompt_of(request)
    assert "Claim 1: The council approved" in prompt and "Claim 2: The mayor resigned." in prompt
    assert "Five sources" in prompt  # the evidence the checker lined each claim up with


def test_a_failing_or_garbled_judge_leaves_the_local_verdicts_marked_degraded(
    embed: OnnxEmbedding, openai_server: OpenAIServer
) -> None:
    local = ClaimChecker(embed).check(CLAIMS, [EVIDENCE, EVIDENCE])
    for reply in (
        Reply("Sure! Both look fine to me."),
        Reply(status=500),
        Reply(json.dumps([{"verdict": "maybe"}] * 2)),
    ):
        openai_server.reply = reply
        checked = verifier(embed, openai_server).check(CLAIMS, [EVIDENCE, EVIDENCE])
        assert [j.verdict for j in checked.judgements] == [j.verdict for j in local]
        assert checked.degraded_reason and "local verdicts" in checked.degraded_reason


def test_local_mode_never_calls_the_llm(embed: OnnxEmbedding, openai_server: OpenAIServer) -> None:
    verifier(embed, openai_server, mode="local").check(CLAIMS, [EVIDENCE, EVIDENCE])
    assert openai_server.requests == []
