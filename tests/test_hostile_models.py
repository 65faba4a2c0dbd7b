"""A model's ``config.json`` or Hugging Face cache that is malformed or unreadable (issue 8, item 10).

The model is treated as unknown, or the wrong value is ignored; the run goes on, never with an
internal error. Unreadable folders and files are simulated (``denied.deny``), as root reads them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_run import lint
from denied import deny
from lint_rules.knowledge.models import resolve_model, task_from_config

REPO_ID = "acme/widget-7b"  # no curated entry, no guess: only a local folder or the cache can name it
TARGETS = 'LoraConfig(r=8, lora_alpha=16, target_modules=["c_attn"])'


def program(model: str) -> str:
    return ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n"
            f"m = AutoModelForCausalLM.from_pretrained({model!r})\nget_peft_model(m, {TARGETS})\n")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder as the working folder, and an empty hub cache."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "setup.py").write_text("")
    monkeypatch.chdir(root)
    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    return root


def cached(hub: Path, repo_id: str, config: str, revision: str = "abc") -> Path:
    """A hub cache entry for ``repo_id`` whose refs/main names ``revision``; its config.json path."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    (repo / "snapshots" / revision).mkdir(parents=True)
    path = repo / "snapshots" / revision / "config.json"
    path.write_text(config)
    return path


WRONG_MODEL_TYPES = ['{"model_type": ["llama"]}', '{"model_type": {"name": "llama"}}', '{"model_type": 5}',
                     '{"model_type": null}', '{"model_type": true}', '["llama"]', '"llama"']
WRONG_FIELDS = ['{"model_type": "llama", "architectures": 5}',
                '{"model_type": "llama", "architectures": [5, null, "LlamaForCausalLM"]}',
                '{"model_type": "llama", "architectures": {"LlamaForCausalLM": 1}}',
                '{"model_type": "llama", "architectures": "LlamaForCausalLM"}',
                '{"model_type": "llama", "hidden_size": [4096]}',
                '{"model_type": "llama", "text_config": [1, 2], "vision_config": "none"}',
                '{"model_type": "llama", "text_config": {"model_type": 7, "architectures": 3}}']


def placed(project, where: str, config: str) -> str:
    """The model name under which ``config`` is found: a local folder or an HF cache entry."""
    if where == "local":
        (project / "m").mkdir()
        (project / "m" / "config.json").write_text(config)
        return "./m"
    cached(Path(os.environ["HF_HUB_CACHE"]), REPO_ID, config)
    return REPO_ID


@pytest.mark.parametrize("config", WRONG_MODEL_TYPES)
@pytest.mark.parametrize("where", ["local", "cache"])
def test_a_model_type_that_is_not_a_name_leaves_the_model_unknown(project, capsys, config, where):
    name = placed(project, where, config)
    assert resolve_model(name) is None
    (project / "a.py").write_text(program(name))
    assert lint(capsys, "a.py") == (0, "", "All checks passed!\n")


@pytest.mark.parametrize("config", WRONG_FIELDS)
@pytest.mark.parametrize("where", ["local", "cache"])
def test_wrong_typed_fields_are_ignored_and_the_model_still_known(project, capsys, config, where):
    name = placed(project, where, config)
    assert resolve_model(name).model_type == "llama"
    (project / "a.py").write_text(program(name))
    code, out, err = lint(capsys, "a.py")
    assert code == 1 and "internal error" not in err
    assert out.startswith("a.py:4:") and "LORA001" in out and "LlamaForCausalLM" in out


@pytest.mark.parametrize("layers", ['"32"', "3.5", "-1", "true", "[32]", "1e400"])
@pytest.mark.parametrize("where", ["local", "cache"])
def test_a_layer_count_that_is_no_count_leaves_the_tree_unknown(project, capsys, layers, where):
    """The module tree follows the checkpoint's layer count; one that is not a sane int tells no
    tree, so the model rules stay silent (and nothing crashes)."""
    config = '{"model_type": "llama", "num_hidden_layers": %s}' % layers
    name = placed(project, where, config)
    assert resolve_model(name).model_type == "llama"
    (project / "a.py").write_text(program(name))
    assert lint(capsys, "a.py") == (0, "", "All checks passed!\n")


def test_task_from_config_ignores_wrong_types():
    assert task_from_config({"model_type": ["t5"], "architectures": [3, "T5ForConditionalGeneration"]}) == "causal_lm"
    assert task_from_config({"model_type": "t5", "architectures": [None, "T5ForConditionalGeneration"]}) == "seq2seq_lm"
    assert task_from_config({"model_type": "bert", "architectures": "BertForMaskedLM"}) == "base"


@pytest.mark.parametrize("locked", ["hub", "repo", "refs", "refs/main", "snapshots", "snapshot", "config.json"])
def test_an_unreadable_hub_cache_leaves_the_model_unknown(project, capsys, monkeypatch, locked):
    hub = Path(os.environ["HF_HUB_CACHE"])
    config = cached(hub, REPO_ID, '{"model_type": "llama"}')
    repo = hub / "models--acme--widget-7b"
    (project / "a.py").write_text(program(REPO_ID))
    assert lint(capsys, "a.py")[0] == 1  # readable: LORA001 on the llama model
    paths = {"hub": hub, "repo": repo, "refs": repo / "refs", "refs/main": repo / "refs" / "main",
             "snapshots": repo / "snapshots", "snapshot": config.parent, "config.json": config}
    deny(monkeypatch, paths[locked])
    code, out, err = lint(capsys, "a.py")
    if locked in ("refs", "refs/main"):  # the only snapshot is still found by listing them
        assert code == 1 and "LORA001" in out and "error:" not in err
    else:
        assert (code, out, err) == (0, "", "All checks passed!\n")


def test_an_unreadable_parent_of_a_local_model_folder(project, capsys, monkeypatch):
    (project / "models" / "m").mkdir(parents=True)
    (project / "models" / "m" / "config.json").write_text('{"model_type": "llama"}')
    (project / "a.py").write_text(program("models/m"))
    assert lint(capsys, "a.py")[0] == 1
    deny(monkeypatch, project / "models")
    assert lint(capsys, "a.py") == (0, "", "All checks passed!\n")


def test_a_hub_cache_that_is_a_file_or_holds_a_dangling_link(project, capsys, monkeypatch, tmp_path):
    (project / "a.py").write_text(program(REPO_ID))
    plain = tmp_path / "not-a-folder"
    plain.write_text("x")
    monkeypatch.setenv("HF_HUB_CACHE", str(plain))
    assert lint(capsys, "a.py") == (0, "", "All checks passed!\n")
    hub = tmp_path / "hub2"
    config = cached(hub, REPO_ID, "{}")
    config.unlink()
    config.symlink_to(hub / "blobs" / "missing")
    (config.parent.parent / "older").mkdir()
    (config.parent.parent / "older" / "config.json").symlink_to(hub / "blobs" / "gone")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    assert lint(capsys, "a.py") == (0, "", "All checks passed!\n")


def test_a_snapshot_that_vanishes_while_the_cache_is_searched(project, capsys, monkeypatch):
    hub = Path(os.environ["HF_HUB_CACHE"])
    config = cached(hub, REPO_ID, '{"model_type": "llama"}', revision="abc")
    (hub / "models--acme--widget-7b" / "refs" / "main").write_text("other")  # forces the listing
    real_glob = Path.glob

    def listed_then_removed(self, pattern):
        found = list(real_glob(self, pattern))
        for path in found:
            path.unlink()
        return iter(found)

    monkeypatch.setattr(Path, "glob", listed_then_removed)
    (project / "a.py").write_text(program(REPO_ID))
    assert lint(capsys, "a.py") == (0, "", "All checks passed!\n")
    assert not config.exists()


@pytest.mark.parametrize("cache", [False, True])
def test_names_no_file_can_have(project, capsys, monkeypatch, cache):
    """A NUL byte, or a ``~user`` that has no home folder, in a model name or the hub cache's."""
    (project / "a.py").write_text(program("~nosuchuser-x/m") + program("a\x00b").replace("\nm =", "\nm2 =")
                                  .replace("get_peft_model(m,", "get_peft_model(m2,"))
    monkeypatch.setenv("HF_HUB_CACHE", "~nosuchuser-x/hub")
    monkeypatch.setenv("XDG_CACHE_HOME", str(project / ".cache"))
    assert lint(capsys, *(["--cache"] if cache else []), "a.py") == (0, "", "All checks passed!\n")
