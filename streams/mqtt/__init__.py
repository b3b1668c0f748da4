"""The MQTT bridge (``citywatch mqtt``): sensor readings in, alerts and cases out.

connection.py  broker URL, TLS and credentials -> a paho client (shared with other MQTT users)
sources.py     the syntax of an input's field sources (pure)
mapping.py     one MQTT message -> a validated reading or the reason it is refused (pure)
outbound.py    an alert or case -> the MQTT messages published for it (pure)
bridge.py      the role: both directions, acknowledgements, reconnects
"""
