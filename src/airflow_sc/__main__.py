from airflow_sc.cli.main import main

raise SystemExit(main())
