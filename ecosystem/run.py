"""`make ecosystem`: lint real LoRA users' code and compare with the reviewed baseline.

Downloads the pinned source distributions of ``requirements.txt`` (pip, hashes required; kept in
``.ecosystem-cache/``), runs lora-lint with every rule over each (its Python, notebooks, and the
axolotl and LLaMA-Factory YAML configs of their ``examples/`` folders), and compares the findings
with ``baseline.json``, where each finding a person reviewed is marked true or false with a reason.

Fails (exit 1) on: lora-lint crashing or reporting an internal error; a LORA000 on a Python file
CPython compiles; an error-severity finding marked false (fix the rule, never the baseline) or
not reviewed at all. Prints the diff against the baseline and the time per package.
``--update`` writes the findings into the baseline, keeping the verdicts of those already there
and marking new ones "unreviewed" for a person to review.
"""
from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".ecosystem-cache"
REQUIREMENTS = HERE / "requirements.txt"
BASELINE = HERE / "baseline.json"
VERDICTS = ("true", "false", "unreviewed")


def pins() -> list[tuple[str, str]]:
    """(name, version) of each pinned package."""
    found = []
    for line in REQUIREMENTS.read_text().splitlines():
        spec = line.split("#", 1)[0].split()
        if spec:
            name, version = spec[0].split("==")
            found.append((name, version))
    return found


def download() -> dict[str, Path]:
    """Each package's unpacked source folder (downloaded and unpacked once)."""
    dist = CACHE / "dist"
    if len(list(dist.glob("*.tar.gz"))) < len(pins()):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        "--require-hashes", "-r", str(REQUIREMENTS), "-d", str(dist)], check=True)
    folders = {}
    for name, version in pins():
        [archive] = [p for p in dist.glob("*.tar.gz")
                     if p.name.lower().replace("_", "-") == f"{name}-{version}.tar.gz".lower()]
        target = CACHE / "src" / f"{name}-{version}"
        if not target.is_dir():
            with tarfile.open(archive) as tar:
                tar.extractall(target.with_suffix(".partial"), filter="data")
            target.with_suffix(".partial").rename(target)
        [folders[name]] = [p for p in target.iterdir() if p.is_dir()]
    return folders


def lint(name: str, folder: Path) -> tuple[list[dict], list[str], float]:
    """The package's findings (paths relative to its folder), its problems, and the seconds it took."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lint_rules", "check", ".", "--select", "ALL", "--isolated",
                           "--no-cache", "--output-format", "json", "--exit-zero", "-q"],
                          cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    problems = []
    if done.returncode != 0:
        problems.append(f"{name}: lora-lint exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    if "internal error" in done.stderr:
        problems.append(f"{name}: internal error: {done.stderr.strip()[-2000:]}")
    findings = []
    for v in json.loads(done.stdout or "[]"):
        path = Path(v["filename"])
        findings.append({"package": name, "path": (path if not path.is_absolute() else path.relative_to(folder)).as_posix(),
                         "code": v["code"], "line": v["location"]["row"], "column": v["location"]["column"],
                         "severity": v["severity"], "message": v["message"]})
    return findings, problems, seconds


def _key(finding: dict) -> tuple:
    return finding["package"], finding["path"], finding["code"], finding["line"], finding["column"]


def false_syntax_errors(findings: list[dict], folders: dict[str, Path]) -> list[str]:
    """LORA000 on a Python file that CPython compiles."""
    wrong = []
    for f in findings:
        if f["code"] == "LORA000" and f["path"].endswith((".py", ".pyi")):
            try:
                ast.parse((folders[f["package"]] / f["path"]).read_bytes())
            except (SyntaxError, ValueError):
                continue
            wrong.append(f"{f['package']}/{f['path']}:{f['line']}: LORA000 on a file CPython accepts: {f['message']}")
    return wrong


def compare(findings: list[dict], baseline: list[dict]) -> tuple[list[str], list[str]]:
    """Failures (error-severity findings not reviewed true) and the diff lines against the baseline."""
    reviewed = {_key(b): b for b in baseline}
    now = {_key(f) for f in findings}
    failures, diff = [], []
    for f in findings:
        entry = reviewed.get(_key(f))
        where = f"{f['package']}/{f['path']}:{f['line']}:{f['column']}: {f['code']}"
        if entry is None:
            diff.append(f"+ {where} ({f['severity']}, not in the baseline) {f['message'][:160]}")
        if f["severity"] == "error" and (entry is None or entry["verdict"] != "true"):
            verdict = "not reviewed" if entry is None else f"marked {entry['verdict']}: {entry.get('reason', '')}"
            failures.append(f"{where} error-severity finding {verdict}")
    for b in baseline:
        if _key(b) not in now:
            diff.append(f"- {b['package']}/{b['path']}:{b['line']}:{b['column']}: {b['code']} "
                        f"(baseline: {b['verdict']}) no longer reported")
    return failures, diff


def update(findings: list[dict], baseline: list[dict]) -> list[dict]:
    kept = {_key(b): b for b in baseline}
    out = []
    for f in sorted(findings, key=_key):
        old = kept.get(_key(f), {})
        out.append({**{k: f[k] for k in ("package", "path", "code", "line", "column", "severity", "message")},
                    "verdict": old.get("verdict", "unreviewed"), "reason": old.get("reason", "")})
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="write the findings into baseline.json")
    args = parser.parse_args(argv)
    folders = download()
    findings: list[dict] = []
    problems: list[str] = []
    print(f"{'package':<28} {'files':>6} {'findings':>9} {'seconds':>8}")
    for name, folder in folders.items():
        found, trouble, seconds = lint(name, folder)
        files = sum(1 for p in folder.rglob("*") if p.suffix in (".py", ".pyi", ".ipynb", ".yaml", ".yml", ".json"))
        print(f"{folder.name:<28} {files:>6} {len(found):>9} {seconds:>8.1f}")
        findings += found
        problems += trouble
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else []
    if args.update:
        BASELINE.write_text(json.dumps(update(findings, baseline), indent=1) + "\n")
        print(f"wrote {BASELINE.relative_to(ROOT)} ({len(findings)} findings)")
        return 0
    bad = [b for b in baseline if b["verdict"] not in VERDICTS or (b["verdict"] != "unreviewed" and not b["reason"])]
    problems += [f"baseline entry without a verdict and reason: {b}" for b in bad]
    failures, diff = compare(findings, baseline)
    problems += failures + false_syntax_errors(findings, folders)
    print("\n".join(diff) if diff else "no difference from the baseline")
    by_verdict = {v: sum(1 for b in baseline if b["verdict"] == v) for v in VERDICTS}
    print(f"baseline: {len(baseline)} findings ({by_verdict['true']} true, {by_verdict['false']} false, "
          f"{by_verdict['unreviewed']} unreviewed)")
    for problem in problems:
        print(f"FAIL {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
