"""Whole jobs: input in, release directory out. Each is a small function over :mod:`.skeleton`.

* :mod:`.aggregate`: protected aggregate counts (k-anonymity, DP or exact).
* :mod:`.synthesize`: synthetic records from sensitive data or released aggregates.
* :mod:`.run`: aggregates and synthetic records in one release.
* :mod:`.evaluate`: metrics of a release against the sensitive data.
* :mod:`.compare`: several mechanisms side by side.

Every job checks its parameters, inputs and output before reading data,
reports timed steps, builds its metadata with one builder and writes its
directory atomically (all files or none). Import the jobs from
``showcase.engine``; this package imports nothing until a job is used.
"""
