"""The e2e stack: every service a separate process on a Kafka and PostgreSQL of its own, the
faults caused on it, and what was measured while the simulator's load ran through it."""
