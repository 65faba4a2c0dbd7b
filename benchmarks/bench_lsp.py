"""``lora-lint server``: from ``textDocument/didChange`` to the diagnostics of that version, on a
500-line training script, against the fresh process an editor would otherwise start per change
(``lora-lint -`` on the same text). Two rows: with ``debounce`` 0 (the server's own work) and with
the default debounce (what a user waits, typing paused).

The client is the tests' (``tests/lsp_client.py``): the server runs as the editor runs it, a
subprocess speaking JSON-RPC on stdio. Latency is measured from just before the notification is
written to when the reader thread has the diagnostics; each change edits a comment, so every
version is linted again (the server keeps no results cache).
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from measure import Row  # noqa: E402

LINES = 500
HEADER = '''"""Fine-tune a causal LM with LoRA: a few configurations, helpers and a training loop."""
import math
import os

from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

MODEL = "gpt2"
base = AutoModelForCausalLM.from_pretrained(MODEL)
config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.05)
model = get_peft_model(base, config)
'''
BLOCK = '''

def schedule_{i}(step, warmup=100, total=10_000):
    """Cosine learning-rate schedule number {i}."""
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def variant_{i}():
    rank = {r}
    return LoraConfig(r=rank, lora_alpha={alpha}, lora_dropout=0.1, bias="none", task_type="CAUSAL_LM")


def log_{i}(metrics):
    for key, value in sorted(metrics.items()):
        print(f"{{key}}: {{value:.4f}}", file=open(os.devnull, "w"))
'''


def script() -> str:
    """A training script of exactly ``LINES`` lines with a handful of findings."""
    text, i = HEADER, 0
    while text.count("\n") + BLOCK.count("\n") + 1 <= LINES:
        rank = 4 << (i % 4)
        text += BLOCK.format(i=i, r=rank, alpha=rank * (2 if i % 5 else 1))
        i += 1
    text += "".join(f"# padding {n}\n" for n in range(LINES - 1 - text.count("\n")))
    return text + "# edited 0\n"


def _latencies(folder: Path, text: str, debounce: float | None, repeats: int) -> list[float]:
    from lsp_client import Client

    client = Client(folder)
    client.initialize(folder, {} if debounce is None else {"debounce": debounce})
    try:
        document = client.open(folder / "train.py", text)
        client.diagnostics(document, 1)
        times = []
        for version in range(2, repeats + 2):
            changed = text.replace("# edited 0\n", f"# edited {version}\n")
            mark = client.mark()
            start = time.perf_counter()
            client.change(document, version, changed)
            client.wait_for("textDocument/publishDiagnostics",
                            lambda p: p["uri"] == document and p.get("version") == version, mark)
            arrived = next(n["received"] for n in client.notifications[mark:]
                           if n["method"] == "textDocument/publishDiagnostics" and n["params"].get("version") == version)
            times.append(arrived - start)
    finally:
        client.close()
    return times


def _cli(folder: Path, text: str, repeats: int) -> list[float]:
    command = [sys.executable, "-m", "lint_rules", "--no-cache", "--stdin-filename", "train.py", "-"]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=folder, input=text.encode(), capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return times


def rows(repeats: int = 5) -> list[Row]:
    text = script()
    runs = max(repeats, 10)
    with tempfile.TemporaryDirectory(prefix="bench-lsp-") as tmp:
        folder = Path(tmp)
        (folder / "pyproject.toml").write_text("[tool.lora-lint]\n")
        cli = statistics.median(_cli(folder, text, runs))
        work = statistics.median(_latencies(folder, text, 0.0, runs))
        typed = statistics.median(_latencies(folder, text, None, runs))
    name = f"lsp didChange -> diagnostics, {LINES} lines"
    return [Row(f"{name}, no debounce", work, cli, "lora-lint - (fresh)", 0.5),
            Row(f"{name}, default debounce", typed, cli, "lora-lint - (fresh)", 1.0,
                note="includes the 0.25 s debounce")]


if __name__ == "__main__":
    for row in rows():
        print(f"{row.name}: {row.ours * 1000:.0f} ms (peer {row.peer * 1000:.0f} ms, {row.ratio:.2f}x)")
