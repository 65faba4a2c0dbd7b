"""How long full-size skeletons take to build on the ``meta`` device (median of several runs)."""
from __future__ import annotations

import os
import statistics
import time

IDS = ("gpt2", "meta-llama/Llama-2-7b-hf", "mistralai/Mixtral-8x7B-v0.1", "meta-llama/Llama-2-70b-hf")


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
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
