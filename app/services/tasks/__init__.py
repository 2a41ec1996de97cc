"""Human tasks: claim, release, assign and complete (`actions`), the inbox queues read from the task projection
(`inbox`), and the task forms (`forms`: the JSON Schema of a task, filled choices, validation)."""
