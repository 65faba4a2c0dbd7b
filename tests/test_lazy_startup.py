"""What a run loads only when it needs it: the rule index (``lint_rules/rules/index.json``) says what
the rule classes say, and settings, selection, noqa comments and the prefilter read it without
importing a rule or libcst; the architecture data is read only for a file that loads a model."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lint_rules.catalog import INDEX, RuleInfo, all_rules

ROOT = Path(__file__).resolve().parents[1]


def test_the_index_says_what_the_rule_classes_say():
    index = json.loads(INDEX.read_text("utf-8"))
    classes = {code: RuleInfo.of(rule).as_json() for code, rule in all_rules().items()}
    assert index == json.loads(json.dumps(classes)), "stale rules/index.json: run python scripts/gen_rule_docs.py"


PROBE = """
import sys
from pathlib import Path
from lint_rules.config import settings_for
from lint_rules.prefilter import Prefilter
from lint_rules.suppression import file_exemptions

settings = settings_for(Path(sys.argv[1]))
assert "LORA201" in settings.enabled and "LORA008" not in settings.enabled, settings.enabled
assert settings.severity("LORA201") == "info", settings.severity("LORA201")
assert settings.options["LORA201"]["alpha-ratio"] == 4
prefilter = Prefilter.for_codes(settings.enabled)
assert prefilter.mentions("LoraConfig(r=8)") and not prefilter.mentions("x = 1")
assert file_exemptions("# lora-lint: noqa: alpha-ratio\\n") == {"LORA201"}
heavy = sorted(name for name in sys.modules if name == "libcst" or name.startswith("lint_rules.rules.")
               or name == "lint_rules.analysis")
print(heavy)
"""


def test_settings_selection_noqa_and_prefilter_import_no_rule_and_no_libcst(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lora-lint]\nselect = ["LORA2", "LORA0"]\nignore = ["new-tokens-not-trained"]\n'
        '[tool.lora-lint.severity]\nalpha-ratio = "info"\n[tool.lora-lint.rules.LORA201]\nalpha-ratio = 4\n')
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


LINT_SMALL = """
import sys
from lint_rules.cli import main
try:
    main(["-q", "--no-cache", sys.argv[1]])
except SystemExit:
    pass
import lint_rules.knowledge.architectures as architectures
print(architectures._load.cache_info().misses)
"""


def test_a_config_without_a_model_load_does_not_read_the_architecture_data(tmp_path):
    """LORA301 read every transformers release's architecture data (megabytes of JSON) for any
    parsed file; it needs it only for a file that calls ``from_pretrained``."""
    (tmp_path / "small.py").write_text('from peft import LoraConfig\n\n'
                                       'config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj"])\n')
    done = subprocess.run([sys.executable, "-c", LINT_SMALL, "small.py"], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                          "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"


SOURCE_MODULES = ("lint_rules.sources.python", "lint_rules.sources.notebook", "lint_rules.sources.adapter_config",
                  "lint_rules.sources.trainer_yaml")
ONE_FILE = """
import sys
from lint_rules.cli import main
code = main(["-q", "--no-cache", sys.argv[1]])
print(code, "libcst" in sys.modules)
print(sorted(m for m in sys.argv[2:] if m in sys.modules))
"""


def test_a_one_file_run_imports_only_what_that_file_needs(tmp_path):
    """``lora-lint --no-cache small.py`` (issue 7's start-up row): with no ``.gitignore``, no declared
    requirements and a Python file, it imports neither pathspec, nor packaging's requirement parser,
    nor importlib.metadata (and its email parser), nor a TOML parser, importlib.resources or
    tempfile (a run that writes nothing), nor a source module for other kinds of file."""
    (tmp_path / "small.py").write_text('from peft import LoraConfig\n\n'
                                       'config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj"])\n')
    unwanted = ("pathspec", "packaging.requirements", "importlib.metadata", "email.parser", "configparser",
                "tomllib", "tomli", "importlib.resources", "tempfile", *SOURCE_MODULES[1:])
    done = subprocess.run([sys.executable, "-c", ONE_FILE, "small.py", *unwanted], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                          "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["0 True", "[]"]  # linted (parsed), and nothing else loaded


def test_sorting_file_names_imports_no_source_module():
    """Which source reads a file is told from its name; a source module is imported on first use."""
    probe = ("import sys; from lint_rules import sources; "
             "walked = [n for n in ('a.py', 'b.pyi', 'c.ipynb', 'adapter_config.json', 'x.json', 'd.YML', 'e.txt') "
             "if sources.walked(n)]; "
             f"print(walked, sorted(m for m in {SOURCE_MODULES!r} if m in sys.modules)); "
             "print(sources.for_name('c.IPYNB') is sources.notebook, sources.for_name('t.yaml').KIND, "
             "sources.for_name('README').KIND, sources.for_name('saved/adapter_config.json').KIND)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "['a.py', 'b.pyi', 'c.ipynb', 'adapter_config.json', 'd.YML'] []",
        "True trainer_yaml python adapter_config",
    ]
