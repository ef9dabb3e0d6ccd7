"""`make bench`: load tests run against the app under gunicorn, on loopback only."""
