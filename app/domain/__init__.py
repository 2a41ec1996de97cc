"""Pure rules, no I/O: the vocabulary and request schema (`vocabulary`), who may see and do what (`permissions`), the
Oklahoma business calendar (`business_calendar`) and the measures of reports and the schedule (`measures`). Imports no
database, engine or web library (an import-linter contract checks it), so every layer may use it."""
