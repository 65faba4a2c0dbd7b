"""Record the module names of every transformers model type, for lint_rules.knowledge.

Builds each model type of the installed transformers from its default config on the
``meta`` device (no memory, no download), for each of the task classes causal LM,
seq2seq LM, sequence classification and base model that the auto mappings know, and
writes ``lint_rules/knowledge/data/architectures/transformers-<version>.json``.

Module names are compressed: the index of each ``nn.ModuleList`` child becomes a
placeholder (``{i}``, nested ``{j}``, ``{k}`` ...), children with the same structure
share one pattern, and each entry records the count (or the explicit indices) per
placeholder. A task class that wraps the base model under its ``base_model_prefix``
stores only that prefix plus the modules outside it. Builds that fail or exceed the
time limit are listed with their reason under ``failures``.

Run it with the transformers version to record, e.g.::

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python scripts/gen_architectures.py
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from torch import nn  # noqa: E402
from transformers.models.auto import configuration_auto, modeling_auto  # noqa: E402
from transformers.pytorch_utils import Conv1D  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from lint_rules.knowledge.matching import SEQ_CLS_HEAD_ATTRS  # noqa: E402  (stdlib + packaging)
from pytest_lora.skeletons import AUTO_CLASSES  # noqa: E402  (task -> transformers auto class name)

DATA = ROOT / "lint_rules" / "knowledge" / "data" / "architectures"
TASKS = {
    "causal_lm": "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",
    "seq2seq_lm": "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
    "sequence_classification": "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
    "base": "MODEL_MAPPING_NAMES",
}
# peft's dispatch order: the first isinstance test that holds names the kind
ADAPTABLE = (
    (nn.Embedding, "Embedding"),
    (nn.Conv2d, "Conv2d"),
    (nn.Conv3d, "Conv3d"),
    (nn.Conv1d, "Conv1d"),
    (nn.MultiheadAttention, "MultiheadAttention"),
    (nn.Linear, "Linear"),
    (Conv1D, "Conv1D"),
)
KINDS = {kind for _, kind in ADAPTABLE}
PLACEHOLDERS = "ijklmn"


class BuildTimeout(Exception):
    pass


def kind_of(module: nn.Module) -> str:
    """peft's name for an adaptable module; the class name otherwise."""
    for cls, kind in ADAPTABLE:
        if isinstance(module, cls):
            return kind
    name = type(module).__name__
    return f"{name}(custom)" if name in KINDS else name


def param_names(module: nn.Module) -> list[str]:
    """Own parameters of 2+ dimensions of a module peft cannot adapt (experts, routers)."""
    if kind_of(module) in KINDS:
        return []
    return sorted(n for n, p in module.named_parameters(recurse=False) if p.dim() >= 2)


def spec(indices: list[int]) -> int | tuple[int, ...]:
    return len(indices) if indices == list(range(len(indices))) else tuple(indices)


def describe(module: nn.Module, seen: set[int], depth: int = 0) -> tuple:
    """The compressed module list below ``module``: (relative pattern, kind, specs, params).

    Like ``named_modules()``, a module object met before (a shared embedding) is skipped.
    """
    out = []
    for name, child in module.named_children():
        if id(child) in seen:
            continue
        seen.add(id(child))
        out.append((name, kind_of(child), (), tuple(param_names(child))))
        if isinstance(child, nn.ModuleList) and len(child):
            out.extend(describe_list(child, name, seen, depth))
        else:
            for rel, kind, specs, params in describe(child, seen, depth):
                out.append((f"{name}.{rel}", kind, specs, params))
    return tuple(out)


def describe_list(mlist: nn.ModuleList, name: str, seen: set[int], depth: int) -> list[tuple]:
    """Group the children of a ModuleList by structure, one pattern per group."""
    ph = PLACEHOLDERS[depth]
    groups: dict[tuple, list[int]] = {}
    for idx, child in mlist.named_children():
        if id(child) in seen:
            continue
        seen.add(id(child))
        head = (kind_of(child), tuple(param_names(child)))
        groups.setdefault((head, describe(child, seen, depth + 1)), []).append(int(idx))
    out = []
    for ((kind, params), body), indices in groups.items():
        s = (spec(indices),)
        out.append((f"{name}.{{{ph}}}", kind, s, params))
        for rel, k, specs, p in body:
            out.append((f"{name}.{{{ph}}}.{rel}", k, s + specs, p))
    return out


def encode(entries) -> list[list]:
    """JSON rows: [pattern, kind] plus specs and params when present."""
    rows = []
    for pattern, kind, specs, params in entries:
        row: list = [pattern, kind]
        if specs or params:
            row.append(list(specs))
        if params:
            row.append(list(params))
        rows.append(row)
    return rows


def module_name(model: nn.Module, target: nn.Module) -> str | None:
    return next((n for n, m in model.named_modules() if m is target), None)


def heads(model: nn.Module) -> tuple[list[str], str | None]:
    """What peft's all-linear leaves out: the output embeddings; else (for a SEQ_CLS
    task type) the first of ``model.score`` / ``model.classifier`` that exists."""
    get = getattr(model, "get_output_embeddings", None)
    emb = get() if get is not None else None
    if isinstance(emb, nn.Module):
        name = module_name(model, emb)
        return ([pattern_of(name, model)] if name else []), None
    for attr in SEQ_CLS_HEAD_ATTRS:
        head = getattr(model, attr, None)
        name = module_name(model, head) if isinstance(head, nn.Module) else None
        if name:
            return [], pattern_of(name, model)
    return [], None


def pattern_of(name: str, model: nn.Module) -> str:
    """A module name with its ModuleList indices replaced by placeholders."""
    parts, obj, depth = [], model, 0
    for part in name.split("."):
        if isinstance(obj, nn.ModuleList):
            parts.append(f"{{{PLACEHOLDERS[depth]}}}")
            depth += 1
        else:
            parts.append(part)
        obj = getattr(obj, part) if not isinstance(obj, nn.ModuleList) else obj[int(part)]
    return ".".join(parts)


def num_layers(config) -> int | None:
    """The config's num_hidden_layers, of its text config for a composite model."""
    try:
        config = config.get_text_config()
    except (AttributeError, ValueError):  # ambiguous: several text configs
        pass
    n = getattr(config, "num_hidden_layers", None)
    return n if isinstance(n, int) else None


def conversion(model_type: str) -> str | None:
    """transformers 5's checkpoint-conversion pattern for the model type.

    ``None`` when transformers has no conversion for it (and always in 4.x); ``""`` when
    it has one but names no shared pattern. peft >= 0.19 remaps v4 ``target_modules``
    of the MoE patterns onto the fused v5 parameters.
    """
    try:
        from transformers import conversion_mapping
    except ImportError:
        return None
    if conversion_mapping.get_checkpoint_conversion_mapping(model_type) is None:
        return None
    return conversion_mapping._MODEL_TO_CONVERSION_PATTERN.get(model_type, "")


def build(task: str, config, timeout: int) -> nn.Module:
    auto = getattr(transformers, AUTO_CLASSES[task])
    signal.alarm(timeout)
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return auto.from_config(config)
    finally:
        signal.alarm(0)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}".rstrip(": ")


def record(model_type: str, tasks: list[str], timeout: int, failures: dict) -> dict | None:
    try:
        signal.alarm(timeout)
        try:
            config = configuration_auto.CONFIG_MAPPING[model_type]()
        finally:
            signal.alarm(0)
    except Exception as exc:  # noqa: BLE001 - any failure is data
        failures[f"{model_type}/config"] = first_line(exc)
        return None
    entry: dict = {"num_layers": num_layers(config)}
    if (pattern := conversion(model_type)) is not None:
        entry["conversion"] = pattern
    base_rows: list | None = None
    for task in sorted(tasks, key=lambda t: t != "base"):
        try:
            model = build(task, config, timeout)
            rows = encode(describe(model, {id(model)}))
            output_heads, classifier = heads(model)
        except Exception as exc:  # noqa: BLE001 - any failure is data
            failures[f"{model_type}/{task}"] = first_line(exc)
            continue
        item: dict = {"class": type(model).__name__}
        prefix = getattr(model, "base_model_prefix", "")
        if task == "base":
            base_rows = rows
        elif base_rows is not None and prefix and hasattr(model, prefix):
            inner = [[f"{prefix}.{r[0]}", *r[1:]] for r in base_rows]
            outer = [r for r in rows if not r[0].startswith(prefix + ".")]
            if sorted(map(json.dumps, inner + outer)) == sorted(map(json.dumps, rows)):
                item["prefix"] = prefix
                rows = outer
        item["modules"] = rows
        item["heads"] = output_heads
        if classifier:
            item["classifier"] = classifier
        entry[task] = item
        del model
    return entry if any(t in entry for t in TASKS) else None


def on_alarm(signum, frame):
    raise BuildTimeout("build exceeded the time limit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per model build")
    parser.add_argument("--only", nargs="*", help="model types to record (default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    signal.signal(signal.SIGALRM, on_alarm)
    mappings = {t: getattr(modeling_auto, name) for t, name in TASKS.items()}
    types = sorted(args.only or configuration_auto.CONFIG_MAPPING_NAMES)
    start = time.monotonic()
    failures: dict[str, str] = {}
    models: dict[str, dict] = {}
    for n, model_type in enumerate(types, 1):
        tasks = [t for t, m in mappings.items() if model_type in m]
        if not tasks:
            continue
        t0 = time.monotonic()
        entry = record(model_type, tasks, args.timeout, failures)
        if entry is not None:
            models[model_type] = entry
        print(f"[{n}/{len(types)}] {model_type} {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
    data = {
        "transformers": transformers.__version__,
        "torch": torch.__version__.split("+")[0],
        "generated_by": "scripts/gen_architectures.py",
        "models": models,
        "failures": dict(sorted(failures.items())),
    }
    out = args.out or DATA / f"transformers-{transformers.__version__}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{out}: {len(models)} model types, {len(failures)} failures, "
          f"{time.monotonic() - start:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
