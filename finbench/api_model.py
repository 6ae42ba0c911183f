"""Thin subclasses of lm-eval's chat-completions models for API baselines (registered as lm-eval models).

`finbench-chat-completions` (any OpenAI-compatible endpoint, like lm-eval's `local-chat-completions`) and
`finbench-openai-chat-completions` (like `openai-chat-completions`) keep lm-eval's request building, bounded
concurrency (`num_concurrent`) and tenacity retries with exponential backoff (`max_retries`), and add what lm-eval
0.4.13 lacks:

- a response cache whose key includes the model's identity (API kind, endpoint, model name, `model_revision`, seed,
  default `max_gen_toks`). lm-eval's `--use_cache` keys a request by its prompt and generation arguments only, so
  two models sharing a cache file get each other's answers. Each answer is committed the moment it arrives, so a
  run killed midway resumes and sends only the requests that have no answer yet;
- token usage (from the responses' `usage`) and an estimated cost (`finbench.pricing`), written into the results
  file's `config.finbench_api` through lm-eval's `get_model_info` hook;
- a clear error before any request for a key in `--model_args` (keys come from the environment only), a missing
  key, an unreachable endpoint, and prompts longer than the served model's window;
- the API key masked in every log record (aiohttp's error reprs carry the request headers);
- `finbench-openai-chat-completions` keeps `stop` and `temperature=0` for GPT-4o snapshots: lm-eval drops them for
  any model name containing "5" (meant for gpt-5), which includes `gpt-4o-2024-05-13`.

Import this module to register the models: `python -m finbench.lmeval` (lm-eval's CLI) and `finbench eval` do.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import time
from pathlib import Path

from lm_eval.api.model import hash_args
from lm_eval.api.registry import register_model
from lm_eval.models.openai_completions import LocalChatCompletion, OpenAIChatCompletion
from lm_eval.models.utils import handle_stop_sequences

from . import preflight
from .config import cache_dir
from .pricing import estimate_cost

log = logging.getLogger("lm_eval.finbench")  # under lm-eval's logger: shown with its output

CACHE_FILE = "api_responses.sqlite"
KEY_ENV = "OPENAI_API_KEY"


class ResponseCache:
    """Answers by request key in one SQLite file; every `put` is committed at once (a kill loses nothing stored)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, identity TEXT NOT NULL, "
            "text TEXT NOT NULL, usage TEXT, created REAL NOT NULL)"
        )

    def get(self, key: str) -> tuple[str, dict] | None:
        with self._lock:
            row = self._db.execute("SELECT text, usage FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1] or "{}"))

    def put(self, key: str, identity: str, text: str, usage: dict | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                (key, identity, text, json.dumps(usage or {}), time.time()),
            )

    def count(self, identity: str | None = None) -> int:
        with self._lock:
            if identity is None:
                return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM responses WHERE identity = ?", (identity,)).fetchone()[0]


class _Hook:
    """lm-eval calls `cache_hook.add_partial(...)` right after parsing each successful response: store it in the
    finbench cache (with that response's usage) and pass it on to lm-eval's own `--use_cache` hook, if any."""

    def __init__(self, lm: _FinbenchChatMixin, outer=None):
        self.lm, self.outer = lm, outer

    def add_partial(self, attr: str, req, res) -> None:
        self.lm._store(attr, req, res)
        if self.outer is not None:
            self.outer.add_partial(attr, req, res)


_MASKED: set[str] = set()


def _mask_key_in_logs(secret: str) -> None:
    """Mask `secret` in every log record of this process, whatever logger or handler it goes through (lm-eval
    (re)configures its handlers; a record factory sees every record before any handler does)."""
    if not secret or len(secret) < 6 or secret in _MASKED:
        return
    _MASKED.add(secret)
    make = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = make(*args, **kwargs)
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
            return record
        if secret in msg:
            record.msg, record.args = msg.replace(secret, "***"), None
        return record

    logging.setLogRecordFactory(factory)


class _FinbenchChatMixin:
    """Cache by model identity, usage and cost accounting, pre-flight checks: shared by both registered models, whose
    constructor this is (the lm-eval base class after it in the MRO builds the requests). Extra model_args:
    `response_cache` (path, or `none`; default $FINBENCH_CACHE_DIR/api_responses.sqlite), `model_revision` (part of
    the cache key: change it when a new checkpoint is served under the same name), `check_endpoint` (default true)."""

    _registered_as = ""

    def __init__(
        self,
        response_cache: str | None = None,
        model_revision: str | None = None,
        check_endpoint: bool = True,
        max_retries: int = 5,
        **kwargs,
    ):
        preflight.refuse_secrets(kwargs, KEY_ENV)
        self._require(kwargs)
        super().__init__(max_retries=max_retries, **kwargs)
        self._identity = json.dumps(
            {
                "api": self._registered_as,
                "base_url": self.base_url,
                "model": self.model,
                "model_revision": model_revision,
                "seed": self._seed,
                "max_gen_toks": self._max_gen_toks,
            },
            sort_keys=True,
        )
        # on by default: only an explicit response_cache=none (or off/false/0) turns it off
        off = response_cache is not None and str(response_cache).strip().lower() in ("", "none", "false", "0", "off")
        self._cache = None if off else ResponseCache(response_cache or cache_dir() / CACHE_FILE)
        self._usage = {
            "requests_sent": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cache_hits": 0,
            "cached_prompt_tokens": 0,
            "cached_completion_tokens": 0,
        }
        self._served_models: set[str] = set()
        self._last_usage: dict | None = None
        self._window = None
        self.set_cache_hook(None)
        _mask_key_in_logs(os.environ.get(KEY_ENV, ""))
        if _truthy(check_endpoint):
            info = preflight.check_endpoint(self.base_url, self.header)
            self._window = info.get("max_model_len")
            self._tokenizer_dir = info.get("root")

    # -- cache ------------------------------------------------------------------------------------------------------
    def _key(self, attr: str, args) -> str:
        return hash_args(f"{attr}|{self._identity}", list(args)[:2])

    def set_cache_hook(self, cache_hook) -> None:
        super().set_cache_hook(_Hook(self, cache_hook))

    def _store(self, attr: str, req, res) -> None:
        usage, self._last_usage = self._last_usage, None
        if self._cache is not None and attr == "generate_until" and res is not None:
            self._cache.put(self._key(attr, req), self._identity, res, usage)

    def parse_generations(self, outputs, **kwargs) -> list[str]:
        for out in outputs if isinstance(outputs, list) else [outputs]:
            usage = (out or {}).get("usage") or {}
            self._usage["requests_sent"] += 1
            self._usage["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
            self._usage["completion_tokens"] += int(usage.get("completion_tokens") or 0)
            if (out or {}).get("model"):
                self._served_models.add(out["model"])
            self._last_usage = {k: usage.get(k) for k in ("prompt_tokens", "completion_tokens")}
        return super().parse_generations(outputs, **kwargs)

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        self._check_context(requests)
        if self._cache is None:
            return super().generate_until(requests, disable_tqdm)
        out: list[str | None] = [None] * len(requests)
        todo = []
        for i, req in enumerate(requests):
            hit = None if req.args[1].get("do_sample") else self._cache.get(self._key("generate_until", req.args))
            if hit is None:
                todo.append(i)
                continue
            out[i] = hit[0]
            self._usage["cache_hits"] += 1
            self._usage["cached_prompt_tokens"] += int(hit[1].get("prompt_tokens") or 0)
            self._usage["cached_completion_tokens"] += int(hit[1].get("completion_tokens") or 0)
        log.info(
            "finbench response cache %s: %d answers from cache, %d to request",
            self._cache.path,
            len(requests) - len(todo),
            len(todo),
        )
        if todo:
            for i, text in zip(todo, super().generate_until([requests[i] for i in todo], disable_tqdm), strict=True):
                out[i] = text
        return out

    # -- checks -----------------------------------------------------------------------------------------------------
    def _check_context(self, requests) -> None:
        """Prompt + max_gen_toks must fit the served model's window (known for vLLM servers): else one clear error
        naming how many requests do not fit, before any request is sent."""
        if not self._window or not requests:
            return
        tok_dir = self.tokenizer or getattr(self, "_tokenizer_dir", None)
        if not tok_dir or not Path(tok_dir).is_dir():
            return
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(tok_dir)
        too_long = []
        for req in requests:
            messages = json.loads(req.args[0].prompt) if hasattr(req.args[0], "prompt") else req.args[0]
            n = len(
                tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)[
                    "input_ids"
                ]
            )
            gen = int(req.args[1].get("max_gen_toks", self._max_gen_toks))
            if n + gen > self._window:
                too_long.append((req.task_name, req.doc_id, n, gen))
        if too_long:
            task, doc, n, gen = too_long[0]
            raise preflight.ServingError(
                f"{len(too_long)} of {len(requests)} prompts do not fit the served model's window of {self._window} "
                f"tokens (e.g. {task} doc {doc}: {n} prompt + {gen} generated tokens). Serve the model with a larger "
                f"--max-model-len, or evaluate fewer/shorter tasks."
            )

    # -- results ----------------------------------------------------------------------------------------------------
    def usage_summary(self) -> dict:
        served = sorted(self._served_models)
        priced = served[0] if len(served) == 1 else self.model
        u = self._usage
        return {
            "identity": json.loads(self._identity),
            "served_model": served,
            "usage": dict(u),
            "estimated_cost_this_run": estimate_cost(priced, u["prompt_tokens"], u["completion_tokens"]),
            "estimated_cost_all_answers": estimate_cost(
                priced,
                u["prompt_tokens"] + u["cached_prompt_tokens"],
                u["completion_tokens"] + u["cached_completion_tokens"],
            ),
            "response_cache": str(self._cache.path) if self._cache else None,
        }

    def get_model_info(self) -> dict:
        info = super().get_model_info() if hasattr(super(), "get_model_info") else {}
        summary = self.usage_summary()
        log.info("finbench API usage: %s", json.dumps(summary["usage"]))
        return {**info, "finbench_api": summary}


@register_model("finbench-chat-completions")
class FinbenchChatCompletion(_FinbenchChatMixin, LocalChatCompletion):
    """lm-eval's `local-chat-completions` with finbench's cache, usage accounting and checks (model_args: see
    _FinbenchChatMixin); `base_url` is required."""

    _registered_as = "finbench-chat-completions"

    @staticmethod
    def _require(kwargs: dict) -> None:
        if not kwargs.get("base_url"):
            raise preflight.ServingError(
                "finbench-chat-completions needs base_url=http://HOST:PORT/v1/chat/completions in --model_args."
            )


@register_model("finbench-openai-chat-completions")
class FinbenchOpenAIChatCompletion(_FinbenchChatMixin, OpenAIChatCompletion):
    """lm-eval's `openai-chat-completions` (GPT-4o etc.) with finbench's cache, usage and cost, and checks; the key
    comes from $OPENAI_API_KEY."""

    _registered_as = "finbench-openai-chat-completions"

    @staticmethod
    def _require(kwargs: dict) -> None:
        preflight.require_api_key(KEY_ENV)

    def _create_payload(self, messages, generate=False, gen_kwargs=None, seed=1234, eos="<|endoftext|>", **kwargs):
        gen_kwargs = dict(gen_kwargs or {})
        keep = {"until": gen_kwargs.get("until"), "temperature": gen_kwargs.get("temperature", 0)}
        out = super()._create_payload(messages, generate=generate, gen_kwargs=gen_kwargs, seed=seed, eos=eos, **kwargs)
        if not re.match(r"^(o\d|gpt-5)", str(self.model)) and "stop" not in out:
            stop = handle_stop_sequences(keep["until"] or ["<|endoftext|>"], eos)
            out["stop"] = ([stop] if isinstance(stop, str) else list(stop))[:4]
            out["temperature"] = keep["temperature"]
        return out


def _truthy(value) -> bool:
    return str(value).lower() not in ("false", "0", "no", "off", "none")
