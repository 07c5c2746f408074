"""The ``prodline`` command line: a thin layer over the public Python API.

Every command calls a public function (``prodline.search_runs``, ``prodline.get_run``,
``prodline.get_dataset``...) and renders its records with Rich, or as JSON with
``--json``. Modules: ``main`` (the app, global options, error handling), ``experiments``,
``runs``, ``datasets`` (the commands), ``run_view`` and ``compare`` (how runs are shown
and compared), and ``render`` (shared tables, formatting and JSON output).
"""
