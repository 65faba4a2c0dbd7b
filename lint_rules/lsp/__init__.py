"""``lora-lint server``: a Language Server over stdio, built on pygls (the ``lsp`` extra).

Each open document is linted with the engine as ``lora-lint`` lints a file (the project's
``[tool.lora-lint]``, ``# noqa``, per-file-ignores); findings become diagnostics, fixes become
code actions, a rule's explanation is the hover on its finding. Nothing here imports torch,
transformers or peft.
"""
from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str]) -> int:
    """``lora-lint server``: serve on stdin/stdout until the client exits."""
    import argparse

    parser = argparse.ArgumentParser(prog="lora-lint server",
                                     description="Run the lora-lint language server on stdin/stdout.")
    parser.parse_args(list(argv))
    try:
        import pygls  # noqa: F401
    except ImportError:
        print("error: lora-lint server needs pygls: pip install 'pytest-lora[lsp]'", file=sys.stderr)
        return 2
    from .server import serve

    serve()
    return 0
