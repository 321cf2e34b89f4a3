"""The OpenAPI description of the OpenAI-compatible endpoints (drf-spectacular), kept out of
the views: the request forms (forms.py), the operations attached by view extensions (views.py),
the API key's security scheme (auth.py).

Importing the package registers the extensions (api/urls.py does, before any generation);
`request_examples` is the postprocessing hook named in settings.SPECTACULAR_SETTINGS.
"""

from . import auth, views
from .forms import request_examples

__all__ = ["auth", "request_examples", "views"]
