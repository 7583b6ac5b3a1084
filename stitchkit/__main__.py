from stitchkit.cli import main

raise SystemExit(main())
