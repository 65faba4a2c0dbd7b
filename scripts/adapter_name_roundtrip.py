"""Save and reload a LoRA adapter under each adapter name with the peft this Python imports: which
names come back (LORA011's data). Prints one JSON row per model and name: ``kept`` (the reloaded
model gives the trained outputs), ``lost`` (it gives the base model's), or the error.

    python scripts/adapter_name_roundtrip.py lora a o lora_math default

Runs on the CPU in seconds with tiny models built here (no download). For an older peft, run it with
a Python whose peft is that release (a throwaway venv, ``pip install peft==0.17.1 --no-deps``).
"""
from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

import peft
import torch
import transformers

INPUT = torch.tensor([[1, 2, 3, 4, 5]])


def llama() -> tuple[torch.nn.Module, list[str]]:
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, num_key_value_heads=2)
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval(), ["q_proj", "v_proj", "o_proj"]


def gpt2() -> tuple[torch.nn.Module, list[str]]:
    config = transformers.GPT2Config(vocab_size=64, n_embd=16, n_layer=2, n_head=2, n_positions=32)
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(config).eval(), ["c_attn"]


def _logits(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(input_ids=INPUT).logits


def roundtrip(build, name: str) -> str:
    """``kept``, ``lost`` or ``changed``: what a trained adapter named ``name`` is once saved and loaded back."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base, targets = build()
        model = peft.get_peft_model(base, peft.LoraConfig(r=4, lora_alpha=8, target_modules=targets),
                                    adapter_name=name)
        with torch.no_grad():
            for key, param in model.named_parameters():
                if "lora_B" in key:
                    param.normal_()  # "trained": B is no longer zero
        trained = _logits(model)
        with tempfile.TemporaryDirectory() as folder:
            model.save_pretrained(folder)
            saved = Path(folder) if name == "default" else Path(folder) / name
            fresh, _ = build()
            plain = _logits(fresh)
            loaded = _logits(peft.PeftModel.from_pretrained(fresh, saved, adapter_name=name))
    if torch.allclose(loaded, trained, atol=1e-5):
        return "kept"
    return "lost" if torch.allclose(loaded, plain, atol=1e-5) else "changed"


def main(names: list[str]) -> None:
    for build in (llama, gpt2):
        for name in names:
            try:
                outcome = roundtrip(build, name)
            except Exception as error:  # a release that cannot run the round trip here
                outcome = f"{type(error).__name__}: {error}"
            print(json.dumps({"peft": peft.__version__, "model": build.__name__, "name": name, "outcome": outcome}))


if __name__ == "__main__":
    main(sys.argv[1:] or ["lora", "a", "o", "lora_math", "default"])
