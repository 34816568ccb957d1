"""The engine adapter: sessions, threads, forks, and agreement with the rules."""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings

from service.engine import Engine, flatten
from tests.support.cases import nest, strategy

CASES = [
    nest(c)
    for c in [
        {"situations": ["non_payment"], "contract": True},
        {
            "situations": ["non_payment"],
            "contract": False,
            "prepayment": "none",
            "stage": "negotiation",
        },
        {
            "situations": ["client_silent"],
            "client.silent_days": 14,
            "prepayment": "partial",
            "stage": "in_progress",
            "client.contact_attempts": 4,
        },
        {"situations": ["dissatisfaction", "conflict"], "fault": "freelancer"},
        {
            "situations": ["missing_information"],
            "client.intermediary": True,
            "information.blocking": True,
        },
        {"situations": ["new_client"]},
        {"situations": ["conflict"], "client.fraud_signals": True, "client.toxic": True},
    ]
]


def answer(engine, case):
    g = engine.evaluate(case)
    return (
        [a.step.id for a in g.steps],
        [r.id for r in g.rules_fired],
        [
            (q.fact.name, [(o.answer.value, o.add, o.remove) for o in q.options])
            for q in g.questions
        ],
    )


def test_flatten_uses_dotted_names_and_drops_unknowns():
    assert flatten(
        {
            "case_id": "x",
            "situations": ["conflict"],
            "contract": None,
            "client": {"silent_days": 3, "toxic": None},
            "evidence": None,
        }
    ) == {"situations": ["conflict"], "client.silent_days": 3}


def test_no_session_is_left_behind(engine):
    before = engine.evaluations
    for case in CASES * 50:
        engine.evaluate(case)
    assert engine.live_sessions == 0
    assert engine.evaluations == before + len(CASES) * 50


def test_more_evaluations_than_the_engines_session_cap(engine):
    # durable_rules refuses a 1,025th live session; deleting each one keeps it unreachable.
    for i in range(3000):
        engine.fire({"situations": ["conflict"], "client.silent_days": i % 100})
    assert engine.live_sessions == 0


def test_concurrent_threads_get_the_single_threaded_answers(engine):
    expected = [answer(engine, case) for case in CASES]
    work = [i % len(CASES) for i in range(2000)]
    random.Random(7).shuffle(work)
    with ThreadPoolExecutor(max_workers=16) as pool:
        got = list(pool.map(lambda i: (i, answer(engine, CASES[i])), work))
    assert all(result == expected[i] for i, result in got)
    assert engine.live_sessions == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_evaluates_with_the_parents_compiled_rules(engine):
    expected = answer(engine, CASES[0])
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what a gunicorn worker does after preload
        try:
            ok = all(answer(engine, CASES[0]) == expected for _ in range(100))
            os.write(write, b"1" if ok and engine.live_sessions == 0 else b"0")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)


def test_two_engines_of_the_same_rules_are_independent(state):
    other = Engine(state.rulebook)
    try:
        for case in CASES:
            assert answer(other, case) == answer(state.engine, case)
    finally:
        other.close()


def test_a_case_without_situations_is_refused_before_the_engine(engine):
    with pytest.raises(ValueError):
        engine.evaluate({"contract": True})


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(strategy())
def test_evaluation_is_deterministic_and_steps_follow_the_fired_rules(state, case):
    case = state.schema.load(case)
    first = state.engine.evaluate(case)
    again = state.engine.evaluate(case)
    assert first == again
    added = {s for r in first.rules_fired for s in r.add}
    removed = {s for r in first.rules_fired for s in r.remove}
    given = {a.step.id for a in first.steps}
    assert given <= added - removed
    for left_out in added - removed - given:  # only a given step that supersedes it hides it
        assert set(state.rulebook.superseded_by[left_out]) & given
    assert len({r.id for r in first.rules_fired}) == len(first.rules_fired)
    for advice in first.steps:
        assert advice.because and all(advice.step.id in rule.add for rule in advice.because)
        assert len({r.id for r in advice.because}) == len(advice.because)
