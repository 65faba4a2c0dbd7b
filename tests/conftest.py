import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project (a pyproject.toml with [tool.lora-lint]) as the working folder."""
    (tmp_path / "pyproject.toml").write_text("[tool.lora-lint]\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path
