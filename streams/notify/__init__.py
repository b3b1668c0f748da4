"""Group-chat notifications (``citywatch notify``): events derived from the contract's records
(events.py), matched to robots by rules (rules.py), written in Chinese for each vendor
(messages.py), paced per robot with digests past the rate (pacing.py), kept in a SQLite
outbox until sent (outbox.py) and POSTed (send.py) by the role (role.py)."""
