# frontdoor: `make run` starts everything, `make test` runs every check. Both set up what they need.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# this machine's pip configuration names local indexes that may not exist: drop that noise, keep errors
PIPQUIET := grep -v "^WARNING: Location '" || true
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WEBCHAT_VERSION := 1.0.1
WEBCHAT_SHA512 := 2ddd73549bd301a4ebb3
WEBCHAT := web/vendor/rasa-webchat/index.js
CHARTJS_VERSION := 4.5.1
CHARTJS_SHA512 := 1888df893f5d6e61d18988ba365db2142abb924c1d929d56fe5a7627df6b5f4ca8f6d8091a7de5290013ced2236f9b55b5ebdc06d21d202356aa5ab9f84f3f3f
CHARTJS := handoff/console/vendor/chart.umd.js
PYTEST_ARGS ?=
# no network at run time: Rasa's telemetry and error reports stay off
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: run cluster test install train validate stories lint bench clean

run: install
	@$(VENV)/bin/frontdoor up

# the multi-instance deployment (2 of each service behind haproxy, Redis + Sentinel): docs/deployment.md
cluster: install
	@scripts/ensure-haproxy.sh >/dev/null
	@$(VENV)/bin/frontdoor cluster up

test: install
	@$(MAKE) --no-print-directory lint
	@$(VENV)/bin/frontdoor train
	@$(MAKE) --no-print-directory validate
	@$(MAKE) --no-print-directory stories
	@scripts/ensure-chromium.sh || [ -z "$$CI" ] || { echo "CI needs Debian's chromium for the browser tests"; exit 1; }
	@scripts/ensure-haproxy.sh || [ -z "$$CI" ] || { echo "CI needs Debian's haproxy for the cluster tests"; exit 1; }
	@scripts/ensure-rt.sh || [ -z "$$CI" ] || { echo "CI needs Debian's request-tracker5 for the RT connector's tests"; exit 1; }
	@$(VENV)/bin/pytest $(PYTEST_ARGS)

install: $(STAMP) $(WEBCHAT) $(CHARTJS)

$(STAMP): pyproject.toml constraints.txt
	@python=$$(scripts/find-python310.sh) || exit 1; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
	  rm -rf $(VENV); echo "creating $(VENV) with $$python"; "$$python" -m venv $(VENV) || exit 1; \
	fi
	@$(PY) -m pip install --quiet --upgrade "pip>=24,<26" "wheel==0.45.1" "setuptools==70.3.0" 2>&1 | { $(PIPQUIET); }
	@echo "installing frontdoor and its pinned dependencies into $(VENV) (a few minutes the first time)"
	@$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]' 2>&1 | { $(PIPQUIET); }
	@touch $(STAMP)

# The chat widget (rasa-webchat, a standalone UMD bundle) comes from the npm registry at install time,
# checked against its pinned hash; the website never loads it from a CDN. Its CSS @import of a web font is
# removed so the page makes no request off the machine (the widget falls back to the system font).
$(WEBCHAT):
	@command -v npm >/dev/null || { echo "npm is needed once to fetch the chat widget (apt-get install npm)"; exit 1; }
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent rasa-webchat@$(WEBCHAT_VERSION) >/dev/null 2>&1 \
	  && echo "$$(sha512sum rasa-webchat-$(WEBCHAT_VERSION).tgz | cut -c1-20)" | grep -qx $(WEBCHAT_SHA512) \
	  || { echo "could not fetch rasa-webchat@$(WEBCHAT_VERSION) (or its hash differs)"; exit 1; }; \
	  tar xzf $$tmp/rasa-webchat-$(WEBCHAT_VERSION).tgz -C $$tmp && mkdir -p $(CURDIR)/$(dir $(WEBCHAT)) \
	  && sed 's#@import url(https://fonts.googleapis.com/[^)]*)##g' $$tmp/package/lib/index.js > $(CURDIR)/$(WEBCHAT) \
	  && cp $$tmp/package/LICENSE $(CURDIR)/$(dir $(WEBCHAT))LICENSE \
	  && rm -rf $$tmp && echo "fetched rasa-webchat $(WEBCHAT_VERSION)"

# The charts of the leads' analytics page and of `frontdoor report` (Chart.js, its UMD build) come from the
# npm registry at install time the same way, checked against the whole sha512 of the package, with their
# licence kept next to them; the console serves them itself (/agent/static/chart.umd.js), the report inlines
# them. The source-map comment goes (nothing asks for a map that is not there).
$(CHARTJS):
	@command -v npm >/dev/null || { echo "npm is needed once to fetch Chart.js (apt-get install npm)"; exit 1; }
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent chart.js@$(CHARTJS_VERSION) >/dev/null 2>&1 \
	  && echo "$$(sha512sum chart.js-$(CHARTJS_VERSION).tgz | cut -d' ' -f1)" | grep -qx $(CHARTJS_SHA512) \
	  || { echo "could not fetch chart.js@$(CHARTJS_VERSION) (or its hash differs)"; exit 1; }; \
	  tar xzf $$tmp/chart.js-$(CHARTJS_VERSION).tgz -C $$tmp && mkdir -p $(CURDIR)/$(dir $(CHARTJS)) \
	  && sed '/^\/\/# sourceMappingURL=/d' $$tmp/package/dist/chart.umd.js > $(CURDIR)/$(CHARTJS) \
	  && cp $$tmp/package/LICENSE.md $(CURDIR)/$(dir $(CHARTJS))chart.js-LICENSE.md \
	  && rm -rf $$tmp && echo "fetched Chart.js $(CHARTJS_VERSION)"

train: install
	@$(VENV)/bin/frontdoor train

validate: install
	@mkdir -p var; $(VENV)/bin/rasa data validate --data data --domain domain.yml --config config.yml \
	  >var/validate.log 2>&1 || { tail -40 var/validate.log; exit 1; }
	@echo "rasa data validate: ok"

# Rasa test stories: every flow in German, English and Danish must be predicted exactly (NLU + dialogue)
stories: install
	@mkdir -p var; $(VENV)/bin/rasa test core --stories tests/stories --model $$($(VENV)/bin/frontdoor train) \
	  --out var/results/core --fail-on-prediction-errors >var/stories.log 2>&1 \
	  || { grep -v -i warn var/stories.log | tail -30; exit 1; }
	@echo "rasa test stories: $$(grep -c '^- story:' tests/stories/*.yml | awk -F: '{s+=$$2} END {print s}') passed"

lint: install
	@$(VENV)/bin/ruff check bot stack rasa_ext research actions handoff connector tests scripts
	@$(VENV)/bin/mypy --no-error-summary && echo "mypy (strict; actions/ and rasa_ext/ may subclass untyped Rasa classes): ok"

clean:
	rm -rf $(VENV) var models web/vendor $(dir $(CHARTJS))
