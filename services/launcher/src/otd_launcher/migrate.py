"""``python -m otd_launcher.migrate``: migrate every service schema in DATABASE_URL."""

from __future__ import annotations

import os
import sys

from otd_launcher.cluster import cluster_services
from otd_shared.migrations import upgrade_head
from otd_shared.settings import REPO_ROOT


def main() -> int:
    """Upgrade each service's schema to head; DATABASE_URL is required."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("DATABASE_URL is required", file=sys.stderr)  # noqa: T201
        return 2
    for service in cluster_services(REPO_ROOT):
        if service.schema and service.migrations_dir:
            upgrade_head(service.migrations_dir, url, service.schema)
            print(f"migrated {service.name} ({service.schema})")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
