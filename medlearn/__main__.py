from medlearn.cli import main

raise SystemExit(main())
