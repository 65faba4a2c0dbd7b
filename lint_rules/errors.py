"""The errors that end a run with exit code 2."""
from __future__ import annotations


class LintError(Exception):
    """Base of the errors reported as ``error: ...`` with exit code 2."""


class ConfigError(LintError):
    """A bad config file, option or selector."""


class FixError(LintError):
    """A fix that would leave the file broken; the file is left as it was."""
