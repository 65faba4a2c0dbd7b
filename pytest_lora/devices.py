"""Which devices this machine offers, and why one is missing."""
from __future__ import annotations

KNOWN = ("cpu", "cuda", "mps")


def missing_reason(device: str) -> str | None:
    """None when ``device`` (``cpu``, ``meta``, ``cuda``, ``cuda:1``, ``mps``) is usable here, else why not."""
    kind, _, index = device.partition(":")
    unknown = f"unknown device {device!r}; expected one of cpu, meta, cuda[:N], mps"
    if kind in ("cpu", "meta"):
        return None
    if kind == "cuda" and index and not index.isdigit():
        return unknown
    try:
        import torch
    except ImportError:
        return f"{device} needs torch, which is not installed"
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            return f"no CUDA device: torch {torch.__version__} reports torch.cuda.is_available() == False"
        if index and int(index) >= count:
            return f"{device} requested but only {count} CUDA device(s) are present"
        return None
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            return "no MPS device: torch.backends.mps.is_available() == False"
        return None
    return unknown


def available_devices() -> list[str]:
    """``cpu``, then ``cuda`` and ``mps`` when present."""
    return [device for device in KNOWN if missing_reason(device) is None]


def cuda_count() -> int:
    """The number of CUDA devices (0 without torch or CUDA)."""
    return 0 if missing_reason("cuda") else __import__("torch").cuda.device_count()
