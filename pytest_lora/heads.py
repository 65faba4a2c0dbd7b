"""assert_head_trainable: a classifier's freshly initialized head is trained and saved with the adapter."""
from __future__ import annotations

from pytest_lora.extras import require_models

# head attribute names of transformers' task classes, in the order they are looked for
HEAD_NAMES = ("score", "classifier", "classification_head", "qa_outputs", "head", "cls")
# class-name ending -> (the peft task_type that trains and saves the head, the head names it wraps)
_TASK_TYPES = {"ForSequenceClassification": ("SEQ_CLS", ("classifier", "score")),
               "ForTokenClassification": ("TOKEN_CLS", ("classifier", "score")),
               "ForQuestionAnswering": ("QUESTION_ANS", ("qa_outputs",))}


def _fix(base, head: str) -> str:
    task_type, wrapped = next((v for end, v in _TASK_TYPES.items() if type(base).__name__.endswith(end)), (None, ()))
    if head in wrapped:
        return f"pass task_type={task_type!r} (peft then trains and saves it) or modules_to_save=[{head!r}]"
    unwrapped = f" (task_type={task_type!r} wraps only {', '.join(wrapped)})" if task_type else ""
    return f"pass modules_to_save=[{head!r}]{unwrapped}"


def _describe(module) -> str:
    shapes = ", ".join(f"{leaf} {tuple(p.shape)}" for leaf, p in module.named_parameters())
    return f"{type(module).__name__}: {shapes}" if shapes else type(module).__name__


def assert_head_trainable(peft_model, head: str | None = None) -> str:
    """Assert a classifier's head is trained in full and saved with the adapter; returns its name.

    ``head`` is the attribute of the task model holding it (default: the first of ``score``,
    ``classifier``, ``classification_head``, ``qa_outputs``, ``head``, ``cls`` the model has). A head peft does not wrap
    for ``modules_to_save`` fails: frozen, it keeps its random initialization; unfrozen by hand
    or adapted by LoRA only, what is learned there is not saved, or not the head itself.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this module's
    require_models()
    import torch
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import ModulesToSaveWrapper

    from pytest_lora.targeting import original_module, unwrap
    from pytest_lora.trained import active_adapters

    base, _ = unwrap(peft_model)
    name = head or next((n for n in HEAD_NAMES if isinstance(getattr(base, n, None), torch.nn.Module)), None)
    if name is None:
        children = ", ".join(n for n, _ in base.named_children())
        raise ValueError(f"{type(base).__name__} has none of the head attributes {', '.join(HEAD_NAMES)} "
                         f"(its children: {children}): pass head=")
    module = base.get_submodule(name)
    described = f"{name} ({_describe(original_module(module))})"
    if isinstance(module, ModulesToSaveWrapper):
        adapter = active_adapters(peft_model)[0]
        copy = module.modules_to_save[adapter] if adapter in module.modules_to_save else None
        frozen = [leaf for leaf, p in (copy.named_parameters() if copy is not None else ()) if not p.requires_grad]
        if copy is not None and not frozen:
            return name
        raise AssertionError(f"the head {described} is in modules_to_save but its copy for adapter {adapter!r} "
                             f"is {'missing' if copy is None else 'frozen: ' + ', '.join(frozen)}")
    if isinstance(module, BaseTunerLayer) or any(isinstance(m, BaseTunerLayer) for m in module.modules()):
        raise AssertionError(f"the head {described} is adapted by LoRA only: its freshly initialized weights "
                             f"stay frozen and random under a low-rank update; {_fix(base, name)}")
    frozen = [leaf for leaf, p in module.named_parameters() if not p.requires_grad]
    if frozen:
        raise AssertionError(f"the head {described} is frozen: it keeps its random initialization and the "
                             f"classifier learns nothing useful; {_fix(base, name)}")
    raise AssertionError(f"the head {described} requires grad but is not in modules_to_save: save_pretrained "
                         f"leaves it out, so the saved adapter loads onto a random head; {_fix(base, name)}")
