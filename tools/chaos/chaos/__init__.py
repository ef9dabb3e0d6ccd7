"""`make chaos`: faults you can watch (see README.md)."""
