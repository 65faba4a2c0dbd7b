"""Record each transformers model type's default ``tie_word_embeddings``, for lint_rules.knowledge.

A checkpoint whose ``config.json`` does not set ``tie_word_embeddings`` gets its config class's
default (transformers writes the field only where it differs from that default). The default is
read from each config class built with no arguments (no model, no download); composite configs
(a vision-language model's ``text_config``) are left out, since the flag that counts there is
the sub-config's. Writes the installed version's entry of
``lint_rules/knowledge/data/tied_embeddings.json``, keeping the other versions' entries.

Run it once per transformers version the architecture data has, e.g.::

    python scripts/gen_tied_embeddings.py            # with transformers 4.57.6, then 5.24.0
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import transformers  # noqa: E402
from transformers import CONFIG_MAPPING  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "lint_rules" / "knowledge" / "data" / "tied_embeddings.json"


def defaults() -> dict[str, bool]:
    found: dict[str, bool] = {}
    for model_type in sorted(CONFIG_MAPPING.keys()):
        try:
            config_class = CONFIG_MAPPING[model_type]
            if getattr(config_class, "sub_configs", None):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                config = config_class()
        except Exception:  # a config that needs arguments, or a missing optional dependency
            continue
        value = getattr(config, "tie_word_embeddings", None)
        if isinstance(value, bool):
            found[model_type] = value
    return found


def main() -> int:
    data = json.loads(DATA.read_text(encoding="utf-8")) if DATA.is_file() else {}
    data["_about"] = ("Default tie_word_embeddings of each model type's config class (no composite configs), "
                      "per transformers version; written by scripts/gen_tied_embeddings.py.")
    versions = data.setdefault("transformers", {})
    versions[transformers.__version__] = defaults()
    data["transformers"] = dict(sorted(versions.items()))
    DATA.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{len(versions[transformers.__version__])} model types for transformers {transformers.__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
