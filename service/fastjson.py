"""The app's Flask JSON provider, writing answers with service/encoding.py's `dumps`: orjson,
the very bytes the standard library's compact JSON writes (see there).

`dumps` and `dumps_line` are named here too, for the benches and tests that use them.
"""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response  # what Flask's providers are typed to return

from service.encoding import dumps, dumps_line

__all__ = ["Provider", "dumps", "dumps_line"]

_COMPACT = {"separators": (",", ":")}


class Provider(DefaultJSONProvider):
    """Flask's JSON provider, writing with `dumps` when the output is compact, unsorted and
    UTF-8 (how the app is configured); otherwise (debug indentation, sorted keys, ASCII
    escapes) Flask's own."""

    ensure_ascii = False
    sort_keys = False

    def _fast(self) -> bool:
        compact = self.compact is True or (self.compact is None and not self._app.debug)
        return compact and not self.ensure_ascii and not self.sort_keys

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs == _COMPACT and not self.ensure_ascii and not self.sort_keys:
            return dumps(obj, self.default).decode()
        return super().dumps(obj, **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if not self._fast():
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        response_class: Any = self._app.response_class  # flask.Response: it takes bytes
        return response_class(dumps(obj, self.default) + b"\n", mimetype=self.mimetype)
