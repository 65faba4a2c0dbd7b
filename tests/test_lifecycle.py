"""analysis.lifecycle: the steps of each model object, in order, and which of them are certain."""
from __future__ import annotations

import libcst as cst

from lint_rules.analysis.flow import Tracer
from lint_rules.analysis.index import FileIndex
from lint_rules.analysis.lifecycle import Lifecycle

HEAD = ("import torch\n"
        "from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training\n"
        "from transformers import AutoModelForCausalLM, BitsAndBytesConfig, Trainer, TrainingArguments\n\n")


def _lifecycle(body: str) -> Lifecycle:
    index = FileIndex.build(cst.parse_module(HEAD + body))
    return Lifecycle(index, Tracer(index))


def _at(lc: Lifecycle, method: str, nth: int = 0):
    """The histories of the receiver of the ``nth`` call of ``method``."""
    site = lc.index.calls_by_name[method][nth]
    return lc.histories(site.node.func.value, site)


def _kinds(history) -> list[tuple[str, bool]]:
    return [(step.kind, step.certain) for step in history.steps]


def test_steps_in_order_with_in_place_calls_placed_by_position():
    lc = _lifecycle("model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
                    "model.gradient_checkpointing_enable()\n"
                    "model = prepare_model_for_kbit_training(model)\n"
                    "peft = get_peft_model(model, LoraConfig())\n"
                    "model.resize_token_embeddings(10)\n"
                    "peft.merge_and_unload()\n")
    (history,) = _at(lc, "merge_and_unload")
    assert history.known
    assert _kinds(history) == [("load", True), ("gradient_checkpointing_enable", True), ("kbit_prep", True),
                               ("get_peft_model", True), ("resize_token_embeddings", True)]


def test_a_step_inside_an_if_is_not_certain():
    lc = _lifecycle("model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
                    "if args.gc:\n    model.gradient_checkpointing_enable()\n"
                    "if args.lora:\n    model = get_peft_model(model, LoraConfig())\n"
                    "model.merge_and_unload()\n")
    histories = _at(lc, "merge_and_unload")
    assert len(histories) == 2  # wrapped or not
    wrapped = next(h for h in histories if h.of("get_peft_model"))
    assert _kinds(wrapped) == [("load", True), ("gradient_checkpointing_enable", False), ("get_peft_model", False)]
    plain = next(h for h in histories if not h.of("get_peft_model"))
    assert ("gradient_checkpointing_enable", False) in _kinds(plain)


def test_through_a_helper_function_and_its_in_place_calls():
    lc = _lifecycle("def load(name):\n"
                    "    m = AutoModelForCausalLM.from_pretrained(name, load_in_4bit=True, torch_dtype=torch.float16)\n"
                    "    m.gradient_checkpointing_enable()\n"
                    "    return m\n\n"
                    "model = get_peft_model(load('gpt2'), LoraConfig())\n"
                    "model.merge_and_unload()\n")
    (history,) = _at(lc, "merge_and_unload")
    assert _kinds(history) == [("load", True), ("gradient_checkpointing_enable", True), ("get_peft_model", True)]
    assert lc.quantized(history.creation) == "4bit" and lc.dtype(history.creation) == "float16"


def test_an_unknown_origin_or_call_leaves_the_history_unknown():
    lc = _lifecycle("model = build_model(args)\nmodel = get_peft_model(model, LoraConfig())\nmodel.merge_and_unload()\n"
                    "other = AutoModelForCausalLM.from_pretrained('gpt2')\nother = accelerate(other)\n"
                    "other.merge_and_unload()\n")
    assert not any(h.known for h in _at(lc, "merge_and_unload", 0))
    assert not any(h.known for h in _at(lc, "merge_and_unload", 1))


def test_quantization_and_dtype_only_when_static_on_every_path():
    lc = _lifecycle("bnb = BitsAndBytesConfig(load_in_8bit=True)\n"
                    "a = AutoModelForCausalLM.from_pretrained('gpt2', quantization_config=bnb)\n"
                    "b = AutoModelForCausalLM.from_pretrained('gpt2', quantization_config=bnb if q else None)\n"
                    "c = AutoModelForCausalLM.from_pretrained('gpt2', **kwargs)\n"
                    "d = AutoModelForCausalLM.from_pretrained('gpt2', torch_dtype='bfloat16')\n"
                    "for m in (a, b, c, d):\n    pass\n"
                    "a.merge_and_unload(); b.merge_and_unload(); c.merge_and_unload(); d.merge_and_unload()\n")
    loads = [_at(lc, "merge_and_unload", n)[0].creation for n in range(4)]
    assert [lc.quantized(step) for step in loads] == ["8bit", None, None, "none"]
    assert [lc.dtype(step) for step in loads] == ["default", "default", None, "bfloat16"]


def test_trainings_need_train_called_or_a_loop_with_backward():
    lc = _lifecycle("model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
                    "args = TrainingArguments(output_dir='o', fp16=True)\n"
                    "trainer = Trainer(model=model, args=args)\n"
                    "trainer.train()\n"
                    "evaluator = Trainer(model=model, args=args)\n"
                    "evaluator.evaluate()\n"
                    "optimizer = torch.optim.AdamW(model.parameters())\n"
                    "loss.backward()\n")
    kinds = [(t.kind, t.trainer) for t in lc.trainings()]
    assert kinds == [("trainer", "Trainer"), ("loop", None)]
    (args,) = lc.trainings()[0].args
    assert args.value("fp16") is True and args.value("bf16") is not True


def test_a_module_level_model_followed_into_main_as_the_script_runs():
    lc = _lifecycle("model = AutoModelForCausalLM.from_pretrained('gpt2', load_in_4bit=True)\n"
                    "model.gradient_checkpointing_enable()\n\n"
                    "def main():\n"
                    "    global model\n"
                    "    model = get_peft_model(model, LoraConfig())\n"
                    "    model.merge_and_unload()\n\n"
                    "if __name__ == '__main__':\n"
                    "    main()\n"
                    "    model.resize_token_embeddings(10)\n")
    (history,) = _at(lc, "merge_and_unload")
    assert _kinds(history) == [("load", True), ("gradient_checkpointing_enable", True), ("get_peft_model", True)]


def test_an_in_place_call_at_module_level_counts_only_when_it_runs_before_main():
    lc = _lifecycle("model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
                    "if args.gc:\n    model.gradient_checkpointing_enable()\n\n"
                    "def main():\n"
                    "    get_peft_model(model, LoraConfig()).merge_and_unload()\n\n"
                    "main()\n"
                    "model.enable_input_require_grads()\n")
    (history,) = _at(lc, "merge_and_unload")
    assert ("gradient_checkpointing_enable", False) in _kinds(history)
    assert ("enable_input_require_grads", True) not in _kinds(history)
