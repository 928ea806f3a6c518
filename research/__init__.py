"""Research tooling, apart from the serving code: the evaluation protocol of `frontdoor kb eval`
(evaluate.py, run on the public datasets in ../shared/eval) and what the threshold studies in scripts/
build on. No process of the running stack imports it."""
