"""A training script whose configs and models go through names bound several times, branches,
helpers and default parameters; a finding only where a config provably meets a model."""
from __future__ import annotations

import argparse

from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, Trainer

LLAMA = "meta-llama/Llama-2-7b-hf"


def lora_config(rank: int = 16) -> LoraConfig:
    return LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=["q_proj", "v_proj", "w1"])  # expect: LORA002


def load(name=LLAMA, quantized=False):
    model = AutoModelForCausalLM.from_pretrained(name)
    if quantized:
        model = prepare_model_for_kbit_training(model)
    return model


def sweep():
    model = load()
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj"])
    first = get_peft_model(model, config)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["c_attn"])  # expect: LORA001
    second = get_peft_model(model, config)
    third = get_peft_model(load(quantized=True), lora_config())
    return first, second, third


def by_size(small: bool):
    # the model and its targets chosen by the same condition: no pair is proven
    if small:
        name = "gpt2"
    else:
        name = LLAMA
    model = AutoModelForCausalLM.from_pretrained(name)
    if small:
        return get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["c_attn"]))
    return get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj"]))


def classifier(model_id="roberta-base"):
    model = AutoModelForSequenceClassification.from_pretrained(model_id)
    if model_id.startswith("roberta"):
        peft_config = LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value"], task_type="SEQ_CLS")
    else:
        peft_config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_lin", "v_lin"], task_type="SEQ_CLS")
    return Trainer(model=get_peft_model(model, peft_config))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="gpt2")
    args = parser.parse_args()
    model = AutoModelForCausalLM.from_pretrained(args.model)  # not known: nothing to check
    return get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj"]))


if __name__ == "__main__":
    main()
    sweep()
