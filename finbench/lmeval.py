"""`python -m finbench.lmeval …` is lm-eval's own CLI (`lm_eval …`, same arguments) with finbench's models
registered: the API models (`finbench-chat-completions`, `finbench-openai-chat-completions`) and `finbench-vllm`
(lm-eval's vllm with one request per multiple-choice document, finbench.vllm_mc). lm-eval has no plugin hook for models,
and `--include_path` only indexes task YAMLs before the model is built, so the registration is an import here."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

METADATA_NOTICE = "Custom kwargs can be passed to `--metadata`"


class _NoMetadataNotice(logging.Filter):
    """lm-eval warns once per task with a callable `custom_dataset` that kwargs can be passed via `--metadata`;
    finbench's loaders take none, so the notice (eight identical ones per finbench_all run) says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not (METADATA_NOTICE in msg and msg.startswith("finbench_"))


def quiet_lm_eval_notices() -> None:
    """Install the filter on lm-eval's task logger (idempotent). tasks/utils.py calls it, so plain `lm_eval` runs of
    finbench tasks are quiet too."""
    logger = logging.getLogger("lm_eval.api.task")
    if not any(isinstance(f, _NoMetadataNotice) for f in logger.filters):
        logger.addFilter(_NoMetadataNotice())


def command(model: str, model_args: str, tasks: str, output_path: str | Path) -> list[str]:
    """The command line of one lm-eval run of finbench tasks through this CLI, logging samples into `output_path`
    (what `finbench eval` and `finbench verify-serving` start; each adds its own flags)."""
    from finbench.config import tasks_dir

    return [
        sys.executable,
        "-m",
        "finbench.lmeval",
        "run",
        "--model",
        model,
        "--model_args",
        model_args,
        "--tasks",
        tasks,
        "--include_path",
        str(tasks_dir()),
        "--log_samples",
        "--output_path",
        str(output_path),
    ]


def _refuse_keys_in_model_args(argv: list[str]) -> None:
    """For finbench's API models, a key in --model_args is refused before lm-eval logs the arguments (its
    "Initializing … with arguments" line and its printed summary would carry it)."""
    from lm_eval.utils import simple_parse_args_string

    from finbench.preflight import API_MODELS, refuse_secrets

    def value(flag: str) -> str | None:
        for i, a in enumerate(argv):
            if a == flag and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(flag + "="):
                return a[len(flag) + 1 :]
        return None

    if value("--model") in API_MODELS and value("--model_args"):
        refuse_secrets(simple_parse_args_string(value("--model_args")))


def main() -> None:
    from finbench.preflight import ServingError

    try:
        _refuse_keys_in_model_args(sys.argv[1:])
        from lm_eval.__main__ import cli_evaluate

        import finbench.api_model  # noqa: F401  (registers the models)
        from finbench import vllm_mc

        vllm_mc.register()

        cli_evaluate()
    except ServingError as exc:
        print(f"finbench: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # Ctrl-C: one line, not lm-eval's and torch's stack
        print("[finbench] lm_eval interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
