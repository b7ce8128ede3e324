from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dashboard.ingest.tokens import token_hash
from dashboard.models import IngestToken


class Command(BaseCommand):
    help = "Revoke API tokens: every live token of a name, or one token given in full."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("name", nargs="?", help="Revoke every live token of this name.")
        target.add_argument("--token", help="Revoke this one token (as printed at creation).")

    def handle(self, *args, name, token, **options):
        live = IngestToken.objects.filter(revoked_at__isnull=True)
        tokens = live.filter(token_hash=token_hash(token)) if token else live.filter(name=name)
        revoked = tokens.update(revoked_at=timezone.now())
        if not revoked:
            raise CommandError("No live token matches.")
        return f"Done! Revoked {revoked} token{'s' if revoked != 1 else ''}."
