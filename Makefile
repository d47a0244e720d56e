# svcprep developer targets. Everything runs inside .venv, which `make install` creates.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_VERSION := 2.13.0
DEMO_OUT ?= demo_out

.PHONY: install demo test test-slow bench bench-gpu lint wheel-check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel; an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==$(TORCH_VERSION)
	$(PY) -m pip install -q -e '.[dev,pitch,plot,ray]'
	# FCPE's real checkpoint ships inside torchfcpe; svcprep reads the file and never imports the package
	# (its import needs torchaudio, which has no build for this torch).
	$(PY) -m pip install -q --no-deps torchfcpe==0.0.4
	touch $@

demo: install
	$(PY) -m svcprep.demo --out $(DEMO_OUT)

test: install
	$(PY) -m pytest -q -m "not slow"

test-slow: install
	$(PY) -m pytest -q -m slow

# torchfcpe's own dependencies, for the FCPE baseline in bench/bench_trackers.py (svcprep itself never needs them).
BENCH_DEPS := einops==0.8.2 local-attention==1.9.0

bench: install
	$(PY) -m pip install -q $(BENCH_DEPS)
	$(PY) bench/run_all.py

bench-gpu: install
	$(PY) -m pip install -q $(BENCH_DEPS)
	$(PY) bench/bench_gpu.py

# ruff, and the import contracts of pyproject.toml (one-way layers, no cycles) on the package as installed.
lint: install
	$(VENV)/bin/ruff check svcprep cli extractors align tests bench setup.py
	bash .ci/check_layers

# The built wheel installed into a fresh venv runs the demo from outside the checkout.
wheel-check: install
	PYTHON=$(PYTHON) TORCH_VERSION=$(TORCH_VERSION) bash .ci/check_wheel

clean:
	rm -rf $(DEMO_OUT) bench/results .pytest_cache .ruff_cache
