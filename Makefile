# The two commands in the README:
#   make demo   installs everything and runs an offline simulated interview
#   make test   installs what is missing, then lint, type check and the whole test suite
#   make image  builds the production image with podman and runs it in a chroot (README:
#               Building the production image; root, 10-15 minutes, not part of make test)
.PHONY: setup demo test lint typecheck pytest bench image

PY := .venv/bin/python
OUT ?= out/demo

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/interview-pipeline simulate --persona alex \
	  --answers tests/fixtures/scripts/alex_happy.yaml --out $(OUT)

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck:
	.venv/bin/mypy

pytest:
	.venv/bin/pytest -p no:cacheprovider

test: setup lint typecheck pytest

bench: setup
	$(PY) bench/latency.py

image:
	bash scripts/build_image.sh
