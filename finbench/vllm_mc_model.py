"""`finbench-vllm`: lm-eval's `vllm` model, with the multiple-choice loglikelihoods whose continuations differ only
in their last token scored from ONE request per context (finbench.vllm_mc has the plan and why). Same model_args as
`vllm`; generation and every other request go through lm-eval's code unchanged. Needs vLLM >= 0.32
(`SamplingParams.logprob_token_ids`)."""

from __future__ import annotations

import logging

from lm_eval.api.registry import register_model
from lm_eval.models.vllm_causallms import VLLM
from tqdm import tqdm
from vllm import SamplingParams

from finbench import vllm_mc

log = logging.getLogger(__name__)


@register_model(vllm_mc.MODEL_NAME)
class FinbenchVLLM(VLLM):
    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False):
        groups, rest = vllm_mc.plan(requests)
        prompts = {id(g): vllm_mc.prompt_tokens(g, self.max_length) for g in groups}
        rest = sorted(rest + [i for g in groups if prompts[id(g)] is None for i in g.members])
        groups = [g for g in groups if prompts[id(g)] is not None]
        res: list[tuple[float, bool] | None] = [None] * len(requests)
        if rest:
            for i, r in zip(rest, super()._loglikelihood_tokens([requests[i] for i in rest], disable_tqdm)):
                res[i] = r
        if groups:
            for i, r in self._one_request_per_context(requests, groups, prompts, disable_tqdm):
                res[i] = r
        return res

    def _one_request_per_context(self, requests, groups: list[vllm_mc.Group], prompts: dict, disable_tqdm: bool):
        """(request index, (loglikelihood, is_greedy)) for every member of the groups, one vLLM request per group."""
        groups = sorted(groups, key=lambda g: -len(prompts[id(g)]))  # longest first, as lm-eval's Collator orders
        n = len(groups) if self.batch_size == "auto" else int(self.batch_size)
        pbar = tqdm(
            total=sum(len(g.members) for g in groups),
            disable=disable_tqdm,
            desc="Running loglikelihood requests (one per context)",
        )
        for start in range(0, len(groups), n):
            chunk = groups[start : start + n]
            for g in chunk:
                if len(g.context) + len(g.prefix) + 1 > self.max_length - 1:
                    log.warning(
                        "Context length %s exceeds max length (%s). Truncating context.",
                        len(g.context) + len(g.prefix) + 1,
                        self.max_length - 1,
                    )
            params = [
                SamplingParams(
                    temperature=0,
                    max_tokens=1,
                    logprob_token_ids=g.token_ids,
                    prompt_logprobs=1 if g.prefix else None,  # for the shared prefix only
                    detokenize=False,
                )
                for g in chunk
            ]
            outputs = self._model_generate(
                requests=[prompts[id(g)] for g in chunk], generate=True, sampling_params=params
            )
            for g, out in zip(chunk, outputs, strict=True):
                prompt = prompts[id(g)]
                prefix = self._parse_logprobs(prompt, out, len(prompt) - len(g.prefix)) if g.prefix else (0.0, True)
                sample = out.outputs[0]
                logprobs = {t: getattr(lp, "logprob", lp) for t, lp in sample.logprobs[0].items()}
                for i, answer in zip(g.members, vllm_mc.scores(g, logprobs, sample.token_ids[0], prefix)):
                    cache_key = requests[i][0]
                    if cache_key is not None:
                        self.cache_hook.add_partial("loglikelihood", cache_key, answer)
                    yield i, answer
                pbar.update(len(g.members))
        pbar.close()
