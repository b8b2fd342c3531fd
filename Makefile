# Two commands do all the set-up on a fresh machine:
#   make run   - create the venv if missing, install, start the lane service on the bundled demo
#   make test  - same set-up, then lint, type check and the test suite
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest install doctor clean-venv models eval-sets lock

install: $(STAMP)

$(STAMP): pyproject.toml Makefile constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
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

# Pin every package of the venv as it is now (after changing a dependency: install, measure, lock).
lock: $(STAMP)
	@{ sed -n '/^#/p' constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt

# The shipped models, made by the project's own commands (about 7 h of training on 2 CPU cores:
# classifier 131 + 33 min, plate detector 89 + 35, vehicle detector 71, reader 20 + 8 + 7 (the wide
# recogniser, base and two lane-crop fine-tunes, on the faster machine of the eleventh and twelfth
# sessions, where cutting the lane crops took 4); plus data generation, about 35 min, 5 of it the classifier's
# crops cut around the vehicle detector's boxes). These are the exact commands the shipped models were made with;
# the code has changed under some of them since (e.g. the reader's line grey, eleventh session), so a rerun makes
# models of the same recipe, not byte-identical ones (each card says when its model was made).
# Each model card in models/ repeats the exact commands and the measured figures.
TRAIN := data/train
SHARED ?= ../shared/data/plates-dev

models: models/trailer_classifier.onnx models/plate_detector.onnx models/vehicle_detector.onnx models/plate_reader.onnx

$(TRAIN)/crops/.done: $(STAMP)
	$(BIN)/hgv-lane synth crops --out $(TRAIN)/crops --n-per-class 250 --seed 100 --workers 2 --quiet
	$(BIN)/hgv-lane synth crops --out $(TRAIN)/crops_cal --n-per-class 40 --seed 101 --val-fraction 0 --workers 2 --quiet
	@touch $@

# Lane-camera sets (front, side and rear cameras on one queue, 16 s at 2 fps, frames kept): seeds
# 7000-7079 (lane frames of the vehicle detector, lane bodies of the classifier), 7200-7360 (lane
# bodies), 7100-7109 (the classifier's calibration), 7400-7489 (front and rear cameras only: more
# front-view bodies); the benchmarks use 5100-5103 and 5200-5203.
LANE_CLIP = $(BIN)/hgv-lane synth clip --views front,side,rear --seconds 16 --fps 2 --frames --no-video --quiet
LANE_CLIP_FR = $(BIN)/hgv-lane synth clip --views front,rear --seconds 16 --fps 2 --frames --no-video --quiet
$(TRAIN)/lane_clips/.done: $(STAMP)
	for s in $$(seq 7000 7079); do $(LANE_CLIP) --out $(TRAIN)/lane_clips/lane-$$s --seed $$s --vehicles $$((3 + s % 2)) > /dev/null || exit 1; done
	for s in $$(seq 7200 7280); do $(LANE_CLIP) --out $(TRAIN)/lane_clips2/lane-$$s --seed $$s --vehicles $$((3 + s % 2)) > /dev/null || exit 1; done
	for s in $$(seq 7281 7360); do $(LANE_CLIP) --out $(TRAIN)/lane_clips3/lane-$$s --seed $$s --vehicles $$((3 + s % 2)) > /dev/null || exit 1; done
	for s in $$(seq 7100 7109); do $(LANE_CLIP) --out $(TRAIN)/lane_clips_cal/lane-$$s --seed $$s --vehicles $$((3 + s % 2)) > /dev/null || exit 1; done
	for s in $$(seq 7400 7489); do $(LANE_CLIP_FR) --out $(TRAIN)/lane_clips4/lane-$$s --seed $$s --vehicles $$((3 + s % 2)) > /dev/null || exit 1; done
	@touch $@

# Side views first (synthetic crops), then the same plus a second draw of them and the lane
# cameras' body crops (front and rear views are oblique: the side-view model got 9 % of front
# and 31 % of rear lane crops right); last, the same plus crops cut around the vehicle
# detector's body boxes, as the lane pipeline cuts them (from the front they take in the cab);
# last of all, the same crops at 224 px (a front view's trailer is a strip beside the cab).
models/trailer_classifier.onnx: $(TRAIN)/crops/.done $(TRAIN)/lane_clips/.done models/vehicle_detector.onnx
	$(BIN)/hgv-lane dataset trailer-squares --src $(TRAIN)/crops --out $(TRAIN)/crops128 --size 128
	$(BIN)/hgv-lane train trailer --data $(TRAIN)/crops128 --epochs 25 --imgsz 128 --batch 64 --out runs/trailer
	$(BIN)/hgv-lane train trailer --data $(TRAIN)/crops128 --from runs/trailer/weights/best.pt --epochs 40 --imgsz 128 --batch 64 --out runs/trailer2
	$(BIN)/hgv-lane synth crops --out $(TRAIN)/crops_b --n-per-class 250 --seed 102 --workers 2 --quiet
	$(BIN)/hgv-lane dataset lane-bodies $(TRAIN)/lane_clips --out $(TRAIN)/lane_bodies_v1 --max-hidden 1 --quiet
	$(BIN)/hgv-lane dataset lane-bodies $(TRAIN)/lane_clips $(TRAIN)/lane_clips2 --out $(TRAIN)/lane_bodies --every 2 --quiet
	$(BIN)/hgv-lane dataset lane-bodies $(TRAIN)/lane_clips_cal --out $(TRAIN)/lane_bodies_cal --val-fraction 0 --quiet
	$(BIN)/hgv-lane dataset trailer-squares --src $(TRAIN)/crops --src $(TRAIN)/lane_bodies_v1 --out $(TRAIN)/bodies128_v1 --size 128
	$(BIN)/hgv-lane dataset trailer-squares --src $(TRAIN)/crops --src $(TRAIN)/crops_b --src $(TRAIN)/lane_bodies --out $(TRAIN)/bodies128 --size 128
	$(BIN)/hgv-lane dataset lane-bodies $(TRAIN)/lane_clips $(TRAIN)/lane_clips2 $(TRAIN)/lane_clips3 --out $(TRAIN)/lane_bodies3 --every 2 --quiet
	$(BIN)/hgv-lane dataset trailer-squares --src $(TRAIN)/crops --src $(TRAIN)/crops_b --src $(TRAIN)/lane_bodies3 --out $(TRAIN)/bodies128_3 --size 128
	$(BIN)/hgv-lane train trailer --data $(TRAIN)/bodies128_v1 --from runs/trailer2/weights/best.pt --epochs 15 --imgsz 128 --batch 64 --out runs/trailer3
	$(BIN)/hgv-lane train trailer --data $(TRAIN)/bodies128 --from runs/trailer3/weights/best.pt --epochs 12 --imgsz 128 --batch 64 --out runs/trailer4
	$(BIN)/hgv-lane train trailer --data $(TRAIN)/bodies128_3 --from runs/trailer4/weights/best.pt --epochs 10 --imgsz 128 --batch 64 --out runs/trailer5
	$(BIN)/hgv-lane dataset lane-bodies $(TRAIN)/lane_clips4 --out $(TRAIN)/lane_bodies4 --quiet
	$(BIN)/hgv-lane dataset trailer-squares --src $(TRAIN)/crops --src $(TRAIN)/crops_b --src $(TRAIN)/lane_bodies3 --src $(TRAIN)/lane_bodies4 --out $(TRAIN)/bodies128_4 --size 128
	$(BIN)/hgv-lane dataset trailer-squares --src $(TRAIN)/crops --src $(TRAIN)/crops_b --src $(TRAIN)/lane_bodies3 --src $(TRAIN)/lane_bodies4 --out $(TRAIN)/bodies160_4 --size 160
	$(BIN)/hgv-lane train trailer --data $(TRAIN)/bodies128_4 --from runs/trailer5/weights/best.pt --epochs 10 --imgsz 128 --batch 64 --out runs/trailer6
	$(BIN)/hgv-lane train trailer --data $(TRAIN)/bodies160_4 --from runs/trailer6/weights/best.pt --epochs 8 --imgsz 160 --batch 64 --out runs/trailer7
	$(BIN)/hgv-lane dataset lane-bodies $(TRAIN)/lane_clips $(TRAIN)/lane_clips2 $(TRAIN)/lane_clips3 $(TRAIN)/lane_clips4 --out $(TRAIN)/lane_bodies_det --every 2 --boxes detector --detector models/vehicle_detector.onnx --quiet
	$(BIN)/hgv-lane dataset lane-bodies $(TRAIN)/lane_clips_cal --out $(TRAIN)/lane_bodies_cal_det --val-fraction 0 --boxes detector --detector models/vehicle_detector.onnx --quiet
	$(BIN)/hgv-lane dataset trailer-squares --src $(TRAIN)/crops --src $(TRAIN)/crops_b --src $(TRAIN)/lane_bodies3 --src $(TRAIN)/lane_bodies4 --src $(TRAIN)/lane_bodies_det --out $(TRAIN)/bodies160_5 --size 160
	$(BIN)/hgv-lane train trailer --data $(TRAIN)/bodies160_5 --from runs/trailer7/weights/best.pt --epochs 6 --imgsz 160 --batch 64 --out runs/trailer8
	$(BIN)/hgv-lane dataset trailer-squares --src $(TRAIN)/crops --src $(TRAIN)/crops_b --src $(TRAIN)/lane_bodies3 --src $(TRAIN)/lane_bodies4 --src $(TRAIN)/lane_bodies_det --out $(TRAIN)/bodies224_5 --size 224
	$(BIN)/hgv-lane dataset trailer-squares --src $(TRAIN)/crops_cal --src $(TRAIN)/lane_bodies_cal --src $(TRAIN)/lane_bodies_cal_det --out $(TRAIN)/bodies_cal224_5 --size 224
	$(BIN)/hgv-lane train trailer --data $(TRAIN)/bodies224_5 --from runs/trailer8/weights/best.pt --epochs 5 --imgsz 224 --batch 64 --out runs/trailer10
	$(BIN)/hgv-lane export runs/trailer10 --out $@ --check-dir $(TRAIN)/bodies_cal224_5/train --calibrate $(TRAIN)/bodies_cal224_5/train

$(TRAIN)/detect/.done: $(STAMP)
	$(BIN)/hgv-lane synth detect --out $(TRAIN)/detect --n 1500 --seed 200 --size mixed --workers 2 --quiet
	@touch $@

models/plate_detector.onnx: $(TRAIN)/detect/.done
	$(BIN)/hgv-lane dataset plate-tiles --out $(TRAIN)/plate_tiles --yolo $(TRAIN)/detect --manifest $(SHARED)/scenes.csv
	$(BIN)/hgv-lane train plates --data $(TRAIN)/plate_tiles/data.yaml --subset 900 --epochs 22 --imgsz 320 --from scratch --out runs/plates
	$(BIN)/hgv-lane train plates --data $(TRAIN)/plate_tiles/data.yaml --subset 1600 --epochs 12 --imgsz 320 --batch 32 --from runs/plates/weights/best.pt --out runs/plates2
	$(BIN)/hgv-lane dataset plate-tiles --out $(TRAIN)/plate_tiles_r3 --yolo $(TRAIN)/detect --manifest $(SHARED)/scenes.csv --manifest-tiles 3
	$(BIN)/hgv-lane train plates --data $(TRAIN)/plate_tiles_r3/data.yaml --subset 1600 --epochs 10 --imgsz 320 --batch 32 --from runs/plates2/weights/best.pt --out runs/plates3
	$(BIN)/hgv-lane dataset plate-tiles --out $(TRAIN)/plate_tiles_r4 --yolo $(TRAIN)/detect --manifest $(SHARED)/scenes.csv --manifest-tiles 4
	$(BIN)/hgv-lane train plates --data $(TRAIN)/plate_tiles_r4/data.yaml --subset 1600 --epochs 12 --imgsz 320 --batch 32 --from runs/plates3/weights/best.pt --aug hsv_h=0.3 --out runs/plates4
	$(BIN)/hgv-lane export runs/plates4 --out $@ --imgsz 384 640 --check-dir $(TRAIN)/detect/images/val

# Single synthetic scenes first, then lane-camera frames (plus a sample of the scenes).
models/vehicle_detector.onnx: $(TRAIN)/detect/.done $(TRAIN)/lane_clips/.done
	$(BIN)/hgv-lane dataset vehicles --yolo $(TRAIN)/detect --out $(TRAIN)/vehicles
	$(BIN)/hgv-lane train vehicles --data $(TRAIN)/vehicles/data.yaml --subset 400 --epochs 20 --imgsz 320 --out runs/vehicles
	$(BIN)/hgv-lane train vehicles --data $(TRAIN)/vehicles/data.yaml --from runs/vehicles/weights/best.pt --subset 700 --epochs 20 --imgsz 320 --out runs/vehicles2
	$(BIN)/hgv-lane dataset lane-frames $(TRAIN)/lane_clips --out $(TRAIN)/lane_vehicles --every 3 --merge $(TRAIN)/vehicles/data.yaml --merge-sample 450 --quiet
	$(BIN)/hgv-lane train vehicles --data $(TRAIN)/lane_vehicles/merged.yaml --from runs/vehicles2/weights/best.pt --epochs 15 --imgsz 320 --batch 32 --out runs/vehicles3
	$(BIN)/hgv-lane export runs/vehicles3 --out $@ --imgsz 320 --check-dir $(TRAIN)/lane_vehicles/images/val

# The plate reader's own recogniser (reader engine crnn): scene plate crops (seed 301), flat
# synthetic plates (seed 302, drawn by the training code) and the train side of the real dev
# plates; seeds 399 (validation) and 901 (the synthetic test set) are never trained on.
$(TRAIN)/reader/synth_s301/.done: $(STAMP)
	$(BIN)/hgv-lane synth plates --out $(TRAIN)/reader/synth_s301 --n 3000 --seed 301 --workers 2 --quiet
	@touch $@

data/eval/plates_s901/manifest.csv: $(STAMP)
	$(BIN)/hgv-lane synth plates --out data/eval/plates_s901 --n 200 --seed 901 --workers 2 --quiet

# Two more synthetic test sets (sixteenth session), never trained on or tuned on before they were
# first measured: `make eval-sets`, then `hgv-lane eval plates data/eval/plates_s902/manifest.csv`.
data/eval/plates_s902/manifest.csv data/eval/plates_s903/manifest.csv: data/eval/plates_s%/manifest.csv: $(STAMP)
	$(BIN)/hgv-lane synth plates --out data/eval/plates_s$* --n 300 --seed $* --workers 2 --quiet

eval-sets: data/eval/plates_s901/manifest.csv data/eval/plates_s902/manifest.csv data/eval/plates_s903/manifest.csv

# The recogniser is the wide one (conv widths 24-144, BiLSTM 128; twelfth session, card), 10 epochs
# from scratch. Then 3 epochs more with lane-camera plate crops added: the plate detector's boxes on
# the lane sets' frames (seeds 7000-7489, never the benchmarks'), crops 14 px high or more (the
# engine named there only scores them: any will do, and the reader being made does not exist yet),
# and 1,500 text-free lines labelled empty (without them the fine-tune read a '3' on a blank).
# Last, the same 3 epochs again from there (shipped reader18w). Lines are made grey by
# vision.anpr.line_input.plate_grey (a red plate's red channel).
LANE_SETS = $(foreach d,lane_clips lane_clips2 lane_clips3 lane_clips4,--clips-under $(TRAIN)/$(d))
models/plate_reader.onnx: $(TRAIN)/reader/synth_s301/.done data/eval/plates_s901/manifest.csv $(TRAIN)/lane_clips/.done models/plate_detector.onnx
	nice -n 5 $(BIN)/hgv-lane train reader --data $(TRAIN)/reader/synth_s301/manifest.csv --real $(SHARED)/crops.csv --real $(SHARED)/scenes.csv --eval data/eval/plates_s901/manifest.csv --epochs 10 --batch 64 --threads 2 --channels 24,48,96,144 --hidden 128 --out runs/reader16w --onnx runs/reader16w/plate_reader.onnx
	$(BIN)/python bench/bench_lane_plates.py $(LANE_SETS) --every 1 --min-height 14 --engine rapidocr --margin-x 0 --out $(TRAIN)/reader/lane_crops_p4
	nice -n 5 $(BIN)/hgv-lane train reader --data $(TRAIN)/reader/synth_s301/manifest.csv --real $(SHARED)/crops.csv --real $(SHARED)/scenes.csv --real $(TRAIN)/reader/lane_crops_p4/manifest.csv --eval data/eval/plates_s901/manifest.csv --n-blank 1500 --epochs 3 --batch 64 --threads 2 --channels 24,48,96,144 --hidden 128 --from runs/reader16w/last.pt --lines $(TRAIN)/reader_lane15 --out runs/reader17w --onnx runs/reader17w/plate_reader.onnx
	nice -n 5 $(BIN)/hgv-lane train reader --data $(TRAIN)/reader/synth_s301/manifest.csv --real $(SHARED)/crops.csv --real $(SHARED)/scenes.csv --real $(TRAIN)/reader/lane_crops_p4/manifest.csv --eval data/eval/plates_s901/manifest.csv --n-blank 1500 --epochs 3 --batch 64 --threads 2 --channels 24,48,96,144 --hidden 128 --from runs/reader17w/last.pt --lines $(TRAIN)/reader_lane15 --out runs/reader18w --onnx $@
