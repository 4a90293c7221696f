"""Course generator: phase logic, ports and adapters behind the Chalice app in app.py."""
