"""``python -m sparring`` (and ``accelerate launch -m sparring align ...``)."""

from sparring.cli import main

raise SystemExit(main())
