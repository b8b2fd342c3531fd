# Two commands do all the set-up on a fresh machine:
#   make run   - create the venv if missing, install, start the lane service on the bundled demo
#   make test  - same set-up, then lint, type check and the test suite
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest install doctor clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@# ultralytics pulls opencv-python, easyocr and we want opencv-python-headless: both write cv2.
	@# End with exactly one cv2: the headless build, same version.
	@v=$$($(BIN)/python -c "import importlib.metadata as m; print(m.version('opencv-python-headless'))"); \
	  $(BIN)/pip uninstall -q -y opencv-python opencv-python-headless && \
	  $(BIN)/pip install -q --no-deps "opencv-python-headless==$$v"
	$(BIN)/python -c "import cv2, numpy; assert cv2.imencode('.jpg', numpy.zeros((8, 8, 3), numpy.uint8))[0]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/hgv-lane serve --demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

doctor: $(STAMP)
	$(BIN)/hgv-lane doctor

clean-venv:
	rm -rf $(VENV)
