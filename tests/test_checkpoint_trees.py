"""The lint side's module tree of a checkpoint is the one transformers builds from its own config
(issue 9 item 1): names that depend on config fields, layer and expert counts, block layouts."""
from __future__ import annotations

import json

import pytest

from lint_rules.knowledge import architectures, checkpoint_trees
from lint_rules.knowledge.models import curated, resolve_model


def arch_of(model_id: str, task: str | None = None, transformers: str | None = None):
    resolution = resolve_model(model_id)
    assert resolution is not None and resolution.source == "table", model_id
    return architectures.get_architecture(resolution.model_type, task or _task(resolution.task),
                                          transformers=transformers, config=resolution.config)


def _task(task: str) -> str:
    return task if task in architectures.TASKS else "base"


def leaves(arch) -> set[str]:
    return {m.leaf for m in arch.targetable()}


# -- layouts and rules, on their own -------------------------------------------------------

def test_fit_rule_finds_fixed_tail_and_periodic_layouts():
    assert checkpoint_trees.fit_rule({6: [0], 7: [0], 8: [0]}) == {"fixed": [0]}
    assert checkpoint_trees.fit_rule({6: [1, 2, 3, 4, 5], 7: [1, 2, 3, 4, 5, 6], 8: list(range(1, 8))}) == {"from": 1}
    every = checkpoint_trees.fit_rule({8: [3, 7], 9: [3, 7], 10: [3, 7]})
    assert every == {"fixed": [3, 7]}  # the simplest rule that gives what was seen
    periodic = checkpoint_trees.fit_rule({8: [1, 3, 5, 7], 9: [1, 3, 5, 7], 10: [1, 3, 5, 7, 9]})
    assert periodic == {"every": 2, "offset": 1}
    assert checkpoint_trees.apply_rule(periodic, 12) == (1, 3, 5, 7, 9, 11)
    assert checkpoint_trees.apply_rule({"from": 0}, 5) == 5
    assert checkpoint_trees.apply_rule({"fixed": [0]}, 12) == 1  # written as the generator writes it


def test_a_layout_no_rule_describes_is_not_fitted():
    assert checkpoint_trees.fit_rule({3: [0, 2], 4: [1], 5: [0, 4]}) is None


def _entry(names=None, variants=()):
    rows = [["embed", "Embedding"], ["layers", "ModuleList"], ["layers.{i}", "Block", [4]],
            ["layers.{i}.proj", "Linear", [4]]]
    entry = {"num_layers": 4, "base": {"class": "M", "modules": rows, "heads": []},
             "fields": {"aliases": {"n_layer": "num_hidden_layers"}, "names": names or {}, "counts": {"layers": ["num_hidden_layers"]},
                        "defaults": {"num_hidden_layers": 4}, "num_layers": ["num_hidden_layers"]}}
    if variants:
        entry["variants"] = list(variants)
    return entry


def _tailor(entry, config, task="base"):
    return checkpoint_trees.tailor(entry, config, task, lambda tree, t: _arch(tree, t))


def _arch(tree, task):
    return architectures.Architecture("m", tree[task]["class"], "x", tree["num_layers"],
                                      architectures.tree_modules(tree, task), task)


def test_counts_come_from_the_config_and_aliases_are_understood():
    arch = _tailor(_entry(), {"num_hidden_layers": 7})
    assert arch.num_layers == 7 and len([n for n in arch.names() if n.endswith(".proj")]) == 7
    assert _tailor(_entry(), {"n_layer": 2}).num_layers == 2  # an attribute-map alias
    assert _tailor(_entry(), {}).num_layers == 4  # left out: the default


@pytest.mark.parametrize("bad", ["32", 3.5, -1, True, None, [4], {"n": 4}, 10**9])
def test_a_count_that_is_not_a_sane_int_gives_no_tree(bad):
    arch = _tailor(_entry(), {"num_hidden_layers": bad})
    if bad is None:  # null in config.json: the default, as transformers reads it
        assert arch is not None and arch.num_layers == 4
    else:
        assert arch is None


def test_structure_values_pick_the_tree_built_from_them():
    gated = _entry()["base"] | {"modules": [["embed", "Embedding"], ["layers", "ModuleList"], ["layers.{i}", "Block", [4]],
                                            ["layers.{i}.gate", "Linear", [4]]]}
    variant = {"num_layers": 4, "base": gated, "when": {"act": "gated", "derived": True}}
    entry = _entry(names={"act": "relu", "derived": False}, variants=[variant])
    assert leaves(_tailor(entry, {"act": "gated", "derived": True})) == {"embed", "gate"}
    # a field transformers derives from another one may be left out of config.json
    assert leaves(_tailor(entry, {"act": "gated"})) == {"embed", "gate"}
    assert leaves(_tailor(entry, {})) == {"embed", "proj"}
    assert _tailor(entry, {"act": "swiglu"}) is None  # no recorded build had it: no tree, no guess


def test_a_list_with_differently_built_blocks_grows_by_its_rules_only():
    rows = [["block", "ModuleList"], ["block.{i}", "First", [1]], ["block.{i}.bias", "Embedding", [1]],
            ["block.{i}", "Rest", [[1, 2, 3]]], ["block.{i}.ff", "Linear", [[1, 2, 3]]]]
    entry = {"num_layers": 4, "base": {"class": "T", "modules": rows, "heads": []},
             "fields": {"aliases": {}, "names": {}, "counts": {"block": ["num_layers"]},
                        "defaults": {"num_layers": 4}, "num_layers": ["num_layers"]}}
    assert _tailor(entry, {"num_layers": 6}) is None  # layout unknown: no tree
    entry["groups"] = {"block": [[1, {"fixed": [0]}], [[1, 2, 3], {"from": 1}]]}
    arch = _tailor(entry, {"num_layers": 6})
    assert [n for n in arch.names() if n.endswith(".ff")] == [f"block.{i}.ff" for i in range(1, 6)]
    assert [n for n in arch.names() if n.endswith(".bias")] == ["block.0.bias"]


# -- the recorded data against real checkpoints ---------------------------------------------

@pytest.mark.parametrize("version", architectures.transformers_versions())
def test_flan_t5_has_its_gated_feed_forward(version):
    for model_id in ("google/flan-t5-base", "google/flan-t5-large"):
        arch = arch_of(model_id, "seq2seq_lm", version)
        assert {"wi_0", "wi_1", "wo"} <= leaves(arch) and "wi" not in leaves(arch), model_id
    assert "wi" in leaves(arch_of("t5-base", "seq2seq_lm", version))


# layer counts from each checkpoint's config.json (facts from the model cards / config files)
LAYERS = {"meta-llama/Llama-2-70b-hf": 80, "Qwen/Qwen2.5-7B": 28, "microsoft/phi-2": 32,
          "google/flan-t5-base": 12, "google/flan-t5-large": 24, "gpt2-xl": 48, "facebook/opt-350m": 24,
          "meta-llama/Llama-3.2-1B": 16, "mistralai/Mixtral-8x7B-v0.1": 32}


@pytest.mark.parametrize("version", architectures.transformers_versions())
@pytest.mark.parametrize("model_id", sorted(LAYERS))
def test_layer_counts_are_the_checkpoints(model_id, version):
    arch = arch_of(model_id, transformers=version)
    assert arch.num_layers == LAYERS[model_id]
    blocks = {n.split(".{")[0] for m in arch.modules if "{i}" in m.pattern for n in [m.pattern]}
    lengths = {b: 1 + max(int(n[len(b) + 1:].split(".")[0]) for n in arch.names() if n.startswith(b + "."))
               for b in blocks}
    assert LAYERS[model_id] in lengths.values()


def test_opt_350m_has_its_projections():
    assert {"project_in", "project_out"} <= leaves(arch_of("facebook/opt-350m"))
    assert not {"project_in", "project_out"} & leaves(arch_of("facebook/opt-125m"))


def test_every_model_type_with_data_records_what_its_config_changes():
    for version in architectures.transformers_versions():
        data = architectures._load(version)
        missing = [t for t, e in data["models"].items() if "fields" not in e and f"{t}/fields" not in data["failures"]]
        assert not missing, (version, missing[:10])


# -- the lint side agrees with what transformers builds -----------------------------------

@pytest.fixture(scope="module")
def skeletons():
    pytest.importorskip("transformers")
    from pytest_lora import skeletons as module
    return module


def _curated_ids():
    return sorted(curated())


@pytest.mark.parametrize("version", architectures.transformers_versions())
def test_the_data_was_generated_with_every_curated_id(version):
    """A curated id added after the data was generated has no variant for its own structure."""
    recorded = set(architectures._load(version).get("checkpoints", ()))
    missing = sorted(set(curated()) - recorded)
    types = sorted({curated()[m]["model_type"] for m in missing})
    assert not missing, (f"regenerate the data, with transformers {version} installed, for {missing[:5]}...: "
                         f"python scripts/gen_architectures.py --update --only {' '.join(types)}")


@pytest.mark.parametrize("model_id", _curated_ids())
def test_lint_side_names_and_counts_equal_the_runtime_skeleton(model_id, skeletons):
    """For every curated id: every module name the installed transformers builds from the
    checkpoint's config is the lint side's, and nothing else."""
    from importlib.metadata import version

    resolution = resolve_model(model_id)
    task = _task(resolution.task)
    arch = architectures.get_architecture(resolution.model_type, task, transformers=version("transformers"),
                                          config=resolution.config)
    assert arch is not None, f"{model_id}: no tree for its config"
    assert arch.transformers == version("transformers")
    model = skeletons.build_skeleton(model_id, task=arch.task)
    built = {name for name, _ in model.named_modules() if name}
    assert set(arch.names()) == built
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    assert arch.num_layers == getattr(config, "num_hidden_layers", arch.num_layers)


def test_data_files_stay_compact():
    for version in architectures.transformers_versions():
        size = (architectures.DATA / f"transformers-{version}.json").stat().st_size
        assert size < 6 * 2**20, (version, size)
        assert json.loads((architectures.DATA / f"transformers-{version}.json").read_text())["models"]


# -- the rules see the checkpoint --------------------------------------------------------------

LINTED = """\
from peft import LoraConfig, get_peft_model
from transformers import {cls}

model = {cls}.from_pretrained({model_id!r})
model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules={targets!r}))
"""


def _codes(model_id, cls, targets):
    from lint_rules.engine import lint_source

    source = LINTED.format(model_id=model_id, cls=cls, targets=targets)
    return [(v.code, v.message) for v in lint_source(source, select=["LORA001", "LORA002"])]


@pytest.mark.parametrize("model_id", ["google/flan-t5-base", "google/flan-t5-large"])
def test_flan_t5_gated_targets_are_not_flagged(model_id):
    """Was a false LORA002: the t5 default config has ``wi``, flan-t5's gated-gelu has ``wi_0``/``wi_1``."""
    assert _codes(model_id, "AutoModelForSeq2SeqLM", ["q", "v", "wi_0", "wi_1"]) == []
    assert [c for c, _ in _codes(model_id, "AutoModelForSeq2SeqLM", ["q", "v", "wi"])] == ["LORA002"]


def test_a_regex_over_the_last_layers_of_a_deep_checkpoint_is_not_flagged():
    """Was a false LORA001: Llama-2-70b has 80 layers, the llama default config 32."""
    regex = r"model\.layers\.7[0-9]\.self_attn\.q_proj"
    assert _codes("meta-llama/Llama-2-70b-hf", "AutoModelForCausalLM", regex) == []
    assert [c for c, _ in _codes("meta-llama/Llama-2-7b-hf", "AutoModelForCausalLM", regex)] == ["LORA001"]


def test_a_local_config_with_a_structure_no_build_had_leaves_the_rules_silent(tmp_path):
    folder = tmp_path / "my-t5"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "t5", "feed_forward_proj": "gated-swish",
                                                    "num_layers": 4, "architectures": ["T5ForConditionalGeneration"]}))
    assert _codes(str(folder), "AutoModelForSeq2SeqLM", ["no_such_module"]) == []
    (folder / "config.json").write_text(json.dumps({"model_type": "t5", "feed_forward_proj": "gated-gelu",
                                                    "num_layers": 4, "architectures": ["T5ForConditionalGeneration"]}))
    assert [c for c, _ in _codes(str(folder), "AutoModelForSeq2SeqLM", ["wi"])] == ["LORA001"]


def test_target_rules_keep_running_with_layers_to_transform():
    """Was silent: any call with layers_to_transform skipped LORA001/LORA002."""
    from lint_rules.engine import lint_source

    source = LINTED.format(model_id="meta-llama/Llama-2-7b-hf", cls="AutoModelForCausalLM",
                           targets=["q_proj", "w1"]).replace("))\n", ", layers_to_transform=[0, 1]))\n")
    assert [v.code for v in lint_source(source, select=["LORA001", "LORA002", "LORA006"])] == ["LORA002"]
    source = source.replace("[0, 1]", "[0, 90]")
    assert sorted(v.code for v in lint_source(source, select=["LORA001", "LORA002", "LORA006"])) == ["LORA002", "LORA006"]
