"""What the tests and bench/ share: no test module imports another, they import these.

- `cases`: the one seeded generator of cases (and its hypothesis strategy), the CSV form;
- `server`: the real service under gunicorn on a free loopback port, its workers, waiting;
- `rawhttp`: requests written byte by byte on a socket, for hostile input;
- `contract`: answers checked against openapi.yaml;
- `batch`: the expected answers of generated cases, as the single endpoint gives them;
- `rulebooks`: large generated rulebooks over the real facts.

bench/ scripts put the repository's root on sys.path (one line at their top) and import
`tests.support` like the tests do; pytest finds the root itself, `tests` being a package.
"""
