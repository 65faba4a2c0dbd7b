"""The pytest11 entry point (``lora``). Imports only pytest and the standard library."""
from __future__ import annotations


def pytest_addoption(parser):
    group = parser.getgroup("lora", "pytest-lora: LoRA configuration checks")
    # --- lint check options (lint_rules side) ---
    # --- fixtures/report options (model side) ---
    del group


def pytest_configure(config):
    # --- lint check registration ---
    # --- fixtures/report registration ---
    del config
