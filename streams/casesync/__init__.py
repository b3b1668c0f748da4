"""The city's case system (数字城管, GB/T 30428): what a case is sent as (mapping.py, pure),
the HTTP push with its retries (client.py), and the ``citywatch casesync`` loop (role.py)."""
