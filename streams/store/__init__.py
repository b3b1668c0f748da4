"""The case record: a relational database that keeps the whole history of incidents, cases,
loudspeaker commands and broadcast decisions (``citywatch store``, ``citywatch db upgrade``).

``schema`` names the tables, ``writer`` maps a contract record to rows (pure), ``upsert``
writes rows idempotently for each dialect, ``database`` opens the engine and migrates it,
``role`` is the consumer loop. The read side, for the web and the patrol: ``search`` (the
history search), ``queries`` (an incident whole, the board's and a patrol's start), ``reader``
(opens the database read-only), ``resume`` (the store group's offsets, where readers start).
"""
