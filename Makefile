# Two commands for a newcomer: `make demo` (or `python -m elasticast_lite`) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo app test lint clean system-deps data-sources data-samples data checkpoints results

setup: $(STAMP)

# Reinstall only when the dependency list or the pins change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

demo: setup
	$(PY) -m elasticast_lite

lint: setup
	$(PY) -m ruff check .

# Debian packages the tests need (fluidsynth renders the instruments set, chromium runs the
# app's browser test). Installs only what is missing, with apt-get as root (or sudo);
# prints what to install otherwise.
SYSTEM_PACKAGES := fluidsynth chromium
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if ! command -v apt-get >/dev/null; then echo "please install:$$missing (no apt-get here)"; exit 1; \
		elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
		elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq $$missing; \
		else echo "please install:$$missing"; exit 1; fi; fi

# The Debian packages of real audio the teaching sets are built from, unpacked into
# ~/.cache/elasticast-lite (or $$ELASTICAST_CACHE) with apt-get download + dpkg-deb.
data-sources: setup
	@$(PY) -c "from elasticast_lite.datasets.sources import fetch_all; fetch_all()" || \
		(apt-get update -qq 2>/dev/null || sudo apt-get update -qq; \
		 $(PY) -c "from elasticast_lite.datasets.sources import fetch_all; fetch_all()")

data-samples: setup system-deps data-sources
	$(PY) -m elasticast_lite.datasets build samples --out data_samples

test: setup lint system-deps data-sources
	ELASTICAST_REQUIRE_BROWSER=1 $(PY) -m pytest

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis

# The four shipped tiny checkpoints, retrained from scratch (about 36 minutes on 2 cores):
# voices (native length vs a 400-frame AST) and fixed 10 s instruments (mixed resolution vs
# an AST at r = 1). Same optimiser, schedule and seed for both models of a pair; training is
# deterministic, so a rerun on the same machine gives the same weights.
CKPT ?= checkpoints
TRAIN := $(PY) -m elasticast_lite.train --seed 0
checkpoints: setup system-deps data-sources data
	$(TRAIN) --data data/voices --out $(CKPT)/voices_elastic --model elastic --epochs 7
	$(TRAIN) --data data/voices --out $(CKPT)/voices_ast400 --model ast --target-frames 400 --epochs 7
	$(TRAIN) --data data/instruments10 --out $(CKPT)/instruments_elastic_mixed --model elastic --resolution mixed --tokens-per-step 4096 --epochs 10
	$(TRAIN) --data data/instruments10 --out $(CKPT)/instruments_ast992 --model ast --target-frames 992 --epochs 10

# The teaching sets the checkpoints are trained on (git-ignored; about a minute).
data: setup system-deps data-sources
	$(PY) -m elasticast_lite.datasets build voices --out data/voices --clips 3000 --seed 0
	$(PY) -m elasticast_lite.datasets build instruments --out data/instruments10 --clips 1000 --fixed-seconds 10 --seed 0

# The README's Results: two more voices ASTs (200 and 800 frames, not shipped) and one
# evaluate run per set, written next to the checkpoints (about 25 minutes).
results: setup data
	$(TRAIN) --data data/voices --out runs/voices_ast200 --model ast --target-frames 200 --epochs 7
	$(TRAIN) --data data/voices --out runs/voices_ast800 --model ast --target-frames 800 --epochs 7
	$(PY) -m elasticast_lite.evaluate $(CKPT)/voices_elastic $(CKPT)/voices_ast400 runs/voices_ast200 runs/voices_ast800 --data data/voices --out $(CKPT)/results/voices.json
	$(PY) -m elasticast_lite.evaluate $(CKPT)/instruments_elastic_mixed $(CKPT)/instruments_ast992 --data data/instruments10 --caps 256 512 1024 --out $(CKPT)/results/instruments.json

# The main command: the Gradio app on http://127.0.0.1:7860 with the shipped checkpoints.
app: setup
	$(PY) app.py
