"""Which source reads a file, told from its name alone: no source module is imported, so a run
(or ``pytest --lora-check``'s collection) that only sorts names pays for none of them."""
from __future__ import annotations

# each kind's suffixes; a name no other kind claims is Python's
SUFFIXES: dict[str, tuple[str, ...]] = {
    "python": (".py", ".pyi"),
    "notebook": (".ipynb",),
    "adapter_config": (".json",),
    "trainer_yaml": (".yaml", ".yml"),
}
ADAPTER_CONFIG = "adapter_config.json"  # the one JSON name a folder walk picks


def kind_of(filename: str) -> str:
    """The kind (a module of ``lint_rules.sources``) that reads a file of this name."""
    lowered = filename.lower()
    return next((kind for kind, suffixes in SUFFIXES.items() if kind != "python" and lowered.endswith(suffixes)),
                "python")


def walked(kind: str, name: str) -> bool:
    """Whether a folder walk picks a file of this name as this kind (named files are always read)."""
    if kind == "adapter_config":
        return name.lower() == ADAPTER_CONFIG
    if kind == "trainer_yaml":
        return name.lower().endswith(SUFFIXES[kind])
    return name.endswith(SUFFIXES[kind])


_CASED = SUFFIXES["python"] + SUFFIXES["notebook"]


def walked_by_some_kind(name: str) -> bool:
    """``walked(kind, name)`` for some kind, in one test (a folder walk asks it of every name)."""
    if name.endswith(_CASED):
        return True
    lowered = name.lower()
    return lowered == ADAPTER_CONFIG or lowered.endswith(SUFFIXES["trainer_yaml"])
