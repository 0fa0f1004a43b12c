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

demo: venv
	$(VENV)/bin/vlm-planner demo

test: venv
	$(PY) -m mypy
	$(PY) -m pytest -q -p no:cacheprovider

# The CPU benchmarks behind docs/performance.md (a few minutes).
bench: venv
	$(PY) benchmarks/bench_image_callback.py --repeat 50
	$(PY) benchmarks/bench_scoring.py

# The figures of docs/reliability.md: camera fuzz, e-stop, shutdown, 10-minute soak (~20 min).
.PHONY: reliability
reliability: venv
	$(PY) benchmarks/fuzz_camera.py
	$(PY) benchmarks/estop_check.py
	$(PY) benchmarks/shutdown_time.py
	$(PY) benchmarks/soak.py

lint: venv
	$(PY) -m flake8 vlm_planner test launch benchmarks setup.py
	$(PY) -m pydocstyle --convention=google --add-ignore=D105,D107 vlm_planner

clean:
	rm -rf $(VENV) build install log *.egg-info
