"""LORA001 target-modules-not-found: no ``target_modules`` entry matches the model."""
from __future__ import annotations

from typing import Iterator

from ..analysis import LoraCall
from ..knowledge import peft_releases
from ..knowledge.matching import suggest_equivalent
from ..analysis.model import APPLYING, APPLYING_KEYWORDS
from ..rule import Finding, Invalid, Rule, RuleContext, Valid
from ._common import highest, literal_in_call, replacing, string_list, value_node
from ._targets import Targets, matches, model_words, outside, targetable, would_match

_SEED = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
         "model = AutoModelForCausalLM.from_pretrained({model!r})\n"
         "config = LoraConfig(r=8, lora_alpha=16, target_modules={targets})\n"
         "model = get_peft_model(model, config)\n")


class TargetModulesNotFound(Rule):
    """No entry of ``target_modules`` matches a module of the model the config is applied to.

    What: the model is known (loaded in the same file, ``base_model_name_or_path``, a
    ``# lora-lint: model=<id>`` comment or ``model`` in ``[tool.lora-lint]``) and peft's
    matching (exact name, ``.name`` suffix, a regex string, ``"all-linear"``) reaches none
    of its modules. Configs and models are followed through reassignments, branches,
    helper functions and the project's own modules; a config that provably meets several
    models is checked against each (and then not fixed). Unknown models are not checked.
    Why: ``get_peft_model`` raises ("Target modules ... not found in the base model") only
    after the model has been downloaded and loaded; names copied from a Llama recipe
    (``q_proj``/``v_proj``) do not exist in GPT-2, Falcon, BLOOM or Phi-3.
    Example: ``target_modules=["q_proj", "v_proj"]`` on ``gpt2`` -> ``["c_attn"]``.
    Fix safety: unsafe: replaces ``target_modules`` with the model's equivalent modules
    (when known), which changes which weights are trained.
    """

    CODE = "LORA001"
    NAME = "target-modules-not-found"
    SEVERITY = "error"
    SUMMARY = "No target_modules entry matches a module of the model"
    TRIGGERS = ("LoraConfig", *APPLYING)  # a config made in another module, applied here
    KEYWORD_TRIGGERS = APPLYING_KEYWORDS
    FIX = "unsafe"
    CHECKS_IMPORTED = True

    VALID = [
        Valid(_SEED.format(model="gpt2", targets='["c_attn"]')),
        Valid(_SEED.format(model="meta-llama/Llama-2-7b-hf", targets='["q_proj", "v_proj"]')),
        Valid(_SEED.format(model="my-org/private-llama-finetune", targets='["q_proj", "v_proj"]')),
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['q_proj', 'v_proj'])\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=TARGETS)  # lora-lint: model=gpt2\n"),
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=r'.*\\.attn\\.c_attn')\n", model="gpt2"),
        Valid("from peft import LoraConfig, get_peft_model\n\n"
              "get_peft_model(load_model(), LoraConfig(target_modules=['q_proj']))\n"),
        # the list is replaced before the config is applied: the call's value is not what peft sees
        Valid(_SEED.format(model="gpt2", targets='["q_proj", "v_proj"]').replace(
            "model = get_peft_model", "config.target_modules = [\"c_attn\"]\nmodel = get_peft_model")),
        # a pinned revision may predate the current config (phi-2's remote code named Wqkv)
        Valid("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
              "model = AutoModelForCausalLM.from_pretrained('microsoft/phi-2', revision='834565c')\n"
              "model = get_peft_model(model, LoraConfig(target_modules=['Wqkv', 'out_proj']))\n"),
        # masked-LM classes are not in the architecture data: the model counts as unknown
        Valid("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForMaskedLM\n\n"
              "model = AutoModelForMaskedLM.from_pretrained('bert-base-uncased')\n"
              "model = get_peft_model(model, LoraConfig(target_modules=['q_proj']))\n"),
        # nor are image-classification classes: ViTForImageClassification is `vit.*` plus its
        # `classifier`, not the checkpoint's own ViTModel
        Valid("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForImageClassification\n\n"
              "model = AutoModelForImageClassification.from_pretrained('google/vit-base-patch16-224-in21k')\n"
              "model = get_peft_model(model, LoraConfig(target_modules=['classifier']))\n"),
        # GPT-NeoX's output layer is `embed_out` in transformers 4.x, `lm_head` in 5.x: a project
        # that allows both is only told what fails in every version it allows.
        Valid("from peft import LoraConfig\n\nLoraConfig(target_modules=['embed_out'])\n",
              model="EleutherAI/pythia-70m", **{"target-transformers-version": ">=4.40"}),
        # the model and its targets are chosen by the same condition: never paired across branches
        Valid("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
              "if small:\n    name = 'gpt2'\nelse:\n    name = 'meta-llama/Llama-2-7b-hf'\n"
              "model = AutoModelForCausalLM.from_pretrained(name)\n"
              "if small:\n    model = get_peft_model(model, LoraConfig(target_modules=['c_attn']))\n"
              "else:\n    model = get_peft_model(model, LoraConfig(target_modules=['q_proj', 'v_proj']))\n"),
    ]
    INVALID = [
        # one config, a model chosen in branches: reported against the model it misses
        Invalid("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
                "if small:\n    name = 'gpt2'\nelse:\n    name = 'meta-llama/Llama-2-7b-hf'\n"
                "config = LoraConfig(r=8, lora_alpha=16, target_modules=['q_proj', 'v_proj'])\n"
                "model = get_peft_model(AutoModelForCausalLM.from_pretrained(name), config)\n",
                message="no module of gpt2", line=8, column=56),
        # ... and, where another version's data has the module, told which that is
        Invalid("from peft import LoraConfig\n\nLoraConfig(target_modules=['embed_out'])\n",
                message="EleutherAI/pythia-70m (GPTNeoXForCausalLM, from `model` in [tool.lora-lint]) matches "
                        "target_modules=['embed_out'] (checked against transformers 5.24.0, the one the project "
                        "allows; in transformers 4.57.6 they match modules of the model", line=3, column=27,
                model="EleutherAI/pythia-70m", **{"target-transformers-version": ">=5"}),
        Invalid(_SEED.format(model="gpt2", targets='["q_proj", "v_proj"]'),
                message="the equivalent here is target_modules=['c_attn']", line=5, column=56,
                fixed=_SEED.format(model="gpt2", targets='["c_attn"]')),
        Invalid("import peft\n\nconfig = peft.LoraConfig(r=8, target_modules=['q_proj', 'v_proj'])\n",
                message="query_key_value", line=3, column=46, model="tiiuae/falcon-7b",
                fixed="import peft\n\nconfig = peft.LoraConfig(r=8, target_modules=[\"query_key_value\"])\n"),
        Invalid("# lora-lint: model=microsoft/Phi-3-mini-4k-instruct\nfrom peft import LoraConfig\n\n"
                "LoraConfig(r=8, lora_alpha=16, target_modules=['q_proj', 'v_proj'])\n",
                message="qkv_proj", line=4, column=47,
                fixed="# lora-lint: model=microsoft/Phi-3-mini-4k-instruct\nfrom peft import LoraConfig\n\n"
                      "LoraConfig(r=8, lora_alpha=16, target_modules=[\"qkv_proj\"])\n"),
        Invalid("from peft import LoraConfig\n\nTARGETS = ['query', 'value']\n"
                "LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS, base_model_name_or_path='gpt2')\n",
                message="gpt2 (GPT2LMHeadModel, from base_model_name_or_path)", line=4, column=47),
        Invalid("from peft import *\nfrom trl import SFTTrainer\n\ntrainer = SFTTrainer(\n"
                "    model='facebook/opt-350m',\n    peft_config=LoraConfig(r=16, lora_alpha=32, target_modules=['c_attn']),\n)\n",
                message="facebook/opt-350m", line=6, column=64,
                fixed="from peft import *\nfrom trl import SFTTrainer\n\ntrainer = SFTTrainer(\n"
                      "    model='facebook/opt-350m',\n    peft_config=LoraConfig(r=16, lora_alpha=32, "
                      "target_modules=[\"q_proj\", \"k_proj\", \"v_proj\"]),\n)\n"),
        Invalid("from peft import LoraConfig\n\nLoraConfig(target_modules='.*q_proj')\n",
                message="bigscience/bloom-560m", line=3, column=27, model="bigscience/bloom-560m"),
    ]

    def check(self, call: LoraCall, ctx: RuleContext) -> Iterator[Finding]:
        for found in matches(call, ctx):  # each model the config is applied to
            if not found.any_match:
                yield self._finding(call, found, ctx)

    @staticmethod
    def _finding(call: LoraCall, found: Targets, ctx: RuleContext) -> Finding:
        keyword, value, model = found.keyword, found.value, found.model
        error = peft_releases.not_found_error(highest(ctx))
        consequence = f"get_peft_model() raises {error}" if error else "get_peft_model() adapts nothing"
        message = (f"no module of {model_words(call, model)} matches target_modules={value!r}"
                   f"{outside(call, ctx, found, value)}, so {consequence}; ")
        entries = [value] if isinstance(value, str) else value
        suggestion = suggest_equivalent(entries, model.architecture)
        if suggestion and not would_match(call, ctx, model, suggestion):  # other keywords exclude it too
            suggestion = None
        replacements = {}
        if suggestion:
            message += (f"the equivalent here is target_modules={suggestion!r} "
                        f"(targetable modules: {targetable(model)})")
            if literal_in_call(keyword) and len(call.models) == 1:  # right for every use
                replacements = {keyword.node: replacing(keyword.node, string_list(suggestion))}
        else:
            message += f"name some of its targetable modules: {targetable(model)}"
        return Finding(value_node(keyword), message, replacements,
                       f"Use target_modules={suggestion!r}" if replacements else None)
