"""A command line of paths and on/off flags is read without argparse (``lint_rules.plain_args``,
for the warm run's start-up); argparse reads it the same way."""
from __future__ import annotations

import pytest

from lint_rules import plain_args
from lint_rules.cli import _check_parser

PLAIN = [
    [], ["."], ["-q", "."], [".", "-q"], ["-q", "a.py", "./b/", "--exit-zero"], ["--fix", "--unsafe-fixes", "--diff"],
    ["--no-cache", "--force-exclude", "src//x.py", "--statistics", "--isolated"], ["--quiet", "--show-settings"],
    ["--add-noqa", "--show-fixes", "--exit-non-zero-on-fix", "a", "b", "c"], ["-q", "-q", "."], ["", "x/."],
]
OTHER = [
    ["--select", "LORA001", "."], ["--select=LORA001"], ["-h"], ["--help"], ["-"], ["--", "x.py"], ["--qu", "."],
    ["-qq"], ["--exit_zero"], ["a.py", "-q", "b.py"], ["-o", "out.txt"], ["--jobs=2"], ["-j", "1", "."],
    ["--config", "x=1"], ["--unknown"], ["-x"],
]


def test_the_defaults_are_argparse_s():
    assert plain_args.DEFAULTS == vars(_check_parser().parse_args([]))


@pytest.mark.parametrize("args", PLAIN)
def test_a_plain_command_line_reads_as_argparse_reads_it(args):
    assert vars(plain_args.parse(args)) == vars(_check_parser().parse_args(args))


@pytest.mark.parametrize("args", OTHER)
def test_anything_else_is_left_to_argparse(args):
    assert plain_args.parse(args) is None


def test_each_call_has_its_own_lists():
    first = plain_args.parse(["a.py"])
    assert plain_args.parse([]).paths == [] and first.paths == ["a.py"] and plain_args.DEFAULTS["paths"] == []
