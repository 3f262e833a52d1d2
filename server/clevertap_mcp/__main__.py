"""`python -m clevertap_mcp` is `clevertap-mcp`."""

import sys

from clevertap_mcp.cli import main

sys.exit(main())
