"""Parameter initialisation skipped for tensors on ``meta``.

Building a full-size skeleton on ``meta`` and letting peft inject LoRA layers into it run every
module's ``reset_parameters`` (``kaiming_uniform_`` and friends): on ``meta`` they change nothing
but still cost their dispatch, about a fifth of a 70B ``--lora-check`` verification. Inside
``skipped_on_meta()`` the ``torch.nn.init`` functions return a ``meta`` tensor as it is and
initialise every other tensor as before.
"""
from __future__ import annotations

import functools
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

# the in-place initialisers of torch.nn.init
_FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
              "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
              "sparse_")
# torch.nn.init, and the torch modules that import some of its functions by name
_MODULES = ("torch.nn.init", "torch.nn.modules.activation", "torch.nn.modules.transformer",
            "torch.nn.modules.linear", "torch.nn.modules.conv", "torch.nn.modules.sparse",
            "torch.nn.modules.normalization", "torch.nn.modules.batchnorm", "torch.nn.modules.rnn")


def _skipping(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def initialise(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(tensor, "is_meta", False):
            return tensor
        return original(tensor, *args, **kwargs)

    return initialise


@contextmanager
def skipped_on_meta() -> Iterator[None]:
    """Within the block, ``torch.nn.init``'s initialisers leave ``meta`` tensors alone."""
    import torch.nn.init  # noqa: F401 - the module patched below

    patched = []
    try:
        for module_name in _MODULES:
            module = sys.modules.get(module_name)
            for name in _FUNCTIONS:
                original = getattr(module, name, None)
                if callable(original):
                    patched.append((module, name, original))
                    setattr(module, name, _skipping(original))
        yield
    finally:
        for module, name, original in reversed(patched):
            setattr(module, name, original)
