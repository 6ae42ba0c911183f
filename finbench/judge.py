"""An LLM judge for open-ended answers (FinanceBench), through any OpenAI-compatible chat-completions endpoint.

- One fixed, versioned prompt (PROMPT_VERSION, JUDGE_PROMPT): change the text, change the version.
- Deterministic requests (temperature 0, a few tokens); the verdict is the first CORRECT / INCORRECT word of the reply.
- Every judge answer is cached in finbench's API response cache (finbench.api_model.ResponseCache, the same SQLite
  file as the API models' answers) under a key of the judge's identity (endpoint, model, prompt version) and the
  prompt, so a re-run (or a killed run resumed) sends only what has no verdict yet.
- Each verdict carries the raw reply, the judge model asked for and the model the server says answered.
- The API key comes from the environment only (FINBENCH_JUDGE_API_KEY, else OPENAI_API_KEY) and is never stored.

Configure it for lm-eval with `--metadata '{"judge": "gpt-4o-2024-08-06", "judge_base_url":
"https://api.openai.com/v1"}'` (default `judge: none`: only the numeric answers are scored). A small model is not a
judge: CALIBRATION holds hand-written right and wrong answers that a capable judge must grade correctly
(`calibrate`); SmolLM2-135M runs it in the tests only as a smoke test of the path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from .config import cache_dir

PROMPT_VERSION = "financebench-judge-v1"
JUDGE_PROMPT = """You are grading an answer to a question about a company's financial filing.

Question: {question}

Gold answer: {gold}

Candidate answer: {answer}

The candidate answer is CORRECT if it reaches the same conclusion as the gold answer and states the same key facts \
and figures (figures may be rounded or written in other units). It is INCORRECT if it contradicts the gold answer, \
gives different figures, leaves out the gold answer's conclusion, or does not answer. Extra explanation that does \
not contradict the gold answer is allowed.

Reply with one word: CORRECT or INCORRECT."""
KEY_ENVS = ("FINBENCH_JUDGE_API_KEY", "OPENAI_API_KEY")
_VERDICT = re.compile(r"\b(INCORRECT|CORRECT|WRONG|RIGHT)\b", re.I)


class JudgeError(RuntimeError):
    """The judge cannot be asked (bad endpoint, no key, HTTP error after retries); the message says what to do."""


def parse_verdict(text: str | None) -> int | None:
    """1 for CORRECT, 0 for INCORRECT (the first such word of the reply), None when the reply has neither."""
    m = _VERDICT.search(text or "")
    return None if m is None else int(m.group(1).upper() in ("CORRECT", "RIGHT"))


def chat_url(base_url: str) -> str:
    """`…/v1` or `…/v1/chat/completions` -> the chat-completions URL."""
    url = base_url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


@dataclass
class Judge:
    model: str
    base_url: str
    response_cache: str | None = None  # path, or "none"; default $FINBENCH_CACHE_DIR/api_responses.sqlite
    max_tokens: int = 8
    retries: int = 3
    timeout_s: float = 120
    served: set = field(default_factory=set)

    def __post_init__(self):
        if not self.model or not self.base_url:
            raise JudgeError(
                "the judge needs a model and an OpenAI-compatible base_url: --metadata "
                '\'{"judge": "<model>", "judge_base_url": "http://HOST:PORT/v1"}\' (or judge: none)'
            )
        self.identity = json.dumps(
            {
                "judge": self.model,
                "base_url": chat_url(self.base_url),
                "prompt_version": PROMPT_VERSION,
                "max_tokens": self.max_tokens,
            },
            sort_keys=True,
        )
        off = str(self.response_cache).lower() in ("none", "false", "0", "off")
        if off:
            self._cache = None
        else:
            from .api_model import CACHE_FILE, ResponseCache

            self._cache = ResponseCache(self.response_cache or cache_dir() / CACHE_FILE)

    def describe(self) -> dict:
        return {"judge": self.model, "base_url": chat_url(self.base_url), "prompt_version": PROMPT_VERSION}

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        key = next((os.environ[k] for k in KEY_ENVS if os.environ.get(k)), None)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _ask(self, prompt: str) -> tuple[str, str]:
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": 0,
                "max_tokens": self.max_tokens,
                "seed": 1234,
            }
        ).encode()
        last = None
        for attempt in range(self.retries):
            req = urllib.request.Request(chat_url(self.base_url), data=body, headers=self._headers(), method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                    out = json.loads(r.read())
                return out["choices"][0]["message"]["content"] or "", str(out.get("model") or self.model)
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}"
                if e.code in (400, 401, 403, 404):
                    break
            except (urllib.error.URLError, OSError, KeyError, IndexError, ValueError) as e:
                last = f"{type(e).__name__}: {e}"
            time.sleep(min(8, 2**attempt))
        raise JudgeError(
            f"judge {self.model} at {chat_url(self.base_url)} did not answer ({last}). Check "
            "judge_base_url, that the server serves this model, and the key in "
            f"{' or '.join(KEY_ENVS)}; or run with judge: none."
        )

    def grade(self, question: str, gold: str, answer: str | None) -> dict:
        """{verdict: 1/0 (an unreadable verdict or an empty answer is 0), raw, judge, served, prompt_version,
        cached}."""
        base = {"judge": self.model, "prompt_version": PROMPT_VERSION}
        if not answer:
            return {**base, "verdict": 0, "raw": "", "served": None, "cached": False, "note": "no answer"}
        prompt = JUDGE_PROMPT.format(question=question.strip(), gold=gold.strip(), answer=answer.strip()[:4000])
        key = hashlib.sha256(f"judge|{self.identity}|{prompt}".encode()).hexdigest()
        hit = self._cache.get(key) if self._cache else None
        if hit is not None:
            raw, served, cached = hit[0], hit[1].get("served"), True
        else:
            raw, served = self._ask(prompt)
            cached = False
            if self._cache:
                self._cache.put(key, self.identity, raw, {"served": served})
        self.served.add(served)
        verdict = parse_verdict(raw)
        out = {**base, "verdict": int(verdict or 0), "raw": raw, "served": served, "cached": cached}
        if verdict is None:
            out["note"] = "no CORRECT/INCORRECT in the reply: scored 0"
        return out


def from_metadata(meta: dict) -> Judge | None:
    """The judge lm-eval's --metadata asks for (`judge`, `judge_base_url`, `judge_cache`); None for judge: none."""
    name = str(meta.get("judge") or "none")
    if name.lower() in ("none", "off", "false", ""):
        return None
    return Judge(name, str(meta.get("judge_base_url") or ""), meta.get("judge_cache"))


# Hand-written candidate answers to FinanceBench questions, each with the verdict a capable judge must give
# (financebench id, candidate, expected verdict). The question and gold come from the data at run time.
CALIBRATION = [
    ("financebench_id_01981", "Yes. American Express kept its card members in 2022; retention stayed high.", 1),
    ("financebench_id_01981", "No, American Express lost most of its card members during 2022.", 0),
    ("financebench_id_00563", "The Data Center segment.", 1),
    ("financebench_id_00563", "The Gaming segment grew the most.", 0),
    ("financebench_id_01964", "Customer deposits were the largest liability.", 1),
    ("financebench_id_01964", "Long-term debt was the largest liability.", 0),
    (
        "financebench_id_02049",
        "Yes, its VaR was lower than in the same quarter a year earlier, so the risk decreased.",
        1,
    ),
    ("financebench_id_02049", "No, VaR rose compared with the prior year, so the risk increased.", 0),
    ("financebench_id_00705", "It was increased by $400 million.", 1),
    ("financebench_id_00705", "It was increased by $4 billion.", 0),
    ("financebench_id_00476", "None: no debt securities are registered to trade under its name.", 1),
    ("financebench_id_00476", "I cannot determine this from the evidence.", 0),
]


def calibrate(judge: Judge, records: dict[str, dict]) -> dict:
    """Grade CALIBRATION with `judge` (records: FinanceBench test records by id) -> {agreement, n, results}."""
    results = []
    for rid, answer, expected in CALIBRATION:
        rec = records[rid]
        got = judge.grade(rec["question"], rec["answer"], answer)
        results.append({"id": rid, "answer": answer, "expected": expected, **got})
    agree = sum(r["verdict"] == r["expected"] for r in results)
    return {"agreement": agree / len(results), "n": len(results), "results": results}
