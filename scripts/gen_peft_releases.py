"""Generate lint_rules/knowledge/data/peft_releases.json from every peft release on PyPI.

For each final release that has a wheel, the wheel is downloaded (and its sha256 checked
against PyPI's), then read with ``zipfile`` and ``ast`` -- peft is never imported. From the
source the script takes:

- every ``LoraConfig`` keyword: the dataclass fields of ``LoraConfig`` and of its dataclass
  bases (``PeftConfig``, ``PeftConfigMixin``), each with its annotation text and default
  (a JSON literal, or ``{"expr": "<source>"}`` for a factory or a non-literal default);
- the values of ``bias`` the model code accepts (``== "none"``, ``.endswith("_only")``, ...);
- the values of ``init_lora_weights`` that the layer code dispatches on: exact strings,
  strings compared after ``.lower()``, prefixes such as ``pissa`` (with the ``_niter_<int>``
  split its handler applies) and ``corda``, and the annotation's ``Literal``; before the
  layer code compared strings at all, any truthy value meant the default init;
- ``TaskType`` members, and whether ``LoraConfig()`` rejects other ``task_type`` strings;
- the ``"all-linear"`` shorthand constant, and whether it is compared case-insensitively;
- the default ``target_modules`` per model type;
- the class of the error raised when no module matches ``target_modules``;
- what ``__post_init__`` (of ``LoraConfig`` and the bases it reaches through ``super()``)
  raises on: per ``raise``, the fields tested by the ``if`` statements around it;
- what building the model does with values the config let through: ``r <= 0`` raises or
  adds no LoRA weights, the dropout threshold below which no dropout layer is made, whether
  an unknown ``init_lora_weights`` string raises, whether a ``target_modules`` string is a
  regex (``re.fullmatch``), and what ``get_peft_model`` does with an unknown ``task_type``;
- the module kinds LoRA can wrap: the ``torch.nn`` classes (and transformers' ``Conv1D``) the
  LoRA layer dispatch tests with ``isinstance`` (a matched module of another kind raises
  "Target module ... is not supported");
- every attribute a ``LoraConfig`` instance has: fields (``init=False`` ones too), methods,
  properties, class attributes, ``self.X`` set by its methods and ``config.X`` set by the
  LoRA tuner, the bases outside peft it inherits from, and whether it has ``__getattr__``.

Names are resolved the way Python would (a package directory wins over a stale ``.py``
file of the same name, imports are followed), so leftovers in old wheels do not count.

The output is deterministic: keys sorted (release keys in version order), no wall-clock
time; the recorded date is the upload time of the newest included release. Values that
only change now and then are stored as ``{first_release: value}`` change points.

CI does not run this script; rerun it by hand when peft releases, then commit the JSON.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urljoin

from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
INDEX_URL = "https://pypi.org/pypi/peft/json"
DEFAULT_WHEELS = ROOT / ".scratch" / "peft-wheels"
DEFAULT_OUTPUT = ROOT / "lint_rules" / "knowledge" / "data" / "peft_releases.json"
NOT_FOUND_TEXT = "not found in the base model"
MAPPING_NAME = "TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING"
VERSION_KEY = re.compile(r"^\d+(\.\d+)+$")


# --------------------------------------------------------------------------- releases


def load_index(source: str) -> dict:
    """PyPI's JSON for peft, from a URL or a saved file."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=60) as response:
            return json.load(response)
    return json.loads(Path(source).read_text())


def pick_releases(index: dict) -> tuple[dict[str, dict], dict[str, str]]:
    """The wheel file entry of every usable release, and the excluded ones with a reason."""
    chosen: dict[str, dict] = {}
    excluded: dict[str, str] = {}
    for version, files in index["releases"].items():
        wheels = [f for f in files if f["packagetype"] == "bdist_wheel" and f["filename"].endswith(".whl")]
        live = [f for f in wheels if not f.get("yanked")]
        if Version(version).is_prerelease:
            excluded[version] = "pre-release"
        elif not files:
            excluded[version] = "no files uploaded"
        elif not wheels:
            excluded[version] = "no wheel (sdist only)"
        elif not live:
            excluded[version] = "yanked: " + (wheels[0].get("yanked_reason") or "no reason given")
        else:
            chosen[version] = sorted(live, key=lambda f: f["filename"])[0]
    return chosen, excluded


def fetch_wheel(entry: dict, index_url: str, wheels: Path) -> Path:
    """The wheel on disk (downloaded when missing), its sha256 checked against PyPI's."""
    path = wheels / entry["filename"]
    if not path.exists():
        wheels.mkdir(parents=True, exist_ok=True)
        url = urljoin(index_url, entry["url"])
        print(f"downloading {entry['filename']}", file=sys.stderr)
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.rename(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry["digests"]["sha256"]:
        raise SystemExit(f"{path}: sha256 {digest} does not match PyPI's {entry['digests']['sha256']}")
    return path


# --------------------------------------------------------------------------- the wheel as source


class Wheel:
    """The ``peft`` package inside one wheel, parsed on demand; resolves names like Python."""

    def __init__(self, path: Path) -> None:
        with zipfile.ZipFile(path) as zf:
            self.files = {n: zf.read(n).decode("utf-8") for n in zf.namelist()
                          if n.startswith("peft/") and n.endswith(".py")}
        self._trees: dict[str, ast.Module] = {}

    def filename(self, module: str) -> str | None:
        base = module.replace(".", "/")
        for name in (base + "/__init__.py", base + ".py"):  # a package wins over a module
            if name in self.files:
                return name
        return None

    def tree(self, module: str) -> ast.Module | None:
        name = self.filename(module)
        return None if name is None else self.parsed(name)

    def parsed(self, filename: str) -> ast.Module:
        if filename not in self._trees:
            self._trees[filename] = ast.parse(self.files[filename], filename=filename)
        return self._trees[filename]

    def is_package(self, module: str) -> bool:
        return (self.filename(module) or "").endswith("/__init__.py")

    def absolute(self, module: str, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = module.split(".") if self.is_package(module) else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join(parts + ([node.module] if node.module else []))

    def resolve(self, module: str, name: str, depth: int = 0) -> tuple[str, ast.AST] | None:
        """Where ``name`` as seen from ``module`` is defined: (module, node); None if outside peft."""
        tree = self.tree(module)
        if tree is None or depth > 20:
            return None
        found: tuple[str, ast.AST] | None = None
        for stmt in _top_level(tree.body):  # the last binding wins, as at import time
            if isinstance(stmt, (ast.ClassDef, ast.FunctionDef)) and stmt.name == name:
                found = (module, stmt)
            elif isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name
                                                      for t in stmt.targets):
                found = (module, stmt)
            elif isinstance(stmt, ast.ImportFrom):
                source = self.absolute(module, stmt)
                for alias in stmt.names:
                    if alias.name == "*":
                        found = self.resolve(source, name, depth + 1) or found
                    elif (alias.asname or alias.name) == name:
                        found = self.resolve(source, alias.name, depth + 1)
        return found

    def cls(self, module: str, name: str) -> tuple[str, ast.ClassDef] | None:
        hit = self.resolve(module, name)
        if hit is not None and isinstance(hit[1], ast.ClassDef):
            return hit  # type: ignore[return-value]
        return None

    def mro(self, module: str, node: ast.ClassDef) -> list[tuple[str, ast.ClassDef]]:
        """The class and its bases defined inside peft (single inheritance, as peft uses it)."""
        chain = [(module, node)]
        while True:
            mod, current = chain[-1]
            bases = [self.cls(mod, b.id) for b in current.bases if isinstance(b, ast.Name)]
            bases = [b for b in bases if b is not None]
            if not bases:
                return chain
            if len(bases) > 1:
                raise SystemExit(f"{current.name}: several peft base classes; extend mro()")
            chain.append(bases[0])

    def method(self, chain: list[tuple[str, ast.ClassDef]], name: str) -> ast.FunctionDef | None:
        for _, node in chain:
            for stmt in node.body:
                if isinstance(stmt, ast.FunctionDef) and stmt.name == name:
                    return stmt
        return None


def _top_level(body: list[ast.stmt]):
    """Module-level statements, including those inside top-level if/try blocks."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            yield from _top_level(stmt.body)
            yield from _top_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from _top_level(stmt.body)
            for handler in stmt.handlers:
                yield from _top_level(handler.body)
            yield from _top_level(stmt.orelse)
        else:
            yield stmt


# --------------------------------------------------------------------------- LoraConfig fields


def _is_dataclass(node: ast.ClassDef) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if (isinstance(target, ast.Name) and target.id == "dataclass") or (
                isinstance(target, ast.Attribute) and target.attr == "dataclass"):
            return True
    return False


def _json_literal(node: ast.expr) -> object:
    """A JSON value for a literal expression, else ``{"expr": source}``."""
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return {"expr": ast.unparse(node)}
    if _jsonable(value):
        return value
    return {"expr": ast.unparse(node)}


def _jsonable(value: object) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return value == value and abs(value) != float("inf")
    if isinstance(value, list):
        return all(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _jsonable(v) for k, v in value.items())
    return False


def _field_default(value: ast.expr | None, where: str) -> tuple[object, bool]:
    """(default, accepted as a keyword) for one dataclass field's right-hand side."""
    if value is None:
        raise SystemExit(f"{where}: a field without a default; the data format has no place for it")
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "field":
        kwargs = {k.arg: k.value for k in value.keywords}
        init = not (isinstance(kwargs.get("init"), ast.Constant) and kwargs["init"].value is False)
        if "default" in kwargs:
            return _json_literal(kwargs["default"]), init
        if "default_factory" in kwargs:
            factory = kwargs["default_factory"]
            if isinstance(factory, ast.Lambda):
                return {"expr": ast.unparse(factory.body)}, init
            return {"expr": ast.unparse(factory) + "()"}, init
        raise SystemExit(f"{where}: field() without a default")
    return _json_literal(value), True


def lora_fields(wheel: Wheel, config: tuple[str, ast.ClassDef]) -> dict[str, dict]:
    """Keyword -> {"default", "annotation"} as ``dataclasses`` would collect the fields."""
    fields: dict[str, dict] = {}
    for module, node in reversed(wheel.mro(*config)):
        if not _is_dataclass(node):
            continue
        for stmt in node.body:
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            annotation = ast.unparse(stmt.annotation)
            if annotation.startswith(("ClassVar", "typing.ClassVar", "InitVar", "dataclasses.InitVar")):
                raise SystemExit(f"{node.name}.{stmt.target.id}: {annotation} is not handled")
            default, init = _field_default(stmt.value, f"{module}.{node.name}.{stmt.target.id}")
            if init:
                fields[stmt.target.id] = {"annotation": annotation, "default": default}
            else:
                fields.pop(stmt.target.id, None)
    return fields


# --------------------------------------------------------------------------- option values


def _names(node: ast.expr, name: str) -> bool:
    """Whether ``node`` is the variable or attribute called ``name``."""
    return (isinstance(node, ast.Name) and node.id == name) or (
        isinstance(node, ast.Attribute) and node.attr == name)


def _str_method(node: ast.AST, var: str, method: str) -> str | None:
    """The constant argument of ``<var>.<method>("...")``."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
            and _names(node.func.value, var) and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


def _compared_strings(tree: ast.AST, var: str) -> tuple[set[str], set[str]]:
    """Strings that ``var`` is compared with: (exact ``==``/``in``, after ``.lower()``)."""
    exact: set[str] = set()
    folded: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
            continue
        left, op, right = node.left, node.ops[0], node.comparators[0]
        lowered = (isinstance(left, ast.Call) and isinstance(left.func, ast.Attribute)
                   and left.func.attr == "lower" and _names(left.func.value, var))
        if not (lowered or _names(left, var)):
            continue
        into = folded if lowered else exact
        if isinstance(op, ast.Eq) and isinstance(right, ast.Constant) and isinstance(right.value, str):
            into.add(right.value)
        elif isinstance(op, ast.In) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
            into.update(e.value for e in right.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return exact, folded


def _literal_strings(annotation: str) -> list[str]:
    """The strings inside ``Literal[...]`` of an annotation."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(annotation, mode="eval")):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("Literal"):
            found.update(e.value for e in ast.walk(node.slice)
                         if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return sorted(found)


def init_lora_weights_values(wheel: Wheel, field: dict) -> dict:
    """What the LoRA layer code does with each ``init_lora_weights`` value."""
    layer = wheel.cls("peft.tuners.lora", "LoraLayer")
    if layer is None:
        raise SystemExit("LoraLayer not found although LoraConfig has init_lora_weights")
    tree = wheel.tree(layer[0])
    var = "init_lora_weights"
    exact, folded = _compared_strings(tree, var)
    methods = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    prefixes: dict[str, dict] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.If):
            continue
        for test in ast.walk(node.test):
            prefix = _str_method(test, var, "startswith")
            if prefix is None:
                continue
            called = {c.func.attr for stmt in node.body for c in ast.walk(stmt)
                      if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                      and isinstance(c.func.value, ast.Name) and c.func.value.id == "self"}
            rule: dict = {}
            for name in sorted(called & methods.keys()):
                for inner in ast.walk(methods[name]):
                    sep = _str_method(inner, var, "split")
                    if sep is not None:
                        rule["split_int"] = sep
            prefixes[prefix] = rule
    return {
        "bool": True,
        "literal": _literal_strings(field["annotation"]),
        "exact": sorted(exact),
        "casefold": sorted(folded),
        "prefix": prefixes,
        "any_string": not (exact or folded or prefixes),  # the layer only tests truthiness
    }


def _help_text(config: ast.ClassDef, name: str) -> str:
    for stmt in config.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name:
            metadata = next(k.value for k in stmt.value.keywords if k.arg == "metadata")
            return ast.literal_eval(metadata)["help"]
    raise SystemExit(f"{config.name}.{name} not found")


def bias_values(wheel: Wheel, model: tuple[str, ast.ClassDef], config: tuple[str, ast.ClassDef],
                field: dict) -> dict:
    """The ``bias`` values the model code accepts before raising ``NotImplementedError``."""
    chain = wheel.mro(*model)
    function = wheel.method(chain, "_mark_only_adapters_as_trainable")
    if function is None:
        hit = wheel.resolve(model[0], "mark_only_lora_as_trainable")
        function = hit[1] if hit is not None and isinstance(hit[1], ast.FunctionDef) else None
    values: dict = {"literal": _literal_strings(field["annotation"])}
    if function is None:  # 0.0.x delegates to loralib: read the values the help text names
        help_text = _help_text(config[1], "bias")
        values.update(exact=sorted(re.findall(r"'([a-z_]+)'", help_text)), suffix=[], from_help=True)
        return values
    exact, _ = _compared_strings(function, "bias")
    suffixes = {s for n in ast.walk(function) if (s := _str_method(n, "bias", "endswith")) is not None}
    if not any(isinstance(n, ast.Raise) for n in ast.walk(function)):
        raise SystemExit(f"{function.name}: no raise for an unknown bias")
    values.update(exact=sorted(exact), suffix=sorted(suffixes))
    return values


def _rejects_task_type(post_init: ast.FunctionDef) -> bool:
    """Whether ``__post_init__`` raises for a ``task_type`` not in some collection."""
    for node in ast.walk(post_init):
        if isinstance(node, ast.If) and any(isinstance(r, ast.Raise) for r in ast.walk(node)):
            for test in ast.walk(node.test):
                if (isinstance(test, ast.Compare) and _names(test.left, "task_type")
                        and any(isinstance(op, ast.NotIn) for op in test.ops)):
                    return True
    return False


def task_type_values(wheel: Wheel, config: tuple[str, ast.ClassDef]) -> dict:
    """``TaskType`` members, and whether ``LoraConfig()`` rejects other strings."""
    enum = wheel.cls("peft", "TaskType")
    if enum is None:
        raise SystemExit("TaskType not found")
    members = {t.id: s.value.value for s in enum[1].body if isinstance(s, ast.Assign)
               for t in s.targets if isinstance(t, ast.Name) and isinstance(s.value, ast.Constant)}
    checked = False
    for module, node in wheel.mro(*config):  # follow __post_init__ while it calls super()
        post_init = wheel.method([(module, node)], "__post_init__")
        if post_init is None:
            continue
        checked = _rejects_task_type(post_init)
        calls_super = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                          and n.func.attr == "__post_init__" for n in ast.walk(post_init))
        if checked or not calls_super:
            break
    return {"members": members, "checked": checked}


# --------------------------------------------------------------------------- validation


def _self_fields(node: ast.AST) -> set[str]:
    """The ``self.<name>`` attributes an expression reads."""
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "self"}


def _raises_under(body: list[ast.stmt], tested: frozenset[str], fields: set[str], out: set) -> None:
    """Each ``raise`` in ``body`` with the fields the ``if`` tests around it read (an
    ``elif`` adds the tests before it: it runs only when they were false)."""
    for stmt in body:
        if isinstance(stmt, ast.Raise):
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            name = ast.unparse(exc) if exc is not None else "re-raise"
            if name != "ImportError":  # a missing package, not a value
                out.add((tuple(sorted(tested)), name))
        elif isinstance(stmt, ast.If):
            here = tested | (_self_fields(stmt.test) & fields)
            _raises_under(stmt.body, here, fields, out)
            _raises_under(stmt.orelse, here, fields, out)
        elif isinstance(stmt, (ast.For, ast.While, ast.With, ast.Try)):
            for block in ("body", "orelse", "finalbody"):
                _raises_under(getattr(stmt, block, []), tested, fields, out)
            for handler in getattr(stmt, "handlers", []):
                _raises_under(handler.body, tested, fields, out)


def config_checks(wheel: Wheel, config: tuple[str, ast.ClassDef], fields: list[str]) -> list[dict]:
    """What ``LoraConfig()`` raises on: ``{"fields": [...], "raises": "ValueError"}`` per
    ``raise`` in ``__post_init__``, following ``super().__post_init__()``."""
    found: set = set()
    names = set(fields)
    for module, node in wheel.mro(*config):
        post_init = wheel.method([(module, node)], "__post_init__")
        if post_init is None:
            continue
        _raises_under(post_init.body, frozenset(), names, found)
        if not any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                   and n.func.attr == "__post_init__" for n in ast.walk(post_init)):
            break
    return [{"fields": list(f), "raises": r} for f, r in sorted(found)]


def _compares(tree: ast.AST, var: str, op: type, value: object) -> list[ast.Compare]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Compare) and len(n.ops) == 1
            and isinstance(n.ops[0], op) and _names(n.left, var)
            and isinstance(n.comparators[0], ast.Constant) and n.comparators[0].value == value]


def _raising_ifs(tree: ast.AST) -> list[ast.If]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.If)
            and any(isinstance(s, ast.Raise) for s in n.body)]


def build_checks(wheel: Wheel, model: tuple[str, ast.ClassDef]) -> dict:
    """What building the model does with values ``LoraConfig()`` let through."""
    layer = wheel.cls("peft.tuners.lora", "LoraLayer")
    if layer is None:
        raise SystemExit("LoraLayer not found")
    tree = wheel.tree(layer[0])
    rank_raises = any(_compares(n.test, "r", ast.LtE, 0) for n in _raising_ifs(tree))
    if not rank_raises and not _compares(tree, "r", ast.Gt, 0):
        raise SystemExit("the layer code neither raises on r <= 0 nor tests r > 0")
    thresholds = {c.comparators[0].value for c in ast.walk(tree) if isinstance(c, ast.Compare)
                  and len(c.ops) == 1 and isinstance(c.ops[0], ast.Gt) and _names(c.left, "lora_dropout")
                  and isinstance(c.comparators[0], ast.Constant)}
    if len(thresholds) != 1:
        raise SystemExit(f"lora_dropout thresholds: {sorted(thresholds)}")
    init_raises = any(any(_names(m, "init_lora_weights") for m in ast.walk(f)) and _raising_ifs(f)
                      and _compared_strings(f, "init_lora_weights") != (set(), set())
                      for f in ast.walk(tree) if isinstance(f, ast.FunctionDef))
    return {
        "rank_not_positive": "raises" if rank_raises else "no_adapter",
        "dropout_above": thresholds.pop(),
        "unknown_init_raises": init_raises,
        "target_regex": _target_regex(wheel),
        "unknown_task_type": _unknown_task_type(wheel),
    }


def _target_regex(wheel: Wheel) -> str | None:
    """The ``re`` function a ``target_modules`` string is matched with (None: not a regex)."""
    found = {n.func.attr for name in sorted(wheel.files) for n in ast.walk(wheel.parsed(name))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and _names(n.func.value, "re")
             and n.func.attr in ("fullmatch", "match", "search") and n.args
             and (_names(n.args[0], "target_modules") or _names(n.args[0], "target_pattern"))}
    if len(found) > 1:
        raise SystemExit(f"target_modules matched with several functions: {sorted(found)}")
    return found.pop() if found else None


def _unknown_task_type(wheel: Wheel) -> str:
    """What ``get_peft_model`` does with a ``task_type`` it has no model class for."""
    hit = wheel.resolve("peft", "get_peft_model")
    if hit is None or not isinstance(hit[1], ast.FunctionDef):
        raise SystemExit("get_peft_model not found")
    for node in ast.walk(hit[1]):
        if isinstance(node, ast.If) and any(isinstance(c, ast.Compare) and isinstance(c.ops[0], ast.NotIn)
                                            and _names(c.left, "task_type") for c in ast.walk(node.test)):
            for stmt in node.body:
                if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Call):
                    return ast.unparse(stmt.value.func)
    if any(isinstance(n, ast.Subscript) and _names(n.slice, "task_type") for n in ast.walk(hit[1])):
        return "KeyError"
    raise SystemExit("get_peft_model: no handling of an unknown task_type found")


# --------------------------------------------------------------------------- attributes


def config_attributes(wheel: Wheel, config: tuple[str, ast.ClassDef]) -> dict:
    """Every attribute a ``LoraConfig`` instance can have, as far as peft's source says."""
    names: set[str] = set()
    outside: set[str] = set()
    hook = False
    for module, node in wheel.mro(*config):
        for base in node.bases:
            if isinstance(base, ast.Name) and wheel.cls(module, base.id) is None:
                outside.add(base.id)
            elif not isinstance(base, ast.Name):
                outside.add(ast.unparse(base))
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                names.add(stmt.target.id)
            elif isinstance(stmt, ast.Assign):
                names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(stmt.name)
                hook = hook or stmt.name in ("__getattr__", "__getattribute__")
                names.update(_written(stmt, "self"))
    for name in sorted(wheel.files):  # the LoRA tuner sets attributes on the configs it is given
        if name.startswith("peft/tuners/lora/"):
            for owner in ("config", "peft_config", "lora_config"):
                names.update(_written(wheel.parsed(name), owner))
    return {"names": sorted(names), "outside_peft": sorted(outside), "getattr_hook": hook}


def _written(tree: ast.AST, owner: str) -> set[str]:
    """Attributes assigned on the variable ``owner`` (``owner.x = ...``)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            for t in ast.walk(target):
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == owner:
                    found.add(t.attr)
    return found


# --------------------------------------------------------------------------- other facts


def all_linear(wheel: Wheel) -> dict | None:
    """The ``"all-linear"`` shorthand: its value and whether ``target_modules`` is lowered first.

    Only ``==`` tests count: those are where peft decides to expand the shorthand.
    """
    constants = {t.id for name in sorted(wheel.files) for stmt in wheel.parsed(name).body
                 if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
                 and stmt.value.value == "all-linear" for t in stmt.targets if isinstance(t, ast.Name)}
    uses = [n for name in sorted(wheel.files) for n in ast.walk(wheel.parsed(name))
            if isinstance(n, ast.Compare) and isinstance(n.ops[0], ast.Eq)
            and any(_names(c, k) for c in n.comparators for k in constants)]
    if not uses:
        return None
    folded = [isinstance(u.left, ast.Call) and isinstance(u.left.func, ast.Attribute)
              and u.left.func.attr == "lower" for u in uses]
    if len(set(folded)) > 1:
        raise SystemExit("the all-linear shorthand is compared both with and without .lower()")
    return {"value": "all-linear", "casefold": folded[0]}


def default_target_modules(wheel: Wheel, model: tuple[str, ast.ClassDef]) -> dict:
    for module in (model[0], "peft.mapping", "peft.utils"):
        hit = wheel.resolve(module, MAPPING_NAME)
        if hit is not None and isinstance(hit[1], ast.Assign):
            return ast.literal_eval(hit[1].value)
    raise SystemExit(f"{MAPPING_NAME} not found")


def not_found_error(wheel: Wheel, model: tuple[str, ast.ClassDef]) -> str | None:
    """The class raised when no module matches ``target_modules`` (None: nothing is raised)."""
    chain = wheel.mro(*model)
    function = wheel.method(chain, "inject_adapter") or wheel.method(chain, "_find_and_replace")
    if function is None:
        raise SystemExit("neither inject_adapter nor _find_and_replace found")
    found: set[str] = set()
    for node in ast.walk(function):
        for block in (getattr(node, "body", None), getattr(node, "orelse", None)):
            if not isinstance(block, list):
                continue
            mentions = any(isinstance(n, ast.Constant) and isinstance(n.value, str) and NOT_FOUND_TEXT in n.value
                           for stmt in block for n in ast.walk(stmt))
            for stmt in block:
                if mentions and isinstance(stmt, ast.Raise) and isinstance(stmt.exc, ast.Call):
                    found.add(ast.unparse(stmt.exc.func))
    if len(found) > 1:
        raise SystemExit(f"several not-found errors: {sorted(found)}")
    return found.pop() if found else None


LAYER_KINDS = ("Linear", "Conv1D", "Embedding", "Conv1d", "Conv2d", "Conv3d", "MultiheadAttention")
_DISPATCH = {"dispatch_default", "_create_new_module", "_find_and_replace"}


def layer_kinds(wheel: Wheel) -> list[str]:
    """The module kinds LoRA's layer dispatch wraps: ``isinstance`` tests against ``torch.nn``
    classes or ``Conv1D`` inside the LoRA tuner's dispatch functions."""
    found: set[str] = set()
    for name in sorted(wheel.files):
        if not (name.startswith("peft/tuners/lora/") or name == "peft/tuners/lora.py"):
            continue
        for function in ast.walk(wheel.parsed(name)):
            if not (isinstance(function, ast.FunctionDef) and function.name in _DISPATCH):
                continue
            for node in ast.walk(function):
                if not (isinstance(node, ast.Call) and _names(node.func, "isinstance") and len(node.args) == 2):
                    continue
                tested = node.args[1]
                for cls in (tested.elts if isinstance(tested, ast.Tuple) else [tested]):
                    text = ast.unparse(cls)
                    kind = text.rsplit(".", 1)[-1]
                    if kind in LAYER_KINDS and (text == "Conv1D" or text.startswith(("torch.nn.", "nn."))):
                        found.add(kind)
    if "Linear" not in found:
        raise SystemExit("the LoRA layer dispatch was not found")
    return sorted(found)


def extract(wheel: Wheel) -> dict:
    """Everything recorded for one release."""
    config = wheel.cls("peft", "LoraConfig")
    model = wheel.cls("peft", "LoraModel")
    if config is None or model is None:
        raise SystemExit("LoraConfig or LoraModel not found")
    fields = lora_fields(wheel, config)
    options = {"bias": bias_values(wheel, model, config, fields["bias"]),
               "task_type": task_type_values(wheel, config)}
    if "init_lora_weights" in fields:
        options["init_lora_weights"] = init_lora_weights_values(wheel, fields["init_lora_weights"])
    attributes = config_attributes(wheel, config)
    return {
        "fields": fields,
        "options": options,
        "all_linear": all_linear(wheel),
        "default_target_modules": default_target_modules(wheel, model),
        "not_found_error": not_found_error(wheel, model),
        "config_checks": config_checks(wheel, config, attributes["names"]),
        "build_checks": build_checks(wheel, model),
        "attributes": attributes,
        "layer_kinds": layer_kinds(wheel),
    }


# --------------------------------------------------------------------------- assembling the file


_MISSING = object()


def changes(values: list[tuple[str, object]]) -> dict[str, object]:
    """``{release: value}`` at each release where the value differs from the previous one.

    ``_MISSING`` (absent in that release) is written as null.
    """
    out: dict[str, object] = {}
    previous: object = _MISSING
    for version, value in values:
        value = None if value is _MISSING else value
        if not out or value != previous or type(value) is not type(previous):
            out[version] = value
            previous = value
    return out


def spans(present: list[bool], versions: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for i, here in enumerate(present):
        if here and (i == 0 or not present[i - 1]):
            out.append([versions[i], versions[i]])
        elif here:
            out[-1][1] = versions[i]
    return out


def assemble(index_url: str, picked: dict[str, dict], excluded: dict[str, str],
             facts: dict[str, dict]) -> dict:
    versions = sorted(facts, key=Version)
    fields: dict[str, dict] = {}
    for name in sorted({n for f in facts.values() for n in f["fields"]}):
        present = [name in facts[v]["fields"] for v in versions]
        have = [(v, facts[v]["fields"][name]) for v in versions if name in facts[v]["fields"]]
        fields[name] = {
            "spans": spans(present, versions),
            "default": changes([(v, f["default"]) for v, f in have]),
            "annotation": changes([(v, f["annotation"]) for v, f in have]),
        }
    options = {
        option: changes([(v, facts[v]["options"].get(option, _MISSING)) for v in versions])
        for option in ("bias", "init_lora_weights", "task_type")
    }
    model_types = sorted({m for f in facts.values() for m in f["default_target_modules"]})
    targets = {m: changes([(v, facts[v]["default_target_modules"].get(m, _MISSING)) for v in versions])
               for m in model_types}
    newest = picked[versions[-1]]
    return {
        "source": {
            "index": index_url,
            "date": newest["upload_time_iso_8601"],
            "generator": "scripts/gen_peft_releases.py",
            "note": "Read from the released wheels with ast, never imported. Values keyed by release "
                    "hold from that release on (null: absent there).",
        },
        "releases": {v: {"wheel": picked[v]["filename"], "sha256": picked[v]["digests"]["sha256"],
                         "uploaded": picked[v]["upload_time_iso_8601"]} for v in versions},
        "excluded": excluded,
        "fields": fields,
        "options": options,
        "all_linear": changes([(v, facts[v]["all_linear"]) for v in versions]),
        "not_found_error": changes([(v, facts[v]["not_found_error"]) for v in versions]),
        "config_checks": changes([(v, facts[v]["config_checks"]) for v in versions]),
        "build_checks": changes([(v, facts[v]["build_checks"]) for v in versions]),
        "attributes": changes([(v, facts[v]["attributes"]) for v in versions]),
        "layer_kinds": changes([(v, facts[v]["layer_kinds"]) for v in versions]),
        "default_target_modules": targets,
    }


def _key(item: tuple[str, object]) -> tuple:
    key = item[0]
    return (0, Version(key), "") if VERSION_KEY.match(key) else (1, Version("0"), key)


def render(value: object, indent: int = 0, width: int = 110) -> str:
    """Stable JSON: sorted keys (releases in version order), short values kept on one line."""
    flat = _flat(value)
    if not isinstance(value, (dict, list)) or not value or len(flat) + indent <= width:
        return flat
    pad = " " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {render(v, indent + 1, width)}" for k, v in sorted(value.items(), key=_key)]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + render(v, indent + 1, width) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def _flat(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_flat(v)}" for k, v in sorted(value.items(), key=_key)) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Downloads to --wheels and writes --output; "
                                            "--check writes nothing and fails when the file would change.")
    parser.add_argument("--index", default=INDEX_URL, help="PyPI JSON URL or a saved copy (default: %(default)s)")
    parser.add_argument("--wheels", type=Path, default=DEFAULT_WHEELS,
                        help="wheel cache directory (default: .scratch/peft-wheels)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="JSON file to write (default: lint_rules/knowledge/data/peft_releases.json)")
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    args = parser.parse_args(argv)

    index = load_index(args.index)
    url = args.index if args.index.startswith(("http://", "https://")) else INDEX_URL
    picked, excluded = pick_releases(index)
    facts = {}
    for version in sorted(picked, key=Version):
        facts[version] = extract(Wheel(fetch_wheel(picked[version], url, args.wheels)))
    text = render(assemble(INDEX_URL, picked, excluded, facts)) + "\n"
    if args.check:
        same = args.output.exists() and args.output.read_text() == text
        print(f"{args.output}: {'up to date' if same else 'would change'}", file=sys.stderr)
        return 0 if same else 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(text)} bytes, {len(facts)} releases, {len(excluded)} excluded)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
