"""Helpers and fixtures every test folder may use: fakes of the ports, factories of the core's
models, retrieved-chapter fixtures, and waiting on a condition with a deadline."""
