from django import forms

from maaledu.mail import validate_deliverable_email


class CheckoutForm(forms.Form):
    email = forms.EmailField(
        label="Your e-mail",
        max_length=254,
        validators=[validate_deliverable_email],
        help_text="Your receipt and course access go to this address.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    coupon = forms.CharField(
        label="Grant coupon (optional)",
        required=False,
        max_length=40,
        help_text="If we approved your grant application, enter the code from our e-mail.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    # Set when the learner saw why their referral was not applied and chose to continue.
    referral_acknowledged = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, fixed_email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fixed_email = fixed_email
        if fixed_email:
            # Logged in with a verified address: that address is the buyer, whatever is posted.
            self.fields["email"].initial = fixed_email
            self.fields["email"].disabled = True
            self.fields["email"].help_text = "The verified e-mail of your account."

    def clean_email(self) -> str:
        return (self.fixed_email or self.cleaned_data["email"]).strip().lower()

    def clean_coupon(self) -> str:
        return self.cleaned_data["coupon"].strip()
