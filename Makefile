# citywatch: `make demo` and `make test` work on a fresh clone (they create .venv).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

export YOLO_OFFLINE := 1
export YOLO_CONFIG_DIR := $(CURDIR)/var/ultralytics

.DEFAULT_GOAL := help

.PHONY: help venv demo test unit integration lint fmt bench soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install citywatch with its dev tools

# system packages as command:package pairs (apt-get names)
SYSDEPS := espeak-ng:espeak-ng chromium:chromium chromedriver:chromium-driver stunnel4:stunnel4 openssl:openssl \
           promtool:prometheus systemd-analyze:systemd

.PHONY: sysdeps
sysdeps: ## install missing system packages (espeak-ng for speech, chromium and fonts-noto-cjk for the web tests, stunnel4 for the TLS test, promtool and systemd-analyze for deploy/) with apt-get
	@missing=""; for dep in $(SYSDEPS); do \
	  command -v "$${dep%%:*}" >/dev/null 2>&1 || missing="$$missing $${dep#*:}"; \
	done; \
	fc-list 2>/dev/null | grep -q "Noto Sans CJK" || missing="$$missing fonts-noto-cjk fontconfig"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "missing system packages:$$missing; apt-get is not available here: install them with your package manager" >&2; \
	  exit 1; \
	fi; \
	sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	echo "installing system packages:$$missing"; \
	$$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends $$missing

demo: $(STAMP) sysdeps ## run the whole pipeline on the embedded broker (until Ctrl-C)
	$(VENV)/bin/citywatch demo

test: $(STAMP) sysdeps lint ## lint, type-check and run every test (system packages installed and required)
	CITYWATCH_REQUIRE_SYSDEPS=1 $(PY) -m pytest

unit: $(STAMP) ## only the tests that need no broker and no model (tests needing missing system packages are skipped, with the reason)
	$(PY) -m pytest -m "not integration and not model"

integration: $(STAMP) ## only the tests on the embedded broker / real model
	$(PY) -m pytest -m "integration or model"

lint: $(STAMP) ## ruff and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(STAMP) ## format the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

soak: $(STAMP) ## replay test 20x per worker timing and 20 SIGKILLs, one CPU kept busy (README "Soak")
	$(PY) tests/soak.py --runs $(or $(SOAK_RUNS),20) --kills $(or $(SOAK_KILLS),20)

bench: $(STAMP) ## run the benchmarks (see README)
	$(VENV)/bin/citywatch bench --help

clean: ## remove the venv and run-time files
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
