import sys

from stitchkit import tasks  # standard library only: `python -m stitchkit setup` works before anything is installed

if tasks.wants(sys.argv[1:]):
    raise SystemExit(tasks.main(sys.argv[1:]))

from stitchkit.cli import main

raise SystemExit(main())
