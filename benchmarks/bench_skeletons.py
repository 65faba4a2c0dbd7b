"""How long full-size skeletons take to build on the ``meta`` device, and ``pytest --lora-check``'s
runtime half takes per config (build, wrap with the installed peft, count, estimate; issue 13's
targets: 7B < 0.5 s, 70B < 2 s), as medians of several runs."""
from __future__ import annotations

import os
import statistics
import time

IDS = ("gpt2", "meta-llama/Llama-2-7b-hf", "mistralai/Mixtral-8x7B-v0.1", "meta-llama/Llama-2-70b-hf")
VERIFIED = (("meta-llama/Llama-2-7b-hf", 0.5), ("meta-llama/Llama-2-70b-hf", 2.0))  # id, target seconds
_CONFIG = {"r": 16, "lora_alpha": 32, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}


def main(repeats: int = 5) -> list[str]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from pytest_lora.skeletons import build_skeleton, count_parameters

    build_skeleton("gpt2")  # pay the one-time torch/transformers import outside the timings
    lines = []
    for name in IDS:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model = build_skeleton(name)
            times.append(time.perf_counter() - start)
        lines.append(f"skeleton {name:32s} {count_parameters(model):>15,d} params  "
                     f"median {statistics.median(times) * 1000:7.1f} ms")
    return lines + verified(repeats)


def verified(repeats: int) -> list[str]:
    """``runtime_check.verify`` per config, as medians after one untimed call per model (which pays
    the one-time imports: peft, the model's transformers module); empty without peft."""
    try:
        from pytest_lora.runtime_check import verify
    except ImportError:
        return []
    lines = []
    for name, target in VERIFIED:
        start = time.perf_counter()
        verify(1, name, "causal_lm", dict(_CONFIG))
        first = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            row = verify(1, name, "causal_lm", dict(_CONFIG))
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        met = "met" if row and "error" not in row and median < target else "NOT met"
        lines.append(f"lora-check runtime {name:25s} median {median * 1000:7.1f} ms  "
                     f"(target < {target:.1f} s: {met}; first call, with imports: {first * 1000:.0f} ms)")
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
