"""The runtime targeting (pytest_lora.targeting, on live modules) and the linter's static matching
(lint_rules.knowledge.matching, on recorded architectures) must pick the same modules."""
from __future__ import annotations

import pytest

pytest.importorskip("peft")
matching = pytest.importorskip("lint_rules.knowledge.matching")
architectures = pytest.importorskip("lint_rules.knowledge.architectures")

from pytest_lora.targeting import lora_config, resolve_targets  # noqa: E402
from test_trainable_grid import ARCHITECTURES, _config, _model  # noqa: E402

# the kinds whose options the static matcher takes (no layers_to_transform, rank or bias)
KINDS = ["all-linear", "list+rank_pattern", "regex", "lora_only+exclude", "embedding+modules_to_save"]


@pytest.mark.slow
@pytest.mark.parametrize(("model_type", "task"), ARCHITECTURES, ids=[f"{m}-{t}" for m, t in ARCHITECTURES])
def test_same_targets_as_the_linter(model_type, task):
    arch = architectures.get_architecture(model_type, task)
    if arch is None:
        pytest.skip(f"the knowledge base has no {model_type}/{task}")
    arch = arch.with_layers(2)  # tiny models have two layers
    model = _model(model_type, task)
    for kind in KINDS:
        kwargs = _config(kind, model, task)
        try:
            targets, _ = resolve_targets(model, lora_config(kwargs))
        except (TypeError, ValueError):
            continue  # peft refuses this config (checked in the grid)
        static = matching.match_target_modules(
            kwargs["target_modules"], arch, task_type=kwargs.get("task_type"),
            exclude_modules=kwargs.get("exclude_modules"), modules_to_save=kwargs.get("modules_to_save"))
        assert sorted(t.name for t in targets if t.parameter is None) == sorted(static.targeted), kind
