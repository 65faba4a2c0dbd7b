"""The ``lora-lint`` command: ``check`` (the default), ``rules``, ``rule CODE``, ``modules MODEL``,
``server`` (the language server, ``lint_rules.lsp``).

Options follow ruff's names. Exit status: 0 nothing at the failing severity, 1 findings that
fail (or files a ``--diff`` would change), 2 usage, config or internal errors.
"""
from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # (not typing.TYPE_CHECKING: a warm run imports no typing)

from . import __version__
from .discovery import _normal

if TYPE_CHECKING:
    import argparse
    from typing import Any, Sequence, TextIO
    from .settings_cache import Stored

SUBCOMMANDS = ("check", "rules", "rule", "modules", "server")


def _codes(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _check_parser() -> argparse.ArgumentParser:
    import argparse

    from .output import FORMATS

    p = argparse.ArgumentParser(prog="lora-lint check", description="Lint files for PEFT/LoRA configuration mistakes.")
    p.add_argument("paths", nargs="*", type=_normal, help="files or folders ('-' reads stdin); default: .")
    sel = p.add_argument_group("rule selection")
    sel.add_argument("--select", type=_codes, action="extend", default=None, metavar="RULES",
                     help="only these rules (codes, prefixes, names or ALL; comma-separated)")
    sel.add_argument("--ignore", type=_codes, action="extend", default=None, metavar="RULES")
    sel.add_argument("--extend-select", type=_codes, action="extend", default=None, metavar="RULES")
    fix = p.add_argument_group("fixes")
    fix.add_argument("--fix", action="store_true", help="apply safe fixes")
    fix.add_argument("--unsafe-fixes", action="store_true", help="also apply (and mark) unsafe fixes")
    fix.add_argument("--diff", action="store_true", help="print the fixes as a diff, write nothing")
    fix.add_argument("--show-fixes", action="store_true", help="list what --fix fixed")
    fix.add_argument("--exit-non-zero-on-fix", action="store_true", help="exit 1 when --fix changed a file")
    fix.add_argument("--add-noqa", action="store_true", help="add a '# noqa: CODE' comment for every finding")
    out = p.add_argument_group("output")
    out.add_argument("--output-format", choices=FORMATS, default=None)
    out.add_argument("-o", "--output-file", default=None)
    out.add_argument("--statistics", action="store_true", help="count findings per rule instead of listing them")
    out.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings fail")
    out.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    out.add_argument("--show-settings", action="store_true", help="print the resolved settings and exit")
    cfg = p.add_argument_group("configuration")
    cfg.add_argument("--config", action="append", default=[], metavar="PATH|KEY=VALUE",
                     help="a config file, or a TOML 'key = value' override")
    cfg.add_argument("--isolated", action="store_true", help="ignore config files")
    cfg.add_argument("--target-peft-version", default=None, metavar="SPEC",
                     help="peft version or PEP 440 specifier the code must work with")
    cfg.add_argument("--fail-on", choices=("info", "warning", "error"), default=None)
    files = p.add_argument_group("files")
    files.add_argument("--stdin-filename", default=None, help="the name to report for '-'")
    files.add_argument("--force-exclude", action="store_true", help="apply exclude and .gitignore to files named explicitly")
    files.add_argument("--no-cache", action="store_true")
    files.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: all cores)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``lora-lint``; returns the exit status."""
    from .errors import LintError

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args in (["--version"], ["-V"]):
            print(f"lora-lint {__version__}")
            return 0
        command = args.pop(0) if args and args[0] in SUBCOMMANDS else "check"
        if command == "rules":
            return _rules(args)
        if command == "rule":
            return _rule(args)
        if command == "modules":
            return _modules(args)
        if command == "server":
            from .lsp import main as serve

            return serve(args)
        from .plain_args import parse

        return _check(parse(args) or _check_parser().parse_args(args))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    except LintError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        sys.stdout = open(os.devnull, "w")
        return 0


def _rules(args: list[str]) -> int:
    import argparse

    from .catalog import info

    argparse.ArgumentParser(prog="lora-lint rules", description="List every rule.").parse_args(args)
    rows = [(code, r.NAME, r.SEVERITY, r.FIX or "-", "on" if r.DEFAULT_ENABLED else "off", r.SUMMARY)
            for code, r in info().items()]
    head = ("code", "name", "severity", "fix", "default", "summary")
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(5)]
    for row in [head, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)) + "  " + row[5])
    return 0


def _rule(args: list[str]) -> int:
    import argparse

    from .catalog import all_rules
    from .config import rule_code
    from .ruledoc import explain

    parsed = argparse.ArgumentParser(prog="lora-lint rule", description="Explain one rule.")
    parsed.add_argument("rule", help="code or name, e.g. LORA001")
    print(explain(all_rules()[rule_code(parsed.parse_args(args).rule)]), end="")
    return 0


def _modules(args: list[str]) -> int:
    import argparse

    from .errors import ConfigError
    from .knowledge import architectures, models

    parser = argparse.ArgumentParser(prog="lora-lint modules",
                                     description="Print the module names LoRA can target in a model.")
    parser.add_argument("model", help="a Hugging Face model id, a local folder or a model_type")
    parser.add_argument("--task", default=None, choices=architectures.TASKS,
                        help="the model class (default: the checkpoint's own, from its config or the curated table)")
    parser.add_argument("--all", action="store_true", help="every full module name, not only the names to target")
    parsed = parser.parse_args(args)
    resolution = models.resolve_model(parsed.model)
    if resolution is not None and resolution.source != "guess":
        model_type, config, source = resolution.model_type, resolution.config, resolution.note
        task = parsed.task or resolution.task
    elif parsed.model in architectures.model_types():
        model_type, config, source = parsed.model, None, f"the {parsed.model} model type's default config"
        task = parsed.task or models.task_for_type(model_type)
    else:
        raise ConfigError(
            f"cannot tell which checkpoint {parsed.model!r} is: not a local folder with a config.json, "
            f"not in the Hugging Face cache, not a curated id"
            + (f" (the name only looks like a {resolution.model_type} model)" if resolution else "")
            + "; pass a model folder, a curated id or a model type")
    task = task if task in architectures.TASKS else "base"
    arch = architectures.get_architecture(model_type, task=task, config=config)
    if arch is None:
        known = model_type in architectures.model_types()
        raise ConfigError(f"no module data for model type {model_type!r}" if not known else
                          f"{parsed.model!r}: the recorded {model_type} builds do not tell the module tree "
                          f"this config makes (a structure no recorded build had)")
    layers = f", {arch.num_layers} layers" if arch.num_layers is not None else ""
    print(f"# {parsed.model}: {model_type} ({arch.class_name}, transformers {arch.transformers}{layers}; "
          f"{source})", file=sys.stderr)
    targetable = arch.targetable()
    if parsed.all:
        for module in targetable:
            for name in module.names():
                print(f"{name}  {module.cls}{'  (head)' if module.is_head else ''}")
        return 0
    by_leaf: dict[str, list[Any]] = {}
    for module in targetable:
        by_leaf.setdefault(module.leaf, []).append(module)
    rows = []
    for leaf in sorted(by_leaf):
        group = by_leaf[leaf]
        count = sum(1 for m in group for _ in m.names())
        rows.append((leaf, "/".join(sorted({m.cls for m in group})), f"x{count}",
                     "(head)" if any(m.is_head for m in group) else ""))
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    for row in rows:
        print(("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3]).rstrip())
    return 0


def _start_dir(paths: list[str], stdin_filename: str | None) -> str:
    if not paths or paths == ["-"]:
        return os.path.dirname(os.path.realpath(stdin_filename)) if stdin_filename else os.getcwd()
    from .discovery import common_folder

    return common_folder(p for p in paths if p != "-")


def _settings(ns: argparse.Namespace) -> tuple[Stored, str | None]:
    """The run's settings, and their fingerprint unless ``--no-cache``."""
    from .errors import ConfigError
    from .reading import toml
    from .settings_cache import Stored

    overrides = [c for c in ns.config if "=" in c and not os.path.isfile(c)]
    files = [c for c in ns.config if c not in overrides]
    if len(files) > 1:
        raise ConfigError("--config names more than one file")
    extra: list[tuple[str, dict[str, Any]]] = []
    for text in overrides:
        try:
            extra.append((f"--config {text}", toml().loads(text)))
        except toml().TOMLDecodeError as exc:
            raise ConfigError(f"--config {text!r} is neither a file nor a valid TOML 'key = value': {exc}") from exc
    cli = {key: getattr(ns, key.replace("-", "_")) for key in ("select", "ignore", "extend-select",
                                                               "target-peft-version", "fail-on")}
    extra.append(("command line", {key: value for key, value in cli.items() if value is not None}))
    start, config_file = _start_dir(ns.paths, ns.stdin_filename), files[0] if files else None
    if ns.no_cache or ns.show_settings:
        from pathlib import Path

        from .config import settings_for

        return Stored.of(settings_for(Path(start), config_file=None if config_file is None else Path(config_file),
                                      isolated=ns.isolated, extra=extra)), None
    from .settings_cache import load_stored

    return load_stored(start, config_file=config_file, isolated=ns.isolated, extra=extra)


def _show_settings(settings: Any, out: TextIO) -> int:
    from .catalog import info

    print(f"config file: {settings.config_path or '(none)'}", file=out)
    print(f"project root: {settings.root}", file=out)
    print(f"target peft: {settings.peft_spec or 'any'} (from {settings.peft_spec_source}); "
          f"releases: {', '.join(settings.peft_versions)}", file=out)
    for package, spec, where in settings.frameworks:
        print(f"trainer framework: {package}{spec} (from {where}); its YAML configs get the peft it requires",
              file=out)
    print(f"model: {settings.model or '(not set)'}", file=out)
    print(f"transformers data: {settings.transformers or '(newest known)'}", file=out)
    print(f"fail-on: {settings.fail_on}", file=out)
    print(f"exclude: {', '.join(settings.exclude)}", file=out)
    for glob, codes in settings.per_file_ignores:
        print(f"per-file-ignores: {glob} -> {', '.join(codes)}", file=out)
    print("rules:", file=out)
    for code, rule in info().items():
        state = "on " if code in settings.enabled else "off"
        severity = settings.severity(code)
        options = dict(settings.options.get(code, {}))
        extra = f" options={options}" if options else ""
        print(f"  {state} {code} {rule.NAME} [{severity}] - {settings.reasons.get(code, '')}{extra}", file=out)
    return 0


def _display(text: str, here: str) -> str:
    """The path relative to ``here`` when it lies below it, else as given (no file system access)."""
    absolute = text if os.path.isabs(text) else os.path.join(here, text)
    prefix = here.rstrip(os.sep) + os.sep
    if absolute.startswith(prefix):
        return absolute[len(prefix):].replace(os.sep, "/")
    return "." if absolute == here else text


def _check(ns: argparse.Namespace) -> int:
    from .cache import Cache
    from .discovery import Discovery
    from .errors import ConfigError

    stored, fingerprint = _settings(ns)
    if ns.show_settings:
        return _show_settings(stored.settings(), sys.stdout)
    if ns.jobs is not None and ns.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    root = stored.root
    discovery = Discovery(root, stored.exclude, stored.respect_gitignore)
    if "-" in ns.paths or (not ns.paths and ns.stdin_filename):
        if len(ns.paths) > 1:
            raise ConfigError("'-' (stdin) cannot be combined with other paths")
        return _check_stdin(ns, stored, discovery)
    for path in ns.paths:
        if not os.path.exists(path):
            raise ConfigError(f"{path}: no such file or folder")
    cwd = os.getcwd()
    cache_home = root if stored.config_path is not None else cwd
    cache = None if fingerprint is None or ns.add_noqa else Cache(cache_home, fingerprint)
    if cache is not None:
        from .folder_records import FolderRecords

        discovery.records = FolderRecords(cache.folder, root, stored.exclude, stored.respect_gitignore)
    found = list(discovery.files(ns.paths or ["."], force_exclude=ns.force_exclude))
    if discovery.records is not None:
        discovery.records.save()
    if not found and not discovery.problems:
        return 0
    files = found if cache is None else cache.not_clean(found)
    if not files and not discovery.problems:
        return _report(ns, stored, [], {})  # every file passed, and is as it was then: nothing is read
    from pathlib import Path

    from .runner import FileResult, load, run

    tasks = [load(Path(path), _display(path, cwd), discovery.relpath(path), cache, discovery.real(path))
             for path in files]
    tasks += [FileResult("", error=problem) for problem in discovery.problems]
    if ns.add_noqa:
        return _add_noqa(tasks, stored.settings(), ns)
    fixing = ns.fix or ns.diff
    result = run(tasks, stored.settings(), fix=fixing, unsafe=ns.unsafe_fixes, write=ns.fix and not ns.diff,
                 jobs=ns.jobs, cache=cache)
    sources = {t.filename: t.text for t in tasks if hasattr(t, "text")}
    for f in result.files:
        if f.new_source is not None:
            sources[f.filename] = f.new_source
    return _report(ns, stored, result.files, sources)


def _add_noqa(tasks: list[Any], settings: Any, ns: argparse.Namespace) -> int:
    from . import sources
    from .add_noqa import add_noqa
    from .engine import SYNTAX_ERROR, Linter
    from .runner import refuse_link_out_of_tree, run, write_atomic
    from pathlib import Path

    result = run(tasks, settings, jobs=ns.jobs)
    for error in result.errors:
        print(f"error: {error}", file=sys.stderr)
    linter, total, skipped, unwritten = Linter(settings), 0, 0, 0
    for task, file in zip(tasks, result.files):
        findings = [v for v in file.violations if v.code != SYNTAX_ERROR]
        if file.error or not findings:
            continue
        source = sources.for_name(task.filename)
        if source.noqa_rows is None:  # no place for a # noqa comment
            skipped += len(findings)
            if source.KIND == "adapter_config":
                print(f"warning: {task.filename}: JSON has no comments, so no # noqa; "
                      f"use per-file-ignores to suppress its findings", file=sys.stderr)
            continue
        new_source, added = add_noqa(task.text, findings, source.noqa_rows)
        # every finding suppressed, and nothing broken (a LORA000 now is a file the comments broke)
        left = linter.lint(new_source, task.filename, relpath=task.relpath) if added else findings
        if not added or left:
            skipped += len(findings)
            print(f"warning: {task.filename}: could not add every noqa comment; file left unchanged", file=sys.stderr)
            continue
        try:
            refuse_link_out_of_tree(task)
            write_atomic(Path(task.path), new_source, task.encoding, expected=task.digest)
        except OSError as exc:
            print(f"error: {task.filename}: cannot write: {exc}", file=sys.stderr)
            unwritten += 1
            continue
        total += added
    if not ns.quiet:
        print(f"Added {total} noqa directive{'s' * (total != 1)}."
              + (f" {skipped} finding{'s' * (skipped != 1)} left (notebooks, JSON or lines that cannot take a comment)."
                 if skipped else ""), file=sys.stderr)
    return 2 if result.errors or unwritten else 0


def _check_stdin(ns: argparse.Namespace, stored: Stored, discovery: Any) -> int:
    """Lint (or fix, printing the result) the bytes on stdin, decoded as a file's are."""
    from .engine import Linter
    from .reading import FILE_LIMIT, size_text
    from .runner import FileResult, Task, _process, task_from_bytes

    data = sys.stdin.buffer.read(FILE_LIMIT + 1)
    filename = ns.stdin_filename or "-"
    if ns.stdin_filename and ns.force_exclude and discovery.left_out(filename):
        if ns.fix:
            _pass_through(data)
        return 0
    relpath = discovery.relpath(filename) if ns.stdin_filename else filename
    if len(data) > FILE_LIMIT:
        task: Task | FileResult = FileResult(filename, error=f"{filename}: not linted: over the "
                                                             f"{size_text(FILE_LIMIT)} limit")
    else:
        task = task_from_bytes(Task(filename, filename, relpath, "", digest=""), data, _suffix(filename))
    if isinstance(task, FileResult):  # too large: not linted, and with --fix passed through unchanged
        if ns.fix and not ns.diff:
            _pass_through(data)
        return _report(ns, stored, [task], {}, stream=sys.stderr if ns.fix else None)
    file = _process(task, ns.fix or ns.diff, ns.unsafe_fixes, Linter(stored.settings()))
    if ns.fix and not ns.diff:
        if file.new_source is None:
            _pass_through(data)
        else:
            _write_stdout(file.new_source.encode(task.encoding))
        return _report(ns, stored, [file], {filename: file.new_source or task.text}, stream=sys.stderr)
    return _report(ns, stored, [file], {filename: task.text})


def _suffix(filename: str) -> str:
    """``Path(filename).suffix``."""
    name = filename.rstrip("/").rpartition("/")[2]
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def _pass_through(data: bytes) -> None:
    """Print stdin's bytes as read (``data``) and the rest of it, in bounded chunks."""
    _write_stdout(data)
    while chunk := sys.stdin.buffer.read(1 << 20):
        _write_stdout(chunk)


def _write_stdout(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _report(ns: argparse.Namespace, stored: Stored, files: list[Any], sources: dict[str, str],
            stream: TextIO | None = None) -> int:
    """Print the findings of ``files`` (``FileResult``s; none when every file was answered clean
    by the cache, which imports no renderer) and the summary; the exit status."""
    from .errors import LintError

    errors = [f.error for f in files if f.error]
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    status = 2 if errors else 0
    if ns.diff:
        import difflib

        changed = [f for f in files if f.new_source is not None]
        out = stream or sys.stdout
        for f in changed:
            out.writelines(difflib.unified_diff(_diff_lines(f.original), _diff_lines(f.new_source),
                                                f"a/{f.filename}", f"b/{f.filename}"))
        fixes = sum(len(f.fixed) for f in changed)
        if not ns.quiet:
            print(f"Would fix {fixes} problem{'s' * (fixes != 1)} in {len(changed)} file{'s' * (len(changed) != 1)}."
                  if changed else "No fixes available.", file=sys.stderr)
        return status or (1 if changed and not ns.exit_zero else 0)
    violations = sorted((v for f in files for v in f.violations),
                        key=lambda v: (v.filename, v.extra.get("cell", 0), v.location.row, v.location.column, v.code))
    fmt = ns.output_format or "concise"
    if ns.statistics:
        text = _statistics(violations, ns.unsafe_fixes)
    elif not violations and fmt in ("concise", "full"):
        text = ""  # (a line per finding)
    else:
        from .output import render

        text = render(fmt, violations, sources=sources, unsafe=ns.unsafe_fixes)
    if ns.fix and ns.show_fixes and fmt in ("concise", "full"):
        text += _fixed_list(files)
    if ns.output_file is not None:
        try:
            with open(ns.output_file, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            raise LintError(f"cannot write the report: {exc}") from exc
    elif text:
        (stream or sys.stdout).write(text)
    fixed = sum(len(f.fixed) for f in files)
    if not ns.quiet:
        _summary(violations, fixed, ns.unsafe_fixes, sys.stderr, errors=len(errors))
    if status or ns.exit_zero:
        return status
    if violations and stored.settings().fails(violations):
        return 1
    if ns.fix and ns.exit_non_zero_on_fix and fixed:
        return 1
    return 0


def _diff_lines(text: str) -> list[str]:
    """Lines ending at "\\n" only, as patch and git read a diff (str.splitlines also breaks at U+2028)."""
    import io

    return io.StringIO(text).readlines()


def _statistics(violations: list[Any], unsafe: bool) -> str:
    from collections import Counter

    from .output import fixable

    counts = Counter((v.code, v.name) for v in violations)
    can_fix = {v.code for v in violations if fixable(v, unsafe)}
    width = max((len(str(n)) for n in counts.values()), default=1)
    return "".join(f"{n:>{width}}\t{code}\t{'[*] ' if code in can_fix else ''}{name}\n"
                   for (code, name), n in counts.most_common())


def _fixed_list(files: list[Any]) -> str:
    from collections import Counter

    lines = []
    for f in files:
        if f.fixed:
            lines.append(f"{f.filename}:")
            for (code, name), n in sorted(Counter((v.code, v.name) for v in f.fixed).items()):
                lines.append(f"    {n} x {code} ({name})")
    total = sum(len(f.fixed) for f in files)
    return (f"\nFixed {total} problem{'s' * (total != 1)}:\n" + "\n".join(lines) + "\n") if lines else ""


def _summary(violations: list[Any], fixed: int, unsafe: bool, out: TextIO, errors: int = 0) -> None:
    n = len(violations)
    if n == 0 and errors:
        print(f"No problems found, but {errors} error{'s' * (errors != 1)} above"
              f"{f' (fixed {fixed})' if fixed else ''}.", file=out)
        return
    if n == 0:
        print(f"All checks passed!{f' (fixed {fixed})' if fixed else ''}", file=out)
        return
    from collections import Counter

    from .output import fixable

    counts = Counter(v.severity for v in violations)
    parts = ", ".join(f"{counts[s]} {s}" for s in ("error", "warning", "info") if counts[s])
    line = f"Found {n} problem{'s' * (n != 1)} ({parts})"
    if fixed:
        line += f"; fixed {fixed}"
    print(line + ".", file=out)
    can_fix = sum(fixable(v, unsafe) for v in violations)
    if can_fix:
        print(f"[*] {can_fix} fixable with --fix{' --unsafe-fixes' if unsafe else ''}.", file=out)
    hidden = sum(fixable(v, True) for v in violations) - can_fix
    if hidden:
        print(f"{hidden} more fixable with --unsafe-fixes.", file=out)
