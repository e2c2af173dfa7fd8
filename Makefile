# Two entry points for a fresh machine:
#   make book   installs what the book needs into .venv and builds the website
#   make test   installs everything into .venv and runs the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: book test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23,<27"

# A stamp per set of extras: reinstall only when pyproject.toml changes.
$(VENV)/.installed-%: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[$(subst +,$(comma),$*)]"
	touch $@

comma := ,

book: $(VENV)/.installed-book
	$(PY) -m adcourse_build.book

test: $(VENV)/.installed-book+grade+test+bench
	$(PY) -m pytest

bench: $(VENV)/.installed-book+grade+test+bench
	$(PY) benchmarks/run_all.py

clean:
	rm -rf _build .jupyter_cache
