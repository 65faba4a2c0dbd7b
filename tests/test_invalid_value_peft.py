"""LORA004's examples against the installed peft: every INVALID example, run as written, fails
the way its message says for that release (at ``LoraConfig()``, or when the adapter is built
on a tiny model), or builds and shows the silent effect the message names."""
from __future__ import annotations

import os
import re
import warnings

import pytest

from lint_rules.engine import lint_source
from lint_rules.knowledge import peft_releases
from lint_rules.rules.lora004_invalid_value import InvalidValue

peft = pytest.importorskip("peft")
torch = pytest.importorskip("torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if peft.__version__ not in peft_releases.versions():
    pytest.skip(f"installed peft {peft.__version__} is not in the data", allow_module_level=True)

SETTINGS = {"target-peft-version": f"=={peft.__version__}"}


def _tiny() -> torch.nn.Module:
    """``model.layers.{0,1}.{q_proj,v_proj}``: what the examples' targets name."""
    inner = torch.nn.Module()
    inner.layers = torch.nn.ModuleList()
    for _ in range(2):
        layer = torch.nn.Module()
        layer.q_proj, layer.v_proj = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
        inner.layers.append(layer)
    outer = torch.nn.Module()
    outer.model = inner
    return outer


def _message(code: str) -> str:
    found = [v for v in lint_source(code, filename="case.py", settings=SETTINGS, select=["LORA004"])]
    assert len(found) == 1, found
    return found[0].message


def _run(code: str) -> list:
    """Run the example with the real peft; the LoraConfig objects it made."""
    made: list = []
    real = peft.LoraConfig

    class Recording(real):  # the example's own LoraConfig(...) call, recorded
        def __post_init__(self):
            super().__post_init__()
            made.append(self)

    Recording.__name__ = "LoraConfig"
    code = code.replace("from peft import LoraConfig", "from peft import LoraConfig as _Real")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "case.py", "exec"), {"LoraConfig": Recording})
    return made


def _build(config) -> torch.nn.Module:
    if config.target_modules is None:
        config.target_modules = {"q_proj", "v_proj"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peft.inject_adapter_in_model(config, _tiny())


def _lora_layers(model: torch.nn.Module) -> list:
    return [m for m in model.modules() if hasattr(m, "lora_A") and len(m.lora_A)]


CASES = [pytest.param(case.code, id=f"invalid-{n}") for n, case in enumerate(InvalidValue.INVALID, 1)]


@pytest.mark.parametrize("code", CASES)
def test_peft_does_what_the_message_says(code):
    message = _message(code)
    at_config = re.search(r"LoraConfig\(\) raises (\w+)|it (raises) AttributeError when this line runs", message)
    at_build = re.search(r"get_peft_model\(\) raises ([\w.]+)", message)
    if at_config:
        expected = at_config.group(1) or "AttributeError"
        with pytest.raises(Exception) as raised:
            _run(code)
        assert type(raised.value).__name__ == expected
        return
    (config,) = _run(code)
    if at_build:
        expected = at_build.group(1).split(".")[-1]
        with pytest.raises(Exception) as raised:
            _build(config)
        names = {type(raised.value).__name__, *(c.__name__ for c in type(raised.value).__mro__)}
        assert expected in names or (expected == "error" and isinstance(raised.value, re.error)), raised.value
        return
    model = _build(config)  # the silent ones build: the effect is what the message says
    layers = _lora_layers(model)
    if "zeroes every input" in message:
        model.train()
        x = torch.randn(4, 8, requires_grad=True)
        for layer in layers:
            layer(x).sum().backward()
        grads = [p.grad for n, p in model.named_parameters() if "lora_" in n]
        assert all(g is None or not g.any() for g in grads)
    elif "no dropout at all" in message:
        assert all(isinstance(layer.lora_dropout["default"], torch.nn.Identity) for layer in layers)
    elif "adapts only the other layers" in message:
        adapted = {n for n, m in model.named_modules() if hasattr(m, "lora_A") and len(m.lora_A)}
        assert adapted and all(".layers.0." in n for n in adapted)
    else:
        pytest.fail(f"no effect to check for: {message}")


def test_every_message_names_a_checked_outcome():
    """The test above covers each kind of outcome the rule can state for the installed release."""
    for case in InvalidValue.INVALID:
        message = _message(case.code)
        assert re.search(r"raises|zeroes every input|no dropout at all|adapts only the other layers", message), message
