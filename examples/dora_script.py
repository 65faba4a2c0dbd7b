# /// script
# requires-python = ">=3.10"
# dependencies = ["peft>=0.7,<0.9", "transformers", "torch"]
# ///
"""A script pinned to an old peft (PEP 723 metadata) that uses newer options."""
from peft import LoraConfig

config = LoraConfig(
    r=16,
    lora_alpha=32,
    target_modules="all-linear",
    use_dora=True,
)
