"""Running `lora-lint` in-process as the CLI tests do (without the cache unless `--cache` is given)."""
from __future__ import annotations

from lint_rules.cli import main


def lint(capsys, *argv):
    """Exit code, stdout and stderr of ``lora-lint ARGV``."""
    code = main(["--no-cache", *argv]) if "--no-cache" not in argv and "--cache" not in argv else main(
        [a for a in argv if a != "--cache"])
    out, err = capsys.readouterr()
    return code, out, err
