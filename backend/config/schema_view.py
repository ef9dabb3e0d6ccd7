"""``/api/schema/``: drf-spectacular's view, one generation at a time per process.

Generating the schema walks every view and fills shared registries; two threads of one
gunicorn worker doing it at once (three fuzzer sessions loading the schema together) once
answered a 500. A lock costs nothing here: the schema is read rarely.
"""

from __future__ import annotations

import threading
from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView

_generation = threading.Lock()


class SchemaView(SpectacularAPIView):
    @extend_schema(exclude=True)  # as before: SERVE_INCLUDE_SCHEMA is off
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with _generation:
            return super().get(request, *args, **kwargs)
