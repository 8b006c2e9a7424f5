"""``python -m otd_launcher``: run the cluster until Ctrl-C or SIGTERM."""

from otd_launcher.launcher import main

main()
