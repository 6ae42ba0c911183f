"""Optional online path (FINBENCH_DATA_DIR=hf): raw FPB / TFNS from the Hugging Face hub, same records and splits."""

from __future__ import annotations

from pathlib import Path

from finbench.config import DATA_ENV, DataError

from . import fpb, tfns
from ._common import SENTIMENT_LABELS, Problem, Reader, Splits

HF = "hf"
HUB_IDS = {
    "fpb": ("takala/financial_phrasebank", "sentences_50agree"),
    "tfns": ("zeroshot/twitter-financial-news-sentiment", None),
}


def _load(task: str):
    import datasets

    name, config = HUB_IDS[task]
    try:
        return datasets.load_dataset(name, config) if config else datasets.load_dataset(name)
    except Exception as e:  # network, auth, or a hub-side format change: all are user-fixable
        raise DataError(
            f"{task}: could not load {name}{' (' + config + ')' if config else ''} from the Hugging Face hub "
            f"({type(e).__name__}: {e}). Use a local data dir instead ({DATA_ENV}=/path/to/data, see docs/DATA.md)."
        ) from e


def load_hub_raw(task: str) -> Splits:
    """FPB (50Agree; the hub's label ids 0/1/2 = negative/neutral/positive) or TFNS (train/validation), converted to
    canonical records and split with the same code as the local loaders."""
    if task not in HUB_IDS:
        raise DataError(
            f"{task}: {DATA_ENV}={HF} only covers {', '.join(HUB_IDS)} (raw sources on the hub); {task} needs a local "
            f"data dir ({DATA_ENV}=/path/to/data laid out as in docs/DATA.md, or {DATA_ENV}=sample)."
        )
    ds = _load(task)
    reader = Reader(task, Path(HF), f"huggingface.co/datasets/{HUB_IDS[task][0]}")
    if task == "fpb":
        rows = [
            {"id": f"fpb-{i + 1}", "text": r["sentence"], "label": SENTIMENT_LABELS[int(r["label"])]}
            for i, r in enumerate(ds["train"])
        ]
        return fpb.build(rows, reader, check=False)
    parts = {}
    for part, split in (("train", "train"), ("test", "validation")):
        parts[part] = []
        for i, r in enumerate(ds[split], 1):
            label = tfns.convert(r["label"])
            if label is None:
                reader.problems.append(Problem(f"hub:{split}", f"row {i}", f"label {r['label']!r} is not 0, 1 or 2"))
                continue
            parts[part].append({"id": f"tfns-{part}-{i}", "text": r["text"], "label": label})
    return tfns.build(parts["train"], parts["test"], reader)
