"""docs/rules/ is generated from the rule classes; the committed pages must be current."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_rule_pages_are_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_rule_docs.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr + "\nrun: python scripts/gen_rule_docs.py"


def test_every_rule_url_names_its_page():
    from lint_rules.catalog import all_rules

    for code, rule in all_rules().items():
        assert (ROOT / "docs" / "rules" / f"{code}.md").is_file()
        assert rule.url().endswith(f"docs/rules/{code}.md")
