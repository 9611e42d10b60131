"""Generation through an OpenAI-compatible model server: whole and streamed replies, concurrency,
retries, clear errors, and answers that survive the server being down. The server is a local fake
speaking vLLM's chat-completions API on 127.0.0.1."""

import pytest
from fakes.openai_server import Failure, FakeModelServer
from helpers import free_port

from core.errors import LLMServerError
from core.openai_compat import OpenAICompatibleBackend

HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]


def backend(server: FakeModelServer, **options) -> OpenAICompatibleBackend:
    options.setdefault("api_key", server.api_key)
    return OpenAICompatibleBackend(server.url, server.model, **options)


@pytest.mark.parametrize("stream", [True, False])
def test_replies_come_back_in_order_with_the_request_as_the_server_expects_it(stream):
    with FakeModelServer(api_key="sk-local") as server:
        llm = backend(server, stream=stream, temperature=0.3)
        conversations = [[{"role": "user", "content": f"question {n}"}] for n in range(5)]
        assert llm.generate(conversations, 16) == [f"You asked: question {n}" for n in range(5)]
        assert llm.generate([HELLO], 3) == ["You asked: hello"]  # max_tokens reached the server
        llm.close()
    last = server.requests[-1]
    assert last["model"] == "supportloop" and last["messages"] == HELLO
    assert last["max_tokens"] == 3 and last["temperature"] == 0.3 and last["stream"] is stream


def test_a_batch_is_sent_at_once_so_the_server_can_batch_it():
    with FakeModelServer() as server:
        server.fail_next(*[Failure(stall_s=0.3)] * 4)
        llm = backend(server)
        assert len(llm.generate([HELLO] * 4, 8)) == 4
        llm.close()
    assert server.most_in_flight == 4


@pytest.mark.parametrize(
    "failures",
    [
        (Failure(status=503), Failure(status=429)),
        (Failure(drop_mid_stream=True), Failure(error_in_stream=True)),
    ],
    ids=["overloaded", "broken-streams"],
)
def test_transient_failures_are_retried(failures, monkeypatch):
    monkeypatch.setattr("core.openai_compat.BACKOFF_S", 0.01)
    with FakeModelServer() as server:
        server.fail_next(*failures)
        llm = backend(server, retries=2)
        assert llm.generate([HELLO], 8) == ["You asked: hello there"]
        llm.close()
    assert len(server.requests) == 3


def test_a_server_that_keeps_failing_is_a_clear_error_after_the_retries(monkeypatch):
    monkeypatch.setattr("core.openai_compat.BACKOFF_S", 0.01)
    with FakeModelServer() as server:
        server.fail_next(*[Failure(status=500)] * 3)
        llm = backend(server, retries=2)
        with pytest.raises(LLMServerError, match=r"failed 3 times \(HTTP 500: scripted failure\)"):
            llm.generate([HELLO], 8)
        llm.close()


def test_a_stalled_server_times_out_instead_of_hanging():
    with FakeModelServer() as server:
        server.fail_next(Failure(stall_s=2))
        llm = backend(server, timeout_s=0.2, retries=0)
        with pytest.raises(LLMServerError, match="ReadTimeout"):
            llm.generate([HELLO], 8)
        llm.close()


@pytest.mark.parametrize(
    ("options", "hint"),
    [
        ({"api_key": "wrong"}, "HTTP 401.*SUPPORTLOOP_LLM_API_KEY"),
        ({"api_key": "sk-local", "model": "gpt-4o"}, "does not exist.*SUPPORTLOOP_LLM_MODEL"),
    ],
)
def test_a_refusal_is_not_retried_and_says_what_to_check(options, hint):
    with FakeModelServer(api_key="sk-local") as server:
        llm = OpenAICompatibleBackend(
            server.url, options.get("model", server.model), options.get("api_key"), retries=2
        )
        with pytest.raises(LLMServerError, match=hint):
            llm.generate([HELLO], 8)
        llm.close()
    assert len(server.requests) == 1


def test_nothing_listening_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("core.openai_compat.BACKOFF_S", 0.01)
    port = free_port()
    llm = OpenAICompatibleBackend(f"http://127.0.0.1:{port}/v1", "supportloop", retries=1)
    with pytest.raises(LLMServerError, match=f"127.0.0.1:{port}/v1/chat/completions failed 2 times"):
        llm.generate([HELLO], 8)
    llm.close()


BACKUP_CODES = (
    "When you turn on two-step verification, Tidepool gives you 10 backup codes, each of which works once."
)


@pytest.mark.slow
def test_the_product_answers_through_the_server_and_quotes_the_pages_when_it_is_down(fresh_dir, monkeypatch):
    from core.settings import Settings
    from supportloop.app import SupportLoop

    monkeypatch.setattr("core.openai_compat.BACKOFF_S", 0.01)
    question = "How many backup codes do I get with two-step verification?"
    with FakeModelServer(reply=lambda messages: BACKUP_CODES) as server:
        settings = Settings(data_dir=fresh_dir, answer_mode="generate", llm_url=server.url)
        with SupportLoop(settings) as loop:
            served = loop.answerer.answer(question)
            assert served.text == BACKUP_CODES and not served.extractive
            assert served.citations[0].endswith("/security/two-factor.html")
            assert server.requests[0]["messages"][-1]["content"].endswith(f"Customer question: {question}")

            server.fail_next(*[Failure(status=503)] * 3)
            fallback = loop.answerer.answer(question)
    assert fallback.extractive and "10 backup codes" in fallback.text and fallback.citations
    assert len(server.requests) == 4


@pytest.mark.parametrize(
    ("logprobs", "margin"),
    [
        ({"YES": -0.2, "NO": -1.7, "The": -5.0}, 1.5),
        ({" no": -0.1, "Yes": -2.6}, -2.5),  # spaces and case are the same answer
        ({"Sure": -0.5, "Yes": -1.0, "maybe": -4.0}, 3.0),  # "NO" not listed: at most the least listed
    ],
    ids=["both-listed", "spelt-otherwise", "one-missing"],
)
def test_a_yes_no_margin_is_read_from_the_first_tokens_top_logprobs(logprobs, margin):
    with FakeModelServer(judge=lambda messages: logprobs) as server:
        llm = backend(server)
        assert llm.yes_no_margins([HELLO, HELLO]) == pytest.approx([margin, margin])
        llm.close()
    asked = server.requests[-1]
    assert asked["messages"] == HELLO and asked["max_tokens"] == 1 and asked["temperature"] == 0.0
    assert asked["logprobs"] is True and asked["top_logprobs"] == 20 and asked["stream"] is False


def test_a_server_that_sends_no_logprobs_is_a_clear_error():
    with FakeModelServer() as server:  # answers with text only, as a server without logprobs support does
        llm = backend(server)
        with pytest.raises(LLMServerError, match="top_logprobs"):
            llm.yes_no_margins([HELLO])
        llm.close()
