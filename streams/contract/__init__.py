"""The contract: the topics' records, topic names, deterministic ids, time and errors."""
