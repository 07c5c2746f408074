"""``python -m prodline.demo``."""

from prodline.demo.story import main

raise SystemExit(main())
