"""Analytics service: the system of record for videos, scores and appearances; statistics, prediction,
the CSV/JSON export and the report page."""
