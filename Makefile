# `make run` and `make test` bootstrap everything into .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
# llama.cpp's default build uses every instruction the build machine's CPU advertises, AMX
# included, which some virtual machines advertise but do not allow (the bundled LLM then dies
# with SIGILL). A portable build (AVX2 on x86-64) runs anywhere; it is compiled once and kept here.
LLAMA_CPP_VERSION := 0.3.36
WHEELS := $(HOME)/.cache/alignchat/wheels
LLAMA_WHEEL = $(firstword $(wildcard $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl))

.PHONY: install run test ingest eval bench browser clean scale-out

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU build (see pyproject.toml)
	$(PY) -m pip install --quiet torch==2.13.0
	test -n "$(LLAMA_WHEEL)" || CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip wheel --quiet --no-cache-dir \
		--no-deps -w $(WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(PY) -m pip install --quiet --force-reinstall --no-deps $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(PY) -m pip install --quiet --find-links $(WHEELS) -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's chromium (never a downloaded browser). Installed when
# missing and we may (root); otherwise the browser tests say how to install it.
browser:
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

run: $(STAMP)
	$(PY) app.py

# A `chroma run` server, the bundled model behind an OpenAI-compatible server, and two app
# processes sharing them (http://127.0.0.1:7860/ and :7861/); Ctrl-C stops everything.
scale-out: $(STAMP)
	$(PY) -m bot.web.cluster --apps 2

ingest: $(STAMP)
	$(PY) -m ingest

# Each run in its own directory, compared with the one before.
eval: $(STAMP)
	$(PY) -m bot eval --baseline naive --out data/evals/run-$$(date +%Y%m%d-%H%M%S) \
		$$(ls -d data/evals/run-* 2>/dev/null | tail -1 | sed 's/^/--compare /')

test: $(STAMP) browser
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m ingest --quiet
	$(PY) -m ingest.bench
	$(PY) -m bot.bench
	$(PY) -m bot.bench --scale 200000 --json
	$(PY) -m bot.bench --scale 1000000 --json
	$(PY) -m bot eval --retrieval-only --baseline naive --json
	$(PY) -m bot.eval.ablation
	$(PY) -m bot.eval.support
	$(PY) -m bot.web.load_bench --users 16 --questions 3 --llm extractive
	$(PY) -m bot.web.load_bench --users 16 --questions 3 --llm bundled

clean:
	rm -rf $(VENV) data .pytest_cache test-artifacts
