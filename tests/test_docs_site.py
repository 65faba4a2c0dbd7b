"""The documentation site (mkdocs.yml, `make docs`): what the build computes and what the pages
copy from elsewhere. The build itself runs in CI (`.ci/run`: make docs, strict)."""
from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _hooks():
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text("utf-8"))


def _nav_files(nav) -> list[str]:
    out = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        out += _nav_files(value) if isinstance(value, list) else [value]
    return out


def test_every_page_is_in_the_nav_once_the_rules_are_listed():
    hooks = _hooks()
    config = {"nav": _config()["nav"], "docs_dir": str(DOCS)}
    listed = _nav_files(hooks.on_config(config)["nav"])
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert not set(pages) - set(listed), f"pages missing from mkdocs.yml's nav: {sorted(set(pages) - set(listed))}"
    assert sorted(listed) == pages, f"nav entries without a page: {sorted(set(listed) - set(pages))}"
    assert [p for p in listed if p.startswith("rules/LORA")] == sorted(p for p in pages if p.startswith("rules/LORA"))


def test_strict_build_settings():
    config = _config()
    assert config["strict"] is True
    assert set(config["validation"].values()) == {"warn"}  # strict turns each into a failure
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^docs: .*\n(?:\t.*\n)*\t.*mkdocs build --strict", makefile, re.M)
    assert re.search(r"^make docs$", (ROOT / ".ci" / "run").read_text(), re.M)


def _console(text: str, heading: str) -> str:
    section = text[text.index(heading):]
    return re.search(r"```console\n(.*?)```", section, re.S).group(1)


def test_getting_started_shows_the_readme_commands():
    readme = _console((ROOT / "README.md").read_text("utf-8"), "## Quick start")
    assert _console((DOCS / "index.md").read_text("utf-8"), "## Getting started") == readme
    assert "make demo" in readme and "make test" in readme


def test_lora_settings_figures_come_from_the_estimator():
    pytest.importorskip("torch")
    hooks = _hooks()
    rows = hooks.figures()["rows"]
    r16 = rows["all-linear"][16]
    # Llama-2-7b: 6,738,415,616 weights in bfloat16; peft trains 39,976,960 for all-linear r=16
    assert r16.base_weights == 6_738_415_616 * 2
    assert r16.trainable_params == 39_976_960
    assert rows["q_proj, v_proj"][16].trainable_params == 8_388_608
    for by_rank in rows.values():  # the adapter's part grows linearly with r, the base not at all
        assert len({e.base_weights for e in by_rank.values()}) == 1
        assert by_rank[32].trainable_params == 2 * by_rank[16].trainable_params
    table = hooks.table()
    assert f"| 16 | all-linear | {r16.trainable_params:,} |" in table
    assert f"![Memory of LoRA training on {hooks.MODEL}" in table


def test_lora_settings_chart_is_drawn_from_the_same_figures():
    pytest.importorskip("torch")
    hooks = _hooks()
    svg = ET.fromstring(hooks.chart())
    ns = "{http://www.w3.org/2000/svg}"
    labels = [t.text for t in svg.iter(f"{ns}text") if t.text and t.text.startswith("r=")]
    assert labels == [f"r={r}" for r in hooks.RANKS]
    totals = [t.text for t in svg.iter(f"{ns}text") if t.text and t.text.endswith(")") and "GiB (+" in t.text]
    expected = hooks.figures()["rows"]["all-linear"]
    assert totals == [f"{hooks._gib(e.total)} GiB (+{hooks._gib(hooks._state(e))})" for e in expected.values()]


def test_lora_settings_page_keeps_its_marker():
    assert (DOCS / "lora-settings.md").read_text("utf-8").count(_hooks().MARKER) == 1
