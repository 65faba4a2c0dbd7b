import pytest

from dropped_modules import forget_dropped_submodules

pytest_plugins = ["pytester"]


def pytest_configure(config):
    """PyYAML imported before any in-process ``pytester`` run. Such a run drops the modules it
    imported from ``sys.modules``; PyYAML imported again gets new node classes, while its C
    loader (an extension module, never loaded twice) still builds the old ones, so the trainer
    YAML reader no longer recognised any document (``tests/test_isolation.py``)."""
    import yaml  # noqa: F401


@pytest.fixture
def pytester(pytester, monkeypatch):
    """pytester whose in-process runs leave no dropped submodule bound to a package."""
    run = pytester.inline_run

    def inline_run(*args, **kwargs):
        try:
            return run(*args, **kwargs)
        finally:
            forget_dropped_submodules()

    monkeypatch.setattr(pytester, "inline_run", inline_run)
    return pytester


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item):
    """After pytester's own teardown has put ``sys.modules`` back, the same unbinding."""
    try:
        return (yield)
    finally:
        if "pytester" in getattr(item, "fixturenames", ()):
            forget_dropped_submodules()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project (a pyproject.toml with [tool.lora-lint]) as the working folder."""
    (tmp_path / "pyproject.toml").write_text("[tool.lora-lint]\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path
