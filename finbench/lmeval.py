"""`python -m finbench.lmeval …` is lm-eval's own CLI (`lm_eval …`, same arguments) with finbench's API models
(`finbench-chat-completions`, `finbench-openai-chat-completions`) registered. lm-eval has no plugin hook for models,
and `--include_path` only indexes task YAMLs before the model is built, so the registration is an import here."""

from __future__ import annotations

import logging

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


def main() -> None:
    import finbench.api_model  # noqa: F401  (registers the models)
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()


if __name__ == "__main__":
    main()
