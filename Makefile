# svcprep developer targets. Everything runs inside .venv, which `make install` creates.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_VERSION := 2.13.0
DEMO_OUT ?= demo_out

.PHONY: install browser demo test test-slow bench bench-deps bench-gpu lint wheel-check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel; an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==$(TORCH_VERSION)
	$(PY) -m pip install -q -e '.[dev,pitch,plot,ray,quality]'
	# FCPE's real checkpoint ships inside torchfcpe; svcprep reads the file and never imports the package
	# (its import needs torchaudio, which has no build for this torch).
	$(PY) -m pip install -q --no-deps torchfcpe==0.0.4
	touch $@

demo: install
	$(PY) -m svcprep.demo --out $(DEMO_OUT)

# The report page is tested in a real headless browser: Debian's Chromium, installed here on a fresh machine.
browser:
	command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	chromium --version

test: install browser
	$(PY) -m pytest -q -m "not slow"

test-slow: install
	$(PY) -m pytest -q -m slow

# The baselines' own dependencies (svcprep itself never needs them): torchfcpe's, for bench/bench_trackers.py, and
# the Music-Source-Separation-Training package with its model code's, for bench/bench_separation.py (it pins an
# older torch it does not need for inference: installed without its dependency list).
BENCH_DEPS := einops==0.8.2 local-attention==1.9.0 beartype==0.22.9 rotary-embedding-torch==0.9.1 \
	ml-collections==1.1.0 omegaconf==2.3.0
BENCH_NO_DEPS := msst==0.1.0

bench-deps: install
	$(PY) -m pip install -q $(BENCH_DEPS)
	$(PY) -m pip install -q --no-deps $(BENCH_NO_DEPS)

bench: bench-deps
	$(PY) bench/run_all.py

bench-gpu: bench-deps
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
