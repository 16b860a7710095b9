"""The download paths (§4): ``/{filename}?access_token=…`` and the legacy
``/api/v1/files/{token}/{filename}``, served as plain WSGI in front of the Flask app.

- :mod:`.dispatch` — ``DownloadDispatcher``: which requests are downloads;
- :mod:`.handler` — ``DownloadApp``: one download request, from method to answer;
- :mod:`.authorize` — ``Authorizer``: the API key, the token, the principal, the file, in
  that order; no WSGI, so other edges can reuse it;
- :mod:`.decide` — ``decide``: ``200``, ``206``, ``304`` or ``416`` and the headers, from the
  file and the request's header strings; pure;
- :mod:`.modes` — ``Stream``, ``Redirect``, ``Accel``: who sends the bytes
  (``FILES_DELIVERY``), chosen once at start;
- :mod:`.bodies` — the streamed response body, counted at close;
- :mod:`.refusals`, :mod:`.wsgi` — the §4 refusal codes, and the WSGI plumbing (common
  headers, the outcome counter, error documents).

All the HTTP decisions come from the pure ``delivery`` package, itself built on Werkzeug's
header machinery."""

from __future__ import annotations

from .authorize import Authorizer
from .decide import Answer, decide
from .dispatch import DownloadDispatcher
from .handler import DownloadApp

__all__ = ["Answer", "Authorizer", "DownloadApp", "DownloadDispatcher", "decide"]
