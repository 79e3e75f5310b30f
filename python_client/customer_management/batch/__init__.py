"""Batch work on existing data: importing legacy customers and deduplicating accounts.

Modules, one concern each (they need psycopg and rich, the ``local`` extra; the work itself
happens in the kit's SQL functions, these only drive them):

``progress``  progress bars on stderr (silent when stderr is not a terminal)
``csvfiles``  reading a legacy CSV file as numbered rows, streaming, in its own columns
``importer``  staging rows with COPY and importing them in one transaction
``dedupe``    planning deduplication (dry run) and applying it in committed batches
"""
