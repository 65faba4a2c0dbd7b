"""The language server: document sync, diagnostics, code actions, hover, settings reload.

Linting runs on one worker thread (a ``Linter`` is not shared between threads), off the event
loop, so the server keeps answering while a file is linted. A document is linted at once when
opened or saved, and ``debounce`` seconds after the last change (``initializationOptions``:
``{"debounce": 0.25}``); a result is published only if the document has not changed since.
"""
from __future__ import annotations

import asyncio
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .. import __version__, sources
from ..catalog import all_rules
from ..errors import LintError
from ..ruledoc import explain
from ..violation import Location
from .documents import (CONFIG_FILES, Linted, findings_in, findings_in_notebook_json, lint_text, noqa_edit,
                        notebook_json, too_large, wants)
from .positions import Lines
from .projects import Projects

DEBOUNCE = 0.25  # seconds after the last change
FIX_ALL = f"{types.CodeActionKind.SourceFixAll.value}.lora-lint"


class LoraLintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "lora-lint", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=types.NotebookDocumentSyncOptions(
                notebook_selector=[types.NotebookDocumentFilterWithCells(
                    notebook="jupyter-notebook", cells=[types.NotebookCellLanguage(language="python")])],
                save=True))
        self.projects = Projects(report=self.warn)
        self.linted: dict[str, Linted] = {}  # document (or notebook cell) uri -> its findings
        self.debounce = DEBOUNCE
        self._pending: dict[str, asyncio.Task] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lora-lint")
        self._loop: asyncio.AbstractEventLoop | None = None  # the event loop's, set when initialized
        self._loop_thread: int | None = None

    def _on_loop(self, send: Callable[[Any], None], params: Any) -> None:
        """``send(params)`` from the event loop's thread (the worker never writes to stdout itself)."""
        if self._loop is None or threading.get_ident() == self._loop_thread:
            send(params)
        else:
            self._loop.call_soon_threadsafe(send, params)

    def warn(self, message: str) -> None:
        self._on_loop(self.window_show_message, types.ShowMessageParams(types.MessageType.Warning, message))

    @property
    def encoding(self) -> str:
        return str(getattr(self.workspace.position_encoding, "value", self.workspace.position_encoding) or "utf-16")

    def fallback_folder(self) -> Path:
        return Path(self.workspace.root_path or ".")

    def path_of(self, uri: str, suffix: str) -> Path:
        """The file a document is (or, unsaved, would be linted as): its path, else a name in the workspace."""
        path = to_fs_path(uri)
        if path is not None:
            return Path(path)
        name = uri.rstrip("/").rsplit("/", 1)[-1] or "untitled"
        return self.fallback_folder() / (name if name.endswith(suffix) else name + suffix)

    # --- scheduling ------------------------------------------------------------------------

    def schedule(self, uri: str, delay: float = 0.0) -> None:
        """Lint the document (or notebook) ``delay`` seconds from now, replacing a pending lint."""
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self._pending[uri] = asyncio.get_running_loop().create_task(self._later(uri, delay))

    async def _later(self, uri: str, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await self.refresh(uri)
        finally:
            if self._pending.get(uri) is asyncio.current_task():
                del self._pending[uri]

    def relint_all(self) -> None:
        self.projects.forget()
        for uri in [*self.workspace.notebook_documents, *self.open_text_documents()]:
            self.schedule(uri)

    def open_text_documents(self) -> list[str]:
        cells = {cell.document for nb in self.workspace.notebook_documents.values() for cell in nb.cells}
        return [uri for uri in self.workspace.text_documents if uri not in cells]

    async def run(self, work: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._worker, work)

    # --- linting ---------------------------------------------------------------------------

    async def refresh(self, uri: str) -> None:
        """Lint a document or notebook and publish its diagnostics, unless it changed meanwhile."""
        if uri in self.workspace.notebook_documents:
            await self._refresh_notebook(uri)
            return
        if uri not in self.workspace.text_documents:
            return
        linted = await self.lint_document(uri)
        document = self.workspace.text_documents.get(uri)
        if linted is None or document is None or document.version != linted.version:
            return
        self.linted[uri] = linted
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=linted.diagnostics(), version=linted.version))

    async def lint_document(self, uri: str) -> Linted | None:
        """The findings of an open text document now (``None`` if it is not one lora-lint lints)."""
        document = self.workspace.get_text_document(uri)
        if not wants(document.path, document.language_id):
            return None
        text, version, encoding = document.source, document.version, self.encoding
        path = self.path_of(uri, ".py")
        notebook = path.suffix == ".ipynb"
        problem = too_large(text, notebook)
        if problem is not None:
            self.log(f"{path}: {problem}")
            return Linted(uri, version, text, fixable=False)
        violations = await self.run(lambda: self.guarded(path, lambda: lint_text(self.projects, path, text)))
        if violations is None:
            return Linted(uri, version, text, fixable=False)
        convert = findings_in_notebook_json if notebook else findings_in
        return Linted(uri, version, text, convert(text, violations, encoding), fixable=not notebook,
                      suppressible=sources.for_name(path.name).noqa_rows is not None)

    async def _refresh_notebook(self, uri: str) -> None:
        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is None:
            return
        version = notebook.version
        cells = []
        for cell in notebook.cells:
            document = self.workspace.text_documents.get(cell.document)
            cells.append((cell, document.source if document else "", document.language_id if document else None,
                          document.version if document else None))
        path = self.path_of(uri, ".ipynb")
        path = path if path.suffix == ".ipynb" else path.with_name(path.name + ".ipynb")
        text = notebook_json([(cell, source, language) for cell, source, language, _ in cells])
        violations = await self.run(lambda: self.guarded(path, lambda: lint_text(self.projects, path, text)))
        current = self.workspace.get_notebook_document(notebook_uri=uri)
        if violations is None or current is None or current.version != version:
            return
        encoding = self.encoding
        for number, (cell, source, _, cell_version) in enumerate(cells, start=1):
            if cell.document not in self.workspace.text_documents:
                continue
            mine = [v for v in violations if v.extra.get("cell") == number]
            linted = Linted(cell.document, cell_version, source, findings_in(source, mine, encoding), fixable=False)
            self.linted[cell.document] = linted
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=cell.document, diagnostics=linted.diagnostics(), version=cell_version))

    def guarded(self, path: Path, work: Callable[[], Any]) -> Any:
        """``work()``; ``None`` (and a log message) when linting fails."""
        try:
            return work()
        except LintError as exc:
            self.log(f"{path}: {exc}")
        except Exception:  # a crash on one document must not end the server
            self.log(f"{path}: internal error:\n{traceback.format_exc()}")
        return None

    def log(self, message: str) -> None:
        self._on_loop(self.window_log_message, types.LogMessageParams(types.MessageType.Log, message))

    async def current(self, uri: str) -> Linted | None:
        """The findings of the document as it is now: the published ones, or (stale) linted again."""
        linted = self.linted.get(uri)
        document = self.workspace.text_documents.get(uri)
        if linted is not None and document is not None and linted.version == document.version:
            return linted
        if document is None or self.workspace.get_notebook_document(cell_uri=uri) is not None:
            return None  # a notebook cell: its notebook is being linted again
        return await self.lint_document(uri)


server = LoraLintServer()


def _overlaps(a: types.Range, b: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return p.line, p.character

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


@server.feature(types.INITIALIZE)
def _initialize(ls: LoraLintServer, params: types.InitializeParams) -> None:
    ls._loop, ls._loop_thread = asyncio.get_running_loop(), threading.get_ident()
    options = params.initialization_options
    if isinstance(options, dict) and isinstance(options.get("debounce"), (int, float)):
        ls.debounce = max(0.0, float(options["debounce"]))


@server.feature(types.INITIALIZED)
async def _initialized(ls: LoraLintServer, params: types.InitializedParams) -> None:
    watched = ls.client_capabilities.workspace and ls.client_capabilities.workspace.did_change_watched_files
    if watched and watched.dynamic_registration:
        watchers = [types.FileSystemWatcher(glob_pattern=f"**/{name}") for name in CONFIG_FILES]
        await ls.client_register_capability_async(types.RegistrationParams([types.Registration(
            id="lora-lint-config", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers))]))


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def _watched(ls: LoraLintServer, params: types.DidChangeWatchedFilesParams) -> None:
    if any(change.uri.rstrip("/").endswith(CONFIG_FILES) for change in params.changes):
        ls.relint_all()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def _opened(ls: LoraLintServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def _changed(ls: LoraLintServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, ls.debounce)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def _saved(ls: LoraLintServer, params: types.DidSaveTextDocumentParams) -> None:
    if params.text_document.uri.endswith(CONFIG_FILES):
        ls.relint_all()
    else:
        ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def _closed(ls: LoraLintServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    pending = ls._pending.pop(uri, None)
    if pending is not None:
        pending.cancel()
    if ls.linted.pop(uri, None) is not None:
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
def _notebook_opened(ls: LoraLintServer, params: types.DidOpenNotebookDocumentParams) -> None:
    ls.schedule(params.notebook_document.uri)


@server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
def _notebook_changed(ls: LoraLintServer, params: types.DidChangeNotebookDocumentParams) -> None:
    ls.schedule(params.notebook_document.uri, ls.debounce)


@server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
def _notebook_saved(ls: LoraLintServer, params: types.DidSaveNotebookDocumentParams) -> None:
    ls.schedule(params.notebook_document.uri)


@server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
def _notebook_closed(ls: LoraLintServer, params: types.DidCloseNotebookDocumentParams) -> None:
    pending = ls._pending.pop(params.notebook_document.uri, None)
    if pending is not None:
        pending.cancel()
    for cell in params.cell_text_documents:
        if ls.linted.pop(cell.uri, None) is not None:
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=cell.uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
    code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL]))
async def _code_actions(ls: LoraLintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    linted = await ls.current(uri)
    if linted is None:
        return []
    only = params.context.only
    actions = []
    if not only or any(types.CodeActionKind.QuickFix.value.startswith(kind) for kind in only):
        for finding in linted.findings:
            if not _overlaps(finding.range, params.range):
                continue
            fix, code = finding.violation.fix, finding.violation.code
            if fix is not None and finding.edits is not None:
                safe = fix.applicability == "safe"
                actions.append(types.CodeAction(
                    title=f"{fix.message} ({code})" if safe else f"{fix.message} ({code}, unsafe fix: check the result)",
                    kind=types.CodeActionKind.QuickFix, diagnostics=[finding.diagnostic()], is_preferred=safe,
                    edit=_edit(ls, uri, linted.version, finding.edits)))
            noqa = noqa_edit(linted.text, finding.violation, ls.encoding, ls.path_of(uri, ".py")) \
                if linted.suppressible else None
            if noqa is not None:
                actions.append(types.CodeAction(
                    title=f"Suppress {code} on this line (# noqa)", kind=types.CodeActionKind.QuickFix,
                    diagnostics=[finding.diagnostic()], is_preferred=False,
                    edit=_edit(ls, uri, linted.version, [noqa])))
    if linted.fixable and (not only or any(FIX_ALL.startswith(kind) for kind in only)) \
            and any(f.violation.fix is not None and f.violation.fix.applicability == "safe" for f in linted.findings):
        fixed = await ls.run(lambda: ls.guarded(ls.path_of(uri, ".py"), lambda: _fix_all(ls, uri, linted.text)))
        if fixed is not None and fixed != linted.text:
            end = _end_of(linted.text, ls.encoding)
            actions.append(types.CodeAction(
                title="Fix all safe lora-lint findings", kind=FIX_ALL,
                edit=_edit(ls, uri, linted.version, [types.TextEdit(
                    types.Range(types.Position(0, 0), end), fixed)])))
    return actions


def _end_of(text: str, encoding: str) -> types.Position:
    lines = Lines(text, encoding)
    line, character = lines.position(Location(len(lines.rows) + 1, 1))
    return types.Position(line, character)


def _fix_all(ls: LoraLintServer, uri: str, text: str) -> str:
    path = ls.path_of(uri, ".py")
    project = ls.projects.for_folder(path.parent)
    return project.linter.fix(text, str(path), relpath=project.relpath(path)).source


def _edit(ls: LoraLintServer, uri: str, version: int | None, edits: list[types.TextEdit]) -> types.WorkspaceEdit:
    capabilities = ls.client_capabilities.workspace
    versioned = capabilities and capabilities.workspace_edit and capabilities.workspace_edit.document_changes
    if versioned:
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version), edits=edits)])
    return types.WorkspaceEdit(changes={uri: edits})


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def _hover(ls: LoraLintServer, params: types.HoverParams) -> types.Hover | None:
    linted = await ls.current(params.text_document.uri)
    if linted is None:
        return None
    point = types.Range(params.position, params.position)
    here = [f for f in linted.findings if _overlaps(f.range, point)]
    if not here:
        return None
    rules = all_rules()
    codes = list(dict.fromkeys(f.violation.code for f in here))
    text = "\n\n---\n\n".join(explain(rules[code]) for code in codes)
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text), range=here[0].range)


def serve() -> None:
    server.start_io()
