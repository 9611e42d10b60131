"""A minimal OpenAI-compatible model server over llama.cpp, for measuring the harm reader on a CPU.

    pip install --no-deps llama-cpp-python==0.3.36   # compiles llama.cpp (~6 min on 2 cores)
    python bench/llama_logprob_server.py MODEL.gguf [--port 8077] [--threads 2]

It answers ``POST /v1/chat/completions`` requests for one token with ``logprobs`` and ``top_logprobs``
(what ``supportloop harm calibrate`` and the harm check send) and nothing else. llama-cpp-python's own
server gives log-probabilities only when started with ``--logits_all``, and then computes a
log-softmax over every prompt position: ~2.8 s a request here, against ~0.45 s for this one, which
evaluates the tokens after the prefix it shares with the previous request and reads the last
position's logits. The prompt is rendered in ChatML, the template of the Qwen2.5 models (DESIGN.md §3);
another model family needs its own template. Requests are answered one at a time.
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

import numpy as np
from aiohttp import web

CHATML = "<|im_start|>{role}\n{content}<|im_end|>\n"


class LastTokenReader:
    """The model's log-probabilities for the token after a chat's prompt, reusing the shared prefix."""

    def __init__(self, model_path: str, threads: int, context: int) -> None:
        from llama_cpp import Llama

        self.llm = Llama(model_path, n_ctx=context, n_threads=threads, verbose=False)
        self.lock = threading.Lock()

    def top(self, messages: list[dict[str, str]], k: int) -> list[tuple[str, float]]:
        prompt = "".join(CHATML.format(**m) for m in messages) + "<|im_start|>assistant\n"
        tokens = self.llm.tokenize(prompt.encode(), add_bos=False, special=True)
        with self.lock:
            seen = list(self.llm.input_ids[: self.llm.n_tokens])
            shared = 0
            while shared < min(len(seen), len(tokens) - 1) and seen[shared] == tokens[shared]:
                shared += 1
            self.llm.n_tokens = shared  # eval() drops the cache past this point
            self.llm.eval(tokens[shared:])
            logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.llm.n_vocab(),))
            logits = logits.astype(np.float64)
        logprobs = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
        best = np.argsort(-logprobs)[:k]
        return [(self.llm.detokenize([int(t)]).decode("utf-8", "replace"), float(logprobs[t])) for t in best]


def app(reader: LastTokenReader) -> web.Application:
    async def complete(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        if body.get("max_tokens") != 1 or not body.get("logprobs"):
            return web.json_response(
                {"object": "error", "message": "only one-token logprob requests"}, status=400
            )
        listed = reader.top(body["messages"], int(body.get("top_logprobs") or 1))
        top = [{"token": token, "logprob": logprob, "bytes": None} for token, logprob in listed]
        first = {"token": listed[0][0], "logprob": listed[0][1], "top_logprobs": top}
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": listed[0][0]},
            "logprobs": {"content": [first]},
        }
        return web.json_response(
            {"object": "chat.completion", "model": body.get("model"), "choices": [choice]}
        )

    application = web.Application()
    application.router.add_post("/v1/chat/completions", complete)
    return application


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", help="a GGUF file of a ChatML model (Qwen2.5)")
    parser.add_argument("--port", type=int, default=8077)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=4096, help="tokens of context (the prompt is ~700)")
    args = parser.parse_args()
    web.run_app(
        app(LastTokenReader(args.model, args.threads, args.context)), host="127.0.0.1", port=args.port
    )


if __name__ == "__main__":
    main()
