"""``python -m lint_rules`` runs ``lora-lint``."""
import sys

from .cli import main

sys.exit(main())
