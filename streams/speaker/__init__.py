"""The loudspeaker gateway: a command on ``citywatch.loudspeaker`` becomes sound on the street.

audio.py     mono 16-bit PCM in memory, read from / written to WAV
chime.py     the two-tone chime played before a message
tts.py       the SpeechEngine seam and the espeak-ng engine
render.py    command + speaker config -> audio (clip or speech, chime first)
drivers.py   the SpeakerDriver seam: file, http, command
mqtt_driver.py  the mqtt driver: command to the device's topic, its ack back, retries, served audio
mqtt_link.py the broker settings and the paho connection (the Link seam)
delivery.py  pure decisions: route a record, expiry, acks, offsets, duplicates
worker.py    one thread per speaker: its commands one at a time, in order
gateway.py   the Kafka edge: consume, dead-letter, dispatch, acknowledge, commit
fakes.py     in-memory engine, driver and MQTT link for tests of the logic
"""
