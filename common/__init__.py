"""The shared library of the apps: cache, mail, rate limits, metrics, logging, money, queueing
and the admin base class. It imports no app of ours (import-linter checks it), so every app
may use it and the project package (``maaledu``) stays wiring only."""
