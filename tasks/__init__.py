"""The finbench lm-eval task configs (YAML). Shipped as `finbench.tasks` so `finbench tasks-dir` finds them."""
