"""What the HTTP service (`cxml.service`) is made of, one concern per module.

- `settings`  the service's configuration, read from the environment
- `schemas`   request and response bodies (pydantic; the top-level ones are BentoML IO specs)
- `errors`    refused requests as typed errors, each kind mapped to its HTTP status here only
- `checks`    what the schema cannot say: time zones and ranges, event values, attributes
- `tables`    a request as the data contract's tables, and a scored row as the answer
- `history`   the data dir in memory, for /predict_by_id
- `guard`     ASGI middleware: API key, body size, content type, model headers, access log
- `coalesce`  requests that queue while the model is busy share its next call

Nothing here imports `cxml.service` or `cxml.cli`; only `schemas` (and what uses it) imports
bentoml, for the IO spec base class.
"""
