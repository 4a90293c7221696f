"""Outline-quality evaluation: metrics over generated outlines against annotated requests
(`coursegen eval`). Pure metrics live in `metrics` and `lint`; `runner` does the I/O."""
