"""otd_shared: the small common library of the OTD Pay cluster.

Plumbing only (no domain model): the event envelope and schemas, Money, the
transactional outbox and the inbox, Kafka and database plumbing, the settings base,
logging, metrics and auth. Every service imports it the same way.
"""
