# frontdesk: `make demo` runs the app against an embedded backend, `make test` runs the tests.
# Each target creates or reuses .venv itself; only Python 3.11+ and make are needed.
#
# Dependencies: version ranges live in pyproject.toml, the exact versions with their hashes in
# requirements/runtime.txt (what `make demo` installs) and requirements/dev.txt (the same pins plus
# the test tools, for `make test`). Both are installed with plain pip --require-hashes; frontdesk
# itself then goes in editable with --no-deps, so nothing unlocked is ever downloaded.
#   add a dependency:  put it, with bounds, in pyproject.toml ([project] dependencies, or the
#                      `test` extra for tools), run `make lock`, commit pyproject.toml and
#                      requirements/ together. `make test` refuses a lock that lacks it.
#   newer releases:    `make upgrade` moves every pin to the newest release the bounds allow,
#                      shows what moved, and runs the tests.
#   merging:           after merging a branch that touched pyproject.toml, run `make lock` and
#                      `git add requirements/`: where git left conflict markers in a lock it
#                      starts from our side's pins, and it adds what the merged pyproject.toml
#                      asks for (a lock that merged cleanly is made consistent the same way).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# The locks are made with uv (only `make lock` / `make upgrade` need it; installs use pip).
UV_VERSION := 0.13.9
# One lock for every platform and every Python >= 3.11, each release with all its files' hashes.
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command "make lock"
# Packages whose types `make test` checks (mypy, settings in pyproject.toml). backend, offline and
# tui join as they come clean: `.venv/bin/mypy backend` counts what is left in one package, and
# `.venv/bin/mypy` with no argument checks all five.
TYPED := protocol backend offline tui frontdesk

# mypy, and a `# type: ignore[code]` in a checked package must say why after it (`  # why`).
define typecheck
	$(BIN)/mypy $(TYPED)
	@! grep -rnE --include='*.py' '# type: ignore(\[[^]]*\])? *$$' $(TYPED) \
	  || { echo "make: say why after each '# type: ignore[code]' above ('  # why')" >&2; exit 1; }
endef

.PHONY: demo test typecheck lint format lock upgrade screenshots bench soak clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "frontdesk needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

# pip check: frontdesk's own metadata (pyproject.toml) against what the lock installed.
define install_locked
	$(PIP) install -q --require-hashes -r $(1)
	$(PIP) install -q --no-deps --no-build-isolation -e .
	@$(PIP) check >/dev/null || { $(PIP) check; \
	  echo "make: $(1) does not satisfy pyproject.toml: run 'make lock'" >&2; exit 1; }
endef

$(VENV)/.installed: pyproject.toml requirements/runtime.txt | $(BIN)/python
	$(call install_locked,requirements/runtime.txt)
	@touch $@

$(VENV)/.installed-test: pyproject.toml requirements/dev.txt | $(BIN)/python
	$(call install_locked,requirements/dev.txt)
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	@touch $@ $(VENV)/.installed $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(BIN)/frontdesk demo

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(typecheck)
	$(BIN)/pytest

typecheck: $(VENV)/.installed-test
	$(typecheck)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Rewrites requirements/*.txt from pyproject.toml (+ requirements/build.in), keeping the pins it
# already has unless UPGRADE=--upgrade. runtime.txt is constrained by dev.txt: the two always agree.
lock: | $(BIN)/python
	$(PIP) install -q "uv==$(UV_VERSION)"
	@for f in requirements/dev.txt requirements/runtime.txt; do \
	  if grep -q '^<<<<<<< ' $$f 2>/dev/null; then \
	    git checkout --ours -- $$f && echo "lock: $$f had conflict markers; starting from our pins"; \
	  fi; \
	done
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra test $(LOCK_FLAGS) \
	  $(UPGRADE) -o requirements/dev.txt
	$(BIN)/uv pip compile pyproject.toml requirements/build.in -c requirements/dev.txt \
	  $(LOCK_FLAGS) -o requirements/runtime.txt

upgrade:
	$(MAKE) lock UPGRADE=--upgrade
	@if git diff --quiet -- requirements/; then echo "upgrade: every pin is already the newest allowed"; \
	else git diff -U0 -- requirements/dev.txt | grep -E '^[-+][a-z]' | sed 's/ *\\$$//'; fi
	$(MAKE) test

screenshots: $(VENV)/.installed-test
	$(BIN)/python -m frontdesk.screenshots screenshots

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench

soak: $(VENV)/.installed-test
	$(BIN)/pytest -m soak

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
