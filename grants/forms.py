from django import forms
from django.conf import settings

from common.forms import ModelChoiceField
from common.mail import validate_deliverable_email

from .models import MAX_DISCOUNT_PERCENT, MIN_DISCOUNT_PERCENT
from .selectors import courses_open_for_applications

STATEMENT_MIN_LENGTH = 100
STATEMENT_MAX_LENGTH = 5000


class GrantApplicationForm(forms.Form):
    name = forms.CharField(
        label="Your name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        validators=[validate_deliverable_email],
        help_text="We send the decision, and the coupon if approved, to this address. It only "
        "works when you check out logged in with this same, verified address.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    course = ModelChoiceField(
        label="Course",
        queryset=courses_open_for_applications(),
        empty_label="Choose a course",
        error_messages={"invalid_choice": "Choose one of the courses in the list."},
    )
    statement = forms.CharField(
        label="Why do you need a grant?",
        min_length=STATEMENT_MIN_LENGTH,
        max_length=STATEMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=f"Tell us about your situation and what the course would change for you "
        f"({STATEMENT_MIN_LENGTH}–{STATEMENT_MAX_LENGTH} characters).",
    )
    organisation = forms.CharField(
        label="Organisation (optional)",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    country = forms.CharField(
        label="Country (optional)",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "country-name"}),
    )


class ApproveGrantsForm(forms.Form):
    """The admin's intermediate page for the Approve action."""

    discount_percent = forms.IntegerField(
        label="Discount (%)",
        min_value=MIN_DISCOUNT_PERCENT,
        max_value=MAX_DISCOUNT_PERCENT,
        help_text="100 = free enrollment; 10–99 = the learner pays the rest by card.",
    )
    valid_days = forms.IntegerField(
        label="Coupon valid for (days)",
        min_value=1,
        max_value=365,
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("initial", {"valid_days": settings.GRANT_COUPON_VALID_DAYS})
        super().__init__(*args, **kwargs)


class RejectGrantsForm(forms.Form):
    """The admin's intermediate page for the Reject action."""

    note = forms.CharField(
        label="Note",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        help_text="Why these applications were rejected. Kept in the admin notes of each grant; "
        "not sent to the applicants, who receive a standard polite notice.",
    )
