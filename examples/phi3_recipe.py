"""A Llama recipe copied onto Phi-3: typos, a removed keyword, a partial target list."""
from peft import LoraConfig, TaskType, get_peft_model
from transformers import AutoModelForCausalLM

MODEL_ID = "microsoft/Phi-3-mini-4k-instruct"
RANK = 64

model = AutoModelForCausalLM.from_pretrained(MODEL_ID)
config = LoraConfig(
    r=RANK,
    lora_alpha=16,
    target_modules=["q_proj", "v_proj", "qkv_proj", "o_proj"],
    nit_lora_weights="gaussian",
    merge_weights=True,
    task_type=TaskType.CAUSAL_LM,
)
model = get_peft_model(model, config)
