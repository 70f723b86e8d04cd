"""tests/bench/serve/peer_app.py - the Python servers the issue compares
`orrery serve` with, serving the same XGBoost model (PEER_MODEL: the
model.json Orrery registered) on the same V2 route, so the same wrk
script drives both:

  FastAPI + uvicorn:  uvicorn --app-dir DIR peer_app:fastapi_app, or with
                      2 workers gunicorn -k uvicorn.workers.UvicornWorker
  Flask + gunicorn:   gunicorn --chdir DIR peer_app:flask_app

Each does what a careful Python deployment does: the booster loaded once
per worker, one predict thread per worker (XGBoost's OpenMP threads at
their default cost Python servers 80% here, the issue says), the fastest
predict (inplace_predict), JSON in and out.  A benchmark peer, not part
of Orrery.
"""
import json
import os

import numpy as np
import xgboost as xgb

booster = xgb.Booster()
booster.load_model(os.environ["PEER_MODEL"])
booster.set_param({"nthread": 1})


def infer(name, body):
    """The V2 response for a V2 request body (bytes)."""
    doc = json.loads(body)
    inp = doc["inputs"][0]
    x = np.asarray(inp["data"], dtype=np.float64).reshape(inp["shape"])
    y = booster.inplace_predict(x)
    return json.dumps({
        "model_name": name,
        "outputs": [{"name": "predict", "shape": [len(y), 1],
                     "datatype": "FP64", "data": y.tolist()}]})


try:
    from fastapi import FastAPI, Request, Response

    fastapi_app = FastAPI()

    @fastapi_app.post("/v2/models/{name}/infer")
    async def fastapi_infer(name: str, request: Request):
        return Response(infer(name, await request.body()),
                        media_type="application/json")
except ImportError:     # only the server being started must import
    fastapi_app = None

try:
    from flask import Flask, Response as FlaskResponse, request as freq

    flask_app = Flask(__name__)

    @flask_app.post("/v2/models/<name>/infer")
    def flask_infer(name):
        return FlaskResponse(infer(name, freq.get_data()),
                             mimetype="application/json")
except ImportError:
    flask_app = None
