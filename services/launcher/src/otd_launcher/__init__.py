"""The local launcher: ``make run`` brings the whole cluster up on embedded defaults."""
