"""Checks that turn bad serving input into one clear message before any model work: a missing API key, an
unreachable endpoint, a LoRA adapter whose rank exceeds `max_lora_rank` or that was trained on another base model."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path


class ServingError(ValueError):
    """A serving problem the user can fix; its message says what to do (the CLI prints it without a traceback)."""


def require_api_key(env: str = "OPENAI_API_KEY") -> None:
    if not os.environ.get(env):
        raise ServingError(
            f"{env} is not set: export {env}=… in the environment (keys are never read from "
            f"--model_args or files, and never written to results or logs)."
        )


def models_url(base_url: str) -> str:
    """The OpenAI-compatible `/models` URL next to a `/chat/completions` or `/completions` endpoint."""
    return re.sub(r"/(chat/)?completions/?$", "", base_url.rstrip("/")) + "/models"


def check_endpoint(base_url: str, headers: dict | None = None, timeout: float = 10.0) -> dict:
    """GET <base>/models within `timeout` seconds. Returns what the server says of its first model (vLLM reports
    `root` and `max_model_len`); raises ServingError if nothing answers or the key is refused."""
    url = models_url(base_url)
    req = urllib.request.Request(url, headers={k: v for k, v in (headers or {}).items() if v})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise ServingError(
                f"{url} refused the API key (HTTP {exc.code}): check the key in the environment."
            ) from exc
        return {}  # reachable; the server just has no /models listing
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServingError(
            f"cannot reach the endpoint {url} within {timeout:g} s ({reason}). Is the server running, "
            f"and is base_url right (e.g. http://127.0.0.1:8000/v1/chat/completions)?"
        ) from exc
    except ValueError:
        return {}
    data = body.get("data") or [{}]
    return data[0] if isinstance(data, list) and data else {}


def _weight_shapes(model_dir: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors"))
    shapes = {}
    for f in files:
        with safe_open(str(f), "pt") as fh:
            for name in fh.keys():
                shapes[name] = tuple(fh.get_slice(name).get_shape())
    return shapes


def check_adapter(base: str, adapter: str, max_lora_rank: int | None = None) -> dict:
    """A PEFT LoRA adapter dir: its rank must not exceed `max_lora_rank`, and every LoRA matrix must fit a weight of
    the base model (a local dir) in name and shape. Returns the adapter config."""
    adir = Path(adapter)
    cfg_file = adir / "adapter_config.json"
    if not cfg_file.is_file():
        raise ServingError(f"{adapter} is not a PEFT adapter directory (no adapter_config.json).")
    try:
        cfg = json.loads(cfg_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ServingError(f"{cfg_file} is not readable JSON ({exc}); re-save the adapter (save_pretrained).") from None
    if not isinstance(cfg, dict):
        raise ServingError(f"{cfg_file} is not a PEFT adapter config (not a JSON object).")
    ranks = [int(cfg.get("r", 0))] + [int(v) for v in (cfg.get("rank_pattern") or {}).values()]
    if max_lora_rank is not None and max(ranks) > int(max_lora_rank):
        raise ServingError(
            f"adapter {adapter} has LoRA rank {max(ranks)}, above max_lora_rank={max_lora_rank}. "
            f"Pass max_lora_rank={_next_rank(max(ranks))} in --model_args (vLLM accepts 8, 16, 32, 64, "
            f"128, 256, 320, 512), or merge the adapter into the base model."
        )
    bdir = Path(base)
    if not bdir.is_dir():
        return cfg  # a hub id: nothing local to compare with (finbench runs offline)
    declared = cfg.get("base_model_name_or_path")
    if not list(adir.glob("*.safetensors")):
        raise ServingError(f"{adapter} has no adapter weights (*.safetensors); re-save the adapter (save_pretrained).")
    check_model_dir(str(adir))
    check_model_dir(str(bdir))
    base_shapes = _weight_shapes(bdir)
    lora = _weight_shapes(adir)
    for name, shape in sorted(lora.items()):
        found = re.match(r"(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.\w+)?\.weight$", name)
        if not found:
            continue
        target, which = found.group(1) + ".weight", found.group(2)
        want = base_shapes.get(target)
        ok = want is not None and len(want) == 2 and (shape[1] == want[1] if which == "A" else shape[0] == want[0])
        if not ok:
            got = "absent" if want is None else f"shape {list(want)}"
            raise ServingError(
                f"adapter {adapter} does not fit base model {base}: {name} has shape {list(shape)} but the base "
                f"weight {target} is {got}. The adapter was trained on another base model "
                f"(its config names {declared!r})."
            )
    other = Path(str(declared or "")).expanduser()
    if declared and other.is_dir() and other.resolve() != bdir.resolve() and _weights_differ(other, bdir):
        # same shapes, other weights (e.g. a base and an instruct checkpoint of one architecture): the adapter would
        # load without error and silently score a model it was not trained for
        raise ServingError(
            f"adapter {adapter} was trained on {declared}, and {base} is another model (same shapes, "
            f"different weights). Pass --base {declared} (or the adapter trained on {base})."
        )
    return cfg


def _weights_differ(a: Path, b: Path) -> bool:
    """Whether two local model dirs hold different weights: safetensors headers and sizes, then 1 MiB of tensor
    data from the start, middle and end of each file (cheap even for large models)."""
    fa, fb = sorted(a.glob("*.safetensors")), sorted(b.glob("*.safetensors"))
    if [f.name for f in fa] != [f.name for f in fb]:
        return True
    for x, y in zip(fa, fb):
        size = x.stat().st_size
        if size != y.stat().st_size:
            return True
        with x.open("rb") as hx, y.open("rb") as hy:
            for at in (0, max(0, size // 2 - (1 << 19)), max(0, size - (1 << 20))):
                hx.seek(at)
                hy.seek(at)
                if hx.read(1 << 20) != hy.read(1 << 20):
                    return True
    return False


def _next_rank(r: int) -> int:
    for allowed in (8, 16, 32, 64, 128, 256, 320, 512):
        if r <= allowed:
            return allowed
    return r


API_MODELS = {
    "finbench-chat-completions",
    "finbench-openai-chat-completions",
    "local-chat-completions",
    "openai-chat-completions",
}


def refuse_secrets(args: dict, env: str = "OPENAI_API_KEY") -> None:
    """A key, token, password or authorization in model_args, under any name or spelling (results.is_secret_name),
    or any value that looks like one (`sk-…`, `Bearer …`, `hf_…`): ServingError naming the argument, never its value.
    model_args are written into lm-eval's results file, its log and its printed summary."""
    from .results import is_secret_name, is_secret_value

    for name, value in args.items():
        if is_secret_name(name) or is_secret_value(value):
            raise ServingError(
                f"--model_args {name}=… is refused: it looks like a key, and model_args are written "
                f"into the results file and the log. Put the key in the environment instead "
                f"({env} for API models, HF_TOKEN for the Hugging Face hub)."
            )


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name


def check_model_dir(name: str) -> None:
    """`pretrained=` of a local model: the directory must exist, and every *.safetensors in it must be whole (a
    file cut short by a full disk or a killed copy makes transformers fail with "incomplete metadata")."""
    if not name:
        return
    path = Path(name).expanduser()
    if not path.exists():
        if _looks_like_path(name):
            raise ServingError(
                f"model path {name} does not exist; pass the directory of a saved model "
                f"(pretrained=DIR) or a Hugging Face hub id (org/name)."
            )
        return  # a hub id
    if path.is_file():
        raise ServingError(f"model path {name} is a file; pass its directory (the one with config.json).")
    from safetensors import SafetensorError, safe_open

    for f in sorted(path.glob("*.safetensors")):
        try:
            with safe_open(str(f), "pt"):
                pass
            header_len, data_end = _safetensors_extent(f)
            if 8 + header_len + data_end > f.stat().st_size:
                raise SafetensorError(f"{f.stat().st_size} bytes, its header says {8 + header_len + data_end}")
        except (SafetensorError, OSError, ValueError) as exc:
            raise ServingError(
                f"{f} is damaged or cut short ({exc}); re-export the model (`finbench finetune "
                f"export`, or save_pretrained again) or copy it again."
            ) from None


def _safetensors_extent(f: Path) -> tuple[int, int]:
    """(header length, end offset of the tensor data) from a safetensors file's JSON header."""
    with f.open("rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
    return n, max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)


def check_eval_args(model: str, model_args: str) -> None:
    """`finbench eval`'s checks before lm-eval starts: no key in model_args (any model), a local model dir that
    exists and is whole, API key and endpoint for API models, the adapter for `vllm` (lora_local_path,
    max_lora_rank) and `hf` (peft)."""
    from lm_eval.utils import simple_parse_args_string

    args = simple_parse_args_string(model_args)
    refuse_secrets(args)
    if model in ("hf", "vllm"):
        check_model_dir(str(args.get("pretrained") or ""))
    if model in API_MODELS:
        if "openai" in model:
            require_api_key()
            key = os.environ["OPENAI_API_KEY"]
            check_endpoint(
                args.get("base_url") or "https://api.openai.com/v1/chat/completions", {"Authorization": f"Bearer {key}"}
            )
        elif not args.get("base_url"):
            raise ServingError(f"--model {model} needs base_url=http://HOST:PORT/v1/chat/completions in --model_args.")
        else:
            key = os.environ.get("OPENAI_API_KEY")
            check_endpoint(str(args["base_url"]), {"Authorization": f"Bearer {key}"} if key else None)
    base = str(args.get("pretrained") or args.get("model") or "")
    if model == "vllm" and args.get("lora_local_path"):
        check_adapter(base, str(args["lora_local_path"]), int(args.get("max_lora_rank", 16)))
    if model == "hf" and args.get("peft"):
        check_adapter(base, str(args["peft"]))
