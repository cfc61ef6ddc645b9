from enttui.cli import main

raise SystemExit(main())
