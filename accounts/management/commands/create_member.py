import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Membership, Tenant
from accounts.services import membership_create


class Command(BaseCommand):
    help = (
        "Add a person to a tenant so they can sign in to the dashboard (creating the user if "
        "needed). The password is read from standard input, never from the command line."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the tenant")
        parser.add_argument("username")
        parser.add_argument("--role", choices=Membership.Role.values, default="member")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
        parser.add_argument(
            "--staff",
            action="store_true",
            help="also an operator: sees every tenant in the dashboard, and the whole admin",
        )

    @transaction.atomic
    def handle(self, *args, slug: str, username: str, role: str, **options) -> None:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant {slug!r}")
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        created = user is None
        if created:
            user = User(username=username, email=options["email"])
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            user.set_password(password)
        elif created:
            user.set_unusable_password()  # until an operator sets one in the admin
        if options["staff"]:
            user.is_staff = user.is_superuser = True
        user.save()
        membership = Membership.objects.filter(tenant=tenant, user=user).first()
        if membership is None:
            membership_create(tenant=tenant, user=user, role=role)
        elif membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
        self.stdout.write(f"{username} is {role} of {tenant.slug}")
