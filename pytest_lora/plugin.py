"""The pytest11 entry point (``lora``). Imports only pytest and the standard library."""
from __future__ import annotations


def pytest_addoption(parser):
    group = parser.getgroup("lora", "pytest-lora: LoRA configuration checks")
    # --- lint check options (lint_rules side) ---
    group.addoption("--lora-check", action="store_true", default=False,
                    help="check every collected Python file that uses peft with lora-lint (item path::lora-check)")
    group.addoption("--lora-check-select", default=None, metavar="RULES",
                    help="rules for --lora-check: codes, prefixes or names, comma-separated (default: lora-lint config)")
    group.addoption("--lora-check-runtime", choices=("yes", "no"), default="yes",
                    help="with --lora-check, also construct each static LoraConfig with the installed peft and "
                         "apply it to its model's full-size skeleton on meta (default: yes, where peft is installed)")
    parser.addini("lora_check_select", type="args", default=[],
                  help="rules for --lora-check (codes, prefixes or names)")
    # --- fixtures/report options (model side) ---
    group.addoption("--lora-report", action="store_true", default=False,
                    help="summarize the LoRA configs applied through lora_apply/apply_lora (model, r, "
                         "targets, trainable/total, device)")


def pytest_configure(config):
    # --- lint check registration ---
    if config.getoption("lora_check", False):
        from .lint_check import LoraCheckPlugin

        config.addinivalue_line("markers", "lora_check: a lora-lint check item (pytest --lora-check)")
        config.pluginmanager.register(LoraCheckPlugin(config), "lora-check")
    # --- fixtures/report registration ---
    config.addinivalue_line("markers", "lora_devices(*devices): run once per device (cpu, cuda, cuda:N, mps, "
                                       "meta; default: those present); absent devices are skipped with the reason")
    config.addinivalue_line("markers", "gpu(count=1): needs `count` CUDA devices; skipped with the reason otherwise")
    from pytest_lora import fixtures

    config.pluginmanager.register(fixtures, "lora-fixtures")
    if config.getoption("lora_report", False):
        from pytest_lora.report import LoraReport

        config.pluginmanager.register(LoraReport(), "lora-report")
