"""Stand-alone scripts a course asks students to hand in (copied to the submission's top
level next to a copy of ``lib``; run from the repository as ``python -m lib.scripts.<name>``)."""
