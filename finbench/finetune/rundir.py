"""The files a fine-tuning run dir holds that several modules read: what a sweep unit is doing (written by
finbench.finetune.executors, left alone by train's empty-dir check) and the marker of a finished run."""

STATE = "STATE.json"  # runs/<name>/STATE.json: a sweep unit's state (`finbench sweep status` shows it)
DONE = "DONE.json"  # runs/<name>/DONE.json: the run trained, merged and evaluated; never redone
