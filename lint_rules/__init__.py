"""lora-lint: static checks for PEFT/LoRA configurations, built on libcst.

Importing this package never imports torch, transformers or peft: everything the
rules know about peft releases and model architectures is committed data under
``lint_rules/knowledge/data``.
"""
__version__ = "0.1.0"
