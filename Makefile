# The two commands of the README's Quick start. Both set everything up first (idempotent).
.PHONY: setup demo test test-fast bench clean install

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/kiosk demo

test: setup
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q -p no:cacheprovider

# The unit tests only (under a minute): the whole suite less the `slow` marker (tests/conftest.py).
test-fast: setup
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q -p no:cacheprovider -m "not slow"

bench: setup
	QT_QPA_PLATFORM=offscreen .venv/bin/python bench/run_all.py

# The appliance (as root; README "Deploying"): make install ROLES="kiosk hall" [PREFIX=/tmp/stage]
# [VENV_FROM=.venv: reuse that venv's packages instead of pip, e.g. offline or in tests]
ROLES ?= kiosk
install:
	scripts/install.sh $(if $(PREFIX),--prefix $(PREFIX)) $(if $(VENV_FROM),--venv-from $(VENV_FROM)) $(ROLES)

clean:
	rm -rf .venv build *.egg-info
