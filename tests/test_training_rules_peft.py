"""What the training-script rules (LORA008-LORA019, LORA205) claim, shown with the installed peft (and
trl, bitsandbytes' CPU backend where a rule is about them) on a tiny CPU model built here (offline,
saved to tmp_path): each test lints the rule's own INVALID example and then does what it does with the
real packages."""
from __future__ import annotations

import os
import warnings

import pytest

from lint_rules.engine import lint_source

peft = pytest.importorskip("peft")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from peft import LoraConfig, PeftConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training  # noqa: E402

INPUT = torch.tensor([[1, 2, 3, 4, 5]])


def _base(**to) -> "torch.nn.Module":
    """A two-layer Llama with a 64-token vocabulary, the same weights at every call."""
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, num_key_value_heads=2)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    return model.to(**to) if to else model


def _lora(r: int = 4, **extra) -> LoraConfig:
    return LoraConfig(r=r, lora_alpha=8, target_modules=["q_proj", "v_proj"], **extra)


def _trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _logits(model) -> "torch.Tensor":
    with torch.no_grad():
        return model(INPUT).logits


@pytest.fixture
def trained_adapter(tmp_path):
    """An adapter saved after "training": its lora_B weights are no longer zero."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_peft_model(_base(), _lora())
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_()
    model.save_pretrained(tmp_path)
    return model, tmp_path


def _finds(rule, code: str) -> bool:
    return any(v.code == rule.CODE for v in lint_source(code, filename="case.py", select=[rule.CODE]))


def test_lora009_a_frozen_load_has_nothing_to_train(trained_adapter):
    from lint_rules.rules.lora009_adapter_loaded_frozen import AdapterLoadedFrozen

    assert _finds(AdapterLoadedFrozen, AdapterLoadedFrozen.INVALID[0].code)
    _, path = trained_adapter
    frozen = PeftModel.from_pretrained(_base(), path)
    assert _trainable(frozen) == 0
    assert _trainable(PeftModel.from_pretrained(_base(), path, is_trainable=True)) > 0
    loss = frozen(INPUT, labels=INPUT).loss
    with pytest.raises(RuntimeError, match="does not require grad"):  # the hand-written loop's backward()
        loss.backward()


def test_lora010_loading_into_a_wrapped_model_misses_the_adapter(trained_adapter):
    from lint_rules.rules.lora010_fresh_adapter_then_load import FreshAdapterThenLoad

    assert _finds(FreshAdapterThenLoad, FreshAdapterThenLoad.INVALID[0].code)
    trained, path = trained_adapter
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrapped = get_peft_model(_base(), _lora())
        loaded = PeftModel.from_pretrained(wrapped, path)
    assert any("missing adapter keys" in str(w.message) for w in caught)
    assert not torch.allclose(_logits(loaded), _logits(trained))
    assert torch.allclose(_logits(PeftModel.from_pretrained(_base(), path)), _logits(trained))


def test_lora010_a_config_read_from_an_adapter_makes_an_untrained_one(trained_adapter):
    from lint_rules.rules.lora010_fresh_adapter_then_load import FreshAdapterThenLoad

    assert _finds(FreshAdapterThenLoad, FreshAdapterThenLoad.INVALID[1].code)
    trained, path = trained_adapter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = get_peft_model(_base(), PeftConfig.from_pretrained(path))
    assert torch.allclose(_logits(fresh), _logits(_base()))
    assert not torch.allclose(_logits(fresh), _logits(trained))


def _roundtrip_script():
    """scripts/adapter_name_roundtrip.py, the save/reload round trip LORA011's data comes from."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "adapter_name_roundtrip.py"
    spec = importlib.util.spec_from_file_location("adapter_name_roundtrip", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lora011_what_the_installed_peft_does_with_a_name_inside_the_prefix():
    from packaging.version import Version

    from lint_rules.rules.lora011_adapter_name_collides import SAVED_WHOLE_SINCE, AdapterNameCollides

    case = AdapterNameCollides.INVALID[0]
    assert [v.severity for v in lint_source(case.code, filename="case.py", settings=case.settings,
                                            select=["LORA011"])] == ["error"]
    assert not _finds(AdapterNameCollides, case.code.replace("'lora'", "'math'"))
    script = _roundtrip_script()
    for name, warned in (("lora", True), ("a", True), ("lora_math", False), ("math", False)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            get_peft_model(_base(), _lora(), adapter_name=name)
        assert any("should not be contained in the prefix" in str(w.message) for w in caught) is warned, name
    outcomes = {(build.__name__, name): script.roundtrip(build, name)
                for build in (script.llama, script.gpt2) for name in ("lora", "a", "lora_math")}
    if Version(peft.__version__) >= Version(SAVED_WHOLE_SINCE):  # peft only warns: the rule is silent
        assert set(outcomes.values()) == {"kept"}
        assert not _finds(AdapterNameCollides, case.code)
    else:  # the saved keys lose ".lora" (q_proj_A.weight): reloaded, the adapter is the base model
        assert outcomes[("llama", "lora")] == outcomes[("gpt2", "lora")] == "lost"
        assert outcomes[("gpt2", "a")] == "lost" and outcomes[("llama", "a")] == "kept"
    assert outcomes[("llama", "lora_math")] == outcomes[("gpt2", "lora_math")] == "kept"


@pytest.mark.skipif(not os.environ.get("LORA_LINT_OLD_PEFT_PYTHON"),
                    reason="set LORA_LINT_OLD_PEFT_PYTHON to a Python whose peft is older than 0.18.0")
def test_lora011_an_older_peft_loses_the_adapter_named_lora():
    """The same round trip under a peft before 0.18.0 (a throwaway venv: torch, transformers,
    accelerate and an old peft), run in its own process."""
    import json
    import subprocess
    from pathlib import Path

    from packaging.version import Version

    script = Path(__file__).resolve().parents[1] / "scripts" / "adapter_name_roundtrip.py"
    done = subprocess.run([os.environ["LORA_LINT_OLD_PEFT_PYTHON"], str(script), "lora", "a", "lora_math"],
                          capture_output=True, text=True, timeout=600)
    rows = {(r["model"], r["name"]): r for r in map(json.loads, done.stdout.splitlines())}
    assert rows and all(Version(r["peft"]) < Version("0.18.0") for r in rows.values()), done.stderr
    assert rows[("llama", "lora")]["outcome"] == rows[("gpt2", "lora")]["outcome"] == "lost"
    assert rows[("gpt2", "a")]["outcome"] == "lost"
    assert rows[("llama", "lora_math")]["outcome"] == "kept"


def test_lora016_preparing_a_16_bit_model_doubles_its_memory():
    from lint_rules.rules.lora016_kbit_prep_misuse import KbitPrepMisuse

    assert _finds(KbitPrepMisuse, KbitPrepMisuse.INVALID[0].code)
    model = _base(dtype=torch.bfloat16)
    before = sum(p.numel() * p.element_size() for p in model.parameters())
    model = prepare_model_for_kbit_training(model)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert sum(p.numel() * p.element_size() for p in model.parameters()) == 2 * before


def test_lora016_preparing_after_get_peft_model_freezes_the_adapter():
    from lint_rules.rules.lora016_kbit_prep_misuse import KbitPrepMisuse

    assert _finds(KbitPrepMisuse, KbitPrepMisuse.INVALID[1].code)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_peft_model(_base(), _lora())
    assert _trainable(model) > 0
    assert _trainable(prepare_model_for_kbit_training(model)) == 0


def test_lora008_a_resize_after_wrapping_leaves_the_new_rows_out_of_the_adapter():
    from lint_rules.rules.lora008_new_tokens_not_trained import NewTokensNotTrained

    assert _finds(NewTokensNotTrained, NewTokensNotTrained.INVALID[1].code)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_peft_model(_base(), _lora())
        model.resize_token_embeddings(70)  # 6 new tokens
    embedding = model.get_input_embeddings().weight
    assert embedding.shape[0] == 70
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)  # nothing trains the new rows
    # unless it is a new trainable module (older transformers): then it trains outside the adapter
    assert not any("embed_tokens" in key for key in peft.get_peft_model_state_dict(model))


def test_lora008_a_resize_before_wrapping_without_saving_the_embedding():
    from lint_rules.rules.lora008_new_tokens_not_trained import NewTokensNotTrained

    assert _finds(NewTokensNotTrained, NewTokensNotTrained.INVALID[0].code)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = _base()
        base.resize_token_embeddings(70)
        model = get_peft_model(base, _lora())
        saved = get_peft_model(_resized(), _lora(modules_to_save=["embed_tokens", "lm_head"]))
    assert not model.get_input_embeddings().weight.requires_grad
    assert not any("embed_tokens" in key for key in peft.get_peft_model_state_dict(model))
    assert any("embed_tokens" in key for key in peft.get_peft_model_state_dict(saved))


def _resized():
    model = _base()
    model.resize_token_embeddings(70)
    return model


def test_lora018_fp16_trainable_copies_fail_the_first_amp_step():
    from lint_rules.rules.lora018_fp16_trainables_with_amp import Fp16TrainablesWithAmp

    case = Fp16TrainablesWithAmp.INVALID[0]
    assert any(v.code == "LORA018" for v in lint_source(case.code, filename="case.py", settings=case.settings,
                                                       select=["LORA018"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_peft_model(_base(dtype=torch.float16), _lora(modules_to_save=["lm_head"]))
        plain = get_peft_model(_base(dtype=torch.float16), _lora())
    assert {p.dtype for p in plain.parameters() if p.requires_grad} == {torch.float32}  # peft >= 0.12 upcasts
    assert torch.float16 in {p.dtype for p in model.parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    scaler = torch.amp.GradScaler("cpu")
    with torch.autocast("cpu", dtype=torch.float16):
        loss = model(INPUT, labels=INPUT).loss
    scaler.scale(loss).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        scaler.unscale_(optimizer)


def test_lora019_reentrant_checkpointing_after_wrapping_stops_the_gradients():
    from lint_rules.rules.lora019_gc_without_input_grads import GcWithoutInputGrads

    case = GcWithoutInputGrads.INVALID[0]
    assert any(v.code == "LORA019" for v in lint_source(case.code, filename="case.py", settings=case.settings,
                                                       select=["LORA019"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_peft_model(_base(), _lora(modules_to_save=["lm_head"]))  # lm_head keeps a graph to backward
        # what gradient_checkpointing_enable() does before transformers 5: reentrant, and no input-grad hook
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
        model.disable_input_require_grads()
        model.train()
        model(INPUT, labels=INPUT).loss.backward()
    lora = [p for name, p in model.named_parameters() if "lora_" in name]
    assert lora and all(p.grad is None for p in lora)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.zero_grad()
        model.enable_input_require_grads()
        model(INPUT, labels=INPUT).loss.backward()
    assert all(p.grad is not None for p in lora)


def test_lora205_a_plain_peft_model_names_no_labels():
    from transformers.utils import find_labels

    from lint_rules.rules.lora205_eval_label_names import EvalLabelNames

    case = EvalLabelNames.INVALID[0]
    assert any(v.code == "LORA205" for v in lint_source(case.code, filename="case.py", settings=case.settings,
                                                       select=["LORA205"]))
    # what Trainer before 4.55.0 calls on the model's class to find the label names
    assert find_labels(peft.PeftModel) == []
    assert find_labels(peft.PeftModelForCausalLM) == ["labels"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = get_peft_model(_base(), _lora())
        typed = get_peft_model(_base(), _lora(task_type="CAUSAL_LM"))
    assert type(plain) is peft.PeftModel and type(typed) is peft.PeftModelForCausalLM


def test_lora015_a_trl_trainer_given_a_peft_model_and_a_peft_config(tmp_path):
    """The installed trl refuses the pair (huggingface/trl#4713); what older trl did, get_peft_model on the
    PeftModel, nests a second wrapper whose saved adapter does not load back into the base model."""
    from lint_rules.rules.lora015_peft_model_plus_peft_config import PeftModelPlusPeftConfig

    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    from tokenizers import Tokenizer, models

    assert _finds(PeftModelPlusPeftConfig, PeftModelPlusPeftConfig.INVALID[0].code)
    config = _lora(task_type="CAUSAL_LM")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = get_peft_model(_base(), config)
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{f"t{i}": i for i in range(3, 64)}}
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")), pad_token="<pad>", eos_token="</s>",
        unk_token="<unk>")
    args = trl.SFTConfig(output_dir=str(tmp_path / "run"), report_to=[], max_steps=1, bf16=False, use_cpu=True)
    data = datasets.Dataset.from_dict({"input_ids": [[3, 4, 5, 6]] * 4})
    with pytest.raises(ValueError, match="PeftModel` instance together with a `peft_config`"):
        trl.SFTTrainer(model=wrapped, args=args, train_dataset=data, peft_config=config, processing_class=tokenizer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twice = get_peft_model(wrapped, config)  # what trl before the check did with the pair
        with torch.no_grad():
            for name, param in twice.named_parameters():
                if "lora_B" in name:
                    param.normal_()
        twice.save_pretrained(tmp_path / "adapter")
        reloaded = PeftModel.from_pretrained(_base(), tmp_path / "adapter")
    assert any(name.startswith("base_model.model.base_model.model.") for name, _ in twice.named_modules())
    assert not torch.allclose(_logits(twice), _logits(_base()))
    assert torch.allclose(_logits(reloaded), _logits(_base()))  # none of the saved weights found their layer


def test_lora017_merging_into_a_4_bit_base_rounds_the_update_away():
    """A LoRA update of a realistic size (|B@A*scale| a thousandth of |W|) merged into an NF4 weight on the
    CPU (bitsandbytes' CPU backend): re-quantizing leaves almost every 4-bit code as it was, and the merged
    layer's output is further from the adapter's than the adapter's whole effect."""
    from lint_rules.rules.lora017_merge_into_quantized import MergeIntoQuantized

    bnb = pytest.importorskip("bitsandbytes")
    from bitsandbytes.functional import quantize_4bit

    assert _finds(MergeIntoQuantized, MergeIntoQuantized.INVALID[0].code)
    torch.manual_seed(0)
    weight = torch.nn.Linear(256, 256, bias=False).weight.data
    update = torch.randn(256, 8) @ torch.randn(8, 256)
    update *= 1e-3 * weight.norm() / update.norm()
    before, _ = quantize_4bit(weight, quant_type="nf4")
    after, _ = quantize_4bit(weight + update, quant_type="nf4")
    codes = [torch.stack([t.flatten() >> 4, t.flatten() & 15]) for t in (before, after)]
    assert (codes[0] == codes[1]).float().mean() > 0.99

    class Layer(torch.nn.Module):
        is_loaded_in_4bit = True  # what from_pretrained(..., load_in_4bit=True) sets: peft picks its 4-bit LoRA layer

        def __init__(self) -> None:
            super().__init__()
            self.proj = bnb.nn.Linear4bit(256, 256, bias=False, compute_dtype=torch.float32, quant_type="nf4")
            self.proj.weight = bnb.nn.Params4bit(weight, requires_grad=False, quant_type="nf4").to("cpu")

        def forward(self, x):
            return self.proj(x)

    inputs = torch.randn(32, 256)
    model = Layer()
    with torch.no_grad():
        base = model(inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["proj"]))
    lora = model.base_model.model.proj
    with torch.no_grad():
        lora.lora_A["default"].weight.normal_()
        lora.lora_B["default"].weight.normal_()
        lora.lora_B["default"].weight.mul_(1e-3 * weight.norm() / lora.get_delta_weight("default").norm())
        adapted = model(inputs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        merged = model.merge_and_unload()
    assert any("rounding errors" in str(w.message) for w in caught)
    with torch.no_grad():
        result = merged(inputs)
    assert (result - adapted).norm() > (adapted - base).norm()
