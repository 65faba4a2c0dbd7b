"""What ``--fix`` may and may not write (issue 8, items 2, 3, 14, 15, 18): a file edited during
the run, symlinks out of the tree, hard links, files the user may not write, owners and modes,
line ends and BOMs, comments inside replaced values, temporary files a killed run left.

Every test runs the real ``lora-lint`` in-process (``main(argv)``) unless it must change user.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lint_rules import engine, reading, runner
from lint_rules.cache import content_hash
from cli_run import lint
from lint_rules.cli import main

# LORA003's safe fix renames `nit_lora_weights` to `init_lora_weights`
TYPO = 'from peft import LoraConfig\n\nconfig = LoraConfig(r=8, lora_alpha=16, nit_lora_weights="gaussian")\n'
FIXED = TYPO.replace("nit_lora", "init_lora")
ROOT_ONLY = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
                               reason="needs root and setpriv to act as another user")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


# --- item 2: a file changed since it was read is not overwritten -----------------------------

def test_a_file_edited_during_the_run_keeps_the_edit(project, capsys, monkeypatch):
    edited = project / "edited.py"
    edited.write_text(TYPO)
    other = project / "other.py"
    other.write_text(TYPO)
    original_fix = engine.Linter.fix

    def fix_while_the_user_saves(self, source, filename, **kwargs):
        result = original_fix(self, source, filename, **kwargs)
        if filename == "edited.py":  # an editor saves between the read and the write
            with open(edited, "a") as out:
                out.write("# USER EDIT\n")
        return result

    monkeypatch.setattr(engine.Linter, "fix", fix_while_the_user_saves)
    code, out, err = lint(capsys, "--fix", "-j", "1", ".")
    assert edited.read_text() == TYPO + "# USER EDIT\n"
    assert other.read_text() == FIXED
    assert "error: edited.py: changed during the run; not fixed" in err
    assert code == 2
    # the file's finding is still reported (it was not fixed), and only the written fix counts
    assert out.startswith("edited.py:3:41: LORA003") and "fixed 1" in err and "All checks passed" not in err


def test_a_change_between_the_check_and_the_replace_is_detected(project, monkeypatch):
    path = project / "a.py"
    path.write_text(TYPO)
    keep = runner._keep_owner_and_mode

    def edit_meanwhile(*args, **kwargs):  # runs after the content check, before the replace
        keep(*args, **kwargs)
        with open(path, "a") as out:
            out.write("# late edit\n")

    monkeypatch.setattr(runner, "_keep_owner_and_mode", edit_meanwhile)
    with pytest.raises(runner.NotWritten, match="changed during the run"):
        runner.write_atomic(path, FIXED, expected=content_hash(TYPO.encode()))
    assert path.read_text() == TYPO + "# late edit\n"
    assert temp_files(project) == []


def test_write_atomic_refuses_content_other_than_what_was_read(project):
    path = project / "a.py"
    path.write_text(TYPO + "# newer\n")
    with pytest.raises(runner.NotWritten, match="changed during the run"):
        runner.write_atomic(path, FIXED, expected=content_hash(TYPO.encode()))
    path.unlink()
    with pytest.raises(FileNotFoundError):  # a file deleted meanwhile is not re-created
        runner.write_atomic(path, FIXED, expected=content_hash(TYPO.encode()))
    assert not path.exists()


# --- item 3: symlinks, hard links, permissions, owner and mode -------------------------------

def test_a_symlink_out_of_the_tree_is_never_written_through(tmp_path, capsys, monkeypatch):
    (tmp_path / "outside").mkdir()
    tree = tmp_path / "tree"
    tree.mkdir()
    target = tmp_path / "outside" / "target.py"
    target.write_text(TYPO)
    (tree / "link.py").symlink_to("../outside/target.py")
    monkeypatch.chdir(tree)
    code, out, err = lint(capsys, "--fix", ".")
    assert target.read_text() == TYPO and (tree / "link.py").is_symlink()
    assert f"error: link.py: a symlink to {target}, outside the project; not fixed" in err and code == 2
    assert out.startswith("link.py:3:41: LORA003")
    code, _, err = lint(capsys, "--fix", "link.py")  # named explicitly: the same
    assert target.read_text() == TYPO and code == 2 and "outside the project; not fixed" in err


def test_a_symlink_inside_the_tree_is_fixed_through_and_stays_a_link(project, capsys):
    real = project / "real.py"
    real.write_text(TYPO)
    (project / "link.py").symlink_to("real.py")
    code, _, err = lint(capsys, "--fix", "link.py")
    assert code == 0 and real.read_text() == FIXED and (project / "link.py").is_symlink()


def test_a_hard_linked_file_is_refused_and_both_names_keep_the_text(project, capsys):
    first = project / "first.py"
    first.write_text(TYPO)
    os.link(first, project / "second.py")
    code, out, err = lint(capsys, "--fix", "first.py")
    assert code == 2 and "error: first.py: it has 2 hard links, and replacing it would split them; not fixed" in err
    assert first.read_text() == (project / "second.py").read_text() == TYPO
    assert os.path.samefile(first, project / "second.py") and out.startswith("first.py:3:41: LORA003")


def test_a_file_the_user_may_not_write_is_refused(project, capsys, monkeypatch):
    path = project / "a.py"
    path.write_text(TYPO)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(path) and mode == os.W_OK
                        else real_access(p, mode, **kw))
    code, _, err = lint(capsys, "--fix", "a.py")
    assert code == 2 and "error: a.py: you may not write it; not fixed" in err and path.read_text() == TYPO


def test_mode_and_owner_are_kept(project, capsys):
    path = project / "a.py"
    path.write_text(TYPO)
    path.chmod(0o640)
    if os.geteuid() == 0:  # root can give the file away, and the fix must give it back
        os.chown(path, 65534, 65534)
    before = path.stat()
    assert lint(capsys, "--fix", "a.py")[0] == 0
    after = path.stat()
    assert path.read_text() == FIXED and after.st_ino != before.st_ino  # replaced, not edited in place
    assert (stat.S_IMODE(after.st_mode), after.st_uid, after.st_gid) == (0o640, before.st_uid, before.st_gid)


def _as_nobody(project: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(runner.__file__).parents[1]), "HOME": str(project)}
    code = "import sys; from lint_rules.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([*NOBODY, sys.executable, "-c", code, "--no-cache", *argv], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)


@ROOT_ONLY
def test_as_another_user_a_read_only_file_of_someone_else_is_not_replaced():
    import tempfile

    with tempfile.TemporaryDirectory(dir="/tmp") as folder:  # pytest's tmp_path is closed to other users
        _read_only_and_foreign_files_as_nobody(Path(folder))


def _read_only_and_foreign_files_as_nobody(top: Path) -> None:
    top.chmod(0o755)
    project = top / "p"
    project.mkdir()
    project.chmod(0o777)  # the folder is writable, which is all os.replace would need
    (project / "pyproject.toml").write_text("[tool.lora-lint]\n")
    read_only = project / "ro.py"
    read_only.write_text(TYPO)
    read_only.chmod(0o444)
    shared = project / "shared.py"  # writable by everyone, but owned by root: replacing re-owns it
    shared.write_text(TYPO)
    shared.chmod(0o666)
    run = _as_nobody(project, "--fix", "ro.py", "shared.py")
    assert run.returncode == 2, run.stderr
    assert "error: ro.py: you may not write it; not fixed" in run.stderr
    assert "error: shared.py: owned by another user or group, which a replacement would not keep; not fixed" in run.stderr
    for path, mode in ((read_only, 0o444), (shared, 0o666)):
        st = path.stat()
        assert path.read_text() == TYPO and (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, mode)
    assert temp_files(project) == []


# --- item 18: temporary files are named recognisably; a killed run's are cleaned up ----------

def test_temp_files_carry_the_tool_and_pid_and_stale_ones_are_removed(project, capsys, monkeypatch):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = project / f".a.py.lora-lint-{dead}-x1y2z3.tmp"
    stale.write_text("half a fi")
    alive = project / ".a.py.lora-lint-1-abcdef.tmp"  # pid 1 exists: another run may still be writing
    alive.write_text("in flight")
    foreign = project / ".a.py.k3j4h5.tmp"  # not ours
    foreign.write_text("someone else's")
    (project / "a.py").write_text(TYPO)
    names = []
    real_replace = os.replace

    def spy(src, dst):
        names.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    assert lint(capsys, "--fix", "a.py")[0] == 0
    assert names and re.fullmatch(rf"\.a\.py\.lora-lint-{os.getpid()}-[^.]+\.tmp", names[0])
    assert not stale.exists() and alive.exists() and foreign.exists()


def test_a_write_that_fails_leaves_no_temp_file(project, monkeypatch):
    path = project / "a.py"
    path.write_text(TYPO)

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        runner.write_atomic(path, FIXED, expected=content_hash(TYPO.encode()))
    assert path.read_text() == TYPO and temp_files(project) == []


# --- item 14: line ends and BOM ---------------------------------------------------------------

@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n"])
def test_fix_keeps_every_line_end_including_the_last(project, capsys, newline):
    path = project / "a.py"
    path.write_bytes(TYPO.replace("\n", newline).encode())
    assert lint(capsys, "--fix", "a.py")[0] == 0
    assert path.read_bytes() == FIXED.replace("\n", newline).encode()


def test_fix_keeps_mixed_line_ends(project, capsys):
    path = project / "a.py"
    source = "from peft import LoraConfig\r\n\nconfig = LoraConfig(\r\n    r=8, lora_alpha=16,\n    nit_lora_weights=True,\n)\r"
    path.write_bytes(source.encode())
    assert lint(capsys, "--fix", "a.py")[0] == 0
    assert path.read_bytes() == source.replace("nit_", "init_").encode()


def test_fix_on_stdin_keeps_a_bom_and_a_final_cr(project, capsys, monkeypatch):
    for text in ("\ufeff" + TYPO, TYPO.replace("\n", "\r")):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))
        code, out, _ = lint(capsys, "--fix", "-")
        expected = text.replace("nit_lora", "init_lora")
        assert (code, out) == (0, expected)


def bytes_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


LATIN = b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + TYPO.encode()


def test_stdin_is_decoded_as_a_file_is(project, capsysbinary, monkeypatch):
    """A coding cookie on stdin is honoured, lint and fix, and the fix is written in its encoding
    (it was an internal error: the text was read as UTF-8 with surrogates)."""
    bytes_stdin(monkeypatch, LATIN)
    assert main(["--no-cache", "-"]) == 1
    out, err = capsysbinary.readouterr()
    assert out.startswith(b"-:5:41: LORA003 [*]") and b"internal error" not in err
    bytes_stdin(monkeypatch, LATIN)
    assert main(["--no-cache", "--fix", "-"]) == 0
    out, err = capsysbinary.readouterr()
    assert out == b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + FIXED.encode()
    assert err == b"All checks passed! (fixed 1)\n"


def test_undecodable_stdin_is_lora000_and_passes_through_fix_unchanged(project, capsysbinary, monkeypatch):
    data = b"from peft import LoraConfig\nx = '\xff'\n" + TYPO.encode()
    bytes_stdin(monkeypatch, data)
    assert main(["--no-cache", "--stdin-filename", "a.py"]) == 1
    out, err = capsysbinary.readouterr()
    assert out.startswith(b"a.py:1:1: LORA000 cannot decode the file: 'utf-8' codec can't decode byte 0xff")
    bytes_stdin(monkeypatch, data)
    assert main(["--no-cache", "--fix", "-"]) == 1
    out, err = capsysbinary.readouterr()
    assert out == data and b"LORA000" in err and b"internal error" not in err


def test_stdin_over_the_size_limit_is_reported_and_passed_through_fix(project, capsysbinary, monkeypatch):
    monkeypatch.setattr(reading, "FILE_LIMIT", 40)
    bytes_stdin(monkeypatch, TYPO.encode())
    assert main(["--no-cache", "-"]) == 2
    out, err = capsysbinary.readouterr()
    assert (out, err) == (b"", b"error: -: not linted: over the 40 bytes limit\nNo problems found, but 1 error above.\n")
    bytes_stdin(monkeypatch, TYPO.encode())
    assert main(["--no-cache", "--fix", "-"]) == 2
    assert capsysbinary.readouterr().out == TYPO.encode()


REPLACED_BY_A_FIFO = """
import os, sys
from pathlib import Path
from lint_rules import runner
from lint_rules.cache import content_hash

path = Path(sys.argv[1])
path.write_text("x = 1\\n")
st, digest = path.stat(), content_hash(path.read_bytes())
path.unlink()
os.mkfifo(path)  # put in its place after the run read it; stat still answers as before
real_stat = Path.stat
Path.stat = lambda self, *a, **k: st if self == path else real_stat(self, *a, **k)
try:
    runner.write_atomic(path, "x = 2\\n", expected=digest)
except runner.NotWritten as exc:
    print(exc)
"""


def test_a_file_replaced_by_a_fifo_before_the_write_is_not_read_nor_written(tmp_path):
    """Checking that the file still holds what was read opened it blocking and read it whole."""
    done = subprocess.run([sys.executable, "-c", REPLACED_BY_A_FIFO, str(tmp_path / "a.py")],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "changed during the run\n", "")
    assert stat.S_ISFIFO(os.stat(tmp_path / "a.py").st_mode)


def test_fix_keeps_a_bom_and_a_latin_1_cookie_on_disk(project, capsys):
    bom = project / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbf" + TYPO.encode())
    latin = project / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + TYPO.encode())
    assert lint(capsys, "--fix", ".")[0] == 0
    assert bom.read_bytes() == b"\xef\xbb\xbf" + FIXED.encode()
    assert latin.read_bytes() == b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + FIXED.encode()


# --- item 15: the unsafe LORA001 / LORA201 fixes keep comments inside the values they replace --

GPT2 = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n\n"
        "model = AutoModelForCausalLM.from_pretrained('gpt2')\n")


def test_the_target_modules_fix_keeps_the_comments_of_the_list(project, capsys):
    path = project / "a.py"
    path.write_text(GPT2 + 'config = LoraConfig(\n    r=8,\n    lora_alpha=16,\n    target_modules=[\n'
                    '        "q_proj",  # query\n        # between\n        "v_proj",  # value\n    ],  # after\n)\n'
                    "model = get_peft_model(model, config)\n")
    assert lint(capsys, "--fix", "--unsafe-fixes", "a.py")[0] == 0
    assert path.read_text() == GPT2 + (
        'config = LoraConfig(\n    r=8,\n    lora_alpha=16,\n    target_modules=[\n'
        '        # query\n        # between\n        "c_attn",  # value\n    ],  # after\n)\n'
        "model = get_peft_model(model, config)\n")


def test_the_target_modules_fix_keeps_comments_of_a_tuple_and_of_an_inline_list(project, capsys):
    path = project / "a.py"
    path.write_text('from peft import LoraConfig\n\nLoraConfig(r=8, lora_alpha=16, target_modules=("q_proj",  # q\n'
                    '    "v_proj"))  # lora-lint: model=gpt2\n'
                    'LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj",  # q\n'
                    '    "v_proj"])  # lora-lint: model=gpt2\n')
    assert lint(capsys, "--fix", "--unsafe-fixes", "a.py")[0] == 0
    assert path.read_text() == ('from peft import LoraConfig\n\n'
                                'LoraConfig(r=8, lora_alpha=16, target_modules=(  # q\n    ["c_attn"]))  # lora-lint: model=gpt2\n'
                                'LoraConfig(r=8, lora_alpha=16, target_modules=(  # q\n    ["c_attn"]))  # lora-lint: model=gpt2\n')


def test_the_alpha_fix_keeps_the_comments_around_and_inside_the_value(project, capsys):
    path = project / "a.py"
    path.write_text("from peft import LoraConfig\n\nLoraConfig(\n    r=64,\n    lora_alpha=(  # about\n"
                    "        32  # end\n    ),\n)\nLoraConfig(r=4, lora_alpha=2 * (  # why\n    3))\n")
    assert lint(capsys, "--fix", "--unsafe-fixes", "a.py")[0] == 0
    assert path.read_text() == ("from peft import LoraConfig\n\nLoraConfig(\n    r=64,\n    lora_alpha=(  # about\n"
                                "        128  # end\n    ),\n)\nLoraConfig(r=4, lora_alpha=(  # why\n    8))\n")


def test_removing_an_argument_keeps_the_comments_around_it(project, capsys):
    """Found by the property tests: LORA103's removal dropped the comment ending the line before
    a removed last argument, and comment lines after a removed first or middle one."""
    path = project / "a.py"
    path.write_text(
        "from peft import LoraConfig\n\n"
        "a = LoraConfig(\n    merge_weights=False,  # gone\n    # about r\n    r=8,  # c1\n"
        "    enable_lora=[True],  # gone\n    # about alpha\n    lora_alpha=16,\n)\n"
        "b = LoraConfig(\n    r=8,\n    lora_alpha=16,  # c3\n    merge_weights=False,  # gone\n    # closing\n)\n"
        "c = LoraConfig(r=8, lora_alpha=16,  # c4\n    merge_weights=False)\n"
        'd = LoraConfig(**{"r": 8, "lora_alpha": 16,  # c5\n    "merge_weights": False})\n')
    assert lint(capsys, "--fix", "--target-peft-version", ">=0.10", "a.py")[0] == 0
    assert path.read_text() == (
        "from peft import LoraConfig\n\n"
        "a = LoraConfig(\n    # about r\n    r=8,  # c1\n    # about alpha\n    lora_alpha=16,\n)\n"
        "b = LoraConfig(\n    r=8,\n    lora_alpha=16,  # c3\n    # closing\n)\n"
        "c = LoraConfig(r=8, lora_alpha=16  # c4\n)\n"
        'd = LoraConfig(**{"r": 8, "lora_alpha": 16,  # c5\n    })\n')


def test_errors_without_findings_never_end_in_all_checks_passed(project, capsys, monkeypatch):
    (project / "a.py").write_text(TYPO.replace("nit_lora", "init_lora"))
    monkeypatch.setattr(runner, "read_task", lambda path, filename, relpath, real=None: runner.FileResult(
        filename, error=f"{filename}: cannot read: boom"))
    code, out, err = lint(capsys, "a.py")
    assert code == 2 and out == "" and "All checks passed" not in err
    assert err == "error: a.py: cannot read: boom\nNo problems found, but 1 error above.\n"


def test_add_noqa_follows_the_same_write_rules(project, capsys):
    first = project / "first.py"
    first.write_text(TYPO)
    os.link(first, project / "second.py")
    code, _, err = lint(capsys, "--add-noqa", "first.py")
    assert code == 2 and "error: first.py: cannot write: it has 2 hard links" in err and first.read_text() == TYPO
