"""The web application `strongroom serve`'s child runs: llama.cpp's OpenAI-compatible
server (`llama_cpp.server`), made to answer as the one model it serves, the way clients of
that API expect:

* every answer names the served model, whatever name the request gave (a request body's
  ``model`` is replaced before llama.cpp sees it);
* ``/v1/models`` gives ``created`` as an integer (when the server started), not null, which
  the official clients' strict parsing requires;
* a streamed chat answer asked with ``stream_options: {"include_usage": true}`` ends with a
  chunk holding the usage (prompt and completion tokens), as OpenAI's API sends it;
* ``/v1/embeddings`` answers for an embedding model, and for a chat model says in words that
  it serves none (llama.cpp answered HTTP 500);
* its documentation pages, which answer without the API key, are taken away.

Only the child imports this (it needs the `server` extra).
"""

from __future__ import annotations

import contextvars
import functools
import json
import time

_DOCUMENTATION_PAGES = {"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
_WITH_MODEL = {"/v1/chat/completions", "/v1/completions", "/v1/embeddings"}
MAX_BODY = 16 * 1024 * 1024  # a request body larger than this is passed on untouched

_usage_asked: contextvars.ContextVar[bool] = contextvars.ContextVar("usage_asked", default=False)


def create_served_app(model_path: str, alias: str, context_length: int, embedding: bool,
                      server_settings):
    """llama.cpp's app for the model at ``model_path``, answering as ``alias``."""
    import llama_cpp
    from fastapi import Depends
    from llama_cpp.server.app import authenticate, create_app
    from llama_cpp.server.settings import ModelSettings

    app = create_app(server_settings=server_settings, model_settings=[
        ModelSettings(model=model_path, model_alias=alias, n_ctx=context_length,
                      embedding=embedding, verbose=False)])
    started = int(time.time())
    app.router.routes = [route for route in app.router.routes
                         if getattr(route, "path", None) not in _DOCUMENTATION_PAGES]
    app.openapi_url = app.docs_url = app.redoc_url = None

    @app.get("/v1/models", dependencies=[Depends(authenticate)])
    async def models() -> dict:
        return {"object": "list", "data": [{"id": alias, "object": "model", "created": started,
                                            "owned_by": "strongroom", "permissions": []}]}

    # Ahead of llama.cpp's own routes (which answer /v1/models with no creation time).
    app.router.routes.insert(0, app.router.routes.pop())

    if not getattr(llama_cpp.Llama.create_chat_completion, "reports_usage", False):
        setattr(llama_cpp.Llama, "create_chat_completion",  # noqa: B010 (mypy: method assign)
                _with_usage(llama_cpp.Llama.create_chat_completion))
    return AsServedModel(app, alias, embedding)


class AsServedModel:
    """ASGI middleware: request bodies name the served model, a chat model refuses
    embeddings in words, and whether a stream's usage was asked for is noted."""

    def __init__(self, app, alias: str, embedding: bool):
        self.app, self.alias, self.embedding = app, alias, embedding

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in _WITH_MODEL:
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more and len(body) <= MAX_BODY:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            request = json.loads(body) if not more else None
        except (ValueError, RecursionError):
            request = None
        if not isinstance(request, dict):  # llama.cpp says what is wrong with it
            await self.app(scope, _replay(body, receive, more), send)
            return
        if scope["path"] == "/v1/embeddings" and not self.embedding:
            await _refuse(send, 400, f"This server serves the chat model {self.alias}; it does "
                                     "not serve embeddings. Ask a server that serves an "
                                     "embedding model.")
            return
        request["model"] = self.alias
        options = request.get("stream_options")
        asked = bool(request.get("stream")) and isinstance(options, dict) \
            and options.get("include_usage") is True
        token = _usage_asked.set(asked)
        try:
            await self.app(scope, _replay(json.dumps(request).encode(), receive), send)
        finally:
            _usage_asked.reset(token)


def _replay(body: bytes, receive, more: bool = False):
    """A `receive` that gives ``body`` first, then passes on the client's own messages (the
    rest of a body too large to read here, and a disconnect when it comes)."""
    given = False

    async def replayed():
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replayed


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                 "code": None}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _with_usage(create_chat_completion):
    """`Llama.create_chat_completion`, whose stream ends with a usage chunk when the request
    asked for one (llama.cpp's server drops ``stream_options``)."""

    @functools.wraps(create_chat_completion)
    def wrapped(self, *args, **kwargs):
        result = create_chat_completion(self, *args, **kwargs)
        if not kwargs.get("stream") or not _usage_asked.get():
            return result
        return _counted(self, result)

    wrapped.reports_usage = True
    return wrapped


def _counted(llama, chunks):
    """The chunks, then one with the usage. The prompt's tokens are what the model held
    when the first chunk came (the prompt read, the first token not yet); the answer's are
    what it read since, and the last token, which it never reads when the answer ends at
    the length limit."""
    prompt_tokens = None
    last = None
    for chunk in chunks:
        if prompt_tokens is None:
            prompt_tokens = llama.n_tokens
        last = chunk
        yield chunk
    if last is None:
        return
    finish = (last.get("choices") or [{}])[0].get("finish_reason")
    completion = max(0, llama.n_tokens - prompt_tokens + (1 if finish == "length" else 0))
    yield {"id": last.get("id"), "object": "chat.completion.chunk", "created": last.get("created"),
           "model": last.get("model"), "choices": [],
           "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                     "total_tokens": prompt_tokens + completion}}
