from decimal import Decimal

from django import forms


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label="Amount back to the card",
        min_value=Decimal("0"),
        max_digits=10,
        decimal_places=2,
        help_text="In the enrollment's currency, e.g. 49.90. Use 0 for a free (100%) grant.",
    )
    revoke_access = forms.BooleanField(
        required=False,
        label="Revoke LMS access",
        help_text="Always done for a full refund; for a partial refund access is kept unless "
        "you tick this.",
    )
    restore_coupon = forms.BooleanField(
        required=False, label="Give the grant coupon back (if the enrollment used one)"
    )
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    # The refunded total the preview promised: a second confirmation of the same preview (double
    # click, back button) names a total already reached and refunds nothing more.
    confirmed_total_cents = forms.IntegerField(
        required=False, min_value=0, widget=forms.HiddenInput
    )

    def amount_cents(self) -> int:
        return int(self.cleaned_data["amount"] * 100)
