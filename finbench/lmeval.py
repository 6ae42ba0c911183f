"""`python -m finbench.lmeval …` is lm-eval's own CLI (`lm_eval …`, same arguments) with finbench's API models
(`finbench-chat-completions`, `finbench-openai-chat-completions`) registered. lm-eval has no plugin hook for models,
and `--include_path` only indexes task YAMLs before the model is built, so the registration is an import here."""

from __future__ import annotations


def main() -> None:
    import finbench.api_model  # noqa: F401  (registers the models)
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()


if __name__ == "__main__":
    main()
