"""peft's ``layer_replication``: the layer list it builds, named over the model's own modules.

peft stacks copies of the decoder layers that share their weights; each copy gets its own
adapters. Here the copies are the same module objects under their new names, which is all a
count needs.
"""
from __future__ import annotations

LAYERS_NOT_FOUND = ("Could not locate the layers attribute in the model. "
                    "Expected Llama, Bert or Falcon compatible architectures.")


def layers_path(model) -> str:
    """The dotted name of the layer list peft replicates (peft's lookup), or peft's ``ValueError``."""
    import torch

    path: list[str] = []
    while hasattr(model, "model"):
        model = model.model
        path.append("model")
    if hasattr(model, "bert"):
        model = model.bert
        path.append("bert")
    layers = None
    if hasattr(model, "layers"):
        layers, where = model.layers, ["layers"]
    elif hasattr(model, "encoder") and hasattr(model.encoder, "layer"):
        layers, where = model.encoder.layer, ["encoder", "layer"]
    elif hasattr(model, "h"):
        layers, where = model.h, ["h"]
    if not isinstance(layers, torch.nn.ModuleList):
        raise ValueError(LAYERS_NOT_FOUND)
    return ".".join(path + where)


def replicate(model, named: list[tuple[str, object]], layer_map) -> list[tuple[str, object]]:
    """``named`` (``original_modules`` of ``model``) after peft's ``replicate_layers(model, layer_map)``.

    ``[[0, 4], [2, 5]]`` turns layers 0..4 into 0, 1, 2, 3, 2, 3, 4: copy ``j`` of layer ``i``
    is named ``<layers>.j`` and holds layer ``i``'s modules.
    """
    path = layers_path(model)
    prefix = path + "."
    blocks: dict[str, list[tuple[str, object]]] = {}
    for name, module in named:
        if name.startswith(prefix):
            index, _, rest = name[len(prefix):].partition(".")
            blocks.setdefault(index, []).append((f".{rest}" if rest else "", module))
    count = len(blocks)
    order = []
    for start, end in layer_map:
        for i in range(start, end):
            if not -count <= i < count:
                raise IndexError(f"index {i} is out of range")
            order.append(i % count)
    copies = [(f"{path}.{j}{rest}", module) for j, i in enumerate(order) for rest, module in blocks[str(i)]]
    result: list[tuple[str, object]] = []
    for name, module in named:
        if not name.startswith(prefix):
            result.append((name, module))
            if name == path:
                result.extend(copies)
    return result
