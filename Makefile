# Two entry points for a fresh machine:
#   make book   installs what the book needs into .venv and builds the website
#   make test   installs everything into .venv and runs the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: book test clean

$(PY):
	@echo "[make] creating the virtual environment $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade "pip>=23,<27" > /dev/null

# A stamp per set of extras: reinstall only when pyproject.toml changes. pip's output
# (setuptools' notices included) goes to a log, printed only when the install fails.
$(VENV)/.installed-%: pyproject.toml | $(PY)
	@echo "[make] installing adcourse[$*] and its dependencies into $(VENV) (log: $(VENV)/pip-$*.log)"
	@$(PY) -m pip install --quiet -e ".[$(subst +,$(comma),$*)]" > $(VENV)/pip-$*.log 2>&1 \
	  || { tail -n 40 $(VENV)/pip-$*.log; echo "[make] pip failed: see $(VENV)/pip-$*.log"; exit 1; }
	@touch $@

comma := ,

# Debian packages the targets need, installed when missing (as root, or through sudo):
# npm brings MathJax for the book and JupyterHub's proxy; Chromium runs the browser checks of
# the built site; bubblewrap is the sandbox of every grading kernel (exercises/autograder).
define need_debian
	@missing=""; for p in $(1); do \
	  case $$p in chromium) [ -x /usr/bin/chromium ] ;; bubblewrap) command -v bwrap >/dev/null ;; \
	    *) command -v $$p >/dev/null ;; esac \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -q && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
endef

# Both languages into _build/html (en/, ru/, index.html); see book/build.py.
# It prints a line per step and per executed chapter; Sphinx's output goes to _build/logs/build.log.
book: $(VENV)/.installed-book node_modules/.installed
	@$(PY) book/build.py

# npm's packages, as package-lock.json pins them: MathJax, configurable-http-proxy.
node_modules/.installed: package-lock.json
	$(call need_debian,npm)
	npm ci --no-audit --no-fund
	touch $@

test: $(VENV)/.installed-book+grade+test+bench+hub node_modules/.installed
	$(call need_debian,npm chromium bubblewrap)
	$(PY) -m pytest

clean:
	rm -rf _build .jupyter_cache
