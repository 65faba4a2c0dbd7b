"""QLoRA fine-tuning with TRL, the way the peft/TRL examples write it."""
import argparse
import os

import peft
import torch
from packaging.version import Version
from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from trl import SFTConfig, SFTTrainer

BASE = os.environ.get("BASE_MODEL", "meta-llama/Llama-2-7b-hf")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def lora_config(args):
    if Version(peft.__version__) < Version("0.9.0"):
        return LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, target_modules=TARGETS,
                          task_type=TaskType.CAUSAL_LM)
    return LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, target_modules=TARGETS,
                      use_dora=args.dora, task_type=TaskType.CAUSAL_LM)


def sweep():
    configs = {r: LoraConfig(r=r, lora_alpha=2 * r) for r in (8, 16, 32)}
    legacy = LoraConfig(r=64, lora_alpha=16)
    for config in (legacy,):
        config.lora_alpha = 2 * config.r  # corrected before use
    return configs, legacy


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lora_r", type=int, default=64)
    parser.add_argument("--lora_alpha", type=int, default=16)
    parser.add_argument("--dora", action="store_true")
    args = parser.parse_args()
    bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                             bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(BASE, quantization_config=bnb, device_map="auto")
    model = prepare_model_for_kbit_training(model)
    tokenizer = AutoTokenizer.from_pretrained(BASE)
    tokenizer.pad_token = tokenizer.eos_token
    trainer = SFTTrainer(model=model, args=SFTConfig(output_dir=f"out/{BASE.split('/')[-1]}"),
                         peft_config=lora_config(args), processing_class=tokenizer)
    trainer.train()


# a smoke run on gpt2: its attention is one fused Conv1D, c_attn
smoke = AutoModelForCausalLM.from_pretrained("gpt2")
smoke_config = LoraConfig(r=8, lora_alpha=16, target_modules=["c_attn", "c_proj"], fan_in_fan_out=True)
smoke = get_peft_model(smoke, smoke_config)
wrong = get_peft_model(AutoModelForCausalLM.from_pretrained("gpt2"),
                       LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS))  # expect: LORA001

if __name__ == "__main__":
    main()
