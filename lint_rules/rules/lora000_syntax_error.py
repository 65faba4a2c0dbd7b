"""LORA000 syntax-error: the file does not parse, so nothing else in it was checked."""
from __future__ import annotations

from typing import Any, Iterator

from ..analysis.model import APPLYING, APPLYING_KEYWORDS
from ..rule import Finding, Invalid, Rule, Valid
from ._training import TRAINING_KEYWORDS, TRAINING_TRIGGERS


class SyntaxErrorRule(Rule):
    """The file is not valid Python (libcst could not parse it).

    What: reported by the engine, at the parser's error position, for a file that mentions
    a name another enabled rule needs to see (``LoraConfig``; ``get_peft_model``, ... for the
    model rules, ``from_pretrained(..., trust_remote_code=True)`` for LORA301) but does not parse. A file that mentions none is not parsed at all:
    no enabled rule could fire on it.
    Why: no other rule can look at a file that does not parse; reporting it keeps a
    broken file from passing as clean, and the run goes on with the other files.
    Example: ``LoraConfig(r=8`` (unclosed parenthesis).
    Fix safety: no fix; correct the syntax by hand.
    """

    CODE = "LORA000"
    NAME = "syntax-error"
    SEVERITY = "error"
    SUMMARY = "The file does not parse; nothing else in it was checked"
    TRIGGERS = ("LoraConfig", *APPLYING, *TRAINING_TRIGGERS)  # every other rule's: what it needs alone
    KEYWORD_TRIGGERS = (*APPLYING_KEYWORDS, *TRAINING_KEYWORDS)
    LOAD_TRIGGERS = ("trust_remote_code",)
    VALID = [
        Valid("from peft import LoraConfig\n\nconfig = LoraConfig(r=8)\n"),
    ]
    INVALID = [
        Invalid("from peft import LoraConfig\n\nconfig = LoraConfig(r=8\n", message="never closed", line=3, column=20),
        Invalid("import peft\n\ndef f(:\n    pass\nconfig = peft.LoraConfig()\n", message="invalid syntax",
                line=3, column=7),
    ]

    def check(self, call: Any, ctx: Any) -> Iterator[Finding]:
        """Never called with findings: the engine reports syntax errors before collecting calls."""
        return iter(())
