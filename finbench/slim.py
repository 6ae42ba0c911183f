"""`finbench export-slim RUN_DIR OUT`: a compact copy of lm-eval output dirs that every finbench reader (`finbench
report`, `finbench leaderboard build`, `finbench regress`, `finbench study report`) reads exactly like the original,
with the same scores and CIs.

Kept: each `results_*.json` as lm-eval wrote it (plus a `finbench_slim` note saying what was dropped), and per
sample, gzipped (`samples_<task>_<stamp>.jsonl.gz`, which finbench.results reads like the .jsonl): doc_id and
doc_hash (the pairing key), filter, target, the extracted answer (`filtered_resps`) and every per-sample metric item
(the inputs every aggregate and bootstrap CI is recomputed from). Dropped: `doc` (the full document and its
context), `arguments` (the prompt), `resps` (the raw generation) and the prompt/target hashes. finbench's sidecars
(finbench_run.json, recipe.yaml) are copied. Sample values are copied byte for byte (never re-serialised), and OUT
is written atomically (finbench.artifacts.staged_dir): a killed export leaves nothing; an existing OUT is replaced
only if it is an earlier slim export."""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from pathlib import Path

import msgspec

from . import artifacts, results
from .config import DataError

DROPPED = ("doc", "arguments", "resps", "prompt_hash", "target_hash")
SIDECARS = (results.META_FILE, "recipe.yaml")
MARKER = ".finbench-slim"
_LINE = msgspec.json.Decoder(dict[str, msgspec.Raw])


class SlimError(DataError):
    """An export that cannot be made; the message says what to do."""


def slim_line(line: bytes) -> bytes:
    """One lm-eval samples line without DROPPED fields; every kept value byte for byte."""
    row = _LINE.decode(line)
    return msgspec.json.encode({k: v for k, v in row.items() if k not in DROPPED})


def _write_run(src_root: Path, f: Path, dest_root: Path) -> list[Path]:
    run = results.load_run(f, lazy=True)  # validates the results file and every samples line
    rel = f.relative_to(src_root)
    out_dir = dest_root / rel.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    res = dict(run.results)
    res["finbench_slim"] = {"dropped_sample_fields": list(DROPPED), "source": f.name}
    (out_dir / f.name).write_text(json.dumps(res) + "\n")
    written = [out_dir / f.name]
    for task in run.samples:
        sfile = results.samples_file(run, task)
        data = sfile.read_bytes()
        lines = (gzip.decompress(data) if sfile.suffix == ".gz" else data).splitlines()
        name = sfile.name if sfile.suffix == ".gz" else sfile.name + ".gz"
        body = b"\n".join(slim_line(line) for line in lines if line.strip()) + b"\n"
        (out_dir / name).write_bytes(gzip.compress(body, compresslevel=9, mtime=0))
        written.append(out_dir / name)
    for name in SIDECARS:
        side = results.sidecar(run, name)
        if side is not None:
            target = dest_root / side.relative_to(src_root) if side.is_relative_to(src_root) else out_dir / name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(side, target)
                written.append(target)
    return written


def export(run_dir: Path, out: Path) -> dict[Path, list[Path]]:
    """Slim copies of every run under `run_dir` (an lm-eval --output_path, a sweep's runs, or one results file)
    into `out`, keeping the layout below `run_dir`. Returns, per source results file, the files written for it
    (their final paths)."""
    run_dir, out = Path(run_dir), Path(out)
    files = results.results_files(run_dir)
    if not files:
        raise SlimError(f"{run_dir}: no lm-eval results_*.json under it; pass an lm_eval --output_path dir")
    if out.exists() and not (out / MARKER).exists():
        raise SlimError(f"{out}: exists and is not a slim export; choose a new directory (it is replaced whole)")
    root = run_dir.parent if run_dir.is_file() else run_dir
    if out.resolve().is_relative_to(root.resolve()):
        raise SlimError(f"{out}: inside {root}; write the export outside the runs it copies")
    written = {}
    with artifacts.staged_dir(out) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; an export is for sharing
        for f in files:
            written[f] = [out / p.relative_to(tmp) for p in _write_run(root, f, tmp)]
        (tmp / MARKER).write_text(f"slim export of {root.name} (finbench export-slim); replaced whole on re-export\n")
    return written


def _size(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def cmd_export_slim(args: argparse.Namespace) -> int:
    src = Path(args.run_dir)
    written = export(src, Path(args.out))
    for f, files in written.items():
        run = results.load_run(f, lazy=True)
        full = [f, *(results.samples_file(run, t) for t in run.samples)]
        print(
            f"{f.relative_to(src) if src.is_dir() else f.name}: {_size(files) / 1e6:.3f} MB "
            f"(lm-eval's files: {_size(full) / 1e6:.3f} MB)",
            file=sys.stderr,
        )
    total = [p for files in written.values() for p in files]
    before = [p for p in (src.rglob("*") if src.is_dir() else [src]) if p.is_file()]
    print(
        f"{args.out}: {len(written)} run(s), {len(total)} files, {_size(total) / 1e6:.2f} MB "
        f"(from {_size(before) / 1e6:.2f} MB in {src})",
        file=sys.stderr,
    )
    return 0


def add_parser(sub) -> None:
    """Register `export-slim` on the `finbench` sub-command parser."""
    e = sub.add_parser(
        "export-slim",
        help="compact copy of lm-eval output dirs (no prompts or documents) that "
        "report, leaderboard and regress read like the original",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("run_dir", metavar="RUN_DIR", help="lm-eval --output_path dir (searched for results_*.json)")
    e.add_argument("out", metavar="OUT", help="new directory (an earlier slim export there is replaced whole)")
    e.set_defaults(func=cmd_export_slim)
