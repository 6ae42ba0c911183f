"""finbench: an evaluation-first benchmark harness for financial LLMs, built on lm-eval."""

__version__ = "0.1.0"
