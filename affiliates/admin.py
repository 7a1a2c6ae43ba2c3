"""Staff tools: affiliates with balances, suspension, payouts and the commissions CSV export.

Every change goes through ``affiliates.services``; commissions and payouts are read-only here.
"""

import csv
from collections.abc import Iterable, Iterator

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from common.admin import RecordAdmin
from common.outbox_admin import emails_cell

from . import services
from .forms import CommissionExportForm, PayoutForm
from .models import Affiliate, Commission, Payout
from .selectors import commissions_for_export, earnings_by_affiliate, payable_currencies
from .services import welcome_key

PAYOUT_DETAIL_FIELDS = (
    "payout_method",
    "paypal_email",
    "bank_account_holder",
    "bank_account",
    "bank_name",
    "bank_swift",
)


@admin.register(Affiliate)
class AffiliateAdmin(admin.ModelAdmin):
    list_display = (
        "user_email",
        "referral_code",
        "status",
        "rate_percent",
        "payout_method",
        "balance",
        "created_at",
    )
    list_editable = ("rate_percent",)
    list_filter = ("status", "payout_method", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__email", "referral_code", "paypal_email")
    ordering = ("-created_at",)
    fields = (
        "user",
        "referral_code",
        "status",
        "rate_percent",
        *PAYOUT_DETAIL_FIELDS,
        "terms_accepted_at",
        "welcome_email",
        "created_at",
    )
    readonly_fields = (
        "user",
        "referral_code",
        "status",
        "terms_accepted_at",
        "welcome_email",
        "created_at",
    )
    actions = ("suspend", "reactivate", "create_payouts")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Affiliates join themselves, accepting the terms.

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # Suspend instead: commissions and payouts keep their affiliate.

    def has_payout_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("affiliates.add_payout")

    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        # One grouped query for the whole page rather than one per row; the page's queryset
        # caches these instances, so the columns below find their figures on them.
        page = list(changelist.result_list)
        earnings = earnings_by_affiliate(affiliate.pk for affiliate in page)
        for affiliate in page:
            affiliate.earnings = earnings[affiliate.pk]
        return changelist

    @admin.display(description="welcome e-mail")
    def welcome_email(self, affiliate: Affiliate) -> str:
        return emails_cell(keys=[welcome_key(affiliate.pk)])

    @admin.display(description="e-mail", ordering="user__email")
    def user_email(self, affiliate: Affiliate) -> str:
        return affiliate.user.email

    @admin.display(description="balance (approved + carried)")
    def balance(self, affiliate: Affiliate) -> str:
        figures = getattr(affiliate, "earnings", None) or []
        return "; ".join(earnings.balance_display for earnings in figures) or "—"

    def save_model(self, request: HttpRequest, obj: Affiliate, form, change: bool) -> None:
        # Only what the form may change: the status belongs to the services.
        changed = set(form.changed_data)
        fields = ["rate_percent"] if "rate_percent" in changed else []
        if changed & set(PAYOUT_DETAIL_FIELDS):
            fields.extend(PAYOUT_DETAIL_FIELDS)  # Model.clean() normalised them together.
        if fields:
            obj.save(update_fields=fields)

    @admin.action(description="Suspend selected affiliates", permissions=["change"])
    def suspend(self, request: HttpRequest, queryset) -> None:
        count = sum(
            services.suspend_affiliate(affiliate_id=pk)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"Suspended {count} affiliate(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected affiliates", permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset) -> None:
        count = sum(
            services.reactivate_affiliate(affiliate_id=pk)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"Reactivated {count} affiliate(s).", messages.SUCCESS)

    @admin.action(description="Create payout…", permissions=["payout"])
    def create_payouts(self, request: HttpRequest, queryset):
        affiliates = list(queryset.select_related("user").order_by("pk"))
        form = PayoutForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Create payouts",
                "opts": self.model._meta,
                "form": form,
                "affiliates": affiliates,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "affiliates/admin/create_payout.html", context)
        created, skipped, refused = [], [], []
        currencies = payable_currencies(affiliate.pk for affiliate in affiliates)
        for affiliate in affiliates:
            made, failed = [], False
            for currency in currencies[affiliate.pk]:
                try:
                    payout = services.create_payout(
                        affiliate_id=affiliate.pk,
                        currency=currency,
                        method=form.cleaned_data["method"] or affiliate.payout_method,
                        reference=form.cleaned_data["reference"],
                        created_by=request.user,
                    )
                except ValidationError as error:  # this one changed nothing; the rest go on
                    failed = True
                    refused.append(
                        f"{affiliate.user.email} ({currency.upper()}): {' '.join(error.messages)}"
                    )
                    continue
                if payout is not None:
                    made.append(payout)
            created.extend(made)
            if not made and not failed:
                skipped.append(affiliate.user.email)
        if created:
            summary = ", ".join(f"#{payout.sequence} {payout.amount_display}" for payout in created)
            self.message_user(
                request, f"Created {len(created)} payout(s): {summary}.", messages.SUCCESS
            )
        if skipped:
            self.message_user(
                request,
                f"Skipped {len(skipped)} affiliate(s) with nothing approved to pay or a balance "
                f"below the minimum: {', '.join(skipped)}.",
                messages.WARNING,
            )
        if refused:
            self.message_user(request, f"Not paid: {'; '.join(refused)}", messages.ERROR)
        return None


class _Echo:
    """A file-like object whose ``write`` hands the line back, for a streamed csv.writer."""

    def write(self, value: str) -> str:
        return value


def _cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cell(value) -> str:
    """Text that a spreadsheet would run as a formula is prefixed with a quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


EXPORT_HEADER = [
    "sale_id",
    "sold_at",
    "affiliate_code",
    "affiliate_email",
    "course",
    "buyer",
    "currency",
    "amount_paid",
    "rate_percent",
    "commission",
    "reversed",
    "net",
    "status",
    "approved_at",
    "payout",
    "paid",
]


def _export_row(commission: Commission) -> list[str]:
    return [
        str(commission.sale_id),
        commission.sold_at.isoformat(),
        _cell(commission.affiliate.referral_code),
        _cell(commission.affiliate.user.email),
        _cell(commission.course.title),
        _cell(commission.buyer_email_masked),
        commission.currency.upper(),
        _cents(commission.sale_amount_cents),
        str(commission.rate_percent),
        _cents(commission.amount_cents),
        _cents(commission.reversed_cents),
        _cents(commission.net_cents),
        commission.status,
        commission.approved_at.isoformat() if commission.approved_at else "",
        f"#{commission.payout.sequence}" if commission.payout else "",
        _cents(commission.paid_cents),
    ]


def _csv_lines(commissions: Iterable[Commission]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_HEADER)
    for commission in commissions:
        yield writer.writerow(_export_row(commission))


@admin.register(Commission)
class CommissionAdmin(RecordAdmin):
    change_list_template = "affiliates/admin/commission_change_list.html"
    list_display = (
        "sale_id",
        "sold_at",
        "affiliate",
        "course",
        "buyer_email_masked",
        "sale_amount",
        "commission",
        "reversed",
        "status",
        "payout",
    )
    list_filter = ("status", "currency", "affiliate__status")
    list_select_related = ("affiliate__user", "course", "payout")
    search_fields = ("=sale_id", "affiliate__referral_code", "affiliate__user__email")
    date_hierarchy = "sold_at"
    ordering = ("-sold_at", "-id")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="amount paid", ordering="sale_amount_cents")
    def sale_amount(self, commission: Commission) -> str:
        return commission.sale_amount_display

    @admin.display(description="commission (net)", ordering="amount_cents")
    def commission(self, commission: Commission) -> str:
        return commission.net_display

    @admin.display(description="reversed", ordering="reversed_cents")
    def reversed(self, commission: Commission) -> str:
        return commission.reversed_display

    def get_urls(self):
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_view),
            name="affiliates_commission_export",
        )
        return [export, *super().get_urls()]

    def export_view(self, request: HttpRequest):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = CommissionExportForm(request.GET or None)
        if form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
            affiliate = form.cleaned_data["affiliate"]
            commissions = commissions_for_export(start=start, end=end, affiliate=affiliate)
            response = StreamingHttpResponse(
                _csv_lines(commissions), content_type="text/csv; charset=utf-8"
            )
            suffix = f"-{affiliate.referral_code}" if affiliate else ""
            response["Content-Disposition"] = (
                f'attachment; filename="commissions-{start}-{end}{suffix}.csv"'
            )
            return response
        context = {
            **self.admin_site.each_context(request),
            "title": "Export commissions (CSV)",
            "opts": self.model._meta,
            "form": form,
            "changelist_url": reverse("admin:affiliates_commission_changelist"),
        }
        return TemplateResponse(request, "affiliates/admin/commission_export.html", context)


@admin.register(Payout)
class PayoutAdmin(RecordAdmin):
    list_display = (
        "sequence",
        "affiliate",
        "amount",
        "method",
        "reference",
        "commission_count",
        "created_by",
        "created_at",
    )
    list_filter = ("method", "currency", "created_at")
    list_select_related = ("affiliate__user", "created_by")
    search_fields = ("reference", "affiliate__referral_code", "affiliate__user__email")
    ordering = ("-created_at",)

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(commission_count=Count("commissions"))

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, payout: Payout) -> str:
        return payout.amount_display

    @admin.display(description="commissions", ordering="commission_count")
    def commission_count(self, payout: Payout) -> int:
        return payout.commission_count
