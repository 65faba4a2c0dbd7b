"""``python -m lint_rules`` runs ``lora-lint``.

``-m`` puts the working folder first on ``sys.path``; it is removed before anything else is
imported, so that a linted tree's ``difflib.py`` or ``tomllib/`` is never imported in place of
the standard library's (the ``lora-lint`` script never has that entry).
"""
import os
import sys

if not getattr(sys.flags, "safe_path", False) and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from lint_rules.cli import main  # noqa: E402  (after the sys.path fix on purpose)

sys.exit(main())
