"""Broken rule files stop the service from starting, naming the file, the rule and the problem."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from service import create_app
from service.rulebook import RulesError, load_rulebook
from tests.support.cases import RULEBOOK

GOOD_RULE = """\
  - id: extra-rule
    description: A rule added by a test.
    when:
{when}
    reason: {{en: A reason., ru: Причина.}}
    add: {add}
"""


def rules_with(tmp_path, when: str, add: str = "[clarify-payment]", extra: str = ""):
    shutil.copytree(RULEBOOK.directory, tmp_path, dirs_exist_ok=True)
    (tmp_path / "extra.yaml").write_text(
        "section: nonpay\nrules:\n" + GOOD_RULE.format(when=when, add=add) + extra, encoding="utf-8"
    )
    return tmp_path


@pytest.mark.parametrize(
    "when, add, problem",
    [
        ("      budget: 100", "[clarify-payment]", "unknown fact 'budget'"),
        (
            "      situations: {includes: non_payment}",
            "[sue-the-client]",
            "unknown step ids ['sue-the-client']",
        ),
        (
            "      client.silent_days: {longer_than: 5}",
            "[clarify-payment]",
            "unknown operator 'longer_than'",
        ),
        ("      contract: 'yes'", "[clarify-payment]", "not a valid value of contract"),
        (
            "      client.silent_days: {at_least: '5'}",
            "[clarify-payment]",
            "expected a whole number",
        ),
        ("      stage: {in: [started]}", "[clarify-payment]", "not a valid value of stage"),
        ("      contract: {at_least: 1}", "[clarify-payment]", "applies to integer facts"),
        ("      situations: conflict\n      any: []", "[clarify-payment]", "non-empty list"),
        ("      stage: {includes: closed}", "[clarify-payment]", "applies to list facts"),
        ("      {}", "[clarify-payment]", "non-empty mapping"),
    ],
)
def test_a_broken_rule_names_file_rule_and_problem(tmp_path, when, add, problem):
    folder = rules_with(tmp_path, when, add)
    with pytest.raises(RulesError) as error:
        load_rulebook(folder)
    message = str(error.value)
    assert "extra.yaml" in message and "rule 'extra-rule'" in message
    assert problem in message


def test_duplicate_rule_ids_within_a_file(tmp_path):
    folder = rules_with(
        tmp_path,
        "      contract: true",
        extra=GOOD_RULE.format(when="      contract: false", add="[clarify-payment]"),
    )
    with pytest.raises(RulesError, match="duplicate rule id 'extra-rule'"):
        load_rulebook(folder)


def test_duplicate_rule_ids_across_files(tmp_path):
    shutil.copytree(RULEBOOK.directory, tmp_path, dirs_exist_ok=True)
    text = (tmp_path / "nonpay.yaml").read_text(encoding="utf-8")
    (tmp_path / "copy.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(RulesError, match="duplicate rule id 'nonpay-clarify'"):
        load_rulebook(tmp_path)


def test_invalid_yaml_names_the_file(tmp_path):
    shutil.copytree(RULEBOOK.directory, tmp_path, dirs_exist_ok=True)
    (tmp_path / "bad.yaml").write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"bad\.yaml: not valid YAML"):
        load_rulebook(tmp_path)


def test_a_key_written_twice_is_refused_not_silently_overwritten(tmp_path):
    shutil.copytree(RULEBOOK.directory, tmp_path, dirs_exist_ok=True)
    text = (tmp_path / "plan.yaml").read_text(encoding="utf-8")
    twice = "    over: [agree-contact-formats]\n"
    assert twice in text  # a supersession whose second `over` would replace the first
    (tmp_path / "plan.yaml").write_text(
        text.replace(twice, twice + "    over: [ask-if-all-is-well]\n", 1), encoding="utf-8"
    )
    with pytest.raises(RulesError, match=r"(?s)plan\.yaml: not valid YAML.*key 'over' twice"):
        load_rulebook(tmp_path)


def test_a_step_without_russian_text_is_refused(tmp_path):
    shutil.copytree(RULEBOOK.directory, tmp_path, dirs_exist_ok=True)
    steps = (tmp_path / "steps.yaml").read_text(encoding="utf-8")
    start = steps.index("    ru:")
    end = steps.index("  - id:", start)
    (tmp_path / "steps.yaml").write_text(steps[:start] + steps[end:], encoding="utf-8")
    with pytest.raises(RulesError, match=r"steps\.yaml: steps\.0\.ru: Missing data"):
        load_rulebook(tmp_path)


def test_the_version_changes_with_any_text(tmp_path):
    shutil.copytree(RULEBOOK.directory, tmp_path, dirs_exist_ok=True)
    assert load_rulebook(tmp_path).version == RULEBOOK.version
    steps = (tmp_path / "steps.yaml").read_text(encoding="utf-8")
    (tmp_path / "steps.yaml").write_text(
        steps.replace("diplomatically", "tactfully", 1), encoding="utf-8"
    )
    assert load_rulebook(tmp_path).version != RULEBOOK.version


def test_the_app_refuses_to_start_on_broken_rules(tmp_path):
    folder = rules_with(tmp_path, "      budget: 100")
    with pytest.raises(RulesError, match="unknown fact 'budget'"):
        create_app({"RULES_DIR": str(folder)})


def test_check_command_reports_broken_rules_and_exits_1(tmp_path):
    folder = rules_with(tmp_path, "      budget: 100")
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "check", "--rules", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "extra.yaml: rule 'extra-rule': when.budget: unknown fact 'budget'" in result.stderr


def test_check_command_reports_a_failing_rule_case(tmp_path):
    folder = rules_with(
        tmp_path,
        "      situations: {includes: conflict}",
        extra="tests:\n  - name: wrong expectation\n"
        "    case: {situations: [conflict]}\n"
        "    expect: [formal-demand-under-contract]\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "check", "--rules", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        "FAIL extra.yaml: wrong expectation: expected ['formal-demand-under-contract']"
        in result.stdout
    )


def test_check_command_passes_on_the_bundled_rules():
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all passed" in result.stdout
