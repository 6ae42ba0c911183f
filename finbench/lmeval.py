"""`python -m finbench.lmeval …` is lm-eval's own CLI (`lm_eval …`, same arguments) with finbench's API models
(`finbench-chat-completions`, `finbench-openai-chat-completions`) registered. lm-eval has no plugin hook for models,
and `--include_path` only indexes task YAMLs before the model is built, so the registration is an import here."""

from __future__ import annotations


def _refuse_keys_in_model_args(argv: list[str]) -> None:
    """For finbench's API models, a key in --model_args is refused before lm-eval logs the arguments (its
    "Initializing … with arguments" line and its printed summary would carry it)."""
    from finbench.preflight import API_MODELS, refuse_secrets
    from lm_eval.utils import simple_parse_args_string

    def value(flag: str) -> str | None:
        for i, a in enumerate(argv):
            if a == flag and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(flag + "="):
                return a[len(flag) + 1:]
        return None

    if value("--model") in API_MODELS and value("--model_args"):
        refuse_secrets(simple_parse_args_string(value("--model_args")))


def main() -> None:
    import sys

    from finbench.preflight import ServingError

    try:
        _refuse_keys_in_model_args(sys.argv[1:])
        import finbench.api_model  # noqa: F401  (registers the models)
        from lm_eval.__main__ import cli_evaluate

        cli_evaluate()
    except ServingError as exc:
        print(f"finbench: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # Ctrl-C: one line, not lm-eval's and torch's stack
        print("[finbench] lm_eval interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
