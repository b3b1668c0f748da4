"""The pure logic: rules -> incidents -> policy, the incident lifecycle, sensors and camera health.

Every function takes records and an explicit time and returns effects; no I/O here."""
