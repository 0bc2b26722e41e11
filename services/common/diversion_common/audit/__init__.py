"""The audit log: every call to the API, by whom, on which cases, and its answer (DPA 2018 s.62).

``tables`` holds the columns each service's two tables share, ``middleware`` writes one
record per call after the response, ``context`` lets a handler name the cases a call
touched beyond its path, and ``routes`` is the administrator's read-only view.
"""
