# stylelab — the two commands a newcomer needs:
#   make run    installs libtorch (PyPI torch into .venv) if missing, builds,
#               fetches the VGG19 weights if missing and possible, and runs
#               experiments/quickstart.toml
#   make test   installs what the tests need and runs them (CI calls this)
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
LIBTORCH := $(VENV)/libtorch
TORCH_VERSION := 2.11.0
BIN := target/release/stylelab
SHARED_WEIGHTS := ../shared/weights/vgg19_conv1_1-conv3_4_caffe_bgr.safetensors
PARTIAL_WEIGHTS := weights/vgg19-caffe-conv1_1-conv3_4.safetensors

.PHONY: setup build run test test-core lint-tools bench gpu-check texture weights-partial lint clean

setup: $(LIBTORCH)/lib/libtorch.so

# libtorch = the torch wheel's torch/ folder; .cargo/config.toml points
# LIBTORCH at the stable link .venv/libtorch. --no-cache-dir: the
# downloaded wheels (torch and its CUDA libraries, several GB) are not also
# kept in pip's cache.
$(LIBTORCH)/lib/libtorch.so:
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-cache-dir torch==$(TORCH_VERSION)
	ln -sfn "$$($(PY) -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null)" $(LIBTORCH)
	@test -f $@ || { echo "torch installed but $@ is missing"; exit 1; }

build: setup
	cargo build --release

$(PARTIAL_WEIGHTS): | build
	@test -f $(SHARED_WEIGHTS) || { echo "$(SHARED_WEIGHTS) not found"; exit 1; }
	$(BIN) weights convert $(SHARED_WEIGHTS) $@ --preprocess caffe

weights-partial: $(PARTIAL_WEIGHTS)

# The full VGG19 needs the network; without it, fall back to the real
# partial weights from ../shared and the experiment made for them.
run: build
	@if [ -f weights/vgg19-caffe.safetensors ] || $(BIN) weights fetch --source caffe; then \
	  $(BIN) run experiments/quickstart.toml; \
	elif [ -f $(SHARED_WEIGHTS) ]; then \
	  echo "The full VGG19 could not be fetched: running experiments/texture.toml on the partial weights instead."; \
	  $(MAKE) --no-print-directory weights-partial && $(BIN) run experiments/texture.toml; \
	else \
	  exit 1; \
	fi

texture: weights-partial
	$(BIN) run experiments/texture.toml

# Formatting first, then clippy as documented (every target, warnings as
# errors; it checks the dependencies' metadata once, ~50 s on 2 cores),
# then the API docs with warnings as errors (a broken intra-doc link fails;
# ~40 s), then every test in the release profile, the `#[ignore = "needs …"]` ones
# included: they need root (a tmpfs, Slurm), tmux or ../shared, which CI
# provides; without them they fail saying why. TensorBoard's Python package
# goes into .venv: the TensorBoard tests read stylelab's event files with it.
test: setup lint-tools
	@command -v tmux >/dev/null || { apt-get install -y -qq tmux >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq tmux); } || echo "tmux unavailable: the dashboard's tmux test will fail"
	@$(PY) -c 'import tensorboard' 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check --no-cache-dir tensorboard || echo "tensorboard unavailable: the TensorBoard tests will fail"
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --release -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --release
	cargo test --workspace --release -- --include-ignored

# The core's tests alone: no libtorch is built or linked (seconds once built).
test-core:
	cargo test -p stylelab-core

lint-tools:
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

bench: build
	$(BIN) bench

# The GPU check of issue 16 (README, "On a GPU server"): needs a GPU and a
# Python with torch; `python3 scripts/gpu-check.py --device cpu --quick`
# tries it anywhere.
gpu-check: build
	python3 scripts/gpu-check.py --stylelab $(BIN) --python $(PY)

lint: lint-tools
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

clean:
	cargo clean
