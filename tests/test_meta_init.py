"""Parameter initialisers skipped on ``meta`` (what ``--lora-check``'s runtime half and skeletons build on)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from pytest_lora.meta_init import skipped_on_meta  # noqa: E402


@pytest.fixture
def kaiming_calls(monkeypatch):
    """The devices ``torch.nn.init.kaiming_uniform_`` (what ``nn.Linear`` initialises with) ran on."""
    calls = []
    original = torch.nn.init.kaiming_uniform_

    def spy(tensor, *args, **kwargs):
        calls.append(tensor.device.type)
        return original(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.nn.init, "kaiming_uniform_", spy)
    return calls


def test_meta_tensors_are_left_alone_and_the_rest_initialised(kaiming_calls):
    with skipped_on_meta():
        meta = torch.nn.Linear(8, 4, device="meta")
        cpu = torch.nn.Linear(8, 4)
        assert torch.nn.init.zeros_(meta.weight) is meta.weight
    assert kaiming_calls == ["cpu"]
    assert cpu.weight.abs().sum() > 0 and meta.weight.shape == (4, 8)
    torch.nn.Linear(8, 4, device="meta")  # outside the block, as before
    assert kaiming_calls == ["cpu", "meta"]


def test_the_initialisers_come_back_when_the_block_raises(kaiming_calls):
    with pytest.raises(RuntimeError), skipped_on_meta():
        raise RuntimeError
    torch.nn.Linear(8, 4, device="meta")
    assert kaiming_calls == ["meta"]


def test_a_skeleton_is_the_model_transformers_builds():
    pytest.importorskip("transformers")
    from transformers import AutoConfig, AutoModelForCausalLM

    from pytest_lora.skeletons import build_skeleton

    with torch.device("meta"):
        plain = AutoModelForCausalLM.from_config(AutoConfig.for_model("llama", num_hidden_layers=2))
    skeleton = build_skeleton("meta-llama/Llama-2-7b-hf")
    shapes = {name: tuple(p.shape) for name, p in skeleton.named_parameters()}
    assert {name: tuple(p.shape) for name, p in plain.named_parameters()}.items() <= shapes.items()
    assert all(p.is_meta for p in skeleton.parameters())
