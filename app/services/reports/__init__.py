"""Reports and the 60 day schedule, as data: each report module builds a `tables.Report` (tables, cards, a chart as
data); `catalogue` lists them and checks who may read them; `filters` reads the period, group and type."""
