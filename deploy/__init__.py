"""Deployment tooling: turns `chalice package --pkg-format terraform` output into the child module
that terraform/environments/<stage> composes, and runs the schema migrations against Aurora.

Not shipped in the Lambda zip: Chalice packages app.py and chalicelib/ only.
"""
