"""The results cache: keyed on everything a verdict read (issue 8 item 4, hostile-testing D4/D22),
signed and validated (item 5's cache part), and answered from ``stat`` alone on a warm run
(issue 7 item 3). ``lora-lint`` runs in-process with the real rules."""
from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from packaging.specifiers import SpecifierSet

from lint_rules import cache as cache_module
from lint_rules import runner
from lint_rules.cli import main

# D4's reproducer: q_proj/v_proj exist in llama, not in gpt2 (LORA001)
LLAMA = '{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}'
GPT2 = '{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}'
LOCAL = ('from peft import LoraConfig\n# lora-lint: model=./m\n'
         'config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"])\n')
HUB = LOCAL.replace("./m", "acme/private-model")
OLD = time.time() - 3600  # a file last changed an hour ago has a settled stat


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project with its own hub cache and signing key, entered as the current folder."""
    (tmp_path / "pyproject.toml").write_text("[tool.lora-lint]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HOME", raising=False)
    cache_module._keys.clear()
    yield tmp_path
    cache_module._keys.clear()


def lint(capsys, *argv: str) -> tuple[int, str]:
    code = main(["-j", "1", *argv])
    out, _ = capsys.readouterr()
    return code, out


def write(path: Path, text: str, *, settled: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if settled:
        os.utime(path, (OLD, OLD))
    return path


def cache_files(project: Path) -> list[Path]:
    return sorted((project / ".lora_lint_cache").rglob("*.marshal"))


def hub_model(project: Path, config: str) -> None:
    repo = project / "hub/models--acme--private-model"
    write(repo / "refs/main", "abc")
    write(repo / "snapshots/abc/config.json", config)


# --- what resolve_model read is part of the key (D4) ------------------------------------------

def test_a_local_model_config_edited_between_runs_is_read_again(project, capsys):
    write(project / "m/config.json", GPT2)
    write(project / "c.py", LOCAL)
    assert lint(capsys, "c.py")[0] == 1 and "LORA001" in lint(capsys, "c.py")[1]
    write(project / "m/config.json", LLAMA)
    assert lint(capsys, "c.py") == (0, "")
    assert lint(capsys, "--no-cache", "c.py") == (0, "")


def test_a_model_that_appears_in_the_hub_cache_later_is_seen(project, capsys):
    write(project / "c.py", HUB)
    assert lint(capsys, "c.py") == (0, "")  # unknown model: the model rules stay silent
    hub_model(project, GPT2)
    code, out = lint(capsys, "c.py")
    assert code == 1 and "LORA001" in out


def test_another_hub_cache_folder_is_another_input(project, capsys, monkeypatch):
    write(project / "c.py", HUB)
    hub_model(project, GPT2)
    assert lint(capsys, "c.py")[0] == 1
    monkeypatch.setenv("HF_HUB_CACHE", str(project / "other-hub"))
    assert lint(capsys, "c.py") == (0, "")


def test_a_relative_model_folder_is_looked_up_again_from_another_folder(project, capsys, monkeypatch):
    write(project / "m/config.json", GPT2)
    write(project / "sub/m/config.json", LLAMA)
    write(project / "c.py", LOCAL)
    assert lint(capsys, str(project / "c.py"))[0] == 1
    monkeypatch.chdir(project / "sub")
    assert lint(capsys, str(project / "c.py")) == (0, "")


# --- entries are signed and validated (D22, D5) -----------------------------------------------

def _findings_then_planted_pass(project, capsys, body: str) -> None:
    write(project / "c.py", LOCAL)
    write(project / "m/config.json", GPT2)
    assert lint(capsys, "c.py")[0] == 1
    [path] = cache_files(project)
    if callable(body):
        path.write_bytes(body(path.read_bytes()))
    else:
        path.write_text(body)


def test_a_planted_entry_is_not_trusted(project, capsys):
    def plant(data: bytes) -> bytes:  # the entry's findings become "none", as row 131 did
        mac, _, body = data.partition(b"\n")
        entries = marshal.loads(body or mac)
        return marshal.dumps({key: (entry[0], entry[1], (), entry[3]) for key, entry in entries.items()})

    _findings_then_planted_pass(project, capsys, plant)
    code, out = lint(capsys, "c.py")
    assert code == 1 and "LORA001" in out


def test_a_forged_signature_line_is_not_trusted(project, capsys):
    def forge(data: bytes) -> bytes:
        mac, _, body = data.partition(b"\n")
        return mac + b"\n" + body.replace(b"LORA001", b"LORA003")

    _findings_then_planted_pass(project, capsys, forge)
    assert "LORA001" in lint(capsys, "c.py")[1]


@pytest.mark.parametrize("body", ["{", "[]", "", "\n[1, 2]", "x" * 64 + "\n{}"])
def test_a_malformed_cache_file_is_ignored(project, capsys, body):
    _findings_then_planted_pass(project, capsys, body)
    code, out = lint(capsys, "c.py")
    assert code == 1 and "LORA001" in out


@pytest.mark.parametrize("entry", [
    ["garbage"],
    [None, "DIGEST", ["garbage"], []],
    [None, "DIGEST", [{"code": "LORA003"}], []],
    [["a", 1, 2, 3], "DIGEST", [], []],
    [None, "DIGEST", [], "inputs"],
    [None, "DIGEST", [], [["path", "x"]]],
])
def test_a_malformed_but_signed_entry_is_discarded_not_a_traceback(project, capsys, entry):
    write(project / "c.py", LOCAL)
    write(project / "m/config.json", GPT2)
    assert lint(capsys, "c.py")[0] == 1
    [path] = cache_files(project)
    entries = cache_module.load_signed(path)
    [key] = entries
    digest = entries[key][1]
    entries[key] = _tuples(json.loads(json.dumps(entry).replace("DIGEST", digest)))
    assert cache_module.save_signed(path, entries)
    code, out = lint(capsys, "c.py")
    assert code == 1 and "LORA001" in out


def _tuples(value):
    """The value with every list a tuple, as the cache stores entries."""
    return tuple(map(_tuples, value)) if isinstance(value, list) else value


def test_without_a_usable_key_nothing_is_cached(project, capsys):
    (project / "user-cache").write_text("not a folder")
    write(project / "c.py", LOCAL)
    assert lint(capsys, "c.py")[0] == 0
    assert cache_files(project) == []


# --- a warm run answers from stat --------------------------------------------------------------

def test_an_unchanged_file_is_not_read_again(project, capsys, monkeypatch):
    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # utime cannot move ctime back: trust fresh stats here
    write(project / "a.py", "import peft\n")
    write(project / "b.py", HUB)
    assert lint(capsys, ".") == (0, "")
    reads = []
    real = runner.read_task
    monkeypatch.setattr(runner, "read_task", lambda path, *a: reads.append(path.name) or real(path, *a))
    assert lint(capsys, ".") == (0, "")  # the first run recorded the stat of both files
    assert reads == []


def test_a_change_that_keeps_size_and_mtime_is_still_seen(project, capsys, monkeypatch):
    monkeypatch.setattr(cache_module, "RACY_NS", 0)
    path = write(project / "c.py", LOCAL.replace('"q_proj", "v_proj"', '"c_attn", "c_proj"'), settled=True)
    write(project / "m/config.json", GPT2)
    assert lint(capsys, "c.py") == (0, "")
    write(project / "c.py", LOCAL.replace('"q_proj", "v_proj"', '"x_attn", "c_proj"'), settled=True)  # ctime moves, the content differs
    assert path.stat().st_mtime == pytest.approx(OLD)
    assert "LORA002" in lint(capsys, "c.py")[1]


def test_a_file_changed_just_before_it_was_read_is_compared_by_content_next_time():
    now = time.time_ns()
    fresh = SimpleNamespace(st_size=10, st_ino=1, st_mtime_ns=now - 1000, st_ctime_ns=now - 1000)
    assert cache_module.settled(fresh, now) is None  # a change in the same tick would keep this stat
    old = now - 10 * cache_module.RACY_NS
    aged = SimpleNamespace(st_size=10, st_ino=1, st_mtime_ns=old, st_ctime_ns=old)
    assert cache_module.settled(aged, now) == [10, old, 1, old]


# --- settings are kept between runs while what they were resolved from is unchanged -----------

@pytest.fixture
def rules_not_loaded(monkeypatch):
    """As in a fresh ``lora-lint`` process, where the settings store is used."""
    from lint_rules import catalog

    monkeypatch.setattr(catalog, "loaded", lambda: False)


@pytest.mark.parametrize("change", [
    lambda p: write(p / "requirements.txt", "peft>=0.10,<0.12\n"),
    lambda p: write(p / "pyproject.toml", "[tool.lora-lint]\ntarget-peft-version = '>=0.10,<0.12'\n"),
    lambda p: write(p / "sub/lora-lint.toml", "target-peft-version = '>=0.10,<0.12'\n"),
    lambda p: write(p / "reqs/more.txt", "peft>=0.10,<0.12\n"),
])
def test_stored_settings_follow_the_files_they_were_resolved_from(project, rules_not_loaded, change):
    from lint_rules.settings_cache import load_settings

    write(project / "requirements.txt", "-r reqs/more.txt\n")
    write(project / "reqs/more.txt", "numpy\n")
    (project / "sub").mkdir()
    first, fingerprint = load_settings(project / "sub")
    assert load_settings(project / "sub") == (first, fingerprint)
    change(project)
    second, other = load_settings(project / "sub")
    assert SpecifierSet(second.peft_spec) == SpecifierSet(">=0.10,<0.12") and other != fingerprint


def test_a_warm_run_imports_neither_libcst_nor_the_rules(project):
    write(project / "m/config.json", GPT2)
    write(project / "c.py", LOCAL.replace('"q_proj", "v_proj"', '"c_attn"'))
    write(project / "plain.py", "print('no peft here')\n")
    script = ("import sys; from lint_rules.cli import main; code = main(['-q', '.']); "
              "print(code, 'libcst' in sys.modules, 'lint_rules.rules' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True).stdout
            for _ in range(2)]
    assert runs == ["0 True True\n", "0 False False\n"]


# --- pytest --lora-check keeps its verdicts the same way ----------------------------------------

@pytest.fixture
def checked(pytester, monkeypatch):
    """A project checked in-process; libcst and the rules are imported out here first, since
    pytester drops the modules a run imported and rules would keep an old libcst's classes."""
    import lint_rules.engine  # noqa: F401
    from lint_rules.catalog import all_rules

    all_rules()
    monkeypatch.setenv("XDG_CACHE_HOME", str(pytester.path / "user-cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(pytester.path / "hub"))
    cache_module._keys.clear()
    write(pytester.path / "m/config.json", LLAMA)
    pytester.makepyfile(cfg=LOCAL, test_plain="def test_nothing():\n    pass\n")
    yield pytester
    cache_module._keys.clear()


def test_the_pass_cache_sees_a_model_config_edited_between_runs(checked):
    checked.runpytest("--lora-check").assert_outcomes(passed=2)
    write(checked.path / "m/config.json", GPT2)
    result = checked.runpytest("--lora-check")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*LORA001*"])


def test_a_planted_pass_is_not_trusted(checked):
    write(checked.path / "m/config.json", GPT2)
    checked.runpytest("--lora-check").assert_outcomes(passed=1, failed=1)
    stored = checked.path / ".pytest_cache/v/lora_check/passed"
    value = json.loads(stored.read_text())
    [plain] = [entry for key, entry in value["files"].items() if key.endswith("test_plain.py")]
    value["files"][str(checked.path / "cfg.py")] = [None, plain[1], "pass", []]
    stored.write_text(json.dumps(value))
    checked.runpytest("--lora-check").assert_outcomes(passed=1, failed=1)


def test_a_fully_cached_check_imports_neither_libcst_nor_the_rules(checked):
    checked.makeconftest("import sys\n\ndef pytest_unconfigure(config):\n"
                         "    print('IMPORTED', 'libcst' in sys.modules, 'lint_rules.rules' in sys.modules)\n")
    first = checked.runpytest_subprocess("--lora-check", "-s")
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(["IMPORTED True True"])
    second = checked.runpytest_subprocess("--lora-check", "-s")
    second.assert_outcomes(passed=2)
    second.stdout.fnmatch_lines(["IMPORTED False False"])


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero"])
def test_a_cache_file_that_is_no_regular_file_is_not_read(project, capsys, kind):
    """A planted FIFO blocked the run; ``/dev/zero`` was read until memory ran out."""
    write(project / "c.py", LOCAL)
    write(project / "m/config.json", GPT2)
    assert lint(capsys, "c.py")[0] == 1
    [path] = cache_files(project)
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    memory = 1 << 30

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    done = subprocess.run([sys.executable, "-c", "import sys; from lint_rules.cli import main; sys.exit(main())",
                           "c.py"], capture_output=True, text=True, timeout=60, preexec_fn=limit, env=os.environ)
    assert done.returncode == 1 and "LORA001" in done.stdout and "Traceback" not in done.stderr
