"""A fake OpenAI-compatible chat server (and Ollama's /api/chat) on 127.0.0.1, for tests.

The real `langchain-openai` (or `langchain-ollama`) client talks HTTP to it. Replies are
scripted: queue them with `script(...)`, or set `responder` to choose one from the request
(e.g. one reply for the follow-up rewrite and another for the answer). A reply can stream
(server-sent events, or NDJSON for Ollama), fail with an HTTP status, or stall to trip the
client's timeout. Every request body is recorded.

It serves from its own thread and event loop, so synchronous code under test (the engine
calls the model from a worker thread) and async tests can both use it:

    with FakeOpenAI() as llm:
        llm.script("جواب [1].")
        model = ChatOpenAI(base_url=llm.base_url, api_key="test", model="fake")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

JSONDict = dict[str, Any]
MODEL = "fake-arabic-1"


@dataclass(frozen=True)
class Reply:
    """What the fake answers to one request."""

    text: str = ""
    status: int = 200  # anything else: an OpenAI-style error body with this status
    delay: float = 0.0  # seconds before the response starts (a stalled server)
    chunk_chars: int = 12  # characters per streamed chunk
    chunk_delay: float = 0.0  # seconds between streamed chunks
    finish_reason: str = "stop"


Responder = Callable[[JSONDict], "Reply | str"]


class FakeOpenAI:
    """A scripted OpenAI-compatible `/v1/chat/completions` server, plus Ollama's `/api/chat`."""

    def __init__(self, responder: Responder | None = None, *, port: int = 0) -> None:
        self.responder = responder
        self.requests: list[JSONDict] = []
        self.paths: list[str] = []
        self._script: deque[Reply | str] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._port = port
        self._thread = threading.Thread(target=self._serve, name="fake-openai", daemon=True)

    # --- scripting ----------------------------------------------------------------------------

    def script(self, *replies: Reply | str) -> None:
        """Queue replies for the next requests, in order (a str is a plain 200 reply)."""
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        """Forget the script, the responder and the recorded requests (between tests)."""
        with self._lock:
            self._script.clear()
            self.responder = None
            self.requests.clear()
            self.paths.clear()

    def _next_reply(self, body: JSONDict) -> Reply:
        with self._lock:
            self.requests.append(body)
            scripted = self._script.popleft() if self._script else None
        if scripted is None and self.responder is not None:
            scripted = self.responder(body)
        if scripted is None:
            scripted = Reply(status=500, text="no reply scripted")
        return Reply(text=scripted) if isinstance(scripted, str) else scripted

    async def _receive(self, request: web.Request) -> tuple[JSONDict, Reply]:
        """Read a chat request, record it, and wait out its scripted reply's delay."""
        body = await request.json()
        self.paths.append(request.path)
        reply = self._next_reply(body)
        if reply.delay:
            await self._pause(reply.delay)
        return body, reply

    @property
    def base_url(self) -> str:
        """The OpenAI-style root, http://127.0.0.1:PORT/v1."""
        return f"{self.root}/v1"

    @property
    def root(self) -> str:
        """The server's root (Ollama's base URL)."""
        if not self._port:
            raise RuntimeError("the fake OpenAI server is not started")
        return f"http://127.0.0.1:{self._port}"

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Self:
        """Serve from a background thread; return once listening."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the fake OpenAI server did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """End stalled replies at once, close the listener and wait for the thread."""
        if self._loop is not None and self._closing is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._closing.set)
        self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_post("/api/chat", self._ollama_chat)
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        try:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", self._port)
            await site.start()
            self._port = runner.addresses[-1][1]
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            await runner.cleanup()
            return
        self._ready.set()
        try:
            await self._closing.wait()
        finally:
            await runner.cleanup()

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the server stops."""
        assert self._closing is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    # --- OpenAI --------------------------------------------------------------------------------

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        body, reply = await self._receive(request)
        if reply.status != 200:
            error = {"message": reply.text or "server error", "type": "server_error"}
            return web.json_response({"error": error}, status=reply.status)
        completion_id = f"chatcmpl-{next(self._ids)}"
        created = int(time.time())
        model = str(body.get("model") or MODEL)
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.text},
                            "finish_reason": reply.finish_reason,
                        }
                    ],
                    "usage": _usage(body, reply.text),
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def event(choices: list[JSONDict], **extra: Any) -> None:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
                **extra,
            }
            await response.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())

        await event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
        for piece in _pieces(reply.text, reply.chunk_chars):
            if reply.chunk_delay:
                await self._pause(reply.chunk_delay)
            await event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
        await event([{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}])
        if (body.get("stream_options") or {}).get("include_usage"):
            await event([], usage=_usage(body, reply.text))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    # --- Ollama --------------------------------------------------------------------------------

    async def _ollama_chat(self, request: web.Request) -> web.StreamResponse:
        body, reply = await self._receive(request)
        if reply.status != 200:
            return web.json_response({"error": reply.text or "server error"}, status=reply.status)
        model = str(body.get("model") or MODEL)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        def line(content: str, *, done: bool) -> bytes:
            row: JSONDict = {
                "model": model,
                "created_at": stamp,
                "message": {"role": "assistant", "content": content},
                "done": done,
            }
            if done:
                row.update(done_reason="stop", prompt_eval_count=1, eval_count=1)
            return (json.dumps(row, ensure_ascii=False) + "\n").encode()

        if body.get("stream") is False:
            return web.Response(body=line(reply.text, done=True), content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for piece in _pieces(reply.text, reply.chunk_chars):
            if reply.chunk_delay:
                await self._pause(reply.chunk_delay)
            await response.write(line(piece, done=False))
        await response.write(line("", done=True))
        await response.write_eof()
        return response


def _pieces(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _usage(body: JSONDict, text: str) -> JSONDict:
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
    completion = len(text) // 4
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def system_prompt(body: JSONDict) -> str:
    """Return the system message of a recorded request ('' if none)."""
    for message in body.get("messages", []):
        if message.get("role") == "system":
            return str(message.get("content", ""))
    return ""


def user_prompt(body: JSONDict) -> str:
    """Return the last user message of a recorded request."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


_PASSAGE = re.compile(r"^\[(\d+)\] [^\n]*\n([^\n]+)", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!؟?])\s")


def given_passages(body: JSONDict) -> dict[int, str]:
    """Return the numbered passages a request showed the model ({n: text})."""
    return {int(n): text for n, text in _PASSAGE.findall(user_prompt(body))}


def faithful(*numbers: int, **reply: Any) -> Responder:
    """A responder that answers with the first sentence of each passage it cites, so that
    every check passes; `reply` sets how it is delivered (chunk_chars, chunk_delay, ...)."""

    def respond(body: JSONDict) -> Reply:
        passages = given_passages(body)
        sentences = (_SENTENCE_END.split(passages[n], maxsplit=1)[0] for n in numbers)
        text = " ".join(
            f"{s.rstrip('.!؟? ')} [{n}]." for n, s in zip(numbers, sentences, strict=True)
        )
        return Reply(text, **reply)

    return respond


def _plumbing_responder(body: JSONDict) -> Reply:
    """Rewrite a follow-up by prefixing the last earlier question; answer faithfully."""
    prompt = user_prompt(body)
    if "السؤال الأخير:" in prompt:
        earlier = [line[2:] for line in prompt.splitlines() if line.startswith("- ")]
        question = prompt.rsplit("السؤال الأخير:", 1)[1].strip()
        return Reply(f"{earlier[-1]} {question}" if earlier else question)
    return faithful(1, 2)(body) if len(given_passages(body)) >= 2 else faithful(1)(body)


if __name__ == "__main__":
    # Serve the fake for a manual run of the whole pipeline, e.g.
    #   python -m tests.fakes.openai_api 8399 &
    #   SANAD_LLM=openai SANAD_LLM_BASE_URL=http://127.0.0.1:8399/v1 SANAD_LLM_MODEL=fake \
    #     sanad eval tests/data/dev.jsonl --llm
    # It measures the plumbing only: its "model" copies first sentences.
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8399
    server = FakeOpenAI(_plumbing_responder, port=port)
    server.start()
    print(f"fake OpenAI-compatible server on {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
