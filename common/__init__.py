"""The shared library of the apps: cache, mail and the e-mail outbox, rate limits, metrics,
logging, money, queueing and the admin base class. It imports no app of ours (import-linter
checks it), so every app may use it and the project package (``maaledu``) stays wiring only.
Its one table, the outbox (``common.models.OutboxEmail``), is why it is an installed app."""
