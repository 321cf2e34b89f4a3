"""The members of an organization: owners (and staff) invite people, change their role and
remove them. No password is ever shown or typed here: a new account gets a one-time link to
set its own (Django's password-reset tokens), shown once and sent by email when there is one."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.errors import MembershipError, MembershipNotFound
from accounts.models import Membership
from accounts.selectors import membership_get, membership_list
from accounts.services import member_invite, membership_remove, membership_role_change

from ..manage_forms import MemberInviteForm, MemberRoleForm
from ..tenancy import TenantScope, scoped_view

# The set-password link waits here (server-side session) for the one page view that shows it.
SESSION_INVITE_LINK = "dashboard_invite_link"

MSG_OWNERS_ONLY = "Only owners of {tenant} can add, remove or change members."
MSG_MEMBER_NOT_FOUND = "No such member."
MSG_INVITED = "{username} is now {role} of {tenant}."
MSG_INVITED_EXISTING = (
    "{username} already had an account and is now {role} of {tenant}; they sign in with "
    "their own password."
)
MSG_ROLE_CHANGED = "{username} is now {role} of {tenant}."
ROLE_PHRASES = {Membership.Role.OWNER: "an owner", Membership.Role.MEMBER: "a member"}
MSG_REMOVED = "{username} is no longer a member of {tenant}."
INVITE_SUBJECT = "You are invited to {tenant} on the Whisper platform"
INVITE_BODY = (
    "{inviter} added you to {tenant} as {role}.\n\n"
    "Set your password here (the link works once, and expires):\n{link}\n\n"
    "Your username is {username}.\n"
)


def _require_member_manager(scope: TenantScope) -> None:
    if not scope.can_manage_members:
        raise PermissionDenied(MSG_OWNERS_ONLY.format(tenant=scope.current.name))


def _membership(scope: TenantScope, pk: int) -> Membership:
    try:
        return membership_get(tenant=scope.current, pk=pk)
    except MembershipNotFound:
        raise Http404(MSG_MEMBER_NOT_FOUND) from None


@never_cache  # the page shows a set-password link once
@scoped_view
def member_list_page(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    if request.method == "POST":
        _require_member_manager(scope)
        form = MemberInviteForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                invitation = member_invite(
                    tenant=scope.current,
                    username=data["username"],
                    email=data["email"],
                    role=data["role"],
                )
            except MembershipError as refused:
                form.add_error("username", str(refused))
            else:
                _announce(request, scope, invitation, email=data["email"])
                return redirect("account:members")
    else:
        form = MemberInviteForm()
    return render(
        request,
        "dashboard/members.html",
        {
            "scope": scope,
            "form": form,
            "members": membership_list(tenant=scope.current),
            "roles": Membership.Role.choices,
            "invite": request.session.pop(SESSION_INVITE_LINK, None),
            "nav": "members",
        },
    )


def _announce(request: HttpRequest, scope: TenantScope, invitation, *, email: str) -> None:
    membership = invitation.membership
    username = membership.user.get_username()
    role = ROLE_PHRASES[membership.role]
    if invitation.token is None:
        messages.success(
            request,
            MSG_INVITED_EXISTING.format(username=username, role=role, tenant=scope.current.name),
        )
        return
    link = request.build_absolute_uri(
        reverse(
            "account:password-set",
            kwargs={"uidb64": invitation.uidb64, "token": invitation.token},
        )
    )
    if email:
        send_mail(
            INVITE_SUBJECT.format(tenant=scope.current.name),
            INVITE_BODY.format(
                inviter=request.user.get_username(),
                tenant=scope.current.name,
                role=role,
                link=link,
                username=username,
            ),
            None,
            [email],
        )
    request.session[SESSION_INVITE_LINK] = {"username": username, "link": link, "email": email}
    messages.success(
        request, MSG_INVITED.format(username=username, role=role, tenant=scope.current.name)
    )


@require_POST
@scoped_view
def member_role_page(request: HttpRequest, pk: int, *, scope: TenantScope) -> HttpResponse:
    membership = _membership(scope, pk)
    _require_member_manager(scope)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(" ".join(e) for e in form.errors.values()))
        return redirect("account:members")
    try:
        membership_role_change(membership=membership, role=form.cleaned_data["role"])
    except MembershipError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request,
            MSG_ROLE_CHANGED.format(
                username=membership.user.get_username(),
                role=ROLE_PHRASES[membership.role],
                tenant=scope.current.name,
            ),
        )
    return redirect("account:members")


@require_POST
@scoped_view
def member_remove_page(request: HttpRequest, pk: int, *, scope: TenantScope) -> HttpResponse:
    membership = _membership(scope, pk)
    _require_member_manager(scope)
    username = membership.user.get_username()
    try:
        membership_remove(membership=membership)
    except MembershipError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, MSG_REMOVED.format(username=username, tenant=scope.current.name))
    return redirect("account:members")
