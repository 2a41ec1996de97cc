"""Requests: logging them (`intake`, `crm_queue`), reading them (`queries`, `dashboard`, `diagram`), the task and job
projection written after every engine step (`projection`), and the agreed time schedule (`sla_targets`, `sla_clock`)."""
