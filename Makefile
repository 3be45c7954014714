# Two commands: `make demo` (audit the shipped demo dataset) and `make test`.
# Both create .venv and install the project on first use; a second run is quick
# because the install is stamped against pyproject.toml and scripts/setup_env.sh.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.workbench-installed
export FIFTYONE_DO_NOT_TRACK ?= true

.PHONY: demo test test-fast notebooks bench bench-quick setup system-deps demo-data detection-demo-data clean-venv

$(STAMP): pyproject.toml scripts/setup_env.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup_env.sh
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the tests need (Chromium for the browser tests). Idempotent; needs root.
system-deps:
	bash scripts/system_deps.sh

demo: $(STAMP)
	$(VENV)/bin/workbench audit data/demo/fashion-mnist --name workbench-demo \
	    --report build/demo/report.html --json build/demo/audit.json

test: $(STAMP) system-deps
	$(PY) -m pytest -q -ra

test-fast: $(STAMP)
	$(PY) -m pytest -q -ra -m "not slow and not browser"

# After editing a notebook: sync each pair notebooks/NN_name.py <-> NN_name.ipynb (the newer file
# wins; see notebooks/README.md) and strip the outputs, so the .ipynb is committed clean.
notebooks: $(STAMP)
	$(VENV)/bin/jupytext --sync notebooks/[0-9]*.py
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace --log-level=WARN notebooks/[0-9]*.ipynb

# Benchmarks against the peers (an hour on 2 cores; see benchmarks/README.md and RESULTS.md).
bench: $(STAMP) system-deps
	VENV=$(VENV) bash scripts/bench_deps.sh
	$(PY) -m benchmarks

bench-quick: $(STAMP) system-deps
	VENV=$(VENV) bash scripts/bench_deps.sh
	$(PY) -m benchmarks --quick

demo-data:
	$(PY) scripts/build_demo_data.py --force

# The detection demo (data/detection-demo) from Debian's wallpapers, Fashion-MNIST and openclipart.
detection-demo-data:
	$(PY) scripts/build_detection_demo.py --force

clean-venv:
	rm -rf $(VENV)
