"""Scripted sessions of real S3 clients against the proxy (see ``base.py`` for the script).

``clients.CLIENTS`` lists the clients; ``clients.run_client_session`` runs one; the tests in
``tests/clients`` record the results that ``python -m conformance.compat_report`` turns into
COMPATIBILITY.md.
"""
