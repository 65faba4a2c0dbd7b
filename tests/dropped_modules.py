"""What an in-process ``pytester`` run leaves behind once it has put ``sys.modules`` back."""
from __future__ import annotations

import sys
from types import ModuleType


def forget_dropped_submodules() -> None:
    """Unbind from every package in ``sys.modules`` the submodules that are no longer there.

    An in-process ``pytester`` run (and the fixture's teardown) puts back the ``sys.modules`` it
    found, dropping what was imported since, but a package that stays keeps those submodules as
    attributes. ``from . import analysis`` in a module imported afresh then got the dropped copy
    (``lint_rules.analysis``, with the libcst of an earlier run) instead of importing it again:
    its walk did not recognise the new libcst's ``MaybeSentinel`` and every lint failed
    (``tests/test_isolation.py``). Only modules the import system made (their spec names them)
    are unbound; a module a package builds itself is left alone."""
    for name, package in list(sys.modules.items()):
        if getattr(package, "__path__", None) is None or not isinstance(getattr(package, "__dict__", None), dict):
            continue
        for attr, value in list(vars(package).items()):
            if not isinstance(value, ModuleType) or value.__name__ != f"{name}.{attr}":
                continue
            spec = getattr(value, "__spec__", None)
            if spec is None or spec.name != value.__name__:
                continue
            current = sys.modules.get(value.__name__)
            if current is None:
                delattr(package, attr)
            elif current is not value:
                setattr(package, attr, current)
