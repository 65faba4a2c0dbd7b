"""``pytest --lora-check``'s runtime half: every LoraConfig of a file whose arguments are static and
whose model resolves (a Python file's calls, or a config file's config: ``config_files``),
constructed with the installed peft and applied to the model's full-size skeleton on ``meta``
(no weights, no memory, no parameter initialisation).

Imported on the first file whose rows are not cached; torch, transformers and peft on the first
config to verify.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
import warnings
from pathlib import Path


def static_configs(linter, source: str, filename: str) -> list[tuple[int, str, str, dict]]:
    """(line, model id, task, keyword arguments) of each LoraConfig call made in this file whose
    every argument is static and which is applied to exactly one model lora-lint resolves."""
    import libcst as cst

    from lint_rules import analysis
    from lint_rules.positions import Positions

    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError:
        return []  # lora-lint reports it (LORA000)
    wrapper = cst.MetadataWrapper(module, unsafe_skip_copy=True)
    calls = analysis.collect_calls(wrapper, linter.context(filename, source))
    positions = None
    found = []
    for call in calls:
        if call.origin is not None or call.open_ended or call.reassigned or call.guarded or call.model is None:
            continue
        if any(not keyword.known or keyword.guarded for keyword in call.keywords.values()):
            continue
        positions = positions or Positions(module, source)
        kwargs = {name: keyword.value for name, keyword in call.keywords.items()}
        found.append((positions[call.node].start.line, call.model.name, call.model.task, kwargs))
    return found


def _unmatched(peft_model, target_modules) -> list[str]:
    """``target_modules`` list entries that adapted nothing (peft raises only when all do)."""
    if not isinstance(target_modules, (list, tuple, set)):
        return []
    adapted = getattr(peft_model, "targeted_module_names", None) or []
    return sorted(entry for entry in target_modules
                  if not any(name == entry or name.endswith(f".{entry}") for name in adapted))


_EXPERT_DROPOUT = "does not work with lora_dropout != 0"  # peft's ParamWrapper (fused MoE experts)


def verify(line: int, model: str, task: str | None, kwargs: dict, source: str = "python") -> dict | None:
    """Apply ``LoraConfig(**kwargs)`` to ``model``'s skeleton: a row with the trainable count, the
    total, the adapter + gradient + AdamW bytes (float32 adapters over a bfloat16 base), the
    target entries that matched nothing, or peft's error; None when the model's config is unknown
    or its skeleton cannot be built for ``task``.

    ``source`` is the kind of file the config comes from: ``"adapter_config"`` (``kwargs`` is the
    file's JSON) loads it as peft loads a saved adapter to train it, and lists the keys the
    installed peft ignores; ``"axolotl"`` lets fused expert parameters take no dropout, as axolotl
    patches peft to do; ``task`` None builds the checkpoint's own task.
    """
    from peft import get_peft_model

    from pytest_lora.memory import estimate_lora_memory
    from pytest_lora.meta_init import skipped_on_meta
    from pytest_lora.skeletons import UnresolvedModelError, build_resolved, resolve_for_build

    try:
        resolution = resolve_for_build(model)
    except UnresolvedModelError:
        return None
    row: dict = {"line": line, "model": model}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            config = _config(kwargs, source)
            try:
                skeleton = build_resolved(resolution, task, dtype="bfloat16")
            except Exception:  # noqa: BLE001 - e.g. no model class of this task for it: not peft's verdict
                return None
            with skipped_on_meta():
                peft_model = get_peft_model(skeleton, config, low_cpu_mem_usage=True)
    except Exception as error:  # noqa: BLE001 - what peft refuses is the finding
        if source == "axolotl" and _EXPERT_DROPOUT in str(error) and kwargs.get("lora_dropout"):
            return verify(line, model, task, {**kwargs, "lora_dropout": 0.0}, source)
        text = str(error).strip()
        row["error"] = f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
        return row
    row["trainable"], row["total"] = (int(n) for n in peft_model.get_nb_trainable_parameters())
    row["unmatched"] = _unmatched(peft_model, config.target_modules)
    if source == "adapter_config":
        fields = {field.name for field in dataclasses.fields(config)}
        row["ignored"] = sorted(key for key in kwargs if key not in fields)
    try:
        estimate = estimate_lora_memory(peft_model, None)
        row["memory"] = estimate.adapter_weights + estimate.gradients + estimate.optimizer_states
    except Exception:  # noqa: BLE001 - peft's own count stands; the estimate is extra
        row["memory"] = None
    return row


def _config(kwargs: dict, source: str):
    """The installed peft's LoraConfig: ``LoraConfig(**kwargs)``, or for a saved adapter's
    config what ``PeftModel.from_pretrained(model, folder, is_trainable=True)`` reads from it."""
    from peft import LoraConfig

    if source != "adapter_config":
        return LoraConfig(**kwargs)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "adapter_config.json").write_text(json.dumps(kwargs), encoding="utf-8")
        config = LoraConfig.from_pretrained(folder)
    config.inference_mode = False  # is_trainable=True
    return config


def format_rows(rows: list[tuple[str, dict]]) -> list[str]:
    """The summary table: file:line, model, trainable params and %, adapter + optimizer memory."""
    lines = [f"{'config':<40} {'model':<36} {'trainable':>13} {'%':>8} {'adapter+grads+AdamW':>20}"]
    for path, row in rows:
        share = 100 * row["trainable"] / row["total"] if row["total"] else 0.0
        memory = "?" if row.get("memory") is None else f"{row['memory'] / 2**20:,.1f} MiB"
        lines.append(f"{path + ':' + str(row['line']):<40} {row['model']:<36} {row['trainable']:>13,} "
                     f"{share:>7.4f}% {memory:>20}")
    return lines
