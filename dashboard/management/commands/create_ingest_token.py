from django.core.management.base import BaseCommand

from dashboard.ingest.tokens import token_create
from dashboard.models import IngestToken


class Command(BaseCommand):
    help = "Create an API token and print it (only a hash of it is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who or what uses the token, e.g. sync-engine-eu1.")
        parser.add_argument(
            "--scope",
            choices=IngestToken.Scope.values,
            default=IngestToken.Scope.INGEST,
            help="ingest: post reports and read their status; read: the read API.",
        )

    def handle(self, *args, name, scope, **options):
        # The token and nothing else on stdout, so that scripts can capture it.
        return token_create(name=name, scope=scope)
