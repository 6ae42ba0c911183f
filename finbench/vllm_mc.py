"""Cheap multiple-choice loglikelihoods on vLLM: the request plan behind the `finbench-vllm` lm-eval model
(finbench.vllm_mc_model), importable without vllm.

lm-eval's vLLM backend scores a multiple-choice document with one prompt per (document, choice), each asking for
prompt logprobs, which vLLM V1 computes over every prompt position and never serves from the prefix cache (vLLM
#13409). When the continuations of a context differ only in their LAST token (a shared prefix P, then one token
each), all of them are scored by ONE request: the prompt context + P, `max_tokens=1` with `logprob_token_ids` (vLLM
>= 0.32) returning the next-token logprobs of exactly those last tokens, plus, when P is not empty, prompt logprobs
for P's positions (its loglikelihood and greedy check, which every choice shares).

The token ids are lm-eval's: the plan works on the (context_enc, continuation_enc) pairs its `_encode_pair` produced,
so the target delimiter, the chat template and the BPE split are lm-eval's. That matters: with the chat template the
context ends in "assistant\n", and `_encode_pair` moves that trailing whitespace into the continuation, so each
finbench label is two tokens, "\n" + label (P = "\n"); without it, " label" is one token (P empty, and the request
asks for no prompt logprobs, so vLLM's prefix cache serves the shared part of the prompts). Everything else takes
lm-eval's stock path unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field

MODEL_NAME = "finbench-vllm"
MODEL_TARGET = "finbench.vllm_mc_model:FinbenchVLLM"
MAX_TOKEN_IDS = 128  # vllm.sampling_params.MAX_LOGPROB_TOKEN_IDS: the most ids one request may ask logprobs for


@dataclass
class Group:
    """One request of the fast path: a context, the continuation prefix its lm-eval requests share (by index), and
    each one's last continuation token."""

    context: tuple[int, ...]
    prefix: tuple[int, ...] = ()  # continuation tokens every member shares, before its last one
    members: list[int] = field(default_factory=list)  # indices into the request list
    tokens: list[int] = field(default_factory=list)  # each member's last continuation token, in members' order

    @property
    def token_ids(self) -> list[int]:
        """The distinct last tokens, the `logprob_token_ids` of the request."""
        return sorted(set(self.tokens))


def plan(requests: list[tuple[object, list[int], list[int]]]) -> tuple[list[Group], list[int]]:
    """Split lm-eval's `_loglikelihood_tokens` requests ((cache_key, context_enc, continuation_enc) each) into
    groups scored by one request per context (its continuations: one shared prefix, then one token each, at most
    MAX_TOKEN_IDS distinct ones) and the sorted indices of the rest (lm-eval's stock path). Groups keep first-seen
    order."""
    by_context: dict[tuple[int, ...], list[int]] = {}
    for i, (_, context, _) in enumerate(requests):
        by_context.setdefault(tuple(context), []).append(i)
    groups, rest = [], []
    for context, members in by_context.items():
        conts = [tuple(requests[i][2]) for i in members]
        prefixes = {c[:-1] for c in conts}
        if context and all(conts) and len(prefixes) == 1 and len({c[-1] for c in conts}) <= MAX_TOKEN_IDS:
            groups.append(Group(context, prefixes.pop(), members, [c[-1] for c in conts]))
        else:
            rest.extend(members)
    return groups, sorted(rest)


def prompt_tokens(group: Group, max_length: int) -> list[int] | None:
    """The prompt of a group's request: context + prefix, left-truncated exactly as lm-eval's stock path truncates
    context + continuation to max_length - 1 tokens (its `max_cxt_len`), less the last token. None when the
    truncation would reach into the prefix (the stock path handles that)."""
    whole = list(group.context) + list(group.prefix)
    keep = max_length - 2
    if len(group.prefix) >= keep:
        return None
    return whole[-keep:] if len(whole) > keep else whole


def scores(
    group: Group, logprobs: dict[int, float], greedy_token: int, prefix: tuple[float, bool] = (0.0, True)
) -> list[tuple[float, bool]]:
    """(loglikelihood, is_greedy) per member of a group, from the next-token logprobs after context + prefix (a
    dict holding at least every last token of the group), the greedy next token, and the prefix's own
    (loglikelihood, is_greedy) given the context (its sum over prefix tokens, the same for every member)."""
    missing = [t for t in group.token_ids if t not in logprobs]
    if missing:
        raise RuntimeError(f"vLLM returned no logprob for continuation token(s) {missing}")
    return [(prefix[0] + float(logprobs[t]), prefix[1] and t == greedy_token) for t in group.tokens]


def register() -> None:
    """Register `finbench-vllm` with lm-eval as a lazy placeholder (vllm is imported only when the model is built).
    `python -m finbench.lmeval` and `finbench eval` call it; Python API users call it before `simple_evaluate`."""
    import lm_eval.models  # noqa: F401  (lm-eval's own models first: get_model imports them only into an empty registry)
    from lm_eval.api.registry import model_registry

    if MODEL_NAME not in model_registry:
        model_registry.register(MODEL_NAME, target=MODEL_TARGET)
