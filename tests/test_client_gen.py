"""A client generated from openapi.yaml by openapi-python-client calls the live service.

What an integrator would do: generate a typed client from the published contract and use
it. Each enumeration must come out as one named type (no `CaseStageType1`,
`CaseStageType2Type1`, ...), the operations as actions (`evaluate_case`), and the client
must read a guidance, a batch and a 422 problem from the real server.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import ROOT

pytestmark = pytest.mark.server

PACKAGE = "dispute_guide_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The generated client package, importable."""
    folder = tmp_path_factory.mktemp("client")
    config = folder / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: the code is only imported
    bin_dir = str(Path(sys.executable).parent)
    result = subprocess.run(
        [
            str(Path(bin_dir, "openapi-python-client")),
            "generate",
            "--path",
            str(ROOT / "openapi.yaml"),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=folder,
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Only what the generator cannot express is left out: the NDJSON body of a batch and
    # the YAML of /openapi.yaml. Anything else it warns about is a defect of the contract.
    output = result.stdout + result.stderr
    warnings = [line for line in output.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        "WARNING parsing POST /v1/guidance/batch within guidance.",
        "WARNING parsing GET /openapi.yaml within operations.",
    ], output
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
def client(generated, server):
    with generated.Client(base_url=server.url, raise_on_unexpected_status=True) as c:
        yield c


def test_every_enumeration_is_one_named_type(generated):
    models = Path(generated.__file__).parent / "models"
    names = sorted(p.stem for p in models.glob("*.py"))
    assert not [n for n in names if "_type_" in n], names
    assert {
        "case_stage",
        "case_fault",
        "case_prepayment",
        "case_payment_state",
        "lang",
        "step_kind",
        "flag",
    } <= set(names)
    operations = {p.stem for p in (Path(generated.__file__).parent / "api").rglob("*.py")}
    assert {
        "evaluate_case",
        "evaluate_batch",
        "list_steps",
        "list_rules",
        "check_readiness",
        "check_liveness",
    } <= operations


def test_the_client_evaluates_a_case(client):
    from dispute_guide_client.api.guidance import evaluate_case
    from dispute_guide_client.models import (
        Case,
        CasePaymentState,
        CaseSituationsItem,
        CaseStage,
        Flag,
        Guidance,
        Lang,
    )

    case = Case(
        situations=[CaseSituationsItem.NON_PAYMENT],
        contract=True,
        payment_state=CasePaymentState.OVERDUE,
        stage=CaseStage.DELIVERED,
        fault=None,
        case_id="client-1",
    )
    response = evaluate_case.sync_detailed(
        client=client, body=case, lang=Lang.RU, questions=Flag.FALSE
    )
    assert response.status_code == 200
    guidance = response.parsed
    assert isinstance(guidance, Guidance)
    assert guidance.case_id == "client-1" and guidance.lang == Lang.RU
    assert "formal-demand-under-contract" in [step.id for step in guidance.steps]
    assert response.headers["Content-Language"] == "ru"


def test_the_client_reads_a_422_problem(client):
    from dispute_guide_client.api.guidance import evaluate_case
    from dispute_guide_client.models import Case, CaseClient, CaseSituationsItem, Problem

    # The generated models do not check bounds: the server does, and says where.
    case = Case(
        situations=[CaseSituationsItem.CLIENT_SILENT], client=CaseClient(silent_days=100000)
    )
    response = evaluate_case.sync_detailed(client=client, body=case)
    assert response.status_code == 422
    problem = response.parsed
    assert isinstance(problem, Problem)
    assert problem.status == 422 and problem.type_.endswith(":validation")
    assert list(problem.errors.additional_properties) == ["client.silent_days"]


def test_the_client_sends_a_batch_with_a_bad_item(client):
    from dispute_guide_client.api.guidance import evaluate_batch
    from dispute_guide_client.models import BatchRequest, BatchResponse, Case, CaseSituationsItem

    body = BatchRequest(cases=[Case(situations=[CaseSituationsItem.CONFLICT]), [None, None]])
    response = evaluate_batch.sync_detailed(client=client, body=body)
    assert response.status_code == 200
    answer = response.parsed
    assert isinstance(answer, BatchResponse)
    first, second = answer.results
    assert first.status == 200 and first.guidance.steps
    assert second.status == 422 and second.problem.status == 422
