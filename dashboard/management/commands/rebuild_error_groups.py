from django.core.management.base import BaseCommand

from dashboard.syncerrors.grouping import groups_rebuild


class Command(BaseCommand):
    help = (
        "Group every failure in the window again and count the error groups from "
        "scratch: after an upgrade, or if their numbers are ever in doubt."
    )

    def handle(self, *args, **options):
        return f"Done! Counted {groups_rebuild()} error groups again."
