"""`citywatch demo`: the whole pipeline on the embedded broker with simulated street cameras."""
