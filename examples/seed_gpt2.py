"""The program that started pytest-lora: Llama's attention names on GPT-2.

GPT-2 has a fused ``c_attn`` projection, not ``q_proj``/``v_proj``, so peft finds
no module to adapt and raises only after the model has been loaded.
"""
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("gpt2")
config = LoraConfig(
    r=8,
    lora_alpha=16,
    target_modules=["q_proj", "v_proj"],
    lora_dropout=0.05,
    task_type="CAUSAL_LM",
)
model = get_peft_model(model, config)
model.print_trainable_parameters()
