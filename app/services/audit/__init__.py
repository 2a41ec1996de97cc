"""What auditors use: the audit events page and chain verification (`events`), CSV and XES exports (`export`),
replaying requests from their audit log (`replay`), and the events in plain words (`timeline`)."""
