"""Docker HEALTHCHECK: exit 0 when the admin port's /healthz answers 200, else 1.

Why a script and not curl: the slim image has no curl or wget, but it has the venv's Python.
The port follows ``S3PROXY_SERVER__ADMIN_PORT`` so moving the admin port by environment keeps
the check right (a port moved only in the config file needs that variable too).
"""

import os
import sys
import urllib.request

port = os.environ.get("S3PROXY_SERVER__ADMIN_PORT", "9001")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:
    print(f"healthcheck: {exc}", file=sys.stderr)
    sys.exit(1)
