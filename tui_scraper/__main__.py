from tui_scraper.cli import main

raise SystemExit(main())
