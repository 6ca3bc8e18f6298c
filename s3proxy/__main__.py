"""``python -m s3proxy``: the same command line as the ``s3proxy`` script."""

from s3proxy.cli import main

raise SystemExit(main())
