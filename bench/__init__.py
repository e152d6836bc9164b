"""ioreqlab's benchmark suites (not tests): ``python -m bench`` rewrites RESULTS.md."""
