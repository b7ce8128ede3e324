from django.core.management.base import BaseCommand

from dashboard.storage.retention import purge_expired


class Command(BaseCommand):
    help = "Delete what is older than SYNC_STATUS_RETENTION_DAYS, as the hourly task does."

    def handle(self, *args, **options):
        return purge_expired().summary()
