"""The framework's ceiling: a bare Flask endpoint that parses JSON and answers JSON.

bench/load.py serves it with the same gunicorn config as the service
(`gunicorn -c gunicorn.conf.py bench.bare_app:app`) and sends it the same requests.
POST /v1/guidance parses the body as JSON and answers, serialized per request, the very
document the service answered for that case (by its case_id): the same size and shape,
with no rules, validation, logging or metrics in between.

BARE_APP_ANSWERS names a JSON file {case_id: the service's answer} (load.py writes it).
"""

from __future__ import annotations

import json
import os

from flask import Flask, abort, jsonify, request

app = Flask(__name__)
app.json.sort_keys = False
app.json.ensure_ascii = False

_path = os.environ.get("BARE_APP_ANSWERS")
ANSWERS: dict = {}
if _path:
    with open(_path, encoding="utf-8") as f:
        ANSWERS = json.load(f)


@app.post("/v1/guidance")
def guidance():
    case = request.get_json()
    answer = ANSWERS.get(case.get("case_id")) if isinstance(case, dict) else None
    if answer is None:
        abort(404)
    return jsonify(answer)


@app.get("/readyz")
def readyz():
    return jsonify({"status": "ready"})
