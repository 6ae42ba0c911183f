"""The CLI's flag rule (README, "Flags"): finbench's own flags are spelled with dashes and accept the underscore
spelling; flags lm-eval also has keep lm-eval's spelling, checked against the real `lm_eval run --help`."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from finbench.cli import build_parser


def _commands(parser: argparse.ArgumentParser, path=()):
    """(command path, parser) for every sub-command, however deep."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, path + (name,))


def _long_flags(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}


@pytest.fixture(scope="module")
def lm_eval_flags() -> set[str]:
    out = subprocess.run([sys.executable, "-m", "lm_eval", "run", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9_]*", out.stdout))


def _lm_eval_spelling(flag: str) -> str:
    name = flag[2:].removeprefix("no-")  # --no-x: the negated form of a boolean flag --x
    return "--" + name.replace("-", "_")


def test_every_flag_is_lm_evals_spelling_or_dashed(lm_eval_flags):
    assert {"--model_args", "--output_path", "--batch_size", "--apply_chat_template"} <= lm_eval_flags
    flags = {(path, flag) for path, parser in _commands(build_parser()) for flag in _long_flags(parser)}
    assert len(flags) > 50 and (("verify-serving",), "--output_path") in flags and (("eval",), "--data-dir") in flags
    for path, flag in flags:
        if "_" in flag:  # underscores only in lm-eval's flags, spelled exactly as lm_eval spells them
            assert _lm_eval_spelling(flag) in lm_eval_flags, f"finbench {' '.join(path)} {flag}: use dashes"
        elif "-" in flag[2:].removeprefix("no-"):  # a flag lm-eval has, spelled another way, would be a trap
            assert _lm_eval_spelling(flag) not in lm_eval_flags, f"finbench {' '.join(path)} {flag}: lm-eval's spelling"


@pytest.mark.parametrize(
    "argv, dest, value",
    [
        (["eval", "--data_dir", "sample"], "data_dir", "sample"),
        (["data", "check", "--data_dir=sample"], "data_dir", "sample"),
        (["leaderboard", "build", "runs", "--out", "site", "--n_boot", "5"], "n_boot", 5),
        (["regress", "--baseline", "a", "--candidate", "b", "--max_drop", "0.01"], "max_drop", 0.01),
        (["verify-serving", "--base", "b", "--adapter", "a", "--min_agreement", "0.8"], "min_agreement", 0.8),
        (["sweep", "run", "d", "--tensor_parallel_size=2"], "tensor_parallel_size", 2),
        (["sweep", "run", "d", "--no_wait"], "wait", False),  # the negated form of a boolean flag too
        (["finetune", "train", "r.yaml", "--max_steps", "3"], "max_steps", 3),
    ],
)
def test_own_flags_accept_the_underscore_spelling(argv, dest, value):
    args, rest = build_parser().parse_known_args(argv)
    assert getattr(args, dest) == value and rest == []


def test_lm_eval_flags_keep_lm_evals_spelling_and_unknown_ones_pass_through_unchanged():
    args, rest = build_parser().parse_known_args(
        ["eval", "--model_args", "pretrained=m", "--num_fewshot", "3", "--gen_kwargs", "temperature=0"]
    )
    assert args.model_args == "pretrained=m"
    assert rest == ["--num_fewshot", "3", "--gen_kwargs", "temperature=0"]  # for lm_eval, as typed


def test_help_shows_one_spelling_and_abbreviations_stay_unambiguous(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["leaderboard", "build", "--help"])
    text = capsys.readouterr().out
    assert "--n-boot" in text and "--n_boot" not in text
    args, _ = build_parser().parse_known_args(["eval", "--data", "sample"])  # argparse's prefix matching
    assert args.data_dir == "sample"
