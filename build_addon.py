"""Build the Blender extension zip (add-on + bundled backend source).

Not implemented yet: the add-on itself is still to be written (see addon/README.md). This script says
so and exits non-zero instead of producing an incomplete zip.
"""
from __future__ import annotations

import sys


def main() -> int:
    print("build_addon.py: the Blender add-on is not written yet; nothing to build.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
