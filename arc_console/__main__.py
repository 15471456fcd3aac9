from arc_console.cli import main

raise SystemExit(main())
