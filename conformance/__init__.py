"""Real clients and real upstreams: the compatibility checks of s3proxy."""
