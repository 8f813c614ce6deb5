# edgekiln: `make demo` and `make test` do all set-up on a fresh Debian machine.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done

.PHONY: setup demo test test-fast bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh targets/plugin/ek_insn_count.c
	bash scripts/setup.sh
	touch $(STAMP)

demo: setup
	$(PY) -m edgekiln.demo

test: setup
	$(PY) -m pytest -q -n 2 tests

test-fast: setup
	$(PY) -m pytest -q -m "not qemu" tests

bench: setup
	$(PY) benchmarks/classic_models.py --json build/bench/classic_models.json

clean:
	rm -rf build $(VENV) targets/plugin/*.so
