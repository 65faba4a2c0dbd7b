"""What happens to each model object of a training script, in order: the model's lifecycle.

A model is followed back from where it is used (a trainer, an optimizer, a merge) to where
it is made, through names (``flow``'s reaching definitions), helper functions of the file
(their ``return``), conditionals and the project's modules. Each value on the way is a
*step*: made by ``from_pretrained``/``from_config`` of a transformers model class (with its
quantization and dtype), ``AutoPeftModel*.from_pretrained``, then transformed by
``prepare_model_for_kbit_training``, ``get_peft_model``/``PeftModel(...)``,
``PeftModel.from_pretrained``, ``merge_and_unload``, ``.to()``/``.half()`` and the like.
Calls that change a model in place (``resize_token_embeddings``, ``gradient_checkpointing_enable``,
``enable_input_require_grads``, ``load_adapter``, ``add_adapter``, ``merge_adapter``,
``save_pretrained``) join the history of the step their receiver holds, placed after the steps
their own scope ran before them.

Every step says whether it is *certain*: it happens on every path to the use (every way the
value can be made has it, and all are known; an in-place call also runs in the use's block or one
around it, before it, or at the top level of the helper function that returned the model). A history is *known* when it starts at a
creation and no step on the way is a call this module does not know; rules report only what
holds on a known history's certain steps, and treat anything else as unknown (silent).

``trainings`` lists where a model is trained: a transformers or TRL trainer whose ``.train()``
is called (with its ``args`` object's keywords and its ``peft_config``), or an optimizer over a
model's ``.parameters()`` in a file that calls ``.backward()`` (a hand-written loop).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import libcst as cst

from .calls import LoraCall, build_call, is_lora_config
from .flow import Origin, Point, Tracer, runs_before
from .index import CallSite, FileIndex, Scope, terminal_name
from .nodes import subnodes
from .values import UNKNOWN

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()  # a keyword provably not passed

# step kinds: where a model is made
LOAD = "load"  # <transformers model class>.from_pretrained(...)
FROM_CONFIG = "from_config"  # <transformers model class>.from_config(...)
AUTO_PEFT_LOAD = "auto_peft_load"  # AutoPeftModel*.from_pretrained(path, ...)
CREATIONS = frozenset({LOAD, FROM_CONFIG, AUTO_PEFT_LOAD})
# what transforms one (the model it is given is the first argument or the receiver)
GET_PEFT = "get_peft_model"  # get_peft_model(model, config), PeftModel(model, config)
PEFT_LOAD = "peft_load"  # PeftModel.from_pretrained(model, path, ...)
KBIT_PREP = "kbit_prep"  # prepare_model_for_kbit_training(model, ...)
MERGE = "merge_and_unload"  # model.merge_and_unload(): the base model with the adapter merged
SAME = "same"  # model.to(...), .cuda(), .train(), .eval(): the same object
CAST = "cast"  # model.half(), .float(), .bfloat16(), .to(torch.float16)
# in-place calls on a model
RESIZE = "resize_token_embeddings"
GC_ENABLE = "gradient_checkpointing_enable"
INPUT_GRADS = "enable_input_require_grads"
LOAD_ADAPTER = "load_adapter"
ADD_ADAPTER = "add_adapter"
MERGE_ADAPTER = "merge_adapter"
SAVE = "save_pretrained"
IN_PLACE = (RESIZE, GC_ENABLE, INPUT_GRADS, LOAD_ADAPTER, ADD_ADAPTER, MERGE_ADAPTER, SAVE)
PEFT_STEPS = frozenset({GET_PEFT, PEFT_LOAD, AUTO_PEFT_LOAD})  # the value is a PeftModel

PEFT_MODEL_CLASSES = frozenset({
    "PeftModel", "PeftMixedModel", "PeftModelForCausalLM", "PeftModelForSeq2SeqLM",
    "PeftModelForSequenceClassification", "PeftModelForTokenClassification",
    "PeftModelForQuestionAnswering", "PeftModelForFeatureExtraction",
})
AUTO_PEFT_CLASSES = frozenset({
    "AutoPeftModel", "AutoPeftModelForCausalLM", "AutoPeftModelForSeq2SeqLM",
    "AutoPeftModelForSequenceClassification", "AutoPeftModelForTokenClassification",
    "AutoPeftModelForQuestionAnswering", "AutoPeftModelForFeatureExtraction",
})
TRL_TRAINERS = frozenset({
    "SFTTrainer", "DPOTrainer", "GRPOTrainer", "RewardTrainer", "ORPOTrainer", "KTOTrainer",
    "CPOTrainer", "PPOTrainer", "RLOOTrainer", "OnlineDPOTrainer", "BCOTrainer", "GKDTrainer",
    "NashMDTrainer", "XPOTrainer", "PRMTrainer", "IterativeSFTTrainer",
})
_MODEL_CLASS = re.compile(r"^(AutoModel\w*|[A-Z]\w*(Model|For[A-Z]\w*))$")
_NOT_MODELS = ("Tokenizer", "Processor", "Extractor", "Config")
_SAME_METHODS = frozenset({"to", "cuda", "cpu", "train", "eval"})
_CAST_METHODS = {"half": "float16", "float": "float32", "bfloat16": "bfloat16"}
_DTYPES = {"float16": "float16", "half": "float16", "fp16": "float16", "bfloat16": "bfloat16",
           "bf16": "bfloat16", "float32": "float32", "float": "float32", "fp32": "float32", "auto": "auto"}
_OPTIMIZER_PACKAGES = ("torch.optim.", "bitsandbytes.", "transformers.", "apex.", "deepspeed.", "torchao.")
_MAX_STEPS = 40  # transforms followed back from one use


@dataclass(frozen=True)
class Step:
    """One thing that happened to a model: ``kind`` (the constants above), the call, where it
    is evaluated (``index``, ``at``; ``site`` in its own index), and whether it is ``certain``
    (on every path to the use the history was asked for)."""

    kind: str
    node: cst.Call
    index: FileIndex
    at: Point
    certain: bool
    path: str | None = None  # the module it is in, when not the linted file

    def keyword(self, name: str) -> cst.BaseExpression | None:
        return next((a.value for a in self.node.args if a.keyword is not None and a.keyword.value == name), None)

    @property
    def open_ended(self) -> bool:
        """A ``**kwargs`` splat: any keyword may be passed."""
        return any(a.star == "**" for a in self.node.args)

    def value(self, name: str) -> Any:
        """The keyword's static value; ``MISSING`` when provably not passed; else ``UNKNOWN``."""
        expr = self.keyword(name)
        if expr is None:
            return UNKNOWN if self.open_ended else MISSING
        return self.index.value_of(expr, self.at.scope, self.at.order)


@dataclass(frozen=True)
class History:
    """The steps of one model value, oldest first (creation, transforms and in-place calls).
    ``known``: it starts at a creation and every step on the way is understood."""

    steps: tuple[Step, ...]
    known: bool

    @property
    def creation(self) -> Step | None:
        return self.steps[0] if self.known and self.steps and self.steps[0].kind in CREATIONS else None

    def of(self, *kinds: str) -> list[Step]:
        return [s for s in self.steps if s.kind in kinds]

    def last(self, *kinds: str) -> Step | None:
        found = self.of(*kinds)
        return found[-1] if found else None

    def position(self, step: Step) -> int:
        """Where ``step`` (one of this history's) is in it."""
        return next(i for i, s in enumerate(self.steps) if s.node is step.node)

    def after(self, step: Step, *kinds: str) -> list[Step]:
        """The steps of ``kinds`` after ``step`` in this history."""
        return [s for s in self.steps[self.position(step) + 1:] if s.kind in kinds]

    def is_peft(self) -> bool:
        """Whether the value is a PeftModel on this path (a peft step, not merged away after)."""
        last = self.last(*PEFT_STEPS, MERGE)
        return last is not None and last.kind != MERGE


@dataclass
class Arguments:
    """A trainer's ``args``: the ``TrainingArguments``/``SFTConfig``/... call it is made by."""

    node: cst.Call
    index: FileIndex
    at: Point
    name: str  # the class called

    def value(self, name: str) -> Any:
        """The keyword's static value; ``MISSING`` when provably not passed; else ``UNKNOWN``."""
        expr = next((a.value for a in self.node.args if a.keyword is not None and a.keyword.value == name), None)
        if expr is None:
            positional = any(a.keyword is None for a in self.node.args if not a.star)
            return UNKNOWN if positional or any(a.star for a in self.node.args) else MISSING
        return self.index.value_of(expr, self.at.scope, self.at.order)


@dataclass
class Training:
    """Where a model is trained: ``kind`` ``"trainer"`` (a transformers/TRL trainer whose
    ``.train()`` is called) or ``"loop"`` (an optimizer over its parameters, ``.backward()`` in the
    file). ``model``: the model expression and the site it is evaluated at."""

    kind: str
    site: CallSite
    model: cst.BaseExpression
    model_site: CallSite
    trainer: str | None = None  # the trainer class
    trl: bool = False
    args: list[Arguments | None] = field(default_factory=list)  # per origin of `args=` (None: unknown)
    peft_config: cst.BaseExpression | None = None
    # the keyword's expression where it is written in the call
    def peft_config_given(self, index: FileIndex) -> bool | None:
        """Whether ``peft_config`` is passed with a value other than ``None`` (None: unknown)."""
        if self.peft_config is None:
            return None if any(a.star == "**" for a in self.site.node.args) else False
        if isinstance(self.peft_config, cst.Name) and self.peft_config.value == "None":
            return False
        return True


class Lifecycle:
    """The model histories of one file (built once, on first use, by ``of``)."""

    def __init__(self, index: FileIndex, tracer: Tracer) -> None:
        self.index = index
        self.tracer = tracer
        self._histories: dict[int, list[History]] = {}
        self._raw_histories: dict[int, list[History]] = {}
        self._in_place: list[tuple[Step, list[History]]] | None = None
        self._trainings: list[Training] | None = None

    # -- histories ---------------------------------------------------------------------

    def histories(self, expr: cst.BaseExpression, site: CallSite) -> list[History]:
        """The histories of the model ``expr`` (evaluated at ``site``) on each way it can be made,
        with the in-place calls on it. A step is certain when every history has it (and, for an
        in-place call, when it runs on every path to ``site``)."""
        key = id(expr)
        if key not in self._histories:
            raw = _settled(self._raw(expr, site))
            self._histories[key] = [self._with_in_place(h, site) for h in raw]
        return self._histories[key]

    def _raw(self, expr: cst.BaseExpression, site: CallSite) -> list[History]:
        """The made-and-transformed steps alone, without in-place calls."""
        key = id(expr)
        if key not in self._raw_histories:
            found: list[History] = []
            for origin in self.tracer.origins(expr, site):
                found.extend(History(steps, known) for steps, known in self._walk(origin, 0))
            self._raw_histories[key] = found or [History((), False)]
        return self._raw_histories[key]

    def _walk(self, origin: Origin, depth: int) -> list[tuple[tuple[Step, ...], bool]]:
        node = origin.node
        if node is None or not isinstance(node, cst.Call) or depth > _MAX_STEPS:
            return [((), False)]
        kind, subject = classify(origin.index, node, origin.at.scope)
        if kind is None:
            return [((), False)]
        step = Step(kind, node, origin.index, origin.at, False, origin.path)
        if kind in CREATIONS:
            return [((step,), True)]
        if subject is None:
            return [((step,), False)]
        found = []
        for inner in origin.trace(subject, self.tracer):
            for steps, known in self._walk(inner, depth + 1):
                found.append((steps + (step,), known))
        return found

    # -- in-place calls ----------------------------------------------------------------

    def _in_place_calls(self) -> list[tuple[Step, list[History]]]:
        """Every in-place call on a model in the file, with its receiver's histories."""
        if self._in_place is None:
            self._in_place = []
            for name in IN_PLACE:
                for site in self.index.calls_by_name.get(name, ()):
                    func = site.node.func
                    if isinstance(func, cst.Attribute):
                        step = Step(name, site.node, self.index, Point.of(site), True)
                        self._in_place.append((step, self._raw(func.value, site)))
            self._in_place.sort(key=lambda item: item[0].at.order or 0)
        return self._in_place

    def _with_in_place(self, history: History, use: CallSite) -> History:
        """``history`` with the in-place calls made on its steps' values, in order."""
        if not history.known:
            return history
        steps = history.steps
        ids = [id(s.node) for s in steps]
        placed: list[tuple[tuple[int, int, int], Step]] = [((i, 0, 0), s) for i, s in enumerate(steps)]
        for call, receivers in self._in_place_calls():
            ends = {id(r.steps[-1].node) for r in receivers if r.steps}
            if len(ends) != 1 or not all(r.known for r in receivers):
                continue
            receivers = _settled(receivers)
            end = ends.pop()
            if end not in ids:
                continue
            j = ids.index(end)
            if any([id(s.node) for s in r.steps] != ids[:j + 1] for r in receivers):
                continue
            site = self.index.site_of(call.node)
            assert site is not None
            m = j
            for k in range(j + 1, len(steps)):
                s = steps[k]
                if s.path is None and s.at.scope is site.scope and s.at.order is not None and s.at.order < site.order:
                    m = k
            certain = steps[j].certain and all(r.steps[-1].certain for r in receivers) \
                and self._runs_before(site, steps[j], use)
            placed.append(((m, 1, site.order), Step(call.kind, call.node, call.index, call.at, certain)))
        placed.sort(key=lambda item: item[0])
        return History(tuple(s for _, s in placed), True)

    def _runs_before(self, site: CallSite, receiver: Step, use: CallSite) -> bool:
        """Whether the in-place call at ``site`` runs on every path to ``use``: in the use's
        block or one around it, before it (or before each call of the function the use is in:
        ``flow.runs_before``); or at the top level of the helper function that made the model it
        was called on, before any ``return``."""
        if runs_before(self.index, site, use):
            return True
        if site.block is None or use.block is None or site.scope is use.scope:
            return False
        if receiver.path is not None or receiver.at.scope is not site.scope or site.scope.kind != "function":
            return False
        if site.block is not site.scope.root:
            return False
        return not any(order < site.order for order, _, _ in site.scope.exits)

    # -- trainings ---------------------------------------------------------------------

    def trainings(self) -> list[Training]:
        """Where the file trains a model (see the module's docstring)."""
        if self._trainings is None:
            self._trainings = list(self._trainer_runs()) + list(self._loops())
        return self._trainings

    def _trainer_runs(self) -> Iterator[Training]:
        for site in self.index.calls:
            name = terminal_name(site.node.func)
            if name is None or not name.endswith("Trainer"):
                continue
            qualname = self.index.qualname(site.node.func, site.scope) or ""
            if not (qualname.startswith("transformers.") or qualname.startswith("trl.")):
                continue
            keywords = {a.keyword.value: a.value for a in site.node.args if a.keyword is not None}
            positional = [a.value for a in site.node.args if a.keyword is None and not a.star]
            model = keywords.get("model", positional[0] if positional else None)
            if model is None or not self._trained(site):
                continue
            args_expr = keywords.get("args", positional[1] if len(positional) > 1 else None)
            training = Training("trainer", site, model, site, qualname.rpartition(".")[2], qualname.startswith("trl."),
                                peft_config=keywords.get("peft_config"))
            if args_expr is not None:
                training.args = [self._arguments(o) for o in self.tracer.origins(args_expr, site)]
            yield training

    def _arguments(self, origin: Origin) -> Arguments | None:
        node = origin.node
        if not isinstance(node, cst.Call):
            return None
        name = terminal_name(node.func) or ""
        qualname = origin.index.qualname(node.func, origin.at.scope) or ""
        if not (name.endswith("Arguments") or name.endswith("Config")) or not (
                qualname.startswith("transformers.") or qualname.startswith("trl.")):
            return None
        return Arguments(node, origin.index, origin.at, name)

    def _trained(self, trainer: CallSite) -> bool:
        """Whether ``.train()`` is called on the trainer made at ``trainer``."""
        parent_calls = [s for s in self.index.calls_by_name.get("train", ())
                        if isinstance(s.node.func, cst.Attribute)]
        for site in parent_calls:
            receiver = site.node.func.value  # type: ignore[attr-defined]
            if receiver is trainer.node:
                return True
            if isinstance(receiver, cst.Name):
                origins = self.tracer.origins(receiver, site)
                if origins and all(o.node is trainer.node for o in origins):
                    return True
        return False

    def _loops(self) -> Iterator[Training]:
        if not self.index.calls_by_name.get("backward"):
            return
        optimizers = self._optimizers()
        for name in ("parameters", "named_parameters"):
            for site in self.index.calls_by_name.get(name, ()):
                func = site.node.func
                if not isinstance(func, cst.Attribute) or site.node.args:
                    continue
                optimizer = next((o for o in optimizers if _contains(o.node.args[0].value, site.node)), None)
                if optimizer is not None:
                    yield Training("loop", optimizer, func.value, site)

    def _optimizers(self) -> list[CallSite]:
        """The calls of an optimizer class (``torch.optim.AdamW(...)``) with an argument, in the
        index's order (the first whose first argument holds ``model.parameters()`` is its optimizer)."""
        found = []
        for name, sites in self.index.calls_by_name.items():
            if not name[:1].isupper():
                continue
            for site in sites:
                qualname = self.index.qualname(site.node.func, site.scope) or ""
                if site.node.args and qualname.startswith(_OPTIMIZER_PACKAGES):
                    found.append(site)
        return found

    # -- helpers for rules -------------------------------------------------------------

    def config_of(self, step: Step) -> list[LoraCall | None]:
        """The ``LoraConfig`` calls a ``get_peft_model``/``PeftModel(...)`` step applies, per origin
        of its config argument (None: not a LoraConfig call this analysis can read)."""
        positional = [a.value for a in step.node.args if a.keyword is None and not a.star]
        expr = positional[1] if len(positional) > 1 else step.keyword("peft_config") or step.keyword("config")
        if expr is None:
            return [None]
        return self._configs(expr, Origin(None, step.index, step.at, step.certain, (), step.path))

    def configs_at(self, expr: cst.BaseExpression, site: CallSite) -> list[LoraCall | None]:
        """The ``LoraConfig`` calls ``expr`` (evaluated at ``site`` of this file, a trainer's
        ``peft_config``) holds, per origin (None: not a LoraConfig call this analysis can read)."""
        return self._configs(expr, Origin(None, self.index, Point.of(site), True))

    def _configs(self, expr: cst.BaseExpression, origin: Origin) -> list[LoraCall | None]:
        found: list[LoraCall | None] = []
        for sub in origin.trace(expr, self.tracer):
            node = sub.node
            site = sub.index.site_of(node) if isinstance(node, cst.Call) else None
            found.append(build_call(sub.index, site) if site is not None and is_lora_config(sub.index, site) else None)
        return found or [None]

    def dtype(self, step: Step) -> str | None:
        """The dtype a load (``torch_dtype=``/``dtype=``) or cast step gives the weights, when static
        on every path: ``"float16"``, ``"bfloat16"``, ``"float32"``, ``"auto"``; a load without the
        keyword gives float32 (transformers' default before 5)."""
        if step.kind == CAST:
            method = step.node.func.attr.value if isinstance(step.node.func, cst.Attribute) else ""
            if method in _CAST_METHODS:
                return _CAST_METHODS[method]
            return self._dtype_of(step, step.node.args[0].value) if step.node.args else None
        expr = step.keyword("torch_dtype") or step.keyword("dtype")
        if expr is None:
            return None if step.open_ended else "default"
        return self._dtype_of(step, expr)

    def _dtype_of(self, step: Step, expr: cst.BaseExpression) -> str | None:
        origin = Origin(None, step.index, step.at, True, (), step.path)
        values = set()
        for sub in origin.trace(expr, self.tracer):
            values.add(_dtype_value(sub))
        return values.pop() if len(values) == 1 else None

    def _prequantized(self, step: Step) -> bool | None:
        """Whether a load's checkpoint is stored quantized (its config has ``quantization_config``):
        known only for a static id that resolves (``analysis.model.checkpoint``) and names no
        quantized variant (``-GPTQ``, ``-bnb-4bit``, ...); None otherwise."""
        from .model import checkpoint

        positional = [a.value for a in step.node.args if a.keyword is None and not a.star]
        expr = positional[0] if positional else step.keyword("pretrained_model_name_or_path")
        if expr is None:
            return None
        origin = Origin(None, step.index, step.at, True, (), step.path)
        answers = set()
        for sub in origin.trace(expr, self.tracer):
            name = sub.index.value_of(sub.node, sub.at.scope, sub.at.order) if sub.node is not None else None
            if not isinstance(name, str):
                return None
            if any(word in name.lower() for word in _QUANTIZED_WORDS):
                answers.add(True)
                continue
            resolved = checkpoint(name)
            if resolved is None:
                return None
            answers.add("quantization_config" in resolved.config)
        return True in answers if answers else None

    def quantized(self, step: Step) -> str | None:
        """How a load step quantizes the weights, when static on every path: ``"4bit"``/``"8bit"``
        (bitsandbytes), ``"other"`` (another ``quantization_config``, or a checkpoint stored
        quantized), ``"none"`` (only for a checkpoint known not to be); else None."""
        if step.kind not in (LOAD, AUTO_PEFT_LOAD):
            return "none" if step.kind == FROM_CONFIG else None
        found = set()
        for flag, kind in (("load_in_4bit", "4bit"), ("load_in_8bit", "8bit")):
            value = step.value(flag)
            if value is True:
                found.add(kind)
            elif value not in (False, None, MISSING):
                return None
        expr = step.keyword("quantization_config")
        if expr is None:
            if step.open_ended:
                return None
            if not found and step.kind == LOAD:
                checkpoint = self._prequantized(step)
                return None if checkpoint is None else "other" if checkpoint else "none"
        else:
            origin = Origin(None, step.index, step.at, True, (), step.path)
            kinds = {_quantization(sub) for sub in origin.trace(expr, self.tracer)}
            if None in kinds or len(kinds) != 1:
                return None
            found |= kinds - {"none"}
        if len(found) > 1:
            return None
        return found.pop() if found else "none"


def _settled(histories: list[History]) -> list[History]:
    """The histories with each step certain when every history is known and has it."""
    if not histories or not all(h.known for h in histories):
        return histories
    common = set.intersection(*({id(s.node) for s in h.steps} for h in histories))
    return [History(tuple(replace(s, certain=id(s.node) in common) for s in h.steps), h.known) for h in histories]


_QUANTIZED_WORDS = ("gptq", "awq", "bnb", "4bit", "8bit", "int4", "int8", "nf4", "exl2", "gguf", "fp8", "quant",
                    "hqq", "aqlm", "eetq", "-4b", "-8b-")


def _contains(tree: cst.CSTNode, node: cst.CSTNode) -> bool:
    stack = [tree]
    while stack:
        current = stack.pop()
        if current is node:
            return True
        stack.extend(subnodes(current))
    return False


def _dtype_value(origin: Origin) -> str | None:
    node = origin.node
    if node is None:
        return None
    qualname = origin.index.qualname(node, origin.at.scope) if isinstance(node, (cst.Name, cst.Attribute)) else None
    if qualname is not None and qualname.startswith("torch."):
        return _DTYPES.get(qualname[len("torch."):])
    value = origin.index.value_of(node, origin.at.scope, origin.at.order)
    return _DTYPES.get(value) if isinstance(value, str) else None


def _quantization(origin: Origin) -> str | None:
    """What a ``quantization_config`` value asks for: ``BitsAndBytesConfig(load_in_4bit=True)``
    is ``"4bit"``; ``None`` is ``"none"``; another known config class ``"other"``."""
    node = origin.node
    if node is None:
        return None
    if isinstance(node, cst.Name) and node.value == "None":
        return "none"
    if not isinstance(node, cst.Call):
        return None
    name = terminal_name(node.func) or ""
    qualname = origin.index.qualname(node.func, origin.at.scope) or ""
    if not qualname.startswith("transformers."):
        return None
    if name != "BitsAndBytesConfig":
        return "other" if name.endswith("Config") else None
    if any(a.star for a in node.args) or any(a.keyword is None for a in node.args):
        return None
    values = {a.keyword.value: origin.index.value_of(a.value, origin.at.scope, origin.at.order)
              for a in node.args if a.keyword is not None}
    bits = [kind for flag, kind in (("load_in_4bit", "4bit"), ("load_in_8bit", "8bit")) if values.get(flag) is True]
    if any(values.get(flag, False) not in (True, False) for flag in ("load_in_4bit", "load_in_8bit")):
        return None
    return bits[0] if len(bits) == 1 else None


def classify(index: FileIndex, node: cst.Call, scope: Scope) -> tuple[str | None, cst.BaseExpression | None]:
    """The step a call is (see the constants), and the model expression it transforms."""
    func = node.func
    positional = [a.value for a in node.args if a.keyword is None and not a.star]
    keywords = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
    if isinstance(func, cst.Attribute):
        method = func.attr.value
        owner = index.qualname(func.value, scope) or ""
        owner_name = owner.rpartition(".")[2]
        if method in ("from_pretrained", "from_config") and owner.startswith("transformers.") \
                and _MODEL_CLASS.match(owner_name) and not any(w in owner_name for w in _NOT_MODELS):
            return (LOAD if method == "from_pretrained" else FROM_CONFIG), None
        if method == "from_pretrained" and owner.startswith("peft."):
            if owner_name in AUTO_PEFT_CLASSES:
                return AUTO_PEFT_LOAD, None
            if owner_name in PEFT_MODEL_CLASSES:
                return PEFT_LOAD, positional[0] if positional else keywords.get("model")
            return None, None
        if owner:  # a module's function or a class of an import: not a model method
            return _function_step(f"{owner}.{method}", positional, keywords)
        if method == "merge_and_unload":
            return MERGE, func.value
        if method in _SAME_METHODS:
            if method == "to" and positional and _looks_like_dtype(index, positional[0], scope):
                return CAST, func.value
            return SAME, func.value
        if method in _CAST_METHODS:
            return CAST, func.value
        return None, None
    qualname = index.qualname(func, scope) or ""
    return _function_step(qualname, positional, keywords)


def _function_step(qualname: str, positional: list, keywords: dict) -> tuple[str | None, cst.BaseExpression | None]:
    if not qualname.startswith("peft."):
        return None, None
    name = qualname.rpartition(".")[2]
    model = positional[0] if positional else keywords.get("model")
    if name == "get_peft_model" or name in PEFT_MODEL_CLASSES:
        return GET_PEFT, model
    if name in ("prepare_model_for_kbit_training", "prepare_model_for_int8_training"):
        return KBIT_PREP, model
    return None, None


def _looks_like_dtype(index: FileIndex, expr: cst.BaseExpression, scope: Scope) -> bool:
    qualname = index.qualname(expr, scope) if isinstance(expr, (cst.Name, cst.Attribute)) else None
    return qualname is not None and qualname.startswith("torch.") and qualname[6:] in _DTYPES


def of(calls: Any, ctx: Any) -> Lifecycle | None:
    """The file's ``Lifecycle`` (``calls``: what the analysis found, with its ``index``), built once
    and shared by the rules."""
    index: FileIndex | None = getattr(calls, "index", None)
    if index is None:
        return None
    found = getattr(calls, "lifecycle", None)
    if found is None:
        from .modules import ModuleReader

        found = Lifecycle(index, Tracer(index, ModuleReader.for_file(ctx.filename)))
        calls.lifecycle = found
    return found
