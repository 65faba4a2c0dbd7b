"""LORA301 trust-remote-code: ``trust_remote_code=True`` loading a model transformers ships natively."""
from __future__ import annotations

import re
from typing import Any, Iterator

import libcst as cst

from ..analysis.index import CallSite, FileIndex
from ..analysis.model import checkpoint
from ..analysis.values import UNKNOWN
from ..knowledge.architectures import installed_transformers, model_types, transformers_in, transformers_versions
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import remove_element
from ._versions import reaches_below

# transformers classes that load a model (not a tokenizer, processor or config)
_MODEL_CLASS = re.compile(r"^(AutoModel\w*|[A-Z]\w*(Model|For[A-Z]\w*))$")
_NOT_MODELS = ("Tokenizer", "Processor", "Extractor", "Config")
_SEED = ("from transformers import AutoModelForCausalLM\n\n"
         "model = AutoModelForCausalLM.from_pretrained({args})\n")
_NATIVE = {"target-transformers-version": ">=4.57.6"}


def _seed(args: str) -> str:
    return _SEED.format(args=args)


class TrustRemoteCode(Rule):
    """``trust_remote_code=True`` when loading a model whose architecture transformers ships.

    What: a transformers model class's ``from_pretrained(<id>, trust_remote_code=True)``, where
    ``<id>`` is static and resolves (local ``config.json``, the Hugging Face cache or the curated
    table) to a ``model_type`` that every transformers version the project allows has natively
    (the architecture data of each allowed version has it, and no allowed version is older than
    that data). Not judged: a pinned ``revision`` (an older revision may need the remote code), a
    ``**kwargs`` splat, an unknown model, a transformers range reaching below the data.
    Why: the flag lets the checkpoint's repository run its own Python code on the machine, at
    every load, including code pushed to the repository later (huggingface/peft#2896 is a fix
    of one way it could be reached). For an architecture transformers implements itself it is
    not needed; where the repository ships code anyway (``auto_map``), the flag swaps
    transformers' maintained implementation for it. Remote-code models are also the ones peft
    has no default targets for (OptimalScale/LMFlow#606).
    Example: ``AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-0.5B", trust_remote_code=True)``
    -> drop the keyword.
    Fix safety: safe: removes the keyword (only where the checkpoint's known config has no
    ``auto_map``, so the same transformers classes load the same weights).
    """

    CODE = "LORA301"
    NAME = "trust-remote-code"
    SEVERITY = "warning"
    SUMMARY = "trust_remote_code=True loading a model whose architecture transformers ships"
    FIX = "safe"
    PER_FILE = True
    LOAD_TRIGGERS = ("trust_remote_code",)

    VALID = [
        Valid(_seed("'Qwen/Qwen2.5-0.5B'"), **_NATIVE),
        Valid(_seed("'Qwen/Qwen2.5-0.5B', trust_remote_code=False"), **_NATIVE),
        # a model type transformers does not ship, an unknown checkpoint
        Valid(_seed("'baichuan-inc/Baichuan2-7B-Chat', trust_remote_code=True"), **_NATIVE),
        Valid(_seed("'THUDM/chatglm3-6b', trust_remote_code=True"), **_NATIVE),
        # an older transformers the project allows may predate the native class
        Valid(_seed("'Qwen/Qwen2.5-0.5B', trust_remote_code=True"),
              **{"target-transformers-version": ">=4.36"}),
        # a pinned revision, a dynamic flag or id, extra keywords that may hold a revision
        Valid(_seed("'microsoft/phi-2', revision='834565c', trust_remote_code=True"), **_NATIVE),
        Valid(_seed("'Qwen/Qwen2.5-0.5B', trust_remote_code=args.trust_remote_code"), **_NATIVE),
        Valid(_seed("args.model, trust_remote_code=True"), **_NATIVE),
        Valid(_seed("'Qwen/Qwen2.5-0.5B', trust_remote_code=True, **model_kwargs"), **_NATIVE),
        # a tokenizer may be custom where the model is not
        Valid("from transformers import AutoTokenizer\n\n"
              "tok = AutoTokenizer.from_pretrained('Qwen/Qwen2.5-0.5B', trust_remote_code=True)\n", **_NATIVE),
        # not transformers' class
        Valid("from modelscope import AutoModelForCausalLM\n\n"
              "model = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-0.5B', trust_remote_code=True)\n",
              **_NATIVE),
    ]
    INVALID = [
        Invalid(_seed("'Qwen/Qwen2.5-0.5B', trust_remote_code=True"), message="qwen2", line=3, column=67,
                fixed=_seed("'Qwen/Qwen2.5-0.5B'"), **_NATIVE),
        Invalid("import transformers\n\nNAME = 'meta-llama/Llama-3.2-1B'\n"
                "model = transformers.LlamaForCausalLM.from_pretrained(\n    NAME,\n"
                "    trust_remote_code=True,  # needed?\n    torch_dtype='auto',\n)\n",
                message="llama", line=6, column=5, **_NATIVE,
                fixed="import transformers\n\nNAME = 'meta-llama/Llama-3.2-1B'\n"
                      "model = transformers.LlamaForCausalLM.from_pretrained(\n    NAME,\n"
                      "    torch_dtype='auto',\n)\n"),
        Invalid(_seed("'google/gemma-2-2b', trust_remote_code=True, revision='main'"), message="gemma2", line=3,
                fixed=_seed("'google/gemma-2-2b', revision='main'"), **{"target-transformers-version": "5.24.0"}),
    ]

    def check_file(self, calls: Any, ctx: RuleContext) -> Iterator[Finding]:
        index: FileIndex | None = getattr(calls, "index", None)
        sites = index.calls_by_name.get("from_pretrained", ()) if index is not None else ()
        if not sites or not _native_range(ctx):
            return  # the architecture data is read only for a file that loads a model
        native = set.intersection(*(set(model_types(v)) for v in transformers_in(ctx.transformers)))
        for site in sites:
            finding = self._site(index, site, native)
            if finding is not None:
                yield finding

    def _site(self, index: FileIndex, site: CallSite, native: set[str]) -> Finding | None:
        node = site.node
        if not isinstance(node.func, cst.Attribute):
            return None
        owner = index.qualname(node.func.value, site.scope) or ""
        name = owner.rpartition(".")[2]
        if not owner.startswith("transformers.") or not _MODEL_CLASS.match(name) or any(
                word in name for word in _NOT_MODELS):
            return None
        if any(arg.star for arg in node.args):
            return None
        keywords = {arg.keyword.value: arg for arg in node.args if arg.keyword is not None}
        flag = keywords.get("trust_remote_code")
        if flag is None or index.value_of(flag.value, site.scope, site.order) is not True:
            return None
        revision = keywords.get("revision")
        if revision is not None and index.value_of(revision.value, site.scope, site.order) != "main":
            return None
        positional = [arg for arg in node.args if arg.keyword is None]
        id_arg = positional[0] if positional else keywords.get("pretrained_model_name_or_path")
        model_id = index.value_of(id_arg.value, site.scope, site.order) if id_arg is not None else UNKNOWN
        if not isinstance(model_id, str):
            return None
        found = checkpoint(model_id)
        if found is None or found.model_type not in native:
            return None
        remote = "auto_map" in found.config
        message = (f"transformers ships {found.model_type} natively, so {name}.from_pretrained({model_id!r}) "
                   f"does not need trust_remote_code=True, which lets the checkpoint's repository run its own "
                   f"Python code on this machine at every load (also code pushed to it later)")
        if remote:
            message += ("; this checkpoint ships such code (auto_map), which the flag runs instead of "
                        "transformers' own implementation: remove it to load transformers' classes")
            return Finding(flag.keyword, message)
        return Finding(flag.keyword, message + "; remove it", remove_element(node, flag),
                       "Remove trust_remote_code=True")


def _native_range(ctx: RuleContext) -> bool:
    """Whether no transformers version the project allows is older than the architecture data
    (an unreadable range is not known to be)."""
    spec = ctx.transformers if ctx.transformers is not None else installed_transformers()
    return spec is not None and reaches_below(spec, transformers_versions()[0]) is False
