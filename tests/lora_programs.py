"""Generated LoraConfig programs and the properties every lint and fix of them must keep.

``program(pick)`` writes a random program: keyword subsets and values, typos and confused
keywords, comments (after arguments, between them, inside values), trailing commas, nested
calls, ``**{...}`` and ``**OPTS`` splats, CRLF. ``pick`` chooses; ``HypothesisPick`` draws from
hypothesis (so failures shrink), ``RandomPick`` from a seeded ``random.Random`` (the long run).
``problems(source, linter)`` lists every property the linter breaks on one program.

Run ``python tests/lora_programs.py --count 20000`` (``make fuzz``) for the long run: it prints
how many programs broke each property and writes the first few to a folder.
"""
from __future__ import annotations

import argparse
import ast
import io
import json
import multiprocessing
import os
import random
import signal
import sys
import tokenize
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

MODELS = ("gpt2", "meta-llama/Llama-2-7b-hf", "tiiuae/falcon-7b", "facebook/opt-350m", "bigscience/bloom-560m",
          "microsoft/Phi-3-mini-4k-instruct", "EleutherAI/pythia-70m", "google/flan-t5-base", "Qwen/Qwen2-0.5B",
          "bert-base-uncased", "my-org/private-model")
MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "c_attn", "c_proj", "query_key_value", "dense", "fc1", "fc2",
           "qkv_proj", "gate_proj", "up_proj", "down_proj", "lm_head", "query", "value", "q", "v", "wo")
VALUES: dict[str, tuple[str, ...]] = {
    "r": ("0", "1", "4", "8", "16", "64", "-1", "2.5", "R", "args.r", "True"),
    "lora_alpha": ("8", "16", "32", "128", "0.5", "ALPHA", "2 * R", "(16)"),
    "lora_dropout": ("0.0", "0.05", "0.1", "1.5"),
    "target_modules": ("TARGETS", '"all-linear"', '"q_proj"', 'r".*\\.(q|v)_proj"', '"c_attn"', "None"),
    "bias": ('"none"', '"all"', '"lora_only"', '"bogus"'),
    "task_type": ('"CAUSAL_LM"', "TaskType.CAUSAL_LM", '"SEQ_CLS"', '"SEQ_2_SEQ_LM"', '"BOGUS"'),
    "use_dora": ("True", "False"),
    "use_rslora": ("True", "False"),
    "init_lora_weights": ("True", "False", '"gaussian"', '"pissa"', '"olora"', '"loftq"', '"pissa_niter_4"',
                          '"bogus"', '"eva"'),
    "modules_to_save": ('["lm_head"]', '["classifier", "score"]', '"lm_head"'),
    "layers_to_transform": ("[0, 1]", "3", "list(range(4))"),
    "layers_pattern": ('"layers"', '"h"'),
    "rank_pattern": ('{"q_proj": 4}', '{"^model.layers.0": 16}'),
    "alpha_pattern": ('{"q_proj": 8}', '{"q_proj": 16}'),
    "fan_in_fan_out": ("True", "False"),
    "exclude_modules": ('["lm_head"]', '"lm_head"'),
    "merge_weights": ("True", "False"),
    "enable_lora": ("[True, False, True]",),
    "use_qalora": ("True",),
    "lora_bias": ("True", "False"),
    "megatron_config": ("None",),
    "inference_mode": ("False",),
    "base_model_name_or_path": tuple(f'"{m}"' for m in MODELS[:5]),
}
CONFUSED = ("lora_rank", "alpha", "dropout", "target_module", "lora_r", "rank", "modules", "lora_target_modules")
PLACEMENTS = ("assign", "def", "list", "trainer", "class", "if", "dict")


class RandomPick:
    """Choices from a seeded ``random.Random``."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def choice(self, options: Sequence[Any]) -> Any:
        return self.rng.choice(list(options))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def subset(self, options: Sequence[Any], most: int) -> list[Any]:
        return self.rng.sample(list(options), self.rng.randint(0, min(most, len(options))))


class HypothesisPick(RandomPick):
    """Choices drawn from hypothesis' ``st.data()``, so that a failure shrinks."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def choice(self, options: Sequence[Any]) -> Any:
        return self.data.draw(self.st.sampled_from(list(options)))

    def chance(self, p: float) -> bool:
        return self.data.draw(self.st.integers(0, 99)) < p * 100

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(self.st.integers(low, high))

    def subset(self, options: Sequence[Any], most: int) -> list[Any]:
        return self.data.draw(self.st.lists(self.st.sampled_from(list(options)), max_size=most, unique=True))


def _typo(pick: RandomPick, name: str) -> str:
    i = pick.integer(0, len(name) - 1)
    kind = pick.choice(("drop", "swap", "dup", "case", "insert"))
    if kind == "drop" and len(name) > 2:
        return name[:i] + name[i + 1:]
    if kind == "swap" and i < len(name) - 1:
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    if kind == "dup":
        return name[:i] + name[i] + name[i:]
    if kind == "case":
        return name.capitalize() if name[0].islower() else name.lower()
    return name[:i] + "x" + name[i:]


class _Comments:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, kind: str = "c") -> str:
        self.n += 1
        return f"# {kind}{self.n}"


def _target_list(pick: RandomPick, comment: _Comments, multiline: bool, indent: str) -> str:
    names = pick.subset(MODULES, 4) or ["q_proj"]
    quoted = [f'"{n}"' for n in names]
    if multiline and pick.chance(0.5):
        inner = indent + "    "
        lines = [f"{inner}{q},{'  ' + comment() if pick.chance(0.5) else ''}" for q in quoted]
        if pick.chance(0.3):
            lines.insert(pick.integer(0, len(lines)), f"{inner}{comment('between')}")
        return "[\n" + "\n".join(lines) + f"\n{indent}]"
    opener, closer = ("(", ",)" if len(quoted) == 1 else ")") if pick.chance(0.2) else ("[", "]")
    return opener + ", ".join(quoted) + closer


def _value(pick: RandomPick, name: str, comment: _Comments, multiline: bool, indent: str) -> str:
    if name == "target_modules" and pick.chance(0.6):
        value = _target_list(pick, comment, multiline, indent)
    else:
        value = pick.choice(VALUES.get(name, ("1", "True", '"x"')))
    if multiline and pick.chance(0.15):  # a parenthesised value with comments inside
        return f"(  {comment('about')}\n{indent}    {value}  {comment('end')}\n{indent})"
    return value


def _call(pick: RandomPick, comment: _Comments, func: str, indent: str) -> str:
    names = pick.subset(tuple(VALUES), 7)
    keywords: list[tuple[str, str]] = []
    multiline = pick.chance(0.5)
    inner = indent + "    "
    for name in names:
        written = name
        if pick.chance(0.15):
            written = _typo(pick, name)
        elif pick.chance(0.05):
            written = pick.choice(CONFUSED)
        if written in VALUES or any(written == k for k, _ in keywords):  # Python rejects a repeated keyword
            written = name
        keywords.append((written, _value(pick, name, comment, multiline, inner)))
    splat = ""
    if keywords and pick.chance(0.2):
        moved = keywords[pick.integer(0, len(keywords) - 1):]
        keywords = keywords[:len(keywords) - len(moved)]
        if all("\n" not in v for _, v in moved):
            splat = "**{" + ", ".join(f'"{k}": {v}' for k, v in moved) + "}"
    elif pick.chance(0.1):
        splat = pick.choice(("**OPTS", "**extra", "**dict(r=16, lora_alpha=32)"))
    args = [f"{k}={v}" for k, v in keywords] + ([splat] if splat else [])
    if not multiline or not args:
        return f"{func}({', '.join(args)}{', ' if args and pick.chance(0.2) else ''})"
    lines = []
    for i, arg in enumerate(args):
        if pick.chance(0.15):
            lines.append(f"{inner}{comment('between')}")
        last = i == len(args) - 1
        comma = "," if not last or pick.chance(0.6) else ""
        lines.append(f"{inner}{arg}{comma}{'  ' + comment() if pick.chance(0.3) else ''}")
    return f"{func}(\n" + "\n".join(lines) + f"\n{indent})"


def program(pick: RandomPick) -> str:
    """One generated program (LF or CRLF line ends)."""
    comment = _Comments()
    style = pick.choice(("from", "module", "alias"))
    func = {"from": "LoraConfig", "module": "peft.LoraConfig", "alias": "LC"}[style]
    head = {"from": "from peft import LoraConfig, TaskType, get_peft_model\n",
            "module": "import peft\nfrom peft import TaskType, get_peft_model\n",
            "alias": "from peft import LoraConfig as LC, TaskType, get_peft_model\n"}[style]
    head += "from transformers import AutoModelForCausalLM\n\nR = 16\nALPHA = 32\nTARGETS = ['q_proj', 'v_proj']\n"
    head += "OPTS = {'r': 8, 'lora_alpha': 16}\n\n"
    model = pick.choice((None, *MODELS))
    how = pick.choice(("load", "pragma", "none"))
    body = ""
    if model is not None and how == "pragma":
        body += f"# lora-lint: model={model}\n"
    if model is not None and how == "load":
        body += f"model = AutoModelForCausalLM.from_pretrained({model!r})\n"
    placement = pick.choice(PLACEMENTS)
    if placement == "assign":
        body += f"config = {_call(pick, comment, func, '')}\n"
    elif placement == "def":
        body += f"def build(args, extra):\n    return {_call(pick, comment, func, '    ')}\n\nconfig = build(None, {{}})\n"
    elif placement == "list":
        body += f"configs = [\n    {_call(pick, comment, func, '    ')},\n    {_call(pick, comment, func, '    ')},\n]\nconfig = configs[0]\n"
    elif placement == "trainer":
        body += (f"trainer = SFTTrainer(\n    model={(model or 'gpt2')!r},\n"
                 f"    peft_config={_call(pick, comment, func, '    ')},\n)\nconfig = None\n")
    elif placement == "class":
        body += f"class Setup:\n    config = {_call(pick, comment, func, '    ')}\n\nconfig = Setup.config\n"
    elif placement == "if":
        body += f"if R > 8:\n    config = {_call(pick, comment, func, '    ')}\nelse:\n    config = {func}(r=8)\n"
    else:
        body += f"configs = {{'a': {_call(pick, comment, func, '')}}}\nconfig = configs['a']\n"
    if model is not None and how == "load":
        body += "model = get_peft_model(model, config)\n"
    source = head + body
    return source.replace("\n", "\r\n") if pick.chance(0.2) else source


def notebook(source: str) -> str:
    """``source`` as the one code cell of a notebook (after a markdown cell)."""
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# title\n"]},
             {"cell_type": "code", "execution_count": None, "id": "a", "metadata": {}, "outputs": [],
              "source": source.replace("\r\n", "\n").splitlines(keepends=True)}]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def _comments(source: str) -> list[tuple[str, int]]:
    """Every comment's text and row."""
    tokens = tokenize.generate_tokens(io.StringIO(source.replace("\r\n", "\n")).readline)
    return [(t.string, t.start[0]) for t in tokens if t.type == tokenize.COMMENT]


def _rows_removed(violations: list[Any]) -> set[int]:
    """Rows an argument-removing fix deletes: a comment that ends such a row goes with the
    argument, by design (a comment alone on its line belongs to what follows and must stay)."""
    rows: set[int] = set()
    for v in violations:
        if v.fix is not None and v.code == "LORA103":
            for edit in v.fix.edits:
                rows.update(range(edit.location.row, edit.end_location.row + 1))
    return rows


def _own_line(source: str, row: int) -> bool:
    return source.replace("\r\n", "\n").split("\n")[row - 1].lstrip().startswith("#")


def _inside(violation: Any, rows: list[str]) -> bool:
    def fits(loc: Any) -> bool:
        return 1 <= loc.row <= len(rows) and 1 <= loc.column <= len(rows[loc.row - 1]) + 1

    start, end = violation.location, violation.end_location
    return fits(start) and fits(end) and (start.row, start.column) <= (end.row, end.column)


def problems(source: str, linter: Any, filename: str = "gen.py") -> list[str]:
    """Every property the linter breaks on ``source``; empty when all hold."""
    from lint_rules.errors import FixError
    from lint_rules.violation import split_rows

    found: list[str] = []
    try:
        before = linter.lint(source, filename)
    except Exception as exc:
        return [f"internal error (lint): {type(exc).__name__}: {exc}"]
    rows = split_rows(source) or [""]
    if filename.endswith(".ipynb"):
        cell = split_rows("".join(json.loads(source)["cells"][1]["source"])) or [""]
        found += [f"location outside the cell: {v}" for v in before if not _inside(v, cell) and v.code != "LORA000"]
    else:
        found += [f"location outside the file: {v}" for v in before if not _inside(v, rows)]
        if any(v.code == "LORA000" for v in before):
            return found + ["LORA000 on a generated (valid) program"]
    try:
        result = linter.fix(source, filename, unsafe=True)
    except FixError as exc:
        return found + [f"fix refused: {exc}"]
    except Exception as exc:
        return found + [f"internal error (fix): {type(exc).__name__}: {exc}"]
    fixed = result.source
    try:
        text = "".join(json.loads(fixed)["cells"][1]["source"]) if filename.endswith(".ipynb") else fixed
        ast.parse(text)
    except (SyntaxError, ValueError, KeyError, IndexError) as exc:
        return found + [f"fixed output does not parse: {exc}"]
    left = Counter(v.code for v in before) - Counter(v.code for v in result.fixed)
    after = Counter(v.code for v in result.violations)
    own = Counter(v.code for v in linter.lint(fixed, filename))
    if left - after:
        found.append(f"fixing removed other findings: expected {dict(left)}, left {dict(after)}")
    elif after != own:  # beyond what it left, a fix may reveal a finding (a misspelt keyword, once corrected, is checked)
        found.append(f"the findings left after fixing are not the fixed program's own: left {dict(after)}, "
                     f"its own {dict(own)}")
    try:
        again = linter.fix(fixed, filename, unsafe=True)
    except Exception as exc:
        return found + [f"internal error (second fix): {type(exc).__name__}: {exc}"]
    if again.source != fixed or again.fixed:
        found.append("a second fix changed the file")
    if not filename.endswith(".ipynb"):
        removed = _rows_removed(before)
        kept = Counter(text for text, _ in _comments(fixed))
        for text, row in _comments(source):
            if kept[text] > 0:
                kept[text] -= 1
            elif row not in removed or _own_line(source, row):
                found.append(f"comment lost: {text!r} (row {row})")
        if "\r\n" in source and fixed.count("\n") != fixed.count("\r\n"):
            found.append("CRLF line ends changed")
    return found


_LINTERS: list[Any] = []


def run_one(seed: int) -> tuple[str, list[str]]:
    """The program of ``seed`` (as a notebook one time in ten) and the properties it breaks."""
    from lint_rules.engine import linter_for

    if not _LINTERS:
        _LINTERS.extend([linter_for({"select": ["ALL"]}),
                         linter_for({"select": ["ALL"], "target-peft-version": "<0.10"})])
    pick = RandomPick(seed)
    source = program(pick)
    if pick.chance(0.1):
        source = notebook(source)
        return source, problems(source, _LINTERS[seed % 2], "gen.ipynb")
    return source, problems(source, _LINTERS[seed % 2])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fuzz lora-lint with generated LoraConfig programs.")
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, default=Path("fuzz-failures"), help="where failing programs go")
    args = parser.parse_args(argv)
    seeds = range(args.seed * 1_000_003, args.seed * 1_000_003 + args.count)
    counts: Counter[str] = Counter()
    broken = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # leave through the pool's exit: it ends the workers
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for i, (source, issues) in enumerate(pool.imap(run_one, seeds, chunksize=20)):
            for issue in issues:
                counts[issue.split(":")[0]] += 1
            if issues:
                broken += 1
                if broken <= 50:
                    args.keep.mkdir(exist_ok=True)
                    (args.keep / f"case{seeds[i]}.txt").write_text(source + "\n# " + "\n# ".join(issues) + "\n")
            if (i + 1) % 1000 == 0:
                print(f"{i + 1} programs, {broken} broke a property", file=sys.stderr, flush=True)
    print(f"{args.count} programs; {broken} broke a property; internal errors: "
          f"{sum(n for k, n in counts.items() if k.startswith('internal error'))}")
    for kind, n in counts.most_common():
        print(f"  {n:6}  {kind}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's lint_rules first
    os.environ["PYTHONPATH"] = os.pathsep.join([sys.path[0], os.environ.get("PYTHONPATH", "")])  # and the workers'
    sys.exit(main())
