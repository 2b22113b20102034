"""`python -m aturan.docgen [--check]`: regenerate (or check) docs/reference.md and
docs/policies.md; the generator itself is `aturan.language.docgen`."""

import sys

from .language.docgen import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
