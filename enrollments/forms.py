from django import forms

from common.mail import validate_deliverable_email


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


class DeleteAccountForm(forms.Form):
    """Deleting an account asks for the password again (re-authentication) and a tick."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label="I understand that my account is deleted for good and I lose access to my courses.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password
