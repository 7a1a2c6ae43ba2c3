from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import normalize_email

from .models import Affiliate, PayoutMethod
from .validators import clean_payout_details


class JoinForm(forms.Form):
    payout_method = forms.ChoiceField(
        label="How should we pay you?", choices=PayoutMethod.choices, widget=forms.RadioSelect
    )
    paypal_email = forms.CharField(
        label="PayPal e-mail",
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    bank_account_holder = forms.CharField(
        label="Account holder",
        required=False,
        max_length=140,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    # Room for an IBAN written in groups of four.
    bank_account = forms.CharField(label="IBAN or account number", required=False, max_length=42)
    bank_name = forms.CharField(label="Bank name", required=False, max_length=140)
    bank_swift = forms.CharField(
        label="SWIFT/BIC", required=False, max_length=14, help_text="Optional with an IBAN."
    )
    accepted_terms = forms.BooleanField(
        label="I have read and accept the affiliate programme terms.",
        error_messages={"required": "You must accept the programme terms to join."},
    )

    def clean(self):
        cleaned = super().clean()
        if "payout_method" not in cleaned:
            return cleaned
        try:
            cleaned.update(
                clean_payout_details(
                    payout_method=cleaned["payout_method"],
                    paypal_email=cleaned.get("paypal_email", ""),
                    bank_account_holder=cleaned.get("bank_account_holder", ""),
                    bank_account=cleaned.get("bank_account", ""),
                    bank_name=cleaned.get("bank_name", ""),
                    bank_swift=cleaned.get("bank_swift", ""),
                )
            )
        except ValidationError as error:
            self.add_error(None, error)
        return cleaned


class PayoutForm(forms.Form):
    """The admin's "Create payout" intermediate page."""

    method = forms.ChoiceField(
        choices=[("", "Each affiliate's own payout method"), *PayoutMethod.choices],
        required=False,
    )
    reference = forms.CharField(
        max_length=200, help_text="The PayPal batch or bank transfer reference, for the records."
    )


class CommissionExportForm(forms.Form):
    start = forms.DateField(label="Sold from", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        label="Sold until (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )
    affiliate = forms.CharField(
        label="Affiliate",
        required=False,
        max_length=254,
        help_text="Referral code or e-mail; empty for all affiliates.",
    )

    def clean_affiliate(self) -> Affiliate | None:
        value = self.cleaned_data["affiliate"].strip()
        if not value:
            return None
        affiliate = (
            Affiliate.objects.select_related("user").filter(referral_code=value.lower()).first()
            # E-mails are stored lower-cased: an exact match, never a pattern built from input.
            or Affiliate.objects.select_related("user")
            .filter(user__email=normalize_email(value))
            .first()
        )
        if affiliate is None:
            raise ValidationError("No affiliate has this referral code or e-mail.")
        return affiliate

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", "The end date is before the start date.")
        if end and end >= date.max - timedelta(days=1):
            self.add_error("end", "Choose a real end date.")
        return cleaned
