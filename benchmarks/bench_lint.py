"""lora-lint on a generated corpus: cold, cold with a cache to fill, warm cache, --jobs 1 vs all cores.

Each figure is the median wall time of ``repeats`` runs of the real command (a fresh
``python -m lint_rules`` process, so interpreter start and imports are included).
"""
from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lint_rules.runner import cpu_count

PEFT_FILE = '''"""Fine-tuning script {i}."""
{imports}
import torch


def build(model_name="gpt2"):
    config = {call}(
        r={r},
        lora_alpha={alpha},
        target_modules={targets},
        lora_dropout=0.05,
        bias="{bias}",
        task_type="CAUSAL_LM",
    )
    return config


class Trainer{i}:
    def __init__(self, steps={i}):
        self.steps = steps

    def run(self):
        total = 0
        for step in range(self.steps):
            total += step * 2
        return total
'''
IMPORTS = [
    ("from peft import LoraConfig", "LoraConfig"),
    ("import peft", "peft.LoraConfig"),
    ("from peft import LoraConfig as LC", "LC"),
    ("from peft.tuners.lora import LoraConfig", "LoraConfig"),
]
PLAIN_FILE = '''"""Module {i}: geometry helpers."""
import math


def area(radius: float) -> float:
    return math.pi * radius ** 2


def table(n: int = {i}) -> list[float]:
    return [area(r) for r in range(n % 50)]
'''


def make_corpus(folder: Path, files: int = 2000, peft_share: float = 0.5) -> None:
    """``files`` modules in packages of 50; ``peft_share`` of them build a ``LoraConfig``."""
    for i in range(files):
        package = folder / f"pkg{i // 50:03d}"
        package.mkdir(parents=True, exist_ok=True)
        if (i % 100) < peft_share * 100:
            imports, call = IMPORTS[i % len(IMPORTS)]
            text = PEFT_FILE.format(i=i, imports=imports, call=call, r=(0, 8, 16, 64)[i % 4],
                                    alpha=(16, 32, 8)[i % 3], bias=("none", "all", "lora_only")[i % 3],
                                    targets=('["q_proj", "v_proj"]', '"all-linear"', '["c_attn"]')[i % 3])
        else:
            text = PLAIN_FILE.format(i=i)
        (package / f"mod{i:04d}.py").write_text(text)


def _time(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lint_rules", *argv], cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError(f"lora-lint {' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def main(repeats: int = 3, files: int = 2000) -> list[str]:
    jobs = cpu_count()  # what "all cores" (no --jobs) uses
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text('[project]\nname = "corpus"\ndependencies = ["peft>=0.10"]\n'
                                             "[tool.lora-lint]\n")
        make_corpus(root / "src", files)
        base = ["-q", "--exit-zero", "src"]
        cache = root / ".lora_lint_cache"
        rows = {}
        rows["cold, no cache, all cores"] = [_time(["--no-cache", *base], root) for _ in range(repeats)]
        rows["cold, --jobs 1"] = [_time(["--no-cache", "--jobs", "1", *base], root) for _ in range(repeats)]
        filling = []
        for _ in range(repeats):
            shutil.rmtree(cache, ignore_errors=True)
            filling.append(_time(base, root))
        rows["cold, filling the cache"] = filling
        rows["warm cache"] = [_time(base, root) for _ in range(repeats)]
        rows["python start + import only"] = [_time(["--version"], root) for _ in range(repeats)]
    lines = [f"lora-lint on {files} files (half of them build a LoraConfig; {jobs} cores), median of {repeats}:"]
    for label, times in rows.items():
        median = statistics.median(times)
        lines.append(f"  {label:28s} {median * 1000:8.0f} ms  ({files / median:7.0f} files/s)"
                     if "import" not in label else f"  {label:28s} {median * 1000:8.0f} ms")
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
