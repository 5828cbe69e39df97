"""The contract between services: every Kafka message and how it is encoded (JSON, and the
packed feature vectors), the topic names and keys, the stats we predict, deterministic event
ids, player-name matching, and the AsyncAPI document of it all.

A change here is a change to what other services and downstream consumers read: fields are
only ever added; a breaking change is a new versioned topic."""
