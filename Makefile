# Two commands do all set-up on a fresh machine (python3.10 + package registries):
#   make demo   -> creates .venv if missing, then runs the main job (scnn run)
#   make test   -> creates .venv if missing, then runs the test suite
# FSDD: real users get it downloaded (verified); set SCNN_DATA=DIR to use a local copy.

PYTHON ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 \
	/usr/local/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
RUN_OUT ?= runs/demo
PYTEST_ARGS ?=

.PHONY: venv demo test lint clean docs

$(BIN)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: python3.10 not found (lava-nc needs Python 3.10)" >&2; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/scnn run --out $(RUN_OUT) $(if $(SCNN_DATA),--data $(SCNN_DATA),)

test: venv
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

docs: venv
	$(BIN)/python -m scnn.clidoc > docs/cli.md

clean:
	rm -rf $(VENV) runs .pytest_cache
