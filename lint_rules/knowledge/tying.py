"""Whether a checkpoint ties its output embeddings (``lm_head``) to its input embeddings.

A checkpoint's own ``config.json`` field ``tie_word_embeddings`` decides (as read by
``models.resolve_model``); where it does not set it, its config class's default does, per
transformers version (``data/tied_embeddings.json``, written by
``scripts/gen_tied_embeddings.py``). Standard library only.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

# The input embedding's name in the model types that tie it (the last name segment).
INPUT_EMBEDDINGS = frozenset({"embed_tokens", "wte", "word_embeddings", "embed_in", "shared", "tok_embeddings"})


@lru_cache(maxsize=1)
def _defaults() -> dict[str, dict[str, bool]]:
    text = (Path(__file__).parent / "data" / "tied_embeddings.json").read_text("utf-8")
    return json.loads(text)["transformers"]


def default_tied(model_type: str, transformers: str) -> bool | None:
    """The config class's default for ``model_type`` in the data of ``transformers`` (None: not recorded)."""
    return _defaults().get(transformers, {}).get(model_type)


def ties_embeddings(model_type: str, config: Mapping, transformers: Iterable[str]) -> bool | None:
    """``True``/``False`` when provable for every transformers data version in ``transformers``;
    ``None`` when the config does not say and the default is not recorded or differs between them
    (a composite config's flag lives in its sub-config: not judged)."""
    value = config.get("tie_word_embeddings")
    if isinstance(value, bool):
        return value
    if value is not None or "text_config" in config:
        return None
    found = {default_tied(model_type, version) for version in transformers}
    return found.pop() if len(found) == 1 else None
