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

try:
    from transformers.modeling_utils import no_init_weights  # noqa: E402
except ImportError:  # moved in some releases
    from transformers.initialization import no_init_weights  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from lint_rules.knowledge.matching import SEQ_CLS_HEAD_ATTRS  # noqa: E402  (stdlib + packaging)
from pytest_lora.skeletons import _NOT_FIELDS as NOT_FIELDS, AUTO_CLASSES  # noqa: E402  (task -> transformers auto class name)
from lint_rules.knowledge import checkpoint_trees as trees  # noqa: E402  (stdlib)
from lint_rules.knowledge.models import curated  # noqa: E402  (stdlib)

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
        with torch.device("meta"), warnings.catch_warnings(), no_init_weights():  # init: 8x the build time
            warnings.simplefilter("ignore")
            return auto.from_config(config)
    finally:
        signal.alarm(0)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}".rstrip(": ")


def with_value(fields: dict, path: str, value) -> dict:
    """``fields`` with ``path`` (dotted for a sub-config) set to ``value``. A list as long as
    the count it replaces (``layer_types``) is dropped, for the config to derive it again."""
    out = dict(fields)
    head, _, rest = path.partition(".")
    if rest:
        out[head] = with_value(dict(out.get(head) or {}), rest, value)
        return out
    old = out.get(head)
    if isinstance(old, int) and not isinstance(old, bool):
        out = {k: v for k, v in out.items() if not (isinstance(v, list) and len(v) == old and v)}
    out[head] = value
    return out


def make_config(model_type: str, overrides: dict, timeout: int):
    """The type's default config with ``overrides`` (dotted paths reach sub-configs)."""
    cls = configuration_auto.CONFIG_MAPPING[model_type]
    signal.alarm(timeout)
    try:
        if not overrides:
            return cls()
        default = cls().to_dict()
        kwargs: dict = {}
        for path, value in overrides.items():
            head = path.split(".", 1)[0]
            if "." in path:
                kwargs[head] = with_value(kwargs.get(head) or dict(default.get(head) or {}),
                                          path.split(".", 1)[1], value)
            else:
                kwargs[path] = value
        return cls(**kwargs)
    finally:
        signal.alarm(0)


def checkpoint_config(model_type: str, fields: dict, timeout: int):
    """A curated checkpoint's config, made as pytest_lora.skeletons makes it."""
    signal.alarm(timeout)
    try:
        return transformers.AutoConfig.for_model(model_type, **fields)
    finally:
        signal.alarm(0)


def tree(model_type: str, config, tasks: list[str], timeout: int, failures: dict, label: str) -> dict | None:
    """The recorded tree of every task class built from ``config``: num_layers + task items."""
    entry: dict = {"num_layers": num_layers(config)}
    base_rows: list | None = None
    for task in sorted(tasks, key=lambda t: t != "base"):
        try:
            model = build(task, config, timeout)
            rows = encode(describe(model, {id(model)}))
            output_heads, classifier = heads(model)
        except Exception as exc:  # noqa: BLE001 - any failure is data
            failures[f"{label}/{task}"] = first_line(exc)
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


def first_task(entry: dict) -> str:
    return next(t for t in ("base", *TASKS) if t in entry)


def rows_of(model_type: str, config, task: str, timeout: int) -> list:
    model = build(task, config, timeout)
    return encode(describe(model, {id(model)}))


def lists(rows: list) -> dict[str, int]:
    """Every ModuleList pattern in ``rows`` and its length."""
    out: dict[str, set[int]] = {}
    for row in rows:
        pattern = row[0]
        if not pattern.endswith("}") or len(row) < 3:
            continue
        name = pattern[: pattern.rindex(".{")]
        out.setdefault(name, set()).update(trees.indices(row[2][name.count("{")]))
    return {name: max(found) + 1 for name, found in out.items() if found}


def groups(rows: list, name: str) -> dict[tuple, list[int]]:
    """The blocks of list ``name`` grouped by structure: structure -> indices."""
    depth = name.count("{")
    by_spec: dict[str, list] = {}
    for row in rows:
        at = row[0].find(name + ".{")
        if at != 0 or len(row) < 3:
            continue
        spec = row[2][depth]
        rest = [row[0][len(name):], row[1], row[2][:depth] + row[2][depth + 1:], row[3] if len(row) > 3 else []]
        by_spec.setdefault(json.dumps(spec), []).append(json.dumps(rest))
    return {tuple(sorted(body)): trees.indices(json.loads(spec)) for spec, body in by_spec.items()}


def int_fields(config) -> dict[str, int]:
    """Every int field of the config and of its sub-configs (dotted paths)."""
    out = {}
    for key, value in config.to_dict().items():
        if isinstance(value, int) and not isinstance(value, bool):
            out[key] = value
        elif isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool)})
    return out


def probe_counts(model_type: str, entry: dict, timeout: int) -> tuple[dict, list, dict]:
    """Which config fields set each list's length (most specific first), which set
    ``num_layers``, and their defaults; by rebuilding with each candidate one longer."""
    config = make_config(model_type, {}, timeout)
    task = first_task(entry)
    rows = entry[task]["modules"]
    found = lists(rows)
    lengths = set(found.values())
    counts: dict[str, list[str]] = {}
    layer_paths: list[str] = []
    reach: dict[str, int] = {}
    defaults: dict[str, int] = {}
    for path, value in int_fields(config).items():
        if value not in lengths or value < 1:
            continue
        try:
            probe = make_config(model_type, {path: value + 1}, timeout)
            longer = lists(rows_of(model_type, probe, task, timeout))
        except Exception:  # noqa: BLE001 - a field that cannot change alone is not a count
            continue
        grown = [name for name, n in found.items() if n == value and longer.get(name) == n + 1]
        if not grown:
            continue
        reach[path] = len(grown)
        defaults[path] = value
        for name in grown:
            counts.setdefault(name, []).append(path)
        if entry["num_layers"] == value and num_layers(probe) == value + 1:
            layer_paths.append(path)
    for name in counts:
        counts[name].sort(key=lambda p: (reach[p], p))
    layer_paths.sort(key=lambda p: (reach[p], p))
    return counts, layer_paths, defaults


def group_rules(model_type: str, rows: list, task: str, counts: dict, make, timeout: int) -> dict:
    """Layout rules of lists with differently built blocks, from builds one and two longer
    (``make(overrides)`` gives the config they are built from)."""
    out = {}
    for name, paths in counts.items():
        base = groups(rows, name)
        if len(base) == 1 and list(base.values())[0] == list(range(len(list(base.values())[0]))):
            continue
        n = lists(rows).get(name)
        if n is None:
            continue
        seen = {key: {n: idx} for key, idx in base.items()}
        try:
            for extra in (1, 2):
                probe_rows = rows_of(model_type, make({paths[0]: n + extra}), task, timeout)
                for key, idx in groups(probe_rows, name).items():
                    if key in seen:
                        seen[key][n + extra] = idx
        except Exception:  # noqa: BLE001 - no rule: the list stays at its recorded length
            continue
        fitted = []
        for key, observed in seen.items():
            rule = trees.fit_rule(observed) if len(observed) == 3 else None
            if rule is None:
                fitted = None
                break
            spec = base[key]
            fitted.append([spec if spec != list(range(len(spec))) else len(spec), rule])
        if fitted:
            out[name] = fitted
    return out



def record(model_type: str, tasks: list[str], timeout: int, failures: dict,
           checkpoints: list[tuple[str, dict]] = ()) -> dict | None:
    try:
        config = make_config(model_type, {}, timeout)
    except Exception as exc:  # noqa: BLE001 - any failure is data
        failures[f"{model_type}/config"] = first_line(exc)
        return None
    entry = tree(model_type, config, tasks, timeout, failures, model_type)
    if entry is None:
        return None
    if (pattern := conversion(model_type)) is not None:
        entry["conversion"] = pattern
    try:
        fit(model_type, entry, config, tasks, timeout, failures, checkpoints)
    except Exception as exc:  # noqa: BLE001 - the type keeps its default tree only
        failures[f"{model_type}/fields"] = first_line(exc)
        entry.pop("fields", None)
        entry.pop("variants", None)
        entry.pop("groups", None)
    return entry


def fit(model_type: str, entry: dict, config, tasks: list[str], timeout: int, failures: dict,
        checkpoints: list[tuple[str, dict]]) -> None:
    """Record in ``entry`` what a config changes in the tree (see lint_rules.knowledge.checkpoint_trees)."""
    task = first_task(entry)
    rows = entry[task]["modules"]
    counts, layer_paths, defaults = probe_counts(model_type, entry, timeout)
    aliases = {a: r for a, r in getattr(type(config), "attribute_map", {}).items() if isinstance(r, str)}
    entry["fields"] = {"aliases": aliases, "names": {}, "counts": counts, "defaults": defaults,
                       "num_layers": layer_paths}
    if (rules := group_rules(model_type, rows, task, counts,
                             lambda extra: make_config(model_type, extra, timeout), timeout)):
        entry["groups"] = rules
    default_dict = config.to_dict()
    probes: list[tuple[str, dict, object]] = []  # (label, fields, config)
    if checkpoints:  # structure fields: flip each bool, and every field a checkpoint changes
        for key, value in default_dict.items():
            if isinstance(value, bool) and key not in GENERIC_BOOLS and not key.startswith("_"):
                probes.append((f"{key}={not value}", {key: not value}, None))
    for label, fields in checkpoints:
        probes.append((label, fields, None))
    variants: list[tuple[dict, dict]] = []  # (the built config's values, tree)
    names = entry["fields"]["names"]
    for label, fields, _ in probes:
        try:
            if label in dict(checkpoints):
                cfg = checkpoint_config(model_type, fields, timeout)
            else:
                cfg = make_config(model_type, fields, timeout)
        except Exception as exc:  # noqa: BLE001
            failures[f"{model_type}/{label}"] = first_line(exc)
            continue
        is_checkpoint = label in dict(checkpoints)  # a flip that does not build is no structure
        built = tree(model_type, cfg, tasks, timeout, failures if is_checkpoint else {}, f"{model_type}/{label}")
        keep(entry, variants)
        if built is None or all(_same(entry, built, fields, t) for t in TASKS if t in built):
            continue
        for key, value in flat(fields).items():
            default = lookup_default(default_dict, key)
            if (key in names or key.split(".")[-1].startswith("_") or default == value
                    or any(key in p for p in counts.values())):
                continue
            try:
                probe = make_config(model_type, {key: value}, timeout)
                alone = {"num_layers": num_layers(probe), task: {"class": "", "heads": [],
                                                                 "modules": rows_of(model_type, probe, task, timeout)}}
            except Exception:  # noqa: BLE001
                names[key] = default  # cannot tell alone: treat as structural
                continue
            if not _same(entry, alone, with_value({}, key, value), task, heads=False):
                names[key] = default
        make = (lambda extra, f=fields, lbl=label: checkpoint_config(model_type, merged(f, extra), timeout)
                if lbl in dict(checkpoints) else make_config(model_type, merged(f, extra), timeout))
        first = first_task(built)
        if (rules := group_rules(model_type, built[first]["modules"], first, counts, make, timeout)):
            built["groups"] = rules
        variants.append((cfg.to_dict(), built))
    keep(entry, variants)
    for label, fields, _ in probes:  # what the lint side derives must be what transformers built
        if label not in dict(checkpoints):
            continue
        try:
            built = tree(model_type, checkpoint_config(model_type, fields, timeout), tasks, timeout, {}, label)
        except Exception:  # noqa: BLE001 - reported above
            continue
        for t in TASKS:
            if built and t in built and not _same(entry, built, fields, t):
                failures[f"{model_type}/{label}/{t}"] = "the tree derived from its config differs from the build"


def keep(entry: dict, variants: list[tuple[dict, dict]]) -> None:
    """Set ``entry["variants"]``: each tree with the structure values it was built from
    (``when``), and its list lengths (``at``) when another tree was built from the same."""
    names = entry["fields"]["names"]
    kept: list[dict] = []
    for values, built in variants:
        built.pop("at", None)
        built["when"] = {k: trees.lookup(values, k, d) for k, d in names.items()}
        if built["when"] == names or any(v["when"] == built["when"] for v in kept):
            built["at"] = trees.counts(entry, values)  # this checkpoint only
        kept.append(built)
    entry.pop("variants", None)
    if kept:
        entry["variants"] = kept


GENERIC_BOOLS = frozenset({"output_hidden_states", "output_attentions", "return_dict", "use_cache",
                           "torchscript", "is_encoder_decoder", "use_return_dict", "output_router_logits"})


def lookup_default(config_dict: dict, key: str):
    return trees.lookup(config_dict, key, None)


def flat(fields: dict) -> dict:
    """``fields`` with each sub-config's fields as dotted paths (``text_config.hidden_size``)."""
    out = {}
    for key, value in fields.items():
        if isinstance(value, dict) and key.endswith("_config"):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def merged(fields: dict, extra: dict) -> dict:
    out = dict(fields)
    for path, value in extra.items():
        out = with_value(out, path, value)
    return out


def _same(entry: dict, built: dict, fields: dict, task: str, heads: bool = True) -> bool:
    """Whether the lint side derives ``built``'s ``task`` tree from ``fields`` (its module
    patterns, kinds, counts and parameters; with ``heads``, also its class and heads)."""
    derived = trees.tailor(entry, fields, task, _arch)
    actual = _arch(built, task)
    if derived is None or derived.num_layers != actual.num_layers:
        return False
    if not heads:
        def shape(arch):
            return [(m.pattern, m.cls, m.specs, m.params) for m in arch.modules]
        return shape(derived) == shape(actual)
    return derived.modules == actual.modules and derived.class_name == actual.class_name


def _arch(tree: dict, task: str):
    from lint_rules.knowledge import architectures

    item = tree[task]
    return architectures.Architecture("", item["class"], "", tree["num_layers"],
                                      architectures.tree_modules(tree, task), task)


def on_alarm(signum, frame):
    raise BuildTimeout("build exceeded the time limit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per model build")
    parser.add_argument("--only", nargs="*", help="model types to record (default: all)")
    parser.add_argument("--update", action="store_true",
                        help="replace only the --only model types in the existing data file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    signal.signal(signal.SIGALRM, on_alarm)
    mappings = {t: getattr(modeling_auto, name) for t, name in TASKS.items()}
    types = sorted(args.only or configuration_auto.CONFIG_MAPPING_NAMES)
    checkpoints: dict[str, list[tuple[str, dict]]] = {}
    for model_id, item in curated().items():
        fields = {k: v for k, v in item["config"].items() if not k.startswith("_") and k not in NOT_FIELDS}
        checkpoints.setdefault(item["model_type"], []).append((model_id, fields))
    start = time.monotonic()
    out = args.out or DATA / f"transformers-{transformers.__version__}.json"
    failures: dict[str, str] = {}
    models: dict[str, dict] = {}
    recorded = {model_id for t in types for model_id, _ in checkpoints.get(t, ())}
    if args.update:
        old = json.loads(out.read_text(encoding="utf-8"))
        models = {k: v for k, v in old["models"].items() if k not in types}
        failures = {k: v for k, v in old["failures"].items() if k.split("/")[0] not in types}
        recorded |= {model_id for model_id in old.get("checkpoints", ())
                     if curated().get(model_id, {}).get("model_type") not in types}
    for n, model_type in enumerate(types, 1):
        tasks = [t for t, m in mappings.items() if model_type in m]
        if not tasks:
            continue
        t0 = time.monotonic()
        entry = record(model_type, tasks, args.timeout, failures, checkpoints.get(model_type, []))
        if entry is not None:
            models[model_type] = entry
        print(f"[{n}/{len(types)}] {model_type} {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
    data = {
        "transformers": transformers.__version__,
        "torch": torch.__version__.split("+")[0],
        "generated_by": "scripts/gen_architectures.py",
        "models": dict(sorted(models.items())),
        "checkpoints": sorted(recorded),  # the curated ids whose trees were checked (and kept as variants)
        "failures": dict(sorted(failures.items())),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{out}: {len(models)} model types, {len(failures)} failures, "
          f"{time.monotonic() - start:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
