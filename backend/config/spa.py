"""Serve the built single-page app from Django, for `make run` (one origin, one URL).

In production NGINX serves the build (nginx/); this view is mounted only when
``settings.SERVE_SPA`` is on. Files under the build folder are served as they are;
any other path gets ``index.html`` so the app's history-mode router can handle it.
"""

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.http import require_safe
from django.views.static import serve

_BUILD_MISSING = (
    "<!doctype html><title>Open SEC Data</title><h1>The web app is not built yet</h1>"
    "<p>Run <code>make frontend-build</code> (make run does it), or use the API at "
    '<a href="/api/docs/">/api/docs/</a>.</p>'
)


@require_safe
def spa(request: HttpRequest, path: str = "") -> HttpResponseBase:
    root = Path(settings.SPA_BUILD_DIR)
    if path and (root / path).is_file():
        response = serve(request, path, document_root=str(root))
        if path.startswith("assets/"):
            response["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
    if "." in path.rsplit("/", 1)[-1]:
        raise Http404("No such file in the web app's build.")
    index = root / "index.html"
    if not index.is_file():
        return HttpResponse(_BUILD_MISSING, status=503)
    response = FileResponse(index.open("rb"), content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
