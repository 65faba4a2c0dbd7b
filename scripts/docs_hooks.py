"""mkdocs hooks (mkdocs.yml `hooks:`): what the site computes at build time.

- The "Rules" nav entry lists every generated page of docs/rules/, titled by its first heading.
- docs/lora-settings.md: the `<!-- lora-memory -->` marker becomes a table of estimate_lora_memory
  figures for a 7B model (built on the `meta` device from its curated config, offline), and
  `lora-memory.svg` is drawn from the same figures.
"""
from __future__ import annotations

import os
import sys
from html import escape
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- lora-memory -->"
CHART = "lora-memory.svg"
MODEL = "meta-llama/Llama-2-7b-hf"
RANKS = (4, 8, 16, 32, 64, 128, 256)
TARGETS = {"q_proj, v_proj": ["q_proj", "v_proj"], "all-linear": "all-linear"}
ACTIVATIONS = {"batch_size": 1, "seq_len": 2048}
GIB = 1024**3

_figures: dict | None = None


def on_config(config):
    nav = config["nav"]
    for index, item in enumerate(nav):
        if item == {"Rules": "rules/README.md"}:
            nav[index] = {"Rules": [{"Rule index": "rules/README.md"}, *_rule_pages(Path(config["docs_dir"]))]}
    return config


def _rule_pages(docs: Path) -> list[dict[str, str]]:
    pages = []
    for path in sorted((docs / "rules").glob("LORA*.md")):
        title = path.read_text("utf-8").splitlines()[0].lstrip("# ").strip()
        pages.append({title: f"rules/{path.name}"})
    return pages


def figures() -> dict:
    """The estimator's numbers, computed once per build."""
    global _figures
    if _figures is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        sys.path.insert(0, str(ROOT))
        from pytest_lora.memory import estimate_lora_memory

        def estimate(r, targets, **kwargs):
            return estimate_lora_memory(MODEL, {"r": r, "lora_alpha": 2 * r, "target_modules": targets},
                                        dtype="bfloat16", **kwargs)

        rows = {label: {r: estimate(r, targets) for r in RANKS} for label, targets in TARGETS.items()}
        _figures = {"rows": rows, "with_activations": estimate(16, "all-linear", **ACTIVATIONS)}
    return _figures


def _state(estimate) -> int:
    """What training adds for the adapter: its weights, their gradients, the optimizer states."""
    return estimate.adapter_weights + estimate.gradients + estimate.optimizer_states


def _gib(size: int) -> str:
    return f"{size / GIB:.2f}"


def table() -> str:
    data = figures()
    rows = data["rows"]
    base = next(iter(rows["all-linear"].values())).base_weights
    lines = [f"`estimate_lora_memory(\"{MODEL}\", {{\"r\": r, \"lora_alpha\": 2 * r, \"target_modules\": ...}}, "
             "dtype=\"bfloat16\")` (AdamW, adapters in float32 as peft keeps them over a 16-bit base), "
             "computed when this page was built:", "",
             "| r | targets | trainable parameters | adapter + gradients + AdamW (GiB) | frozen base (GiB) | total (GiB) | adapter share |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, by_rank in rows.items():
        for r, e in by_rank.items():
            lines.append(f"| {r} | {label} | {e.trainable_params:,} | {_gib(_state(e))} | {_gib(e.base_weights)} | "
                         f"{_gib(e.total)} | {100 * _state(e) / e.total:.1f}% |")
    r16, r8 = rows["all-linear"][16], rows["all-linear"][8]
    act = data["with_activations"]
    lines += ["", f"Halving r from 16 to 8 on every linear layer saves {_gib(r16.total - r8.total)} GiB of "
              f"{_gib(r16.total)} GiB ({100 * (r16.total - r8.total) / r16.total:.1f}%): the frozen base, "
              f"{_gib(base)} GiB in bfloat16, does not change with r.", "",
              f"With activations (batch {ACTIVATIONS['batch_size']}, {ACTIVATIONS['seq_len']} tokens, no gradient "
              f"checkpointing), r=16 on every linear layer:", "", "```text", str(act), "```", "",
              f"![Memory of LoRA training on {MODEL} by rank: frozen base and adapter training state]({CHART})"]
    return "\n".join(lines)


def chart() -> str:
    """A horizontal stacked bar per rank (all-linear): frozen base, then the adapter's training state."""
    by_rank = figures()["rows"]["all-linear"]
    width, left, right, bar, gap, top = 760, 70, 150, 22, 10, 46
    scale = (width - left - right) / max(e.total for e in by_rank.values())
    height = top + len(by_rank) * (bar + gap) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13" role="img">',
           f"<title>LoRA training memory of {escape(MODEL)} (bfloat16, all-linear, AdamW) by rank</title>",
           f'<text x="{left}" y="18" font-weight="bold">{escape(MODEL)}, all-linear, bfloat16, AdamW '
           "(activations not included)</text>",
           f'<rect x="{left}" y="28" width="12" height="12" fill="#9e9e9e"/>'
           f'<text x="{left + 18}" y="39">frozen base weights</text>',
           f'<rect x="{left + 170}" y="28" width="12" height="12" fill="#f4511e"/>'
           f'<text x="{left + 188}" y="39">adapter + gradients + optimizer states</text>']
    for i, (r, e) in enumerate(by_rank.items()):
        y = top + i * (bar + gap)
        base_w, state_w = e.base_weights * scale, _state(e) * scale
        out += [f'<text x="{left - 8}" y="{y + bar - 6}" text-anchor="end">r={r}</text>',
                f'<rect x="{left}" y="{y}" width="{base_w:.1f}" height="{bar}" fill="#9e9e9e"/>',
                f'<rect x="{left + base_w:.1f}" y="{y}" width="{max(state_w, 1):.1f}" height="{bar}" fill="#f4511e"/>',
                f'<text x="{left + base_w + state_w + 6:.1f}" y="{y + bar - 6}">{_gib(e.total)} GiB '
                f"(+{_gib(_state(e))})</text>"]
    axis_y = top + len(by_rank) * (bar + gap) + 4
    out.append(f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#555"/>')
    for gib in range(0, int(max(e.total for e in by_rank.values()) / GIB) + 1, 5):
        x = left + gib * GIB * scale
        out += [f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="#555"/>',
                f'<text x="{x:.1f}" y="{axis_y + 18}" text-anchor="middle">{gib} GiB</text>']
    out.append("</svg>")
    return "\n".join(out) + "\n"


def on_files(files, config):
    files.append(File.generated(config, CHART, content=chart()))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "lora-settings.md":
        if MARKER not in markdown:
            raise ValueError(f"docs/lora-settings.md lost its {MARKER} marker")
        markdown = markdown.replace(MARKER, table())
    return markdown
