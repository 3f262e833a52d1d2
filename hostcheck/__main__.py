"""`python -m hostcheck`: every real-client check, one after another; non-zero if any failed."""

from __future__ import annotations

import sys

from hostcheck import claude_code, codex, gemini


def main() -> int:
    failed = 0
    for check in (claude_code.main, codex.main, gemini.main):
        failed += check() != 0
    sys.stderr.write(f"hostcheck: {'all passed' if not failed else f'{failed} failed'}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
