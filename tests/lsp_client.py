"""A minimal LSP client for the tests (and ``make bench``): ``lora-lint server`` in a subprocess,
JSON-RPC over its stdin/stdout as an editor speaks it, requests the server sends answered."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

WAIT = 120.0  # seconds before a test gives up on an answer (a bound against hanging, not a speed check)

CAPABILITIES = {
    "general": {"positionEncodings": ["utf-16"]},
    "workspace": {"workspaceEdit": {"documentChanges": True},
                  "didChangeWatchedFiles": {"dynamicRegistration": True}},
    "textDocument": {"publishDiagnostics": {"versionSupport": True},
                     "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "source"]}}},
                     "hover": {"contentFormat": ["markdown", "plaintext"]},
                     "synchronization": {"didSave": True}},
    "notebookDocument": {"synchronization": {}},
}


def uri(path: Path) -> str:
    return path.resolve().as_uri()


class Client:
    """One server process; ``notifications`` holds what the server sent, in order."""

    def __init__(self, cwd: Path, prelude: str = "", env: dict[str, str] | None = None) -> None:
        code = f"{prelude}\nimport sys\nfrom lint_rules.cli import main\nsys.exit(main(['server']))"
        self.process = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env={**os.environ, **(env or {})})
        self._next_id = 0
        self._responses: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.notifications: list[dict[str, Any]] = []
        self._arrived = threading.Condition()
        self.registrations: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # --- wire ------------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        with self._lock:
            assert self.process.stdin is not None
            self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.process.stdin.flush()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    with self._arrived:
                        self._arrived.notify_all()
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None
            message = json.loads(stream.read(length))
            if "id" in message and "method" in message:  # a request from the server
                self._answer(message)
            elif "id" in message:
                self._responses.setdefault(message["id"], queue.Queue()).put(message)
            else:
                with self._arrived:
                    message["received"] = time.perf_counter()
                    self.notifications.append(message)
                    self._arrived.notify_all()

    def _answer(self, message: dict[str, Any]) -> None:
        if message["method"] == "client/registerCapability":
            self.registrations.extend(message["params"]["registrations"])
        self._send({"id": message["id"], "result": None})

    # --- API -------------------------------------------------------------------------------

    def request(self, method: str, params: Any) -> Any:
        self._next_id += 1
        ident = self._next_id
        box = self._responses.setdefault(ident, queue.Queue())
        self._send({"id": ident, "method": method, "params": params})
        answer = box.get(timeout=WAIT)
        assert "error" not in answer, answer["error"]
        return answer["result"]

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def wait_for(self, method: str, test: Callable[[dict[str, Any]], bool] = lambda p: True,
                 after: int = 0) -> dict[str, Any]:
        """The params of the first ``method`` notification at index ``after`` or later that passes ``test``."""
        deadline = time.monotonic() + WAIT
        with self._arrived:
            while True:
                for message in self.notifications[after:]:
                    if message["method"] == method and test(message["params"]):
                        return message["params"]
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(f"no {method} notification came: {self.notifications[after:]}")
                self._arrived.wait(left)

    def diagnostics(self, document: str, version: int | None = None, after: int = 0) -> list[dict[str, Any]]:
        """The diagnostics the server publishes next for ``document`` (at ``version``)."""
        params = self.wait_for("textDocument/publishDiagnostics",
                               lambda p: p["uri"] == document and (version is None or p.get("version") == version),
                               after)
        return params["diagnostics"]

    def mark(self) -> int:
        """An index into ``notifications``: wait only for what arrives from now on."""
        with self._arrived:
            return len(self.notifications)

    def initialize(self, root: Path, options: dict[str, Any] | None = None,
                   capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
        result = self.request("initialize", {"processId": os.getpid(), "rootUri": uri(root),
                                             "capabilities": capabilities or CAPABILITIES,
                                             "initializationOptions": options or {}})
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str, language: str = "python", version: int = 1) -> str:
        document = uri(path)
        self.notify("textDocument/didOpen", {"textDocument": {"uri": document, "languageId": language,
                                                              "version": version, "text": text}})
        return document

    def change(self, document: str, version: int, text: str) -> None:
        self.notify("textDocument/didChange", {"textDocument": {"uri": document, "version": version},
                                               "contentChanges": [{"text": text}]})

    def close(self) -> tuple[int, str]:
        """Shut the server down as an editor does; its exit status and stderr."""
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            assert self.process.stdin is not None
            self.process.stdin.close()
            code = self.process.wait(timeout=WAIT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        assert self.process.stderr is not None
        return code, self.process.stderr.read().decode(errors="replace")


def apply_edits(text: str, edits: list[dict[str, Any]]) -> str:
    """``text`` with LSP text edits applied (UTF-16 positions), as an editor applies them."""
    lines = text.splitlines(keepends=True) or [""]
    if text.endswith(("\n", "\r")):
        lines.append("")

    def offset(position: dict[str, int]) -> int:
        line = lines[position["line"]] if position["line"] < len(lines) else ""
        before = sum(len(item) for item in lines[:position["line"]])
        units = 0
        for index, ch in enumerate(line):
            if units >= position["character"]:
                return before + index
            units += 2 if ord(ch) > 0xFFFF else 1
        return before + len(line.rstrip("\r\n"))

    for edit in sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
                       reverse=True):
        start, end = offset(edit["range"]["start"]), offset(edit["range"]["end"])
        text = text[:start] + edit["newText"] + text[end:]
    return text
