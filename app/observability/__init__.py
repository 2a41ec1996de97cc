"""What the operator sees of a running installation: the request id that ties a web request to the worker's jobs
(`request_id`), structured JSON logs (`logs`) and Prometheus metrics (`metrics`).

Beside the services, under the entry points: the web app, `rf serve` and `rf worker` use it. The layers below only
ever read the request id (`request_id`, no dependency) to stamp it on the jobs a request creates.
"""
