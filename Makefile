# The README's commands. Each creates .venv and installs what it needs on first use;
# a second run skips what is already done.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.installed-test
APT_PACKAGES := dataset-fashion-mnist graphviz
# For tests/test_browser.py only (skipped without them); Debian's names, absent on some distributions.
BROWSER_APT_PACKAGES := chromium chromium-driver

.PHONY: help install data demo test lab notebooks clean

help:
	@echo "make demo       train LeNet-5 on the real Fashion-MNIST and evaluate it (a few minutes on a CPU)"
	@echo "make test       run the whole test suite (notebooks in smoke mode)"
	@echo "make lab        open the chapter notebooks in JupyterLab"
	@echo "make notebooks  re-execute every notebook in classroom mode, refreshing its outputs"
	@echo "make data       make sure Fashion-MNIST (and Graphviz, and Chromium for the browser test) are installed"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# JAX is for the tests only (every model must also run on the JAX backend).
$(TEST_INSTALLED): $(INSTALLED)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(INSTALLED)

# Debian's dataset-fashion-mnist holds the genuine files (/usr/share/datasets/fashion-mnist);
# without apt-get or root, the message says what to do instead. Chromium and its driver are
# installed where apt-get can (tests/test_browser.py is skipped without them); failing that is no error.
data: install
	@missing=""; \
	[ -d /usr/share/datasets/fashion-mnist ] || missing="$$missing dataset-fashion-mnist"; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	browser=""; \
	{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || \
	  browser="$(BROWSER_APT_PACKAGES)"; \
	if [ -n "$$missing$$browser" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; \
	  else sudo="none"; fi; \
	  if [ "$$sudo" = none ]; then \
	    [ -z "$$missing" ] || echo "Not installed:$$missing. On Debian/Ubuntu: sudo apt-get install$$missing"; \
	    [ -z "$$missing" ] || echo "Otherwise the data is read from data/fashion-mnist/ or downloaded once through Keras (see data/README.md)."; \
	    [ -z "$$browser" ] || echo "Not installed: $$browser (only the browser test needs them; it is skipped)."; \
	  else \
	    if [ -n "$$missing" ]; then \
	      echo "Installing$$missing with $${sudo:+sudo }apt-get"; \
	      $$sudo apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	        { $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; }; \
	    fi; \
	    if [ -n "$$browser" ]; then \
	      echo "Installing $$browser with $${sudo:+sudo }apt-get (for the browser test)"; \
	      $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$browser >/dev/null 2>&1 || \
	        { $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$browser; } || \
	        echo "Could not install $$browser: the browser test will be skipped."; \
	    fi; \
	  fi; \
	fi
	@$(PY) -m cv_textbook data

demo: data
	$(PY) -m cv_textbook train lenet5 --out runs/demo --fresh
	$(PY) -m cv_textbook evaluate runs/demo

# Two pytest processes: most tests wait on Python and small kernels rather than both cores, and the
# longest (the JAX run of every model, the notebooks) then overlap with the rest; worksteal hands
# the tests left over to whichever process is free. Measured on a quiet 2-core CPU: 120 tests (ResNet,
# VGG, chapter 04's exercises, chapters 02 and 03 in smoke mode) 222 s serial, 148 s in two processes.
test: data $(TEST_INSTALLED)
	$(PY) -m pytest tests/ -q -n 2 --dist worksteal --durations=25

lab: data
	$(VENV)/bin/jupyter lab notebooks/

notebooks: data
	$(PY) -m cv_textbook.notebook_runner notebooks/*.ipynb

clean:
	rm -rf runs .pytest_cache
