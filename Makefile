# Two commands: `make demo` and `make test`. Each sets up .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup tools avatars garments motion kalidokit node-baseline clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# torch==2.13.0 is pinned in pyproject: on these machines pip takes the local CPU wheel.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/avatar-wardrobe demo --out out/demo.mp4

test: $(STAMP) node-baseline
	$(BIN)/python -m pytest -q

# Best effort: where Node.js and npm exist, the Kalidokit baseline is installed so its test runs
# (without them that test skips and says why).
node-baseline: $(STAMP)
	@if command -v npm >/dev/null 2>&1 && [ ! -d $(VENV)/node/node_modules/kalidokit ]; then \
		npm install --silent --prefix $(VENV)/node kalidokit@1.1.5 || echo "kalidokit not installed: its test will skip"; fi

# Asset tools (not needed to run the product): need the `tools` extra (anny).
tools: $(STAMP)
	$(BIN)/pip install -e ".[tools]"

avatars: tools
	$(BIN)/python tools/make_avatar.py

garments: tools
	$(BIN)/python tools/make_garments.py

motion: $(STAMP)
	$(BIN)/avatar-wardrobe track ../shared/testdata/video/pose_1.mp4 --out models/motions/pose_1.jsonl

# The Kalidokit baseline of `bench retarget` (needs Node.js and npm: apt-get install nodejs npm).
kalidokit: $(STAMP)
	npm install --prefix $(VENV)/node kalidokit@1.1.5

clean:
	rm -rf out .pytest_cache
