"""`strongroom serve` as the clients of the OpenAI API expect it, asked over real HTTPS: it
answers as the model it serves, `/v1/models` gives `created` as an integer, a stream asked
for its usage ends with it, and embeddings are refused in words by a chat model's server."""

from __future__ import annotations

import http.client
import json
import ssl
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.model

MODEL = "SmolLM2-135M-Instruct"


def ask(firm, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    address = urlsplit(firm.url)
    context = ssl.create_default_context(cafile=str(firm.ca.pem))
    connection = http.client.HTTPSConnection(address.hostname, address.port, context=context,
                                             timeout=120)
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None,
                           headers={"Authorization": f"Bearer {firm.api_key}",
                                    "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def events(stream: bytes) -> list:
    """The data of each server-sent event ([DONE] as the string)."""
    found = []
    for line in stream.decode().splitlines():
        if line.startswith("data: "):
            data = line[len("data: "):]
            found.append(data if data == "[DONE]" else json.loads(data))
    return found


CHAT = {"messages": [{"role": "user", "content": "Name a colour."}], "max_tokens": 8,
        "temperature": 0}


def test_models_are_listed_with_an_integer_creation_time(firm):
    status, body = ask(firm, "GET", "/v1/models")
    assert status == 200
    [model] = json.loads(body)["data"]
    assert model["id"] == MODEL and isinstance(model["created"], int) and model["created"] > 0


def test_it_answers_as_the_model_it_serves_whatever_name_was_asked(firm):
    status, body = ask(firm, "POST", "/v1/chat/completions", {**CHAT, "model": "gpt-4o"})
    assert status == 200, body
    answer = json.loads(body)
    assert answer["model"] == MODEL
    assert answer["usage"]["prompt_tokens"] > 0 and answer["usage"]["completion_tokens"] > 0


def test_a_stream_ends_with_its_usage_when_asked_and_only_then(firm):
    status, body = ask(firm, "POST", "/v1/chat/completions",
                       {**CHAT, "model": MODEL, "stream": True,
                        "stream_options": {"include_usage": True}})
    assert status == 200
    streamed = events(body)
    assert streamed[-1] == "[DONE]"
    usage_chunk = streamed[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["model"] == MODEL
    usage = usage_chunk["usage"]
    _, whole = ask(firm, "POST", "/v1/chat/completions", {**CHAT, "model": MODEL})
    expected = json.loads(whole)["usage"]  # the same question answered whole, at temperature 0
    assert usage == expected
    assert all(e["model"] == MODEL for e in streamed[:-1])

    _, plain = ask(firm, "POST", "/v1/chat/completions", {**CHAT, "stream": True})
    assert not any("usage" in e for e in events(plain)[:-1])  # not asked: none


def test_a_chat_models_server_refuses_embeddings_in_words(firm):
    status, body = ask(firm, "POST", "/v1/embeddings", {"input": "the rent is due monthly"})
    assert status == 400
    message = json.loads(body)["error"]["message"]
    assert f"serves the chat model {MODEL}; it does not serve embeddings" in message
