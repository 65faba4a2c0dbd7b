# The two README commands. Both create .venv and install what they need on first use;
# a second run only re-installs when pyproject.toml or constraints.txt changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
BENCH_VENV := .bench-venv
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_ARGS ?=

.PHONY: demo test docs dist bench fuzz ecosystem lint-data clean
DOCS_STAMP := $(VENV)/.installed-docs

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[models,test,lsp]'
	touch $(STAMP)

demo: $(STAMP)
	@echo "$$ lora-lint examples/"
	@$(VENV)/bin/lora-lint examples/; rc=$$?; echo "(lora-lint exited $$rc)"; test $$rc -le 1

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# The documentation site (mkdocs.yml): strict, so a broken link or a page left out of the nav
# fails. The LoRA settings page's chart is drawn from estimate_lora_memory (needs [models]).
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install -q -c constraints.txt -e '.[models,docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# sdist and wheel into dist/, checked with twine (tests/test_install.py installs the wheel).
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*

# The peers (ruff, Fixit) live in their own environment, pinned in benchmarks/requirements.txt.
$(BENCH_STAMP): benchmarks/requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q -r benchmarks/requirements.txt
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

# 20,000 generated LoraConfig programs through lint and fix (minutes; not part of make test).
FUZZ_COUNT ?= 20000
fuzz: $(STAMP)
	$(PY) tests/lora_programs.py --count $(FUZZ_COUNT) --keep fuzz-failures

ecosystem: $(STAMP)
	$(PY) ecosystem/run.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .lora_lint_cache .ecosystem-cache site dist build
