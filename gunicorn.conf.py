"""gunicorn settings for dispute-guide, read from the DISPUTE_GUIDE_* environment.

`make run` and `dispute-guide serve` use this file. The app is built once in the master
(preload_app): the rules are parsed, validated and compiled once, and the forked
workers share those pages copy-on-write.
"""

import os

from service.config import from_env

_config = from_env()

wsgi_app = "service:create_app()"
bind = _config["BIND"]
# Evaluating is CPU-bound Python: more processes than cores only adds switching.
workers = _config["WORKERS"] or min(os.cpu_count() or 1, 8)
worker_class = "gthread"
threads = _config["THREADS"]
preload_app = True
timeout = _config["TIMEOUT"]
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, staggered so they never restart together.
max_requests = 20000
max_requests_jitter = 2000
# The app writes its own log line per request; gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = _config["LOG_LEVEL"]
