"""gunicorn settings for dispute-guide, read from the DISPUTE_GUIDE_* environment.

`make run` and `dispute-guide serve` use this module (`gunicorn -c python:service.gunicorn_conf`);
the top-level gunicorn.conf.py of the source tree imports it. The app is built once in the master
(preload_app): the rules are parsed, validated and compiled once, and the forked
workers share those pages copy-on-write.

Signals: SIGTERM stops gracefully (in-flight requests finish, up to graceful_timeout);
SIGHUP reloads the rules: the master loads them again and forks new workers with them
while the old ones finish their requests; a broken rule change keeps the last good
rules serving (see service.state.reload).
"""

import os
import tempfile

from service.config import from_env
from service.names import EXTENSION

# Metrics from several processes: each writes its own files here, /metrics sums them.
# Set before anything imports prometheus_client; kept across SIGHUP (this file is read
# again then), emptied only at the first start.
if not os.environ.get("_DISPUTE_GUIDE_METRICS_READY"):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.unlink(os.path.join(folder, name))
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="dispute-guide-metrics-")
    os.environ["_DISPUTE_GUIDE_METRICS_READY"] = "1"

_config = from_env()

wsgi_app = "service:create_app()"
bind = _config["BIND"]
# Evaluating is CPU-bound Python: more processes than cores only adds switching.
workers = _config["WORKERS"] or min(os.cpu_count() or 1, 8)
# gthread, answering the requests gunicorn refuses itself with problem+json too.
worker_class = "service.worker.ProblemThreadWorker"
threads = _config["THREADS"]
preload_app = True
timeout = _config["TIMEOUT"]
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, staggered so they never restart together.
max_requests = 20000
max_requests_jitter = 2000
# The app writes its own JSON line per request; gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = _config["LOG_LEVEL"]
# gunicorn 25.1+ opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl)
# that every instance on the machine shares: two services, or a test's servers, would take
# it from each other (and a stopping master could hang on it). Signals do its work here.
control_socket_disable = True


def on_reload(server):
    """SIGHUP: load the rules again in the master, before the new workers are forked."""
    # Imported here, not at the top: service.state loads prometheus_client, which must not
    # be imported before PROMETHEUS_MULTIPROC_DIR is set above.
    from service.state import reload

    app = server.app.wsgi()
    replaced = app.extensions[EXTENSION]
    if reload(app):
        # The master serves no request, and the workers forked before hold their own
        # copies: free the replaced ruleset here, or each reload would leak one.
        replaced.engine.close()


def child_exit(server, worker):
    from prometheus_client import multiprocess  # as in on_reload: after the variable is set

    multiprocess.mark_process_dead(worker.pid)
