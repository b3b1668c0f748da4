"""The case record: a relational database that keeps the whole history of incidents, cases,
loudspeaker commands and broadcast decisions (``citywatch store``, ``citywatch db upgrade``).

``schema`` names the tables, ``writer`` maps a contract record to rows (pure), ``upsert``
writes rows idempotently for each dialect, ``database`` opens the engine and migrates it,
``role`` is the consumer loop.
"""
