"""Running the product (entry points): `serve` (the web app, optionally the worker in-process and a local mail sink)
and `worker_loop`, the one loop that `rf serve` and `rf worker` both run."""
