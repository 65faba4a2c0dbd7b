"""``lora-lint server`` end to end, as an editor talks to it: JSON-RPC over the stdio of a
subprocess (tests/lsp_client.py)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lsp_client import Client, apply_edits, uri

FAST = {"debounce": 0.05}
# The call sits after non-ASCII text on its line: an astral character (two UTF-16 code units, one
# code point) and an accented one (one of each).
TYPO = ('from peft import LoraConfig\n\n'
        's = "😀é"; config = LoraConfig(r=8, lora_alpah=16, target_modules=["q_proj"])\n')
TYPO_START = len('s = "😀é"; config = LoraConfig(r=8, ') + 1  # in UTF-16 code units: the emoji counts two
GPT2 = ('from peft import LoraConfig, get_peft_model\n'
        'from transformers import AutoModelForCausalLM\n\n'
        'model = AutoModelForCausalLM.from_pretrained("gpt2")\n'
        'config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"])\n'
        'model = get_peft_model(model, config)\n')


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.lora-lint]\n")
    return tmp_path


def start(project, prelude: str = "") -> Client:
    pytest.importorskip("pygls")  # the lsp extra; make test installs it
    return Client(project, prelude=prelude)


@pytest.fixture
def client(project):
    started = start(project)
    started.initialize(project, FAST)
    yield started
    if started.process.poll() is None:
        started.close()


def actions(client: Client, document: str, diagnostic: dict) -> list[dict]:
    return client.request("textDocument/codeAction", {
        "textDocument": {"uri": document}, "range": diagnostic["range"],
        "context": {"diagnostics": [diagnostic]}})


def quick_fixes(found: list[dict]) -> list[dict]:
    """The fixes among the code actions (not the ``# noqa`` ones)."""
    return [a for a in found if a["kind"] == "quickfix" and not a["title"].startswith("Suppress")]


def test_diagnostic_at_its_utf16_range_then_the_quick_fix_clears_it(client, project):
    path = project / "train.py"
    path.write_text(TYPO)
    document = client.open(path, TYPO)
    [diagnostic] = client.diagnostics(document, 1)
    assert diagnostic["code"] == "LORA003" and diagnostic["source"] == "lora-lint"
    assert diagnostic["severity"] == 1
    assert diagnostic["range"] == {"start": {"line": 2, "character": TYPO_START},
                                   "end": {"line": 2, "character": TYPO_START + len("lora_alpah")}}
    line = TYPO.splitlines()[2].encode("utf-16-le")
    start, end = diagnostic["range"]["start"]["character"], diagnostic["range"]["end"]["character"]
    assert line[2 * start:2 * end].decode("utf-16-le") == "lora_alpah"
    assert diagnostic["codeDescription"]["href"].endswith("LORA003.md")

    [fix] = quick_fixes(actions(client, document, diagnostic))
    assert fix["title"] == "Rename `lora_alpah` to `lora_alpha` (LORA003)" and fix["isPreferred"] is True
    [change] = fix["edit"]["documentChanges"]
    assert change["textDocument"] == {"uri": document, "version": 1}
    fixed = apply_edits(TYPO, change["edits"])
    assert fixed == TYPO.replace("lora_alpah", "lora_alpha")

    mark = client.mark()
    client.change(document, 2, fixed)
    assert client.diagnostics(document, 2, mark) == []


def test_a_finding_can_be_suppressed_with_a_noqa_comment(client, project):
    document = client.open(project / "train.py", TYPO)
    [diagnostic] = client.diagnostics(document, 1)
    [suppress] = [a for a in actions(client, document, diagnostic) if a["title"].startswith("Suppress")]
    assert suppress["title"] == "Suppress LORA003 on this line (# noqa)" and suppress["isPreferred"] is False
    quiet = apply_edits(TYPO, suppress["edit"]["documentChanges"][0]["edits"])
    assert quiet == TYPO.replace('"q_proj"])\n', '"q_proj"])  # noqa: LORA003\n')
    mark = client.mark()
    client.change(document, 2, quiet)
    assert client.diagnostics(document, 2, mark) == []


def test_unsafe_fix_is_labelled_and_not_preferred(client, project):
    text = "from peft import LoraConfig\nconfig = LoraConfig(r=8, lora_alpha=8)\n"
    document = client.open(project / "alpha.py", text)
    [diagnostic] = client.diagnostics(document, 1)
    assert diagnostic["code"] == "LORA201" and diagnostic["severity"] == 2
    [fix] = quick_fixes(actions(client, document, diagnostic))
    assert "unsafe" in fix["title"] and fix["isPreferred"] is False
    assert "lora_alpha=16" in apply_edits(text, fix["edit"]["documentChanges"][0]["edits"])


def test_fix_all_applies_the_safe_fixes_only(client, project):
    text = TYPO + "other = LoraConfig(r=8, lora_alpha=8)\n"
    document = client.open(project / "both.py", text)
    found = client.diagnostics(document, 1)
    assert sorted(d["code"] for d in found) == ["LORA003", "LORA201"]
    whole = client.request("textDocument/codeAction", {
        "textDocument": {"uri": document}, "range": {"start": {"line": 0, "character": 0},
                                                     "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": [], "only": ["source.fixAll"]}})
    [fix_all] = whole
    assert fix_all["kind"] == "source.fixAll.lora-lint"
    fixed = apply_edits(text, fix_all["edit"]["documentChanges"][0]["edits"])
    assert fixed == text.replace("lora_alpah", "lora_alpha")  # the unsafe alpha fix is left out


def test_hover_on_a_finding_explains_its_rule(client, project):
    document = client.open(project / "train.py", TYPO)
    [diagnostic] = client.diagnostics(document, 1)
    inside = {"line": 2, "character": TYPO_START + 3}
    hover = client.request("textDocument/hover", {"textDocument": {"uri": document}, "position": inside})
    assert hover["contents"]["kind"] == "markdown"
    assert hover["contents"]["value"].startswith("# LORA003 unknown-argument")
    assert "## Flagged" in hover["contents"]["value"]
    assert hover["range"] == diagnostic["range"]
    elsewhere = {"line": 0, "character": 2}
    assert client.request("textDocument/hover", {"textDocument": {"uri": document}, "position": elsewhere}) is None


def test_noqa_and_per_file_ignores_are_honoured(client, project):
    quiet = TYPO.replace('"q_proj"])\n', '"q_proj"])  # noqa: LORA003\n')
    document = client.open(project / "quiet.py", quiet)
    assert client.diagnostics(document, 1) == []
    (project / "pyproject.toml").write_text('[tool.lora-lint]\nper-file-ignores = {"legacy/*" = ["LORA003"]}\n')
    legacy = client.open(project / "legacy" / "old.py", TYPO)
    assert client.diagnostics(legacy, 1) == []


def test_settings_come_from_pyproject_and_reload_when_it_changes(client, project):
    (project / "pyproject.toml").write_text('[tool.lora-lint]\nignore = ["LORA003"]\n')
    document = client.open(project / "train.py", TYPO)
    assert client.diagnostics(document, 1) == []
    assert [r["method"] for r in client.registrations] == ["workspace/didChangeWatchedFiles"]

    (project / "pyproject.toml").write_text("[tool.lora-lint]\n")
    mark = client.mark()
    client.notify("workspace/didChangeWatchedFiles",
                  {"changes": [{"uri": uri(project / "pyproject.toml"), "type": 2}]})
    assert [d["code"] for d in client.diagnostics(document, 1, mark)] == ["LORA003"]


def test_a_changed_pyproject_counts_at_the_next_lint_without_a_file_watcher(project):
    (project / "pyproject.toml").write_text('[tool.lora-lint]\nignore = ["LORA003"]\n')
    client = start(project)
    capabilities = {"workspace": {"workspaceEdit": {"documentChanges": True}}}
    client.initialize(project, FAST, capabilities)
    try:
        document = client.open(project / "train.py", TYPO)
        assert client.diagnostics(document, 1) == []
        assert client.registrations == []
        (project / "pyproject.toml").write_text("[tool.lora-lint]\n# edited\n")
        mark = client.mark()
        client.change(document, 2, TYPO + "\n")
        assert [d["code"] for d in client.diagnostics(document, 2, mark)] == ["LORA003"]
    finally:
        client.close()


def test_a_broken_pyproject_is_reported_and_the_defaults_are_used(client, project):
    (project / "pyproject.toml").write_text('[tool.lora-lint]\nselect = ["NOPE999"]\n')
    document = client.open(project / "train.py", TYPO)
    assert [d["code"] for d in client.diagnostics(document, 1)] == ["LORA003"]
    shown = client.wait_for("window/showMessage")
    assert "NOPE999" in shown["message"] and "default settings" in shown["message"]


NOTEBOOK_CELLS = [
    (1, "# Fine-tune\n"),
    (2, "%pip install peft\nfrom peft import LoraConfig"),
    (2, "files = !ls\nconfig = LoraConfig(\n    r=8, lora_alpah=16,\n)\n"),
]


def test_notebook_cells_get_their_own_diagnostics(client, project):
    notebook = uri(project / "train.ipynb")
    cells = [f"vscode-notebook-cell:{project / 'train.ipynb'}#W{i}" for i in range(len(NOTEBOOK_CELLS))]
    client.notify("notebookDocument/didOpen", {
        "notebookDocument": {"uri": notebook, "notebookType": "jupyter-notebook", "version": 1,
                             "cells": [{"kind": kind, "document": cell}
                                       for (kind, _), cell in zip(NOTEBOOK_CELLS, cells)]},
        "cellTextDocuments": [{"uri": cell, "languageId": "python" if kind == 2 else "markdown", "version": 1,
                               "text": text} for (kind, text), cell in zip(NOTEBOOK_CELLS, cells)]})
    [diagnostic] = client.diagnostics(cells[2], 1)
    assert diagnostic["code"] == "LORA003"
    assert diagnostic["range"]["start"] == {"line": 2, "character": 9}  # the cell's own row and column
    assert client.diagnostics(cells[1], 1) == []
    [fix] = quick_fixes(actions(client, cells[2], diagnostic))
    fixed = apply_edits(NOTEBOOK_CELLS[2][1], fix["edit"]["documentChanges"][0]["edits"])
    assert fixed == NOTEBOOK_CELLS[2][1].replace("alpah", "alpha")

    mark = client.mark()
    client.notify("notebookDocument/didChange", {
        "notebookDocument": {"uri": notebook, "version": 2},
        "change": {"cells": {"textContent": [{"document": {"uri": cells[2], "version": 2},
                                              "changes": [{"text": fixed}]}]}}})
    assert client.diagnostics(cells[2], 2, mark) == []


def test_a_notebook_opened_as_json_text_points_at_the_line_of_the_cell_row(client, project):
    data = {"cells": [{"cell_type": "code" if kind == 2 else "markdown", "metadata": {},
                       "source": text.splitlines(keepends=True)} for kind, text in NOTEBOOK_CELLS],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(data, indent=1)
    document = client.open(project / "train.ipynb", text, language="json")
    [diagnostic] = client.diagnostics(document, 1)
    assert diagnostic["code"] == "LORA003"
    line = text.splitlines()[diagnostic["range"]["start"]["line"]]
    assert "lora_alpah" in line and line.strip().startswith('"    r=8')


def test_exclude_leaves_a_file_out(client, project):
    (project / "pyproject.toml").write_text('[tool.lora-lint]\nextend-exclude = ["generated"]\n')
    document = client.open(project / "generated" / "train.py", TYPO)
    assert client.diagnostics(document, 1) == []


def test_other_documents_are_not_linted(client, project):
    client.open(project / "notes.md", TYPO, language="markdown")
    document = client.open(project / "train.py", TYPO)
    client.diagnostics(document, 1)
    published = [n["params"]["uri"] for n in client.notifications if n["method"] == "textDocument/publishDiagnostics"]
    assert uri(project / "notes.md") not in published


def test_the_server_never_imports_torch_transformers_or_peft(project):
    prelude = ("import atexit, sys\n"
               "atexit.register(lambda: sys.stderr.write('HEAVY=' + ','.join("
               "m for m in ('torch', 'transformers', 'peft') if m in sys.modules) + '\\n'))")
    client = start(project, prelude)
    client.initialize(project, FAST)
    document = client.open(project / "train.py", GPT2)
    [diagnostic] = client.diagnostics(document, 1)
    assert diagnostic["code"] == "LORA001"  # the model's module tree was consulted
    [fix] = quick_fixes(actions(client, document, diagnostic))
    assert "c_attn" in apply_edits(GPT2, fix["edit"]["documentChanges"][0]["edits"])
    code, stderr = client.close()
    assert code == 0
    assert "HEAVY=\n" in stderr


def test_without_pygls_the_server_says_which_extra_to_install():
    code = ("import sys; sys.modules['pygls'] = None\n"
            "from lint_rules.cli import main; sys.exit(main(['server']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert "pip install 'pytest-lora[lsp]'" in done.stderr


def test_a_client_that_chooses_utf8_gets_byte_offsets(project):
    client = start(project)
    capabilities = {"general": {"positionEncodings": ["utf-8", "utf-16"]}}
    try:
        assert client.initialize(project, FAST, capabilities)["capabilities"]["positionEncoding"] == "utf-8"
        document = client.open(project / "train.py", TYPO)
        [diagnostic] = client.diagnostics(document, 1)
        prefix = TYPO.splitlines()[2].split("lora_alpah")[0]
        assert diagnostic["range"]["start"] == {"line": 2, "character": len(prefix.encode())}
    finally:
        client.close()


def test_changes_in_a_burst_are_linted_once_after_the_last(project):
    client = start(project)
    client.initialize(project, {"debounce": 1.0})
    try:
        document = client.open(project / "train.py", TYPO)
        client.diagnostics(document, 1)
        mark = client.mark()
        for version in (2, 3, 4):
            client.change(document, version, TYPO + "#" * version + "\n")
        assert [d["code"] for d in client.diagnostics(document, 4, mark)] == ["LORA003"]
        published = [n["params"].get("version") for n in client.notifications[mark:]
                     if n["method"] == "textDocument/publishDiagnostics"]
        assert published == [4]
    finally:
        client.close()


def test_saving_pyproject_in_the_editor_lints_the_open_files_again(client, project):
    document = client.open(project / "train.py", TYPO)
    assert [d["code"] for d in client.diagnostics(document, 1)] == ["LORA003"]
    (project / "pyproject.toml").write_text('[tool.lora-lint]\nignore = ["LORA003"]\n')
    mark = client.mark()
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri(project / "pyproject.toml")}})
    assert client.diagnostics(document, 1, mark) == []


def test_a_trainer_yaml_gets_diagnostics_on_its_list_and_other_yaml_none(client, project):
    text = ("base_model: microsoft/Phi-3-mini-4k-instruct  # fuses q, k and v into qkv_proj\n"
            "adapter: lora\nlora_r: 8\nlora_alpha: 16\nlora_target_modules:\n  - q_proj\n  - v_proj\n")
    document = client.open(project / "configs" / "phi3-lora.yaml", text, language="yaml")
    [diagnostic] = client.diagnostics(document, 1)
    assert diagnostic["code"] == "LORA001"
    assert diagnostic["range"]["start"] == {"line": 5, "character": 2}
    other = client.open(project / ".github" / "workflows" / "ci.yml", "on: push\njobs: {}\n", language="yaml")
    assert client.diagnostics(other, 1) == []


def test_an_adapter_config_json_gets_diagnostics_where_its_keys_are(client, project):
    text = json.dumps({"base_model_name_or_path": "gpt2", "lora_alpha": 16, "peft_type": "LORA", "r": 8,
                       "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM"}, indent=2, sort_keys=True)
    document = client.open(project / "adapter" / "adapter_config.json", text, language="json")
    [diagnostic] = client.diagnostics(document, 1)
    assert diagnostic["code"] == "LORA001"
    start, end = diagnostic["range"]["start"], diagnostic["range"]["end"]
    lines = text.splitlines()
    assert lines[start["line"]][:start["character"]] == '  "target_modules": '
    assert lines[end["line"]][:end["character"]] == "  ]"
    hover = client.request("textDocument/hover", {"textDocument": {"uri": document}, "position": start})
    assert hover["contents"]["value"].startswith("# LORA001 target-modules-not-found")
    other = client.open(project / "package.json", '{"name": "x", "r": 0}', language="json")
    assert client.diagnostics(other, 1) == []


def test_a_trainer_yaml_finding_gets_a_yaml_noqa_comment_and_json_none(client, project):
    text = ("base_model: microsoft/Phi-3-mini-4k-instruct\n"
            "adapter: lora\nlora_r: 8\nlora_alpha: 16\nlora_target_modules:\n  - q_proj  # attention\n  - v_proj\n")
    document = client.open(project / "configs" / "phi3-lora.yaml", text, language="yaml")
    [diagnostic] = client.diagnostics(document, 1)
    [suppress] = [a for a in actions(client, document, diagnostic) if a["title"].startswith("Suppress")]
    quiet = apply_edits(text, suppress["edit"]["documentChanges"][0]["edits"])
    assert quiet == text.replace("  - q_proj  # attention\n", "  - q_proj  # attention  # noqa: LORA001\n")
    mark = client.mark()
    client.change(document, 2, quiet)
    assert client.diagnostics(document, 2, mark) == []
    # JSON has no comments: a finding there offers no noqa edit (per-file-ignores is the way)
    adapter = json.dumps({"base_model_name_or_path": "gpt2", "lora_alpha": 16, "peft_type": "LORA", "r": 8,
                          "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM"}, indent=2)
    other = client.open(project / "adapter" / "adapter_config.json", adapter, language="json")
    [diagnostic] = client.diagnostics(other, 1)
    assert not [a for a in actions(client, other, diagnostic) if a["title"].startswith("Suppress")]
