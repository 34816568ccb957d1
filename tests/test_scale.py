"""Rulebooks of thousands of rules: no engine error for any case, the same answers as Python.

durable_rules' matcher holds at most 64 pending alpha nodes (error 303 past that); a
single ruleset of a few hundred rules overflows it. The engine packs the rules into
rulesets whose networks stay under that bound; these tests prove the packing on large
generated rulebooks against the engine itself.
"""

from __future__ import annotations

import pytest

from service.engine import STACK_BUDGET, Engine, Network
from service.plan import complete
from service.rulebook import load_rulebook
from tests.support.cases import RULEBOOK, generate
from tests.support.rulebooks import write_rulebook


@pytest.fixture(scope="module", params=[1000, 5000])
def big(request, tmp_path_factory):
    folder = write_rulebook(
        tmp_path_factory.mktemp(f"rules{request.param}"),
        RULEBOOK,
        request.param,
        seed=request.param,
    )
    rulebook = load_rulebook(folder)
    engine = Engine(rulebook)
    yield engine
    engine.close()


def test_every_case_evaluates_and_matches_the_python_compilation(big):
    rules = big.rulebook.rules
    assert len(rules) in (1000, 5000)
    worst = {"situations": list(RULEBOOK.facts["situations"].values)}  # most rules match
    for i, case in enumerate(generate(2000, seed=5, form="flat")):
        flat = complete(big.rulebook, worst if i == 0 else case)
        fired = big.fire(flat)  # an EngineError (303) would fail the test here
        assert set(fired) == {r.id for r in rules if r.test(flat)}, flat
        assert len(fired) == len(set(fired))


def test_each_engine_ruleset_stays_within_the_stack_budget(big):
    assert len(big.shards) > 1
    for rules in big.shards:
        network = Network()
        for _, chain in rules:
            network.add(chain)
        assert network.bound <= STACK_BUDGET
        assert _recount(network) == network.bound  # the incremental bound is the bound


def _recount(node) -> int:
    """The bound computed afresh, from the definition."""
    if not node.children:
        return 1
    return node.fan - 1 + max(_recount(c) for c in node.children.values())


def test_large_groups_are_split_by_a_value_that_their_rules_test(big):
    """A ruleset whose rules all test a fact for one value runs only for cases with it; the
    answers above prove that no ruleset left out would have fired a rule."""
    needs = [dict(needed) for needed in big._needs]
    assert any(any(not field.startswith("_l") for field in needed) for needed in needs)
    assert len(big.shards) == len(needs)
