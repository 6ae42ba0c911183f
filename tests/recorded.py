"""Paths of the committed recorded lm-eval outputs (tests/fixtures/recorded/, see its README.md): real runs of the
default model, and the study runs derived from one by editing per-sample fields. Read-only: copy before editing
(conftest.copy_run)."""

from __future__ import annotations

from pathlib import Path

RECORDED = Path(__file__).resolve().parent / "fixtures" / "recorded"
TINY = {"plain": RECORDED / "tiny" / "plain", "hint": RECORDED / "tiny" / "hint"}  # real lm_eval runs, tiny_suite
SENTIMENT = RECORDED / "sentiment_zero_shot"  # real `finbench eval`, fpb/fiqa_sa/tfns, --limit 12
STUDY = RECORDED / "study"  # slim exports: zero-shot + fake seeds of single-task runs and cocktails
