"""pytest-lora's fixtures and device parametrization (registered by the plugin; imports only pytest)."""
from __future__ import annotations

import pytest


def _require_models() -> None:
    """Fail the test with the install hint alone, not a traceback into pytest-lora."""
    from pytest_lora.extras import MissingExtraError, require_models

    try:
        require_models()
    except MissingExtraError as error:
        pytest.fail(str(error), pytrace=False)


def pytest_generate_tests(metafunc) -> None:
    """Parametrize ``lora_device`` over ``@pytest.mark.lora_devices(...)``, or the devices present."""
    if "lora_device" not in metafunc.fixturenames:
        return
    from pytest_lora.devices import available_devices, missing_reason

    marker = metafunc.definition.get_closest_marker("lora_devices")
    devices = list(marker.args) if marker and marker.args else available_devices()
    params = []
    for device in devices:
        reason = missing_reason(device)
        marks = [pytest.mark.skip(reason=f"lora_devices: {device} is not available here ({reason})")] if reason else []
        params.append(pytest.param(device, id=device, marks=marks))
    metafunc.parametrize("lora_device", params, indirect=True)


def pytest_collection_modifyitems(items) -> None:
    """Skip ``@pytest.mark.gpu`` (``gpu(count=2)``) tests, with the reason, where CUDA is missing."""
    if not _carries(items, "gpu"):
        return
    marked = [(item, marker) for item in items if (marker := item.get_closest_marker("gpu")) is not None]
    from pytest_lora.devices import cuda_count, missing_reason

    absent = missing_reason("cuda")
    count = cuda_count()
    for item, marker in marked:
        needed = marker.kwargs.get("count", 1)
        reason = absent or (f"needs {needed} CUDA devices, {count} present" if count < needed else None)
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"gpu: {reason}"))


def _carries(items, name: str) -> bool:
    """Whether an item, or a node above it, holds marker ``name`` itself (where
    ``get_closest_marker`` looks): each node is looked at once, where asking every item walks its
    module, package and session again (a suite that never uses the marker pays for one look)."""
    seen: set[int] = set()
    for item in items:
        node = item
        while node is not None and id(node) not in seen:
            seen.add(id(node))
            for mark in node.own_markers:
                if mark.name == name:
                    return True
            node = node.parent
    return False


@pytest.fixture
def lora_device(request) -> str:
    """The device this test instance runs on (``cpu`` unless parametrized by ``lora_devices``)."""
    return getattr(request, "param", "cpu")


@pytest.fixture
def lora_tiny_model(request):
    """Factory: ``lora_tiny_model("llama" | "org/model" | folder, task=None, dtype=None, device=None,
    seed=0, device_map=None, config=None, **config_fields)``.

    Each call builds a fresh tiny random-weight model (offline, deterministic per seed) of a model
    type, or of a model id or folder whose config is shrunk (same module names and structure).
    ``device`` defaults to the test's ``lora_device``; ``device_map="auto"`` shards it over every
    CUDA device (the CPU without one).
    """
    _require_models()
    from pytest_lora.tiny_models import build_tiny_model

    default_device = request.getfixturevalue("lora_device") if "lora_device" in request.fixturenames else "cpu"

    def make(model, task: str | None = None, *, dtype=None, device=None, seed: int = 0,
             device_map=None, config=None, **config_overrides):
        return build_tiny_model(model, task, dtype=dtype, device=device or default_device, seed=seed,
                                device_map=device_map, config=config, **config_overrides)

    return make


@pytest.fixture
def lora_skeleton():
    """Factory: ``lora_skeleton("meta-llama/Llama-2-7b-hf", task=None, dtype=None, *, config=None, allow_guess=False)``.

    A full-size model on the ``meta`` device, built from ``config`` or the config the knowledge base
    finds (local folder, hub cache, curated table): exact shapes and parameter counts, no weights,
    no memory, no network. A name known only by a guess is refused unless ``allow_guess=True``.
    """
    _require_models()
    from pytest_lora.skeletons import build_skeleton

    return build_skeleton


@pytest.fixture
def lora_apply():
    """Factory: ``lora_apply(model, config=None, **lora_config_kwargs)`` -> PeftModel (recorded for --lora-report)."""
    _require_models()
    from pytest_lora.apply import apply_lora

    return apply_lora
