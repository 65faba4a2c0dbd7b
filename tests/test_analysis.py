"""The analysis pass on its own: import styles, static values, guards, model inference."""
from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from lint_rules.analysis import UNKNOWN, collect_calls
from lint_rules.rule import RuleContext


def calls(source: str, **ctx: object):
    wrapper = cst.MetadataWrapper(cst.parse_module(textwrap.dedent(source)))
    context = RuleContext("t.py", "", "test", ("0.21.2",), **ctx)
    return collect_calls(wrapper, context)


def one(source: str, **ctx: object):
    found = calls(source, **ctx)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("source", [
    "from peft import LoraConfig\nLoraConfig(r=4)",
    "from peft import LoraConfig as LC\nLC(r=4)",
    "import peft\npeft.LoraConfig(r=4)",
    "import peft as p\np.LoraConfig(r=4)",
    "from peft.tuners.lora import LoraConfig\nLoraConfig(r=4)",
    "from peft.tuners.lora.config import LoraConfig\nLoraConfig(r=4)",
    "import peft.tuners.lora\npeft.tuners.lora.LoraConfig(r=4)",
    "from peft.tuners import lora\nlora.LoraConfig(r=4)",
    "from peft import *\nLoraConfig(r=4)",
    "from mylib import *\nfrom peft import *\nLoraConfig(r=4)",
    "def f():\n    from peft import LoraConfig\n    return LoraConfig(r=4)",
    "try:\n    from peft import LoraConfig\nexcept ImportError:\n    LoraConfig = None\nLoraConfig(r=4)",
])
def test_import_styles_are_recognised(source):
    assert one(source).keywords["r"].value == 4


@pytest.mark.parametrize("source", [
    "from mylib import LoraConfig\nLoraConfig(r=4)",
    "class LoraConfig:\n    pass\nLoraConfig(r=4)",
    "from peft import LoraConfig\nclass MyConfig(LoraConfig):\n    pass\nMyConfig(r=4)",
    "from peft import LoraConfig\nLoraConfig = make_config\nLoraConfig(r=4)",
    "from peft import *\nfrom mylib import *\nLoraConfig(r=4)",
    "import peft\ndef f(peft):\n    return peft.LoraConfig(r=4)",
    "LoraConfig(r=4)  # peft is not imported",
])
def test_same_name_elsewhere_is_not_peft(source):
    assert calls(source) == []


def test_module_constants_and_arithmetic():
    call = one("""
        from peft import LoraConfig
        R = 8
        ALPHA = 2 * R
        TARGETS = ["q_proj", "v_proj"]
        LoraConfig(r=R, lora_alpha=ALPHA, target_modules=TARGETS, lora_dropout=-0.5 + 0.55)
    """)
    assert call.value("r") == 8 and call.value("lora_alpha") == 16
    assert call.value("target_modules") == ["q_proj", "v_proj"]
    assert call.value("lora_dropout") == pytest.approx(0.05)
    assert call.keywords["r"].arg is not None and not call.open_ended


@pytest.mark.parametrize("source", [
    "R = 8\nR = 16\nLoraConfig(r=R)",  # reassigned
    "R = 8\nR += 8\nLoraConfig(r=R)",
    "LoraConfig(r=R)\nR = 8",  # bound after the use
    "R = 8\ndef g():\n    global R\n    R = 32\nLoraConfig(r=R)",
    "for R in (8, 16):\n    LoraConfig(r=R)",
    "R = int(os.environ['R'])\nLoraConfig(r=R)",
    "T = ['q_proj']\nT.append('k_proj')\nLoraConfig(r=T)",
    "T = ['q_proj']\nextend(T)\nLoraConfig(r=T)",
    "LoraConfig(r=args.rank)",
    "LoraConfig(r=f'{x}')",
])
def test_unprovable_values_are_unknown(source):
    call = one("import os\nfrom peft import LoraConfig\n" + source)
    assert call.value("r") is UNKNOWN


def test_dict_splats():
    literal = one("from peft import LoraConfig\nLoraConfig(**{'r': 4, 'lora_alpha': 8})")
    assert literal.value("r") == 4 and literal.keywords["r"].arg is not None and not literal.open_ended
    named = one("from peft import LoraConfig\nkw = dict(r=4, target_modules=['c_attn'])\nLoraConfig(**kw)")
    assert named.value("target_modules") == ["c_attn"]
    assert named.keywords["r"].arg is None  # written elsewhere: reported at **kw, not fixed
    assert isinstance(named.keywords["r"].report_node, cst.Arg)
    nested = one("from peft import LoraConfig\nbase = {'r': 4}\nkw = {**base, 'lora_alpha': 8}\nLoraConfig(**kw)")
    assert nested.value("r") == 4 and nested.value("lora_alpha") == 8


@pytest.mark.parametrize("source", [
    "LoraConfig(**kwargs)",
    "LoraConfig(**load())",
    "kw = {'r': 4}\nkw['r'] = 8\nLoraConfig(**kw)",
    "kw = {'r': 4}\nkw.update(r=8)\nLoraConfig(**kw)",
    "LoraConfig(8)",
    "LoraConfig(*args)",
    "LoraConfig(**{key: 4})",
])
def test_open_ended_calls(source):
    call = one("from peft import LoraConfig\n" + source)
    assert call.open_ended
    assert call.value("lora_alpha", {"lora_alpha": 8}) is UNKNOWN  # omitted is not provable


def test_omitted_takes_the_given_default():
    call = one("from peft import LoraConfig\nLoraConfig(r=4)")
    assert call.value("lora_alpha", {"lora_alpha": 8}) == 8
    assert call.value("lora_alpha") is UNKNOWN


def test_function_defaults():
    kept = one("from peft import LoraConfig\ndef build(r=8):\n    return LoraConfig(r=r)\nbuild()")
    assert kept.value("r") == 8
    method = one("""
        from peft import LoraConfig
        class Trainer:
            def config(self, r=4, *, alpha=8):
                return LoraConfig(r=r, lora_alpha=alpha)
        Trainer().config()
    """)
    assert method.value("r") == 4 and method.value("lora_alpha") == 8


@pytest.mark.parametrize("source", [
    "def build(r=8):\n    return LoraConfig(r=r)\nbuild(16)",
    "def build(r=8):\n    return LoraConfig(r=r)\nbuild(r=16)",
    "def build(r=8):\n    return LoraConfig(r=r)\nbuild(**opts)",
    "def build(r=8):\n    r = r * 2\n    return LoraConfig(r=r)",
    "@app.command()\ndef build(r=8):\n    return LoraConfig(r=r)",
    "def build(r=8):\n    return LoraConfig(r=r)\nfire.Fire(build)",
    "def build(r=8):\n    return LoraConfig(r=r)",  # never called here: the callers are elsewhere
])
def test_overridable_defaults_are_unknown(source):
    assert one("from peft import LoraConfig\n" + source).value("r") is UNKNOWN


@pytest.mark.parametrize("source", [
    # OpenRLHF's Actor: `Actor(...)` runs __init__ without naming it; `super().__init__()` is nn.Module's
    """
    class Actor(nn.Module):
        def __init__(self, lora_rank=0):
            super().__init__()
            if lora_rank > 0:
                self.config = LoraConfig(r=lora_rank)
    """,
    """
    class Wrapper:
        def __call__(self, r=0):
            return LoraConfig(r=r)
    Wrapper()()
    """,
    # a method that overrides a base class's: its callers dispatch to it from anywhere
    """
    class Mine(Base):
        def build(self, r=0):
            super().build()
            return LoraConfig(r=r)
    """,
])
def test_defaults_of_methods_called_without_their_name_are_unknown(source):
    assert one("from peft import LoraConfig\n" + textwrap.dedent(source)).value("r") is UNKNOWN


def test_attributes_set_after_the_call_are_unknown():
    set_later = one("from peft import LoraConfig\nconfig = LoraConfig(r=16, lora_alpha=16)\n"
                    "config.lora_alpha = 32\n")
    assert set_later.value("lora_alpha") is UNKNOWN and set_later.value("r") == 16
    assert set_later.get("lora_alpha").value is UNKNOWN  # rules reading the keyword see it too
    omitted = one("from peft import LoraConfig\nconfig = LoraConfig(r=16)\n"
                  "def tune(a):\n    config.lora_alpha, config.lora_dropout = a, 0.1\n")
    assert omitted.value("lora_alpha", {"lora_alpha": 8, "r": 8}) is UNKNOWN
    assert omitted.value("r", {"r": 8}) == 16
    for source in ("setattr(config, name, 4)", "config.__dict__.update(extra)", "vars(config).update(extra)"):
        anything = one("from peft import LoraConfig\nconfig = LoraConfig(r=16)\n" + source)
        assert anything.value("r") is UNKNOWN and anything.value("lora_alpha", {"lora_alpha": 8}) is UNKNOWN
    named = one("from peft import LoraConfig\nconfig = LoraConfig(r=16, lora_alpha=16)\n"
                "setattr(config, 'lora_alpha', 32)\n")
    assert named.value("lora_alpha") is UNKNOWN and named.value("r") == 16
    read = one("from peft import LoraConfig\nconfig = LoraConfig(r=16)\nprint(config.r, config.lora_alpha)\n")
    assert read.value("r") == 16  # reading an attribute changes nothing


@pytest.mark.parametrize("source", [
    "if version.parse(peft.__version__) >= version.parse('0.9'):\n    LoraConfig(use_dora=True)",
    "if importlib.metadata.version('peft') < '0.9':\n    pass\nelse:\n    LoraConfig(use_dora=True)",
    "if x:\n    pass\nelif PEFT_VERSION >= (0, 9):\n    pass\nelse:\n    LoraConfig(use_dora=True)",
    "NEW = version.parse(peft.__version__) >= version.parse('0.9')\nif NEW:\n    LoraConfig(use_dora=True)",
    "if hasattr(LoraConfig, 'use_dora'):\n    LoraConfig(use_dora=True)",
    "try:\n    c = LoraConfig(use_dora=True)\nexcept TypeError:\n    c = LoraConfig()",
    "if version.parse(peft.__version__) < version.parse('0.9'):\n    raise ImportError('peft >= 0.9')\nLoraConfig(use_dora=True)",
    "def f():\n    assert peft.__version__ >= '0.9'\n    return LoraConfig(use_dora=True)",
])
def test_version_guards(source):
    found = calls("import importlib.metadata, peft\nfrom packaging import version\n"
                  "from peft import LoraConfig\n" + source)
    with_dora = [c for c in found if "use_dora" in c.keywords]
    assert with_dora and all(c.is_guarded("use_dora") for c in with_dora)


def test_guarded_splat_and_unguarded_code():
    call = one("import peft\nfrom peft import LoraConfig\n"
               "LoraConfig(r=8, **({'use_dora': True} if peft.__version__ >= '0.9' else {}))")
    assert call.is_guarded("use_dora") and not call.is_guarded("r")
    assert call.open_ended and call.value("use_dora") is UNKNOWN
    plain = one("from peft import LoraConfig\nif big:\n    LoraConfig(use_dora=True)")
    assert not plain.is_guarded("use_dora")


SEED = """
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM
model = AutoModelForCausalLM.from_pretrained("gpt2")
config = LoraConfig(r=8, target_modules=["q_proj", "v_proj"])
model = get_peft_model(model, config)
"""


def test_model_from_the_file_flow():
    call = one(SEED)
    assert (call.model.name, call.model.model_type, call.model.task) == ("gpt2", "gpt2", "causal_lm")
    assert "from_pretrained" in call.model.source
    assert call.model.architecture.class_name == "GPT2LMHeadModel"


@pytest.mark.parametrize("source, expected", [
    ("MODEL_ID = 'gpt2'\n"
     "m = AutoModelForSequenceClassification.from_pretrained(MODEL_ID)\n"
     "m = prepare(m)\nget_peft_model(m, LoraConfig(r=4))", ("gpt2", "sequence_classification")),
    ("def load(name='bert-base-uncased'):\n    return AutoModel.from_pretrained(name)\n"
     "m = AutoModel.from_pretrained('roberta-base')\nc = LoraConfig(r=4)\nm.add_adapter(c)",
     ("roberta-base", "base")),
    ("SFTTrainer(model='facebook/opt-350m', peft_config=LoraConfig(r=4))", ("facebook/opt-350m", "causal_lm")),
    ("LoraConfig(r=4, base_model_name_or_path='t5-small', task_type='SEQ_2_SEQ_LM')", ("t5-small", "seq2seq_lm")),
    ("# lora-lint: model=gpt2\nLoraConfig(r=4)", ("gpt2", "causal_lm")),
    ("# lora-lint: model=bigscience/bloom-560m\nx = 1\n\nc = LoraConfig(r=4)  # lora-lint: model=gpt2\n",
     ("gpt2", "causal_lm")),
])
def test_model_sources(source, expected):
    call = one("from peft import LoraConfig, get_peft_model\nfrom transformers import *\n" + source)
    assert (call.model.name, call.model.task) == expected


def test_model_from_settings_and_unknown_models():
    assert one("from peft import LoraConfig\nLoraConfig(r=4)", model="gpt2").model.name == "gpt2"
    assert one("from peft import LoraConfig\nLoraConfig(r=4)").model is None
    guessed = one("from peft import LoraConfig\nLoraConfig(r=4)", model="my-llama-finetune")
    assert guessed.model is None  # a name guess is not trusted
    two = one("from peft import LoraConfig, get_peft_model\nc = LoraConfig(r=4)\n"
              "get_peft_model(A.from_pretrained('gpt2'), c)\nget_peft_model(A.from_pretrained('t5-small'), c)")
    assert two.model is None  # applied to two different models: nothing certain
    helper = one("from peft import LoraConfig, get_peft_model\nget_peft_model(load(), LoraConfig(r=4))",
                 model="gpt2")
    assert helper.model.name == "gpt2"  # the flow says nothing, the setting decides
    starred = one("from peft import LoraConfig, PeftModel\nc = LoraConfig(r=4)\n"
                  "PeftModel(*head, A.from_pretrained('gpt2'), c)")
    assert starred.model is None  # after *head, no position is known
    pinned = "get_peft_model(A.from_pretrained('microsoft/phi-2', revision={}), LoraConfig(r=4))"
    assert one("from peft import LoraConfig, get_peft_model\n" + pinned.format("'834565c'")).model is None
    assert one("from peft import LoraConfig, get_peft_model\n" + pinned.format("REV")).model is None
    assert one("from peft import LoraConfig, get_peft_model\n" + pinned.format("'main'")).model.name == "microsoft/phi-2"


def test_task_type_enum_members_are_their_strings():
    call = one("import peft\nfrom peft import LoraConfig, TaskType\n"
               "LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, bias=peft.TaskType.CAUSAL_LM, r=Other.X)")
    assert call.value("task_type") == "SEQ_2_SEQ_LM" and call.value("bias") == "CAUSAL_LM"
    assert call.value("r") is UNKNOWN


def test_a_broad_try_is_not_a_version_guard():
    call = one("from peft import LoraConfig\ntry:\n    LoraConfig(use_dora=True)\nexcept Exception:\n    pass")
    assert not call.is_guarded("use_dora")


def test_a_repeated_import_is_still_peft():
    source = ("from typing import TYPE_CHECKING\nimport peft\nimport peft.tuners.lora\n"
              "if TYPE_CHECKING:\n    from peft import LoraConfig\nfrom peft import LoraConfig\n"
              "LoraConfig(r=4)\npeft.tuners.lora.LoraConfig(r=4)")
    assert [c.value("r") for c in calls(source)] == [4, 4]


@pytest.mark.parametrize("expression", ["10 ** 10 ** 9", "['q_proj'] * 10 ** 9", "(10 ** 60) ** 6", "9" * 400,
                                        "['q_proj'] * 1000 * 1000 * 1000", "'ab' * 1000 * 1000 * 1000"])
def test_costly_arithmetic_is_unknown(expression):
    assert one(f"from peft import LoraConfig\nLoraConfig(r={expression})").value("r") is UNKNOWN


def test_an_early_return_on_old_peft_guards_the_rest_of_the_function():
    found = calls("import peft\nfrom packaging.version import Version\nfrom peft import LoraConfig\n"
                  "def make():\n    if Version(peft.__version__) < Version('0.9.0'):\n"
                  "        return LoraConfig(r=8)\n    return LoraConfig(r=8, use_dora=True)\n"
                  "LoraConfig(r=8, use_rslora=True)\n")
    assert [c.is_guarded("use_dora") for c in found if "use_dora" in c.keywords] == [True]
    assert [c.is_guarded("use_rslora") for c in found if "use_rslora" in c.keywords] == [False]


@pytest.mark.parametrize("writer", [
    "peft_config = config\npeft_config.lora_alpha = 32",
    "for c in (config, other):\n    c.lora_alpha = 2 * c.r",
    "def fix(c):\n    c.lora_alpha = 2 * c.r\nfix(config)",
    "def fix(c):\n    setattr(c, 'lora_alpha', 2 * c.r)\nfix(config)",
    "configs = [config]\nconfigs[0].lora_alpha = 32",
])
def test_attributes_set_through_another_name_are_unknown(writer):
    found = calls("from peft import LoraConfig\nconfig = LoraConfig(r=16, lora_alpha=16)\n"
                  "other = LoraConfig(r=8, lora_alpha=16)\n" + writer + "\n")
    assert found[0].value("lora_alpha") is UNKNOWN and found[0].value("r") == 16


def test_attributes_set_on_other_objects_leave_the_config_known():
    found = calls("from peft import LoraConfig\nimport peft\nconfig = LoraConfig(r=16, lora_alpha=32)\n"
                  "other = LoraConfig(r=8)\nother.lora_alpha = 4\nclass T:\n    def __init__(self, lora_alpha):\n"
                  "        self.lora_alpha = lora_alpha\npeft.lora_alpha = 1\n"
                  "for k, v in extra.items():\n    setattr(args, k, v)\n")
    assert found[0].value("lora_alpha") == 32 and found[1].value("lora_alpha") is UNKNOWN


def test_a_version_check_in_a_function_of_the_file_guards():
    found = calls("import peft\nfrom packaging import version\nfrom peft import LoraConfig\n"
                  "def peft_supports_dora():\n    return version.parse(peft.__version__) >= version.parse('0.9')\n"
                  "def unrelated():\n    return True\n"
                  "if peft_supports_dora():\n    LoraConfig(use_dora=True)\n"
                  "if unrelated():\n    LoraConfig(use_dora=True)\n")
    assert [c.is_guarded("use_dora") for c in found] == [True, False]


def test_a_broad_try_with_a_fallback_config_is_a_version_guard():
    found = calls("from peft import LoraConfig\ntry:\n    c = LoraConfig(use_dora=True)\n"
                  "except Exception:\n    c = LoraConfig()\n"
                  "try:\n    d = LoraConfig(use_dora=True)\nexcept:\n    d = LoraConfig()\n")
    assert [c.is_guarded("use_dora") for c in found if "use_dora" in c.keywords] == [True, True]


@pytest.mark.parametrize("source", [
    "pytestmark = pytest.mark.skipif(Version(peft.__version__) < Version('0.9'), reason='DoRA')\n"
    "def test():\n    LoraConfig(use_dora=True)",
    "@pytest.mark.skipif(Version(peft.__version__) < Version('0.9'), reason='DoRA')\n"
    "def test():\n    LoraConfig(use_dora=True)",
    "@unittest.skipIf(peft.__version__ < '0.9', 'DoRA')\nclass T(unittest.TestCase):\n"
    "    def test(self):\n        LoraConfig(use_dora=True)",
    "def test():\n    pytest.importorskip('peft', minversion='0.9.0')\n    LoraConfig(use_dora=True)",
    "try:\n    from peft.tuners.lora import DoraLinearLayer\n    HAS_DORA = True\nexcept ImportError:\n"
    "    HAS_DORA = False\nif HAS_DORA:\n    LoraConfig(use_dora=True)",
    "if 'use_dora' in inspect.getfullargspec(LoraConfig).args:\n    LoraConfig(use_dora=True)",
    "if 'use_dora' in LoraConfig.__init__.__code__.co_varnames:\n    LoraConfig(use_dora=True)",
    "if getattr(LoraConfig, 'use_dora', None) is not None:\n    LoraConfig(use_dora=True)",
    "if 'use_dora' in dir(LoraConfig):\n    LoraConfig(use_dora=True)",
])
def test_test_markers_import_probes_and_introspection_are_version_guards(source):
    found = calls("import inspect, unittest, pytest, peft\nfrom packaging.version import Version\n"
                  "from peft import LoraConfig\n" + source + "\nLoraConfig(use_rslora=True)\n")
    assert [c.is_guarded(next(iter(c.keywords))) for c in found] == [True, False]


def test_an_import_probe_of_another_library_is_not_a_version_guard():
    found = calls("from peft import LoraConfig\ntry:\n    import bitsandbytes\n    HAS_BNB = True\n"
                  "except ImportError:\n    HAS_BNB = False\nif HAS_BNB:\n    LoraConfig(use_dora=True)\n"
                  "@pytest.mark.skipif(not torch.cuda.is_available(), reason='gpu')\n"
                  "def test():\n    LoraConfig(use_dora=True)\n")
    assert [c.is_guarded("use_dora") for c in found] == [False, False]


def test_a_container_passed_by_keyword_may_be_changed_by_the_callee():
    found = calls("from peft import LoraConfig\nTARGETS = ['q_proj']\nKW = dict(r=64, lora_alpha=16)\n"
                  "add_fused(targets=TARGETS)\ntweak(kwargs=KW)\n"
                  "LoraConfig(target_modules=TARGETS, **KW)\n")
    assert found[0].value("target_modules") is UNKNOWN and found[0].open_ended
    kept = calls("from peft import LoraConfig\nTARGETS = ['q_proj']\n"
                 "LoraConfig(target_modules=TARGETS)\nLoraConfig(**dict(target_modules=TARGETS))\n")
    assert [c.value("target_modules") for c in kept] == [["q_proj"], ["q_proj"]]


@pytest.mark.parametrize("change, field", [
    ("config.target_modules.add('c_attn')", "target_modules"),
    ("config.rank_pattern['q_proj'] = 16", "rank_pattern"),
    ("del config.alpha_pattern['q_proj']", "alpha_pattern"),
    ("config.modules_to_save.append('lm_head')", "modules_to_save"),
])
def test_a_container_attribute_changed_in_place_is_unknown(change, field):
    call = one("from peft import LoraConfig\nconfig = LoraConfig(r=16, target_modules=['q_proj'], "
               "rank_pattern={'q_proj': 8}, alpha_pattern={'q_proj': 16}, modules_to_save=['score'])\n"
               + change + "\nprint(config.target_modules.copy(), config.r)\n")
    assert call.value(field) is UNKNOWN and call.value("r") == 16
    assert all(call.value(f) is not UNKNOWN for f in
               {"target_modules", "rank_pattern", "alpha_pattern", "modules_to_save"} - {field})


def test_a_misspelt_keyword_is_read_as_the_one_it_stands_for():
    call = one("from peft import LoraConfig\nLoraConfig(r=64, lora_alpah=16)\n")
    assert not call.open_ended and call.value("lora_alpha", {"lora_alpha": 8}) == 16
    call = one("from peft import LoraConfig\nLoraConfig(lora_rank=64, lora_alpha=128)\n")
    assert call.value("r", {"r": 8}) == 64


def test_a_keyword_no_release_knows_may_be_any_omitted_one():
    call = one("from peft import LoraConfig\nLoraConfig(r=64, qwerty=16)\n")  # no candidate
    assert call.open_ended and call.value("lora_alpha", {"lora_alpha": 8}) is UNKNOWN
    assert call.value("r") == 64  # what is written stays known
    call = one("from peft import LoraConfig\nLoraConfig(r=64, lora_alpha=16, lora_alpah=32)\n")
    assert call.open_ended and call.value("lora_alpha") == 16  # its candidate is given already
    assert not one("from peft import LoraConfig\nLoraConfig(r=64, use_dora=True)\n").open_ended


def test_a_loop_iteration_skipped_on_old_peft_is_guarded():
    found = calls("import peft\nfrom packaging.version import Version\nfrom peft import LoraConfig\n"
                  "for method in ('lora', 'dora'):\n"
                  "    if method == 'dora' and Version(peft.__version__) < Version('0.9.0'):\n"
                  "        continue\n    LoraConfig(use_dora=method == 'dora')\n")
    assert [c.is_guarded("use_dora") for c in found] == [True]


@pytest.mark.parametrize("source", [
    "c = LoraConfig(use_dora=True) if NEW else LoraConfig()",
    "c = NEW and LoraConfig(use_dora=True)",
    "dora_ok = NEW and args.dora\nif dora_ok:\n    LoraConfig(use_dora=True)",
    "A = NEW\nB = A\nif B:\n    LoraConfig(use_dora=True)",
])
def test_expression_guards_and_names_derived_from_a_version_check(source):
    found = calls("import peft\nfrom peft import LoraConfig\nNEW = peft.__version__ >= '0.9'\n" + source
                  + "\nLoraConfig(use_dora=True) if args.dora else LoraConfig()\n")
    assert [c.is_guarded("use_dora") for c in found if "use_dora" in c.keywords] == [True, False]


def test_names_bound_to_each_other_are_not_a_version_check():
    found = calls("from peft import LoraConfig\ndef f():\n    global A, B\n    A = B\n    B = A\n"
                  "if A:\n    LoraConfig(use_dora=True)\n")
    assert [c.is_guarded("use_dora") for c in found] == [False]


def test_a_version_tests_strings_read_as_python_reads_them():
    """``guards.names_in`` reads a literal's text without evaluating it unless it escapes:
    the value is still Python's (an escape evaluated, a raw string kept, bytes left out)."""
    from lint_rules.analysis.guards import names_in

    found = names_in(cst.parse_expression('hasattr(LoraConfig, "use_\\x64ora") and b"peft" or r"a\\b" or """x"""'))
    assert found == {"hasattr", "LoraConfig", "use_dora", "a\\b", "x"}
