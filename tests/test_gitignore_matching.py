"""A ``.gitignore``'s patterns are tried on a path as one regex first (``gitignore._union``): most
paths match none, and a warm run asks it of every entry of the tree. Where the union finds no
match the verdict is the one pathspec gives (none); elsewhere pathspec decides, as before."""
from __future__ import annotations

import itertools

import pytest

from lint_rules.gitignore import IgnoreFile

PYTHON_TEMPLATE = ["__pycache__/", "*.py[cod]", "*$py.class", "*.so", "build/", "dist/", "*.egg-info/", ".eggs/",
                   "htmlcov/", ".tox/", ".coverage", ".coverage.*", ".cache", "*.log", "docs/_build/", ".env",
                   ".venv", "env/", "venv/", ".mypy_cache/", ".ipynb_checkpoints", "# a comment", ""]
ODD = ["/root_only.py", "a/**/b", "**/deep/", "src/*.py", "!src/keep.py", "gen/", "!gen/", "*.tmp", "!important.tmp",
       "name\\ with\\ space", "\\#literal", "[a-c]?.py", "[[:digit:]]*.txt", "trailing/**", "x/y/z"]
PATHS = ["a.py", "a.pyc", "pkg/mod.pyc", "pkg/__pycache__", "pkg/build", "pkg/build/x.py", "root_only.py",
         "sub/root_only.py", "a/b", "a/x/y/b", "deep", "q/deep", "src/one.py", "src/keep.py", "src/sub/two.py",
         "gen", "gen/out.py", "x.tmp", "important.tmp", "name with space", "#literal", "b1.py", "d4.py", "7.txt",
         "trailing", "trailing/f.py", "x/y/z", "w/x/y/z", "a.egg-info", "docs/_build", "q/docs/_build",
         ".venv", "tools/.venv", ".coverage.xml", "notes.log", "x.so", ".", "env", "environment.py"]


def _cases():
    return list(itertools.product(PATHS, (False, True)))


@pytest.mark.parametrize("lines", [PYTHON_TEMPLATE, ODD, PYTHON_TEMPLATE + ODD, ["!*.py"], []],
                         ids=["python", "odd", "both", "negation-only", "empty"])
def test_the_union_gives_pathspec_s_verdict_for_every_path(lines):
    ignore = IgnoreFile("/project", lines)
    assert ignore._any is not None  # (the patterns pathspec writes can always be joined)
    verdicts = set()
    for path, is_dir in _cases():
        expected = ignore.spec.check_file(path + "/" if is_dir else path).include
        assert ignore.match(f"/project/{path}" if path != "." else "/project", is_dir) is expected, (path, is_dir)
        verdicts.add(expected)
    assert verdicts == ({None, True} if lines in (PYTHON_TEMPLATE,) else {None, True, False} if lines else {None}) \
        or lines == ["!*.py"] and verdicts == {None, False}


def test_the_union_finds_what_each_pattern_finds():
    ignore = IgnoreFile("/project", PYTHON_TEMPLATE + ODD)
    for pattern in ignore.spec.patterns:
        if pattern.include is None:
            continue
        for path, is_dir in _cases():
            target = path + "/" if is_dir else path
            if pattern.match_file(target) is not None:
                assert ignore._any(target) is not None, (pattern.pattern, target)


def test_patterns_that_cannot_be_joined_are_tried_one_by_one(monkeypatch):
    ignore = IgnoreFile("/project", PYTHON_TEMPLATE)
    monkeypatch.setattr(ignore, "_any", None)
    assert ignore.match("/project/pkg/mod.pyc", False) is True and ignore.match("/project/pkg/mod.py", False) is None
