# Two commands on a fresh machine:  `make demo`  and  `make test`. Both set everything up first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements*.txt setup.py | cksum | cut -d' ' -f1)

.PHONY: venv demo test lint bench clean

venv: $(STAMP)

# Re-installs whenever requirements.txt or setup.py change.
$(STAMP): requirements.txt requirements-no-ros.txt setup.py
	@$(PYTHON) -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 13), \
	  "ROS 2 Jazzy wheels need Python 3.10-3.13, this is " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $@

# The closed loop with the shipped trained planner, the package's default model
# (docs/training.md, section 9).
demo: venv
	$(VENV)/bin/vlm-planner demo

test: venv
	$(PY) -m mypy
	$(PY) -m pytest -q -p no:cacheprovider

# The CPU benchmarks behind docs/performance.md (a few minutes).
bench: venv
	$(PY) benchmarks/bench_image_callback.py --repeat 200
	$(PY) benchmarks/bench_scoring.py
	$(PY) benchmarks/bench_latency.py
	$(PY) benchmarks/bench_eval_throughput.py
	$(PY) benchmarks/bench_live_path.py

# The figures of docs/reliability.md: camera fuzz, e-stop, shutdown, 10-minute soak (~20 min).
.PHONY: reliability
reliability: venv
	$(PY) benchmarks/fuzz_camera.py
	$(PY) benchmarks/estop_check.py
	$(PY) benchmarks/shutdown_time.py
	$(PY) benchmarks/soak.py

# The paper's experiments on the synthetic world, written into docs/experiments.md with its plots
# (about an hour on 2 CPU cores; rerun to resume; docs/experiments.md says what each flag does).
EXPERIMENT_WORK ?= build/experiment
.PHONY: experiments
experiments: venv
	$(VENV)/bin/vlm-planner experiment --out $(EXPERIMENT_WORK) --docs docs

# Rebuilds the shipped demo model from scratch (about three hours on 2 CPU cores; rerun to
# resume): generated tabletop episodes, a random 0.55 M-parameter Qwen2.5-VL, fine-tuning on the
# whole action text in three stages (8,000 steps at lr 1e-3, 8,000 more at 5e-4, then 8,000 at
# 5e-4 with scene descriptions as an auxiliary target), held-out evaluation and closed-loop
# episodes, then the model into vlm_planner/resources/demo_model if it passes the blank-frame
# check (docs/training.md, section 9).
DEMO_WORK ?= build/demo-model
DEMO_DATA := $(DEMO_WORK)/episodes
# Every training stage: the whole action text, vision encoder trained, the current frame only.
DEMO_FINETUNE = OMP_NUM_THREADS=1 $(VENV)/bin/vlm-planner finetune --quiet \
	--data $(DEMO_DATA)/train --val $(DEMO_DATA)/val --train-vision --batch-size 8 \
	--weight-decay 0.1 --schedule cosine --val-limit 200 --save-every 500 \
	-p prompt_file:=config/prompt_current_observation.yaml \
	-p model.max_frames:=3 -p keyframes.max_count:=3 -p model.max_pixels:=50176
.PHONY: demo-model
demo-model: venv
	test -f $(DEMO_DATA)/manifest.json || $(VENV)/bin/vlm-planner generate --out $(DEMO_DATA) \
	  --episodes 2400 --seed 7 --workers 1 --width 320 --height 240 --image-format png \
	  --splits train:0.9,val:0.05,test:0.05 --ood-episodes 100
	test -f $(DEMO_WORK)/init/config.json || $(VENV)/bin/vlm-planner make-tiny-model \
	  --out $(DEMO_WORK)/init --hidden-size 64 --layers 4 --vision-hidden-size 64 \
	  --vision-layers 4 --attention-init-std 0.2 --max-pixels 50176
	$(DEMO_FINETUNE) --model $(DEMO_WORK)/init --out $(DEMO_WORK)/first \
	  --steps 8000 --lr 1e-3 --warmup 0.03 --eval-every 1000 --seed 0
	$(DEMO_FINETUNE) --model $(DEMO_WORK)/first --out $(DEMO_WORK)/second \
	  --steps 8000 --lr 5e-4 --warmup 0.02 --eval-every 2000 --seed 1
	$(DEMO_FINETUNE) --model $(DEMO_WORK)/second --out $(DEMO_WORK)/run --describe-scene \
	  --steps 8000 --lr 5e-4 --warmup 0.02 --eval-every 2000 --seed 3
	$(PY) scripts/ship_demo_model.py $(DEMO_WORK)

lint: venv
	$(PY) -m flake8 vlm_planner test launch benchmarks setup.py
	$(PY) -m pydocstyle --convention=google --add-ignore=D105,D107 vlm_planner

clean:
	rm -rf $(VENV) build install log *.egg-info
