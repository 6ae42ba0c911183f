"""finbench.vllm_mc, the request plan of `finbench-vllm` (no vllm needed): which lm-eval loglikelihood requests are
scored from one request per context, the prompt it sends (lm-eval's truncation), how the scores map back, and the
token ids it uses being the ones lm-eval's own tokenisation of the finbench _mc tasks gives."""

from __future__ import annotations

import pytest

from finbench import registry, vllm_mc


def req(context, continuation, key=None):
    return (key, list(context), list(continuation))


def test_single_token_continuations_of_one_context_are_one_group_in_first_seen_order():
    requests = [req([1, 2, 3], [7]), req([1, 2, 3], [8]), req([4, 5], [7]), req([1, 2, 3], [9]), req([4, 5], [8])]
    groups, rest = vllm_mc.plan(requests)
    assert rest == []
    assert [(g.context, g.prefix, g.members, g.tokens) for g in groups] == [
        ((1, 2, 3), (), [0, 1, 3], [7, 8, 9]),
        ((4, 5), (), [2, 4], [7, 8]),
    ]


def test_continuations_sharing_all_but_their_last_token_are_one_group_with_that_prefix():
    """The chat-template case: lm-eval moves the context's trailing "\n" into every continuation."""
    groups, rest = vllm_mc.plan([req([1, 2], [198, 7]), req([1, 2], [198, 8]), req([1, 2], [198, 9])])
    assert rest == [] and [(g.prefix, g.tokens) for g in groups] == [((198,), [7, 8, 9])]


def test_a_context_whose_continuations_differ_before_their_last_token_goes_whole_to_the_stock_path():
    requests = [
        req([1, 2], [7]),
        req([1, 2], [8, 9]),  # lengths differ: the whole context 1,2 falls back
        req([3], [5, 7]),
        req([3], [6, 7]),  # same length, different first token
        req([4], [7]),
        req([4], []),  # empty continuation
        req([5], [7]),
    ]
    groups, rest = vllm_mc.plan(requests)
    assert [g.context for g in groups] == [(5,)]
    assert rest == [0, 1, 2, 3, 4, 5]


def test_contexts_differing_in_one_token_are_different_groups():
    groups, rest = vllm_mc.plan([req([1, 2, 3], [7]), req([1, 2, 4], [7])])
    assert len(groups) == 2 and rest == []


def test_repeated_and_too_many_token_ids():
    groups, _ = vllm_mc.plan([req([1], [7]), req([1], [7]), req([1], [3])])
    assert groups[0].tokens == [7, 7, 3] and groups[0].token_ids == [3, 7]
    many = [req([1], [t]) for t in range(vllm_mc.MAX_TOKEN_IDS + 1)]
    groups, rest = vllm_mc.plan(many)
    assert groups == [] and rest == list(range(len(many)))  # vLLM refuses more ids in one request


@pytest.mark.parametrize("prefix", [(), (198,), (198, 199)])
def test_prompt_is_truncated_like_the_stock_path(prefix):
    """lm-eval's stock path sends (context + continuation)[-(max_length - 1):]; the group's prompt is that, less
    the last continuation token."""
    context = tuple(range(100))
    for max_length in (8, 50, 101, 102, 103, 200):
        group = vllm_mc.Group(context, prefix, [0], [999])
        stock = (list(context) + list(prefix) + [999])[-(max_length - 1) :]
        assert vllm_mc.prompt_tokens(group, max_length) == stock[:-1]
    assert vllm_mc.prompt_tokens(vllm_mc.Group(context, tuple(range(6)), [0], [999]), 8) is None


def test_scores_map_back_per_member_add_the_prefix_and_refuse_a_missing_token():
    group = vllm_mc.Group((1,), (), [4, 0, 2], [7, 8, 7])
    assert vllm_mc.scores(group, {7: -0.5, 8: -2.0, 9: -0.1}, greedy_token=7) == [
        (-0.5, True),
        (-2.0, False),
        (-0.5, True),
    ]
    assert vllm_mc.scores(group, {7: -0.5, 8: -2.0}, 7, prefix=(-1.25, True)) == [
        (-1.75, True),
        (-3.25, False),
        (-1.75, True),
    ]
    assert [g for _, g in vllm_mc.scores(group, {7: -0.5, 8: -2.0}, 7, prefix=(-1.25, False))] == [False] * 3
    with pytest.raises(RuntimeError, match=r"\[8\]"):
        vllm_mc.scores(group, {7: -0.5}, greedy_token=7)


def test_register_makes_the_model_known_to_lm_eval_without_importing_vllm():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lm_eval.api.registry import model_registry\n"
        "from finbench import vllm_mc\n"
        "vllm_mc.register(); vllm_mc.register()\n"  # idempotent
        "assert vllm_mc.MODEL_NAME in model_registry and 'vllm' in model_registry and 'hf' in model_registry\n"
        "print('vllm' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


class _Tok:
    """lm-eval's TemplateLM tokenisation (`_encode_pair`) with its vLLM backend's `tok_encode` rule (no special tokens
    added to a string that starts with the BOS text, e.g. a chat-templated one) over the default model's tokenizer."""

    backend = "causal"

    def __init__(self, tokenizer):
        from lm_eval.api.model import TemplateLM

        self.tokenizer = tokenizer
        self._encode_pair = TemplateLM._encode_pair.__get__(self)

    def tok_encode(self, s, add_special_tokens=None):
        from lm_eval.models.utils import has_bos_prefix

        kwargs = {"add_special_tokens": False} if has_bos_prefix(s, self.tokenizer.bos_token) else {}
        return self.tokenizer(s, **kwargs).input_ids


@pytest.mark.parametrize("chat", [True, False])
def test_every_finbench_mc_task_is_one_request_per_document_for_the_default_model(default_model, chat):
    """The requests lm-eval builds for the _mc tasks on real prompts (target delimiter " " without the chat
    template, "" with it), split into tokens the way `_encode_pair` splits them: each document's choices share all
    but their last token (nothing, or the "\n" that ends the chat template's assistant header), so every document
    takes the one-request path."""
    from transformers import AutoTokenizer

    from finbench import data, prompts

    tok = AutoTokenizer.from_pretrained(default_model)
    lm = _Tok(tok)
    mc = [t for t in registry.TASKS.values() if t.multiple_choice and t.suite == registry.SUITE]
    assert {t.name for t in mc} == set(registry.groups()["finbench_all_mc"])
    for task in mc:
        requests = []
        for doc in data.load_splits(task.data, "sample").splits["test"][:4]:
            ctx = prompts.prompt(task.name, doc)
            if chat:
                ctx = tok.apply_chat_template(
                    [{"role": "user", "content": ctx}], tokenize=False, add_generation_prompt=True
                )
            delimiter = "" if chat else " "
            requests += [((ctx, delimiter + c), *lm._encode_pair(ctx, delimiter + c)) for c in task.labels]
        groups, rest = vllm_mc.plan(requests)
        assert rest == [] and len(groups) == 4, (task.name, chat, [r[2] for r in requests])
        assert {g.prefix for g in groups} == {tuple(tok("\n").input_ids) if chat else ()}
        assert all(len(set(g.tokens)) == len(task.labels) for g in groups)


def test_finbench_eval_backend_vllm_runs_finbench_vllm_when_a_task_is_multiple_choice():
    from finbench.cli import lm_eval_model

    assert lm_eval_model("vllm", ["finbench_all_mc"]) == vllm_mc.MODEL_NAME
    assert lm_eval_model("vllm", ["finbench_fpb", "finbench_headline_mc"]) == vllm_mc.MODEL_NAME
    assert lm_eval_model("vllm", ["finbench_all"]) == "vllm"  # generative only: lm-eval's own, unchanged
    assert lm_eval_model("vllm", ["hellaswag"]) == "vllm"  # not a finbench task
    assert lm_eval_model("hf", ["finbench_all_mc"]) == "hf"
