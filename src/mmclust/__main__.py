from mmclust.cli import main

raise SystemExit(main())
