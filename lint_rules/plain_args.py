"""``lora-lint check``'s command line when it holds only paths and on/off flags, read without
argparse (whose import, with gettext and locale, and parser, which asks ``shutil`` for the
terminal's width once per option, cost a warm run more than its cache look-ups). Anything else,
``--help`` and every option that takes a value included, is left to argparse; a test checks
that both read every plain command line the same way."""
from __future__ import annotations

from types import SimpleNamespace

from .discovery import _normal

# every option of ``cli._check_parser`` with its default (the test compares them with argparse's)
DEFAULTS = {
    "paths": [], "select": None, "ignore": None, "extend_select": None, "fix": False, "unsafe_fixes": False,
    "diff": False, "show_fixes": False, "exit_non_zero_on_fix": False, "add_noqa": False, "output_format": None,
    "output_file": None, "statistics": False, "exit_zero": False, "quiet": False, "show_settings": False,
    "config": [], "isolated": False, "target_peft_version": None, "fail_on": None, "stdin_filename": None,
    "force_exclude": False, "no_cache": False, "jobs": None,
}
# the store_true options, by each of their spellings
FLAGS = {f"--{name.replace('_', '-')}": name for name, value in DEFAULTS.items() if value is False}
FLAGS["-q"] = "quiet"


def parse(args: list[str]) -> SimpleNamespace | None:
    """The options argparse would give for ``args``, or ``None`` unless every argument is a flag
    spelled out in full or a path (not starting with ``-``), the paths all in one run (argparse
    refuses paths on both sides of a flag)."""
    values = {name: list(value) if isinstance(value, list) else value for name, value in DEFAULTS.items()}
    paths, closed = values["paths"], False  # closed: a flag came after the paths
    for arg in args:
        if arg.startswith("-"):
            name = FLAGS.get(arg)
            if name is None:
                return None
            values[name], closed = True, bool(paths)
        elif closed:
            return None
        else:
            paths.append(_normal(arg))
    return SimpleNamespace(**values)
