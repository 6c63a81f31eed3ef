# Two commands for a new user: `make run` and `make test` (each sets up .venv first).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1
# Fewer glibc malloc arenas: the app's RSS after 20 analyses fell from 2.7 to 1.8 GB (benchmarks/bench_memory_server.py).
export MALLOC_ARENA_MAX ?= 2

.PHONY: setup run test lint bench clean

# The project itself is installed editable, so `python -m detector.predict ...` works from any folder with .venv
# active; no build isolation, because requirements.txt already brought setuptools (torch needs it).
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-build-isolation --no-deps -e .
	touch $@

setup: $(VENV)/.installed

run: setup
	@echo "Open http://localhost:8501 in a browser (the first page view loads the model: about 10 s)."
	$(VENV)/bin/streamlit run app.py

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) -m benchmarks.run_all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
