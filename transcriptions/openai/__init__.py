"""OpenAI's side of a transcript, in one place for the API and the dashboard alike: what each
OpenAI model id allows (policy.py), the response formats (formats.py) and the serializers of
their JSON bodies (bodies.py), which also document them in the OpenAPI schema."""
