"""What LORA014 says peft does, shown with the installed peft on tiny models (skipped without
peft/transformers/torch): the module kinds the generated data says the installed release wraps
are exactly those it wraps, and each error shape raises in ``get_peft_model``."""
from __future__ import annotations

import re
import warnings

import pytest

from lint_rules.engine import lint_source
from lint_rules.knowledge import peft_releases
from lint_rules.knowledge.architectures import TARGETABLE

peft = pytest.importorskip("peft")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from pytest_lora.tiny_models import build_tiny_model  # noqa: E402

NOT_SUPPORTED = re.compile(r"not supported", re.I)


def _wrap(model, **config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peft.get_peft_model(model, peft.LoraConfig(r=2, lora_alpha=4, **config))


def _one(kind: str) -> "torch.nn.Module":
    from transformers.pytorch_utils import Conv1D
    return {
        "Linear": lambda: torch.nn.Linear(4, 4),
        "Conv1D": lambda: Conv1D(4, 4),
        "Embedding": lambda: torch.nn.Embedding(10, 4),
        "Conv1d": lambda: torch.nn.Conv1d(4, 4, 1),
        "Conv2d": lambda: torch.nn.Conv2d(4, 4, 1),
        "Conv3d": lambda: torch.nn.Conv3d(4, 4, 1),
        "MultiheadAttention": lambda: torch.nn.MultiheadAttention(4, 2),
        "LayerNorm": lambda: torch.nn.LayerNorm(4),
    }[kind]()


@pytest.mark.parametrize("kind", sorted(TARGETABLE | {"LayerNorm"}))
def test_the_recorded_kinds_are_what_the_installed_peft_wraps(kind):
    installed = peft_releases.release_of(peft.__version__)
    if installed is None:
        pytest.skip(f"peft {peft.__version__} is not a release in the data")
    holder = torch.nn.Module()
    holder.layer = _one(kind)
    if kind in peft_releases.layer_kinds(installed):
        _wrap(holder, target_modules=["layer"])
    else:
        with pytest.raises(ValueError, match=NOT_SUPPORTED):
            _wrap(holder, target_modules=["layer"])


@pytest.mark.parametrize("targets", [["q_proj", "mlp"], ["q_proj", "input_layernorm"], r"model\.layers\.\d+"])
def test_an_entry_reaching_a_container_or_a_norm_raises(targets):
    with pytest.raises(ValueError, match=NOT_SUPPORTED):
        _wrap(build_tiny_model("llama", "causal_lm"), target_modules=targets)
    source = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
              "model = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-2-7b-hf')\n"
              f"model = get_peft_model(model, LoraConfig(target_modules={targets!r}))\n")
    assert [v.code for v in lint_source(source, filename="case.py", select=["LORA014"])] == ["LORA014"]


def test_excluding_the_container_leaves_nothing_unsupported():
    model = _wrap(build_tiny_model("llama", "causal_lm"), target_modules=["q_proj", "mlp"], exclude_modules=["mlp"])
    assert any("q_proj.lora_A" in n for n, _ in model.named_parameters())


def test_all_linear_reaches_the_vision_tower_and_the_suggested_regex_does_not():
    source = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModel\n\n"
              "model = AutoModel.from_pretrained('Qwen/Qwen2-VL-2B-Instruct')\n"
              "model = get_peft_model(model, LoraConfig(target_modules='all-linear'))\n")
    found = lint_source(source, filename="case.py", select=["LORA014"])
    assert [(v.code, v.severity) for v in found] == [("LORA014", "warning")]
    regex = re.search(r'target_modules=r"([^"]+)"', found[0].message).group(1)

    def adapted(**config):
        model = _wrap(build_tiny_model("qwen2_vl", "base"), **config)
        return {n.rsplit(".lora_A", 1)[0].removeprefix("base_model.model.")
                for n, _ in model.named_parameters() if ".lora_A" in n}

    everything = adapted(target_modules="all-linear")
    assert any(n.startswith("visual.") for n in everything)
    language = adapted(target_modules=regex)
    assert language and all(".language_model." in f".{n}" for n in language)
    assert language == {n for n in everything if n.startswith("language_model.")}

