"""gunicorn reads this file when started in the source tree (`gunicorn 'service:create_app()'`
or `gunicorn -c gunicorn.conf.py`). The settings live in the package, service/gunicorn_conf.py,
so that an installed service has them too (`dispute-guide serve` uses the module)."""

from service.gunicorn_conf import *  # noqa: F401,F403
