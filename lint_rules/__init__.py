"""lora-lint: static checks for PEFT/LoRA configurations, built on libcst.

Importing this package never imports torch, transformers or peft: everything the
rules know about peft releases and model architectures is committed data under
``lint_rules/knowledge/data``.
"""
__version__ = "0.1.0"

# public name -> module that defines it (loaded on first use, so `lora-lint --version` stays cheap)
_API = {
    "lint_source": "lint_rules.engine",
    "fix_source": "lint_rules.engine",
    "lint_paths": "lint_rules.runner",
    "Violation": "lint_rules.violation",
    "Rule": "lint_rules.rule",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    import importlib

    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'lint_rules' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
