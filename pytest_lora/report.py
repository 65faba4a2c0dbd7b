"""The session's record of applied LoRA configs and its ``--lora-report`` terminal summary."""
from __future__ import annotations

import json

import pytest

# One dict per apply_lora() call in this process (plain values, so xdist can ship them).
RECORDS: list[dict] = []
_WORKER_KEY = "lora_records"


def record(peft_model) -> dict:
    """Add a row for ``peft_model`` (the adapter just applied) to ``RECORDS``."""
    from pytest_lora.targeting import unwrap

    base, config = unwrap(peft_model)
    trainable, total = peft_model.get_nb_trainable_parameters()
    model_config = getattr(base, "config", None)
    name = getattr(model_config, "_name_or_path", "")
    model_type = getattr(model_config, "model_type", "")
    targets = config.target_modules or []
    leaves = sorted({t.rpartition(".")[2] for t in targets}) if not isinstance(targets, str) else [targets]
    leaves += sorted(config.target_parameters or [])
    adapter = next((p for n, p in peft_model.named_parameters() if ".lora_" in n), None)
    row = {
        "model": name or f"{model_type} ({type(base).__name__})",
        "r": config.r if not config.rank_pattern else f"{config.r}+pattern",
        "targets": ",".join(leaves),
        "trainable": trainable,
        "total": total,
        "device": str(adapter.device if adapter is not None else next(base.parameters()).device),
    }
    RECORDS.append(row)
    return row


def format_report(records: list[dict]) -> list[str]:
    """The summary lines, one per applied config (like peft's print_trainable_parameters)."""
    header = f"{'model':<36} {'r':>9} {'targets':<32} {'trainable':>13} {'total':>15} {'%':>8}  device"
    lines = [header]
    for row in records:
        targets = row["targets"] if len(row["targets"]) <= 32 else row["targets"][:29] + "..."
        percent = 100 * row["trainable"] / row["total"] if row["total"] else 0.0
        lines.append(
            f"{row['model'][:36]:<36} {str(row['r']):>9} {targets:<32} {row['trainable']:>13,} "
            f"{row['total']:>15,} {percent:>7.4f}%  {row['device']}"
        )
    return lines


class LoraReport:
    """Registered with ``--lora-report``: gathers records (from xdist workers too) and prints them."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self._first = len(RECORDS)  # rows of earlier sessions in this process are not ours

    def pytest_sessionfinish(self, session) -> None:
        mine = RECORDS[self._first:]
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[_WORKER_KEY] = json.dumps(mine)
        else:
            self.records.extend(mine)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        del error
        self.records.extend(json.loads(getattr(node, "workeroutput", {}).get(_WORKER_KEY, "[]")))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.section("LoRA configs applied")
        if not self.records:
            terminalreporter.write_line("no LoRA config was applied through pytest-lora's apply helper")
            return
        for line in format_report(self.records):
            terminalreporter.write_line(line)
